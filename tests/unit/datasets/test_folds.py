"""Cross-validation folds: leakage units, leak-free and balanced folds, every video tested once,
leave-one-unit-out, determinism and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dfd.compare.__main__ import main as compare_main
from dfd.compare.folds import pool_folds, pooled_warnings
from dfd.compare.runs import collect
from dfd.datasets.folds import (
    CvSettings,
    cross_validation_split,
    fold_count,
    fold_summary,
    leakage_units,
    resolve_by,
)
from dfd.datasets.labels import identities
from helpers.manifests import people_rows

SPLITS = ("train", "val", "test")


def split_of(rows: pd.DataFrame, column: str) -> pd.Series:
    """How many splits each value of `column` (or each person) appears in."""
    if column == "person":
        rows = (
            rows.assign(person=rows["identity"].map(identities))
            .explode("person")
            .dropna(subset=["person"])
        )
    return rows.groupby(column)["split"].nunique()


def all_folds(rows: pd.DataFrame, **settings: object) -> list[pd.DataFrame]:
    count = fold_count(rows, CvSettings(**settings))
    return [cross_validation_split(rows, CvSettings(**settings, fold=i)) for i in range(count)]


def test_identity_units_join_swapped_people_and_groups() -> None:
    rows = people_rows()
    units = leakage_units(rows, "identity")
    unit_of = dict(zip(rows["video_id"], units))
    assert unit_of["r_p00_0"] == unit_of["w_p01_0"] == unit_of["s_p01_0"] == "p00+p01"
    assert unit_of["r_p02_0"] != unit_of["r_p00_0"]
    assert unit_of["r_p12_0"] == "p12" and unit_of["f_anon_a"] == "anon_a"
    assert units.nunique() == 6 + 2 + 2  # 6 swap pairs, p12, p13 and the two anonymous groups
    assert (leakage_units(rows, "group") == rows["group"]).all()


def test_by_defaults_to_identity_when_the_rows_name_people() -> None:
    rows = people_rows()
    assert resolve_by(rows, None) == "identity"
    assert resolve_by(rows.assign(identity=""), None) == "group"
    assert resolve_by(rows.drop(columns=["identity"]), None) == "group"


@pytest.mark.parametrize(
    "settings",
    [{"folds": 3}, {"folds": 5, "seed": 7}, {"folds": "groups"}, {"folds": 4, "by": "group"}],
)
def test_every_fold_is_leak_free_and_every_video_is_tested_once(settings: dict) -> None:
    rows = people_rows()
    folds = all_folds(rows, **settings)
    by = settings.get("by", "identity")
    for fold in folds:
        assert set(fold["split"]) == set(SPLITS)
        fold = fold.assign(unit=leakage_units(fold, by))
        assert (split_of(fold, "unit") == 1).all()
        assert (split_of(fold, "group") == 1).all()
        if by == "identity":
            assert (split_of(fold, "person") == 1).all()
        assert (fold.groupby("video_id")["split"].nunique() == 1).all()
    tested = pd.concat(
        [fold[fold["split"] == "test"].drop_duplicates("video_id") for fold in folds]
    )
    assert sorted(tested["video_id"]) == sorted(rows["video_id"].unique())


def test_folds_are_balanced_by_videos_and_deterministic() -> None:
    rows = people_rows()
    videos = rows.drop_duplicates("video_id").assign(
        unit=leakage_units(rows.drop_duplicates("video_id"))
    )
    largest = videos["unit"].value_counts().max()
    folds = all_folds(rows, folds=3)
    sizes = [fold[fold["split"] == "test"]["video_id"].nunique() for fold in folds]
    assert max(sizes) - min(sizes) <= largest
    again = all_folds(rows, folds=3)
    assert all(a["split"].tolist() == b["split"].tolist() for a, b in zip(folds, again))
    assert set(rows["split"]) == {"train"}, "the rows given are left unchanged"
    assert folds[0].drop(columns="split").equals(rows.drop(columns="split"))


def test_validation_comes_from_other_units_with_both_classes() -> None:
    rows = people_rows()
    for fold in all_folds(rows, folds=5, val_fraction=0.2):
        val, train = fold[fold["split"] == "val"], fold[fold["split"] == "train"]
        assert set(val["label"]) == {0, 1} and set(train["label"]) == {0, 1}
        share = val["video_id"].nunique() / fold[fold["split"] != "test"]["video_id"].nunique()
        assert 0 < share < 0.5


def test_leave_one_unit_out_tests_one_unit_per_fold() -> None:
    rows = people_rows()
    units = leakage_units(rows)
    folds = all_folds(rows, folds="groups")
    assert len(folds) == units.nunique() == 10
    tested = [set(units[fold["split"] == "test"]) for fold in folds]
    assert all(len(names) == 1 for names in tested)
    assert [names.pop() for names in tested] == sorted(units.unique())


def test_without_folds_the_manifest_split_is_kept() -> None:
    rows = people_rows()
    assert cross_validation_split(rows, CvSettings()) is rows


def test_fold_summary_names_the_fold_and_the_test_people() -> None:
    rows = cross_validation_split(people_rows(), CvSettings(folds="groups", fold=0))
    text = fold_summary(rows, CvSettings(folds="groups", fold=0))
    assert text.startswith("cv fold 0 of 10 (by identity): train ")
    assert text.endswith("test 2 / 0; test identities: (none)")  # unit 0 is the anonymous anon_a
    rows = cross_validation_split(people_rows(), CvSettings(folds="groups", fold=2))
    assert fold_summary(rows, CvSettings(folds="groups", fold=2)).endswith(
        "test identities: p00, p01"
    )


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"folds": 3, "fold": 3}, r"cv.fold=3 is out of range: 3 folds are numbered 0 to 2"),
        ({"folds": 11}, r"only 10 leakage unit\(s\) by identity to deal into 11 folds"),
        ({"folds": "groups", "fold": 10}, "out of range"),
    ],
)
def test_bad_folds_are_clear_errors(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cross_validation_split(people_rows(), CvSettings(**settings))


def test_too_few_units_outside_the_test_fold_is_an_error() -> None:
    rows = people_rows()
    rows = rows[rows["group"].isin(["anon_a", "anon_b"])]
    with pytest.raises(ValueError, match="leaves 1 unit"):
        cross_validation_split(rows, CvSettings(folds=2))


@pytest.mark.parametrize(
    "config,message",
    [
        ({"folds": 1}, "cv.folds must be null, a whole number >= 2 or 'groups'"),
        ({"folds": "all"}, "cv.folds must be"),
        ({"folds": 3, "fold": -1}, "cv.fold must be a whole number"),
        ({"folds": 3, "by": "person"}, r"cv.by must be one of \('identity', 'group'\)"),
        ({"folds": 3, "val_fraction": 1.0}, r"val_fraction must lie in \(0, 1\)"),
        ({"folds": 3, "k": 3}, r"unknown cv key\(s\) \['k'\]"),
    ],
)
def test_bad_settings_are_clear_errors(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CvSettings.from_config(config)


def test_identity_without_identities_is_an_error() -> None:
    with pytest.raises(ValueError, match="names no identity"):
        cross_validation_split(
            people_rows().assign(identity=""), CvSettings(folds=3, by="identity")
        )


# --- the pooled out-of-fold report of `dfd compare` -------------------------------------------


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    fake, real = scores[labels == 1], scores[labels == 0]
    return float(((fake[:, None] > real) + 0.5 * (fake[:, None] == real)).mean())


def write_fold_run(
    folder: Path,
    overrides: list[str],
    fold: int,
    videos: pd.DataFrame,
    datasets: tuple[str, ...] = ("demo",),
) -> None:
    """A train run folder of one fold: .hydra/ and eval/<dataset>/ (videos.csv, metrics.json)."""
    (folder / ".hydra").mkdir(parents=True)
    config = {
        "seed": 42,
        "task_name": "train",
        "data": {"name": "demo", "cv": {"folds": 3, "fold": fold}},
        "evaluation": {"bootstrap": {"resamples": 200, "min_groups": 4}},
    }
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([*overrides, f"data.cv.fold={fold}"])
    )
    for dataset in datasets:
        eval_dir = folder / "eval" / dataset
        eval_dir.mkdir(parents=True)
        videos.to_csv(eval_dir / "videos.csv", index=False)
        video = {"auroc": auroc(videos["label"].to_numpy(), videos["score"].to_numpy()), "ap": 0.5}
        (eval_dir / "metrics.json").write_text(
            json.dumps({"video": video, "num_videos": len(videos)})
        )


def fold_videos(fold: int, separation: float, count: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(fold)
    labels = np.tile([0, 1], count // 2)
    scores = 1 / (1 + np.exp(-(separation * (labels - 0.5) + rng.normal(0, 1, count))))
    return pd.DataFrame(
        {
            "video_id": [f"f{fold}_v{i:02d}" for i in range(count)],
            "label": labels,
            "score": scores,
            "prediction": (scores >= 0.5).astype(int),
            "num_clips": 2,
            "num_faces": 1,
            "group": [f"g{fold}_{i // 4}" for i in range(count)],
        }
    )


@pytest.fixture
def fold_sweep(tmp_path: Path) -> Path:
    """Two settings x 3 folds; the second setting's fold 2 repeats a video of fold 0 and every
    run also scored another dataset (cross-dataset: not pooled); a third setting lacks fold 1."""
    root = tmp_path / "multirun"
    job = 0
    for model, separation in (("resnet18", 3.0), ("mobilenet_v2", 1.0)):
        for fold in range(3):
            videos = fold_videos(fold, separation)
            if model == "mobilenet_v2" and fold == 2:
                videos.loc[0, "video_id"] = "f0_v00"
            write_fold_run(
                root / str(job),
                ["data.cv.folds=3", f"model={model}"],
                fold,
                videos,
                ("demo", "celebdf"),
            )
            job += 1
    for fold in (0, 2):
        write_fold_run(
            root / str(job), ["data.cv.folds=3", "model=timm"], fold, fold_videos(fold, 2.0)
        )
        job += 1
    return root


def test_pooled_folds_concatenate_each_setting_and_check_duplicates(fold_sweep: Path) -> None:
    rows = collect([fold_sweep]).rows
    assert set(rows["overrides"]) == {"model=resnet18", "model=mobilenet_v2", "model=timm"}
    pooled = pool_folds(rows, fold_sweep.resolve()).set_index("overrides")
    assert set(pooled["dataset"]) == {"demo"}, "only the data the folds trained on is pooled"
    resnet = pooled.loc["model=resnet18"]
    videos = pd.concat([fold_videos(fold, 3.0) for fold in range(3)])
    assert (
        resnet["num_videos"] == 36
        and resnet["duplicate_videos"] == 0
        and resnet["folds"] == "0;1;2"
    )
    assert resnet["pooled_video_auroc"] == pytest.approx(
        auroc(videos["label"].to_numpy(), videos["score"].to_numpy())
    )
    assert (
        resnet["pooled_video_auroc_ci_lo"]
        <= resnet["pooled_video_auroc"]
        <= resnet["pooled_video_auroc_ci_hi"]
    )
    assert resnet["ci_resampled"] == "groups (9)"
    per_fold = [
        auroc(f["label"].to_numpy(), f["score"].to_numpy())
        for f in (fold_videos(k, 3.0) for k in range(3))
    ]
    assert resnet["fold_video_auroc_mean"] == pytest.approx(np.mean(per_fold))
    assert resnet["fold_video_auroc_std"] == pytest.approx(np.std(per_fold, ddof=1))
    assert (resnet["fold_video_auroc_min"], resnet["fold_video_auroc_max"]) == pytest.approx(
        (min(per_fold), max(per_fold))
    )
    mobilenet = pooled.loc["model=mobilenet_v2"]
    assert mobilenet["duplicate_videos"] == 1 and mobilenet["duplicates"] == "f0_v00"
    assert pooled.loc["model=timm", "missing_folds"] == "1"
    warnings = pooled_warnings(pooled.reset_index())
    assert any("1 video(s) tested by more than one fold (e.g. f0_v00)" in text for text in warnings)
    assert any("no finished run for fold(s) 1" in text for text in warnings)


def test_compare_shows_fold_spread_and_pooled_auroc(fold_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    compare_main([str(fold_sweep), "--out", str(out)])
    groups = pd.read_csv(out / "comparison.csv")
    demo = groups[groups["dataset"] == "demo"].set_index("overrides")
    assert demo.loc["model=resnet18", "n_runs"] == 3
    assert (
        demo.loc["model=resnet18", "pooled_video_auroc"]
        > demo.loc["model=mobilenet_v2", "pooled_video_auroc"]
    )
    assert groups[groups["dataset"] == "celebdf"]["pooled_video_auroc"].isna().all()
    markdown = (out / "comparison.md").read_text()
    assert "pooled video AUROC" in markdown and "per-fold AUROC min–max" in markdown
    pooled = pd.read_csv(out / "pooled_folds.csv")
    assert len(pooled) == 3 and (out / "pooled_folds.md").read_text().count("| demo |") == 3
