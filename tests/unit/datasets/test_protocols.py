"""Protocols as configs: the row selection of each, its summary, clear errors, every config
composing, the datamodule applying folds and protocols, and real training runs (slow)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from dfd.data.datamodule import FaceClipDataModule
from dfd.datasets.folds import CvSettings, cross_validation_split
from dfd.datasets.protocols import Protocol, protocol_summary, select_rows, video_methods
from dfd.tasks.tested_datasets import own_rows_only
from helpers.manifests import people_rows
from helpers.runs import (
    CONF,
    compose_train,
    evaluate_overrides,
    only,
    run_entry_point,
    tiny_overrides,
)

PROTOCOLS = sorted(path.stem for path in (CONF / "protocol").glob("*.yaml"))


def split_rows() -> pd.DataFrame:
    """The people of test_folds, split by fold 0 of 3 (train, val and test hold both methods)."""
    return cross_validation_split(people_rows(), CvSettings(folds=3, fold=0))


def methods_by_split(rows: pd.DataFrame) -> dict[str, set[str]]:
    fakes = rows[rows["label"] == 1]
    return {
        split: set(fakes[fakes["split"] == split]["method"]) for split in ("train", "val", "test")
    }


def test_cross_manipulation_trains_on_some_methods_and_tests_on_the_others() -> None:
    rows = split_rows()
    kept = select_rows(rows, Protocol("cross_manipulation", ["swap"], "train", ["SBI"]))
    assert methods_by_split(kept) == {"train": {"swap"}, "val": {"swap"}, "test": {"sbi"}}
    reals = rows[rows["label"] == 0]
    assert kept[kept["label"] == 0].equals(reals), "real videos stay in every split"


def test_real_only_trains_without_fakes_and_validates_and_tests_on_all() -> None:
    kept = select_rows(split_rows(), Protocol("real_only", [], "all", "all"))
    assert methods_by_split(kept) == {
        "train": set(),
        "val": {"sbi", "swap"},
        "test": {"sbi", "swap"},
    }


def test_all_methods_keep_every_row_even_fakes_without_a_method() -> None:
    rows = split_rows()
    assert select_rows(rows, Protocol("identity_disjoint")).equals(rows)
    assert video_methods(rows.drop(columns=["method"])).isin(["real", ""]).all()


def test_methods_that_cannot_work_are_clear_errors() -> None:
    with pytest.raises(
        ValueError,
        match=r"no fake video has method\(s\) \['deepfakes'\]; the "
        r"manifest's fake methods are \['sbi', 'swap'\]",
    ):
        select_rows(split_rows(), Protocol("x", ["deepfakes"], "train", ["sbi"]))
    with pytest.raises(
        ValueError, match=r"method\(s\) \['sbi'\] are in both train_methods and test"
    ):
        Protocol("x", ["sbi", "swap"], "train", ["Sbi"])


def test_a_split_left_without_fakes_is_an_error() -> None:
    rows = split_rows()
    rows = rows[~((rows["split"] == "test") & (rows["method"] == "sbi"))]
    with pytest.raises(
        ValueError,
        match=r"the test split has no fake videos of method\(s\) sbi "
        r"\(its fakes: swap\)",
    ):
        select_rows(rows, Protocol("cross_manipulation", ["swap"], "train", ["sbi"]))


@pytest.mark.parametrize(
    "config,message",
    [
        (
            {"name": "x", "train_methods": "some"},
            "protocol.train_methods must be a list of methods or one of",
        ),
        ({"name": "x", "test_methods": "train"}, "protocol.test_methods must be"),
        ({"name": "x", "val_methods": 3}, "protocol.val_methods must be"),
        ({"name": "x", "methods": ["sbi"]}, r"unknown protocol key\(s\) \['methods'\]"),
        ({"train_methods": ["sbi"]}, "a protocol needs a name"),
    ],
)
def test_bad_protocol_settings_are_clear_errors(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Protocol.from_config(config)


def test_summary_says_what_each_split_holds() -> None:
    protocol = Protocol("cross_manipulation", ["swap"], "train", ["sbi"], note="See the README.")
    assert protocol_summary(select_rows(split_rows(), protocol), protocol) == (
        "protocol cross_manipulation: train [real 13, swap 10]; val [real 4, swap 4]; "
        "test [real 10, sbi 8]; train 23 videos / 7 identities, val 8 / 2, test 18 / 5; "
        "test identities: p00, p01, p04, p05, p13. See the README."
    )


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_protocol_config_composes_into_the_datamodule(tmp_path: Path, name: str) -> None:
    cfg = compose_train(tmp_path, f"protocol={name}")
    datamodule = instantiate(cfg.datamodule)
    protocol = Protocol.from_config(datamodule.hparams.protocol)
    assert protocol is not None and protocol.name == name
    assert CvSettings.from_config(datamodule.hparams.cv).enabled == (name == "identity_disjoint")


def test_protocols_and_folds_are_off_by_default(tmp_path: Path) -> None:
    datamodule = instantiate(compose_train(tmp_path).datamodule)
    assert (
        datamodule.hparams.protocol is None
        and not CvSettings.from_config(datamodule.hparams.cv).enabled
    )


def test_bad_cv_settings_fail_when_the_datamodule_is_made(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "data.cv.folds=1")
    with pytest.raises(InstantiationException, match="cv.folds must be"):
        instantiate(cfg.datamodule)


def test_datamodule_applies_the_fold_then_the_protocol(
    tiny_prepared: Path, caplog: pytest.LogCaptureFixture
) -> None:
    datamodule = FaceClipDataModule(
        str(tiny_prepared),
        clip_len=2,
        image_size=48,
        batch_size=4,
        num_workers=0,
        cv={"folds": "groups", "fold": 1},
        protocol={"name": "cross_manipulation", "train_methods": ["swap"], "test_methods": ["sbi"]},
    )
    with caplog.at_level(logging.INFO, logger="dfd.data.datamodule"):
        datamodule.setup()
    rows = {split: dataset.rows for split, dataset in datamodule.datasets.items()}
    groups = {split: set(part["group"]) for split, part in rows.items()}
    assert [len(found) for found in groups.values()] == [1, 1, 1]
    assert len(set.union(*groups.values())) == 3
    assert set(rows["test"]["method"]) == {"real", "sbi"} and set(rows["train"]["method"]) == {
        "real",
        "swap",
    }
    assert "cv fold 1 of 3 (by identity): train 6 videos / 2 identities" in caplog.text
    assert "protocol cross_manipulation: train [real 2, swap 2]" in caplog.text


def test_evaluate_keeps_the_fold_and_protocol_to_the_training_data(tmp_path: Path) -> None:
    trained_on = FaceClipDataModule(
        str(tmp_path / "demo" / "manifest.csv"), cv={"folds": 3}, protocol={"name": "real_only"}
    )
    trained = trained_on.hparams
    assert own_rows_only(trained, tmp_path / "demo" / "manifest.csv") == {}
    assert own_rows_only(trained, tmp_path / "celebdf" / "manifest.csv") == {
        "cv": None,
        "protocol": None,
    }


@pytest.mark.slow
def test_cross_manipulation_trains_and_evaluates_through_the_entry_points(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    result = run_entry_point(
        "train.py",
        *tiny_overrides(tiny_prepared, tmp_path),
        "protocol=cross_manipulation",
        "trainer.max_epochs=1",
    )
    assert "protocol cross_manipulation: train [real 2, swap 2]" in result.stdout
    run = only(list((tmp_path / "train" / "runs").iterdir()))
    videos = pd.read_csv(run / "eval" / "demo" / "videos.csv")
    assert set(videos["method"]) == {"real", "sbi"}, "tested on the method training never saw"
    run_entry_point(
        "evaluate.py",
        *evaluate_overrides(run, tiny_prepared, tmp_path),
        "evaluation.report=false",
    )
    evaluated = only(list((tmp_path / "eval" / "runs").iterdir())) / "eval" / "demo" / "videos.csv"
    assert pd.read_csv(evaluated)["method"].tolist() == videos["method"].tolist(), (
        "evaluate.py applies the run's protocol to its own data"
    )


@pytest.mark.slow
def test_every_cv_fold_trains_and_compare_pools_them(tiny_prepared: Path, tmp_path: Path) -> None:
    run_entry_point(
        "train.py",
        "-m",
        *tiny_overrides(tiny_prepared, tmp_path),
        "data.cv.folds=3",
        "data.cv.fold=0,1,2",
        "trainer.max_epochs=1",
        "evaluation.report=false",
    )
    multirun = only(list((tmp_path / "train" / "multiruns").iterdir()))
    for job in range(3):
        overrides = yaml.safe_load((multirun / str(job) / ".hydra" / "overrides.yaml").read_text())
        assert f"data.cv.fold={job}" in overrides
    result = run_entry_point("dfd.compare", str(multirun))
    pooled = pd.read_csv(multirun / "pooled_folds.csv")
    manifest_videos = pd.read_csv(tiny_prepared).query("status == 'ok'")["video_id"].nunique()
    assert pooled.loc[0, "num_videos"] == manifest_videos and pooled.loc[0, "duplicate_videos"] == 0
    assert pooled.loc[0, "folds"] == "0;1;2" and "pooled" in result.stdout
