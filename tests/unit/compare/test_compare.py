"""`dfd compare` on run folders written in the evaluation's layout: grouping, stats, sorting,
skipped runs, output files and the command line."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from rich.console import Console

from dfd.compare.__main__ import main as compare_main
from dfd.compare.roc import GRID, mean_roc, on_grid, plot_roc_overlay
from dfd.compare.runs import NO_EVAL, Run, collect, distinguishing_keys, label, parse_overrides
from dfd.compare.table import console_table, resolve_metric, sort_groups, summarize, to_markdown

CLI = [sys.executable, "-c", "from dfd.cli.main import main; main()", "compare"]
METRICS = ("auroc", "ap", "eer", "acc", "balanced_acc", "f1", "log_loss", "brier", "ece")
MODEL_SHIFT = {"resnet18": 1.6, "mobilenet_v2": 0.8}


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a fake video outscores a real one (ties count half)."""
    fake, real = scores[labels == 1], scores[labels == 0]
    return float(((fake[:, None] > real) + 0.5 * (fake[:, None] == real)).mean())


def write_run(
    folder: Path,
    overrides: list[str],
    seed: int,
    datasets: dict[str, float] | None,
    task: str = "train",
) -> Path:
    """A run folder: .hydra/, run_info.json and eval/<dataset>/ for each {dataset: separation}."""
    (folder / ".hydra").mkdir(parents=True)
    config = {
        "seed": seed,
        "task_name": task,
        "model": {"backbone": {"name": "x"}},
        "data": {"name": "demo"},
        "module": {"optimizer": {"lr": 3e-4}},
    }
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / "run_info.json").write_text(json.dumps({"seed": seed}))
    for dataset, separation in (datasets or {}).items():
        write_eval(folder / "eval" / dataset, dataset, separation, seed)
    return folder


def write_eval(eval_dir: Path, dataset: str, separation: float, seed: int) -> None:
    """videos.csv with scores that separate the classes by `separation`, and its metrics.json."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], 18)
    scores = 1 / (1 + np.exp(-(separation * (labels - 0.5) + rng.normal(0, 1, labels.size))))
    eval_dir.mkdir(parents=True)
    pd.DataFrame(
        {
            "video_id": [f"v{i:02d}" for i in range(labels.size)],
            "label": labels,
            "score": scores,
            "prediction": (scores >= 0.5).astype(int),
            "num_clips": 4,
            "num_faces": 1,
        }
    ).to_csv(eval_dir / "videos.csv", index=False)
    video = {name: float(rng.uniform(0.05, 0.95)) for name in METRICS}
    video["auroc"] = auroc(labels, scores)
    metrics = {
        "video": video,
        "clip": {name: video[name] - 0.02 for name in METRICS},
        "ci": {
            "video_auroc": [video["auroc"] - 0.05, min(video["auroc"] + 0.05, 1.0)],
            "video_ap": [video["ap"] - 0.06, video["ap"] + 0.04],
        },
        "threshold": {"rule": "eer", "value": 0.43, "chosen_on": "val"},
        "num_videos": int(labels.size),
        "dataset": dataset,
        "aggregation": "mean",
        "checkpoint": "checkpoints/best.ckpt",
    }
    (eval_dir / "metrics.json").write_text(json.dumps(metrics))


def job(model: str, seed: int) -> list[str]:
    return [f"model={model}", f"seed={seed}", "trainer=cpu"]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multirun (two seeds of resnet18, one of them resumed, one mobilenet_v2, one unfinished
    job) and, nested two levels deeper, an older multirun (a third resnet18 seed, one job with a
    broken metrics.json)."""
    root = tmp_path_factory.mktemp("compare") / "sweeps"
    multirun = root / "2024-05-01_10-00-00"
    multirun.mkdir(parents=True)
    (multirun / "multirun.yaml").write_text("hydra: {}\n")
    write_run(multirun / "0", job("resnet18", 1), 1, {"demo": 1.6, "celebdf": 0.6})
    write_run(multirun / "1", [*job("resnet18", 2), "ckpt_path=last"], 2, {"demo": 1.6})  # resumed
    write_run(multirun / "2", job("mobilenet_v2", 1), 1, {"demo": 0.8})
    write_run(multirun / "3", job("mobilenet_v2", 2), 2, None)
    older = root / "older" / "2024-04-01_09-00-00"
    write_run(older / "0", job("resnet18", 3), 3, {"demo": 1.6})
    broken = write_run(older / "1", job("resnet18", 4), 4, {"demo": 1.6})
    (broken / "eval" / "demo" / "metrics.json").write_text("{not json")
    return root


def metric_values(sweeps: Path, runs: list[str], metric: str, dataset: str = "demo") -> np.ndarray:
    level, name = metric.split("_", 1)
    return np.array(
        [
            json.loads((sweeps / run / "eval" / dataset / "metrics.json").read_text())[level][name]
            for run in runs
        ]
    )


RESNET_DEMO = ["2024-05-01_10-00-00/0", "2024-05-01_10-00-00/1", "older/2024-04-01_09-00-00/0"]


def test_collect_finds_nested_runs_and_reports_skipped(sweeps: Path) -> None:
    collection = collect([sweeps])
    assert collection.root == sweeps.resolve()
    assert sorted(zip(collection.rows["run"], collection.rows["dataset"])) == sorted(
        [(run, "demo") for run in RESNET_DEMO]
        + [("2024-05-01_10-00-00/2", "demo"), ("2024-05-01_10-00-00/0", "celebdf")]
    )
    reasons = {item.path.as_posix(): item.reason for item in collection.skipped}
    assert reasons == {
        "2024-05-01_10-00-00/3": NO_EVAL,
        "older/2024-04-01_09-00-00/1/eval/demo": "eval/demo/metrics.json is not a valid JSON object",
    }


def test_rows_carry_metrics_ci_threshold_and_distinguishing_overrides(sweeps: Path) -> None:
    rows = collect([sweeps]).rows.set_index(["run", "dataset"])
    row = rows.loc[("2024-05-01_10-00-00/2", "demo")]
    assert row["overrides"] == "model=mobilenet_v2"  # trainer=cpu is everywhere, seed is apart
    assert row["seed"] == 1 and row["num_videos"] == 36 and row["threshold"] == 0.43
    assert row["video_auroc_ci_lo"] == pytest.approx(row["video_auroc"] - 0.05)
    assert {f"video_{name}" for name in METRICS} <= set(rows.columns)


def test_overrides_parse_and_defaults_fill_missing_keys() -> None:
    assert parse_overrides(
        [
            "+model=x",
            "seed=3",
            "hydra.run.dir=/a",
            "hydra/launcher=slurm",
            "paths.log_dir=/b",
            "logger=wandb",
            "~callbacks",
            "module.optimizer.lr=1e-3",
        ]
    ) == {"model": "x", "callbacks": "(deleted)", "module.optimizer.lr": "1e-3"}
    config = {"module": {"optimizer": {"lr": 3e-4}}, "model": {"name": "m"}}
    tuned = Run(Path("a"), 1, {"module.optimizer.lr": "1e-3", "model": "resnet18"}, config)
    plain = Run(Path("b"), 2, {}, config, choices={"model": "mobilenet_v2"})
    same = Run(Path("c"), 3, {"module.optimizer.lr": "1e-3"}, config, choices={"model": "resnet18"})
    keys = distinguishing_keys([tuned, plain, same])
    assert keys == ["model", "module.optimizer.lr"]
    assert label(plain, keys) == "model=mobilenet_v2 module.optimizer.lr=0.0003"
    assert label(same, keys) == label(tuned, keys)


def test_seed_groups_match_numpy_mean_and_sample_std(sweeps: Path) -> None:
    groups = summarize(collect([sweeps]).rows).set_index(["dataset", "overrides"])
    resnet = groups.loc[("demo", "model=resnet18")]
    assert resnet["n_runs"] == 3 and sorted(resnet["runs"]) == RESNET_DEMO
    assert sorted(resnet["seeds"]) == [1, 2, 3]
    for metric in [f"video_{name}" for name in METRICS] + ["clip_auroc"]:
        values = metric_values(sweeps, RESNET_DEMO, metric)
        assert resnet[f"{metric}_mean"] == pytest.approx(values.mean())
        assert resnet[f"{metric}_std"] == pytest.approx(values.std(ddof=1))
        assert resnet[f"{metric}_n"] == 3
    assert np.isnan(resnet["video_auroc_ci_lo"])  # a seed group's spread is its std
    single = groups.loc[("celebdf", "model=resnet18")]
    assert single["n_runs"] == 1 and np.isnan(single["video_auroc_std"])
    assert single["video_auroc_ci_hi"] == pytest.approx(
        metric_values(sweeps, ["2024-05-01_10-00-00/0"], "video_auroc", "celebdf")[0] + 0.05
    )


@pytest.mark.parametrize(
    "metric", ["video_auroc", "video_ap", "video_eer", "video_log_loss", "clip_ece", "video_f1"]
)
def test_sort_direction_follows_the_metric(sweeps: Path, metric: str) -> None:
    groups = sort_groups(summarize(collect([sweeps]).rows), metric)
    assert list(groups["dataset"]) == ["celebdf", "demo", "demo"]
    demo = groups[groups["dataset"] == "demo"][f"{metric}_mean"].to_numpy()
    lower_first = metric.endswith(("eer", "log_loss", "brier", "ece"))
    assert demo[0] == (demo.min() if lower_first else demo.max())


def test_metric_names_resolve_with_or_without_level() -> None:
    columns = ["video_auroc", "video_eer", "clip_auroc", "num_videos"]
    assert resolve_metric("eer", columns) == "video_eer"
    assert resolve_metric("clip_auroc", columns) == "clip_auroc"
    with pytest.raises(ValueError, match="video_auroc, video_eer, clip_auroc"):
        resolve_metric("num_videos", columns)


def test_markdown_shows_mean_std_n_single_run_ci_and_skipped(sweeps: Path) -> None:
    collection = collect([sweeps])
    groups = sort_groups(summarize(collection.rows), "video_auroc")
    text = to_markdown(groups, "video_auroc", collection.skipped)
    values = metric_values(sweeps, RESNET_DEMO, "video_auroc")
    assert f"{values.mean():.3f} ± {values.std(ddof=1):.3f} (n=3)" in text
    mobilenet = metric_values(sweeps, ["2024-05-01_10-00-00/2"], "video_auroc")[0]
    assert f"{mobilenet:.3f} [{mobilenet - 0.05:.3f}, {min(mobilenet + 0.05, 1):.3f}]" in text
    assert f"`2024-05-01_10-00-00/3`: {NO_EVAL}" in text
    assert "(higher is better)" in text and text.count("\n| ") == 4  # header rule + 3 groups


def test_mean_roc_of_identical_curves_is_that_curve() -> None:
    fpr, tpr = np.array([0, 0, 0.5, 0.5, 1.0]), np.array([0, 0.5, 0.5, 1.0, 1.0])
    assert on_grid((fpr, tpr))[GRID == 0.5] == 1.0  # the top of the vertical step
    grid, mean, std = mean_roc([(fpr, tpr), (fpr, tpr)])
    assert grid[0] == mean[0] == 0 and np.allclose(std, 0)
    assert np.allclose(mean[1:], on_grid((fpr, tpr)))


@pytest.mark.parametrize(
    ("width", "shown", "hidden"), [(60, "AUROC", "AP"), (200, "Log loss", "Brier")]
)
def test_console_table_shows_the_metrics_that_fit(
    sweeps: Path, width: int, shown: str, hidden: str
) -> None:
    groups = sort_groups(summarize(collect([sweeps]).rows), "video_auroc")
    console = Console(file=io.StringIO(), width=width)
    console.print(console_table(groups, "video_auroc", width))
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    assert shown in text and f" {hidden} " not in text and "model=mobilenet_v2" in text


def test_roc_overlay_draws_seed_groups_with_a_missing_videos_csv(
    sweeps: Path, tmp_path: Path
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(sweeps, root)
    (root / RESNET_DEMO[0] / "eval" / "demo" / "videos.csv").unlink()
    groups = sort_groups(summarize(collect([root]).rows), "video_eer")
    path = plot_roc_overlay(tmp_path / "roc.png", groups, root, "video_eer", top=1)
    with Image.open(path) as image:
        assert image.format == "PNG"


def test_evaluate_runs_take_overrides_and_seed_of_their_training_run(tmp_path: Path) -> None:
    for seed in (7, 8):
        train = write_run(tmp_path / "train" / f"s{seed}", job("resnet18", seed), seed, None)
        (train / "checkpoints").mkdir()
        (train / "checkpoints" / "best.ckpt").write_bytes(b"")
        checkpoint = train / "checkpoints" / "best.ckpt"
        given = checkpoint if seed == 7 else train.relative_to(tmp_path)  # a repo-relative run
        write_run(
            tmp_path / "eval" / f"e{seed}",
            [f"ckpt_path={given}", "data=celebdf", "module.aggregation=max"],
            42,
            {"celebdf": 1.0},
            task="eval",
        )
    groups = summarize(collect([tmp_path / "eval"]).rows)
    assert len(groups) == 1 and groups.loc[0, "n_runs"] == 2
    assert sorted(groups.loc[0, "seeds"]) == [7, 8] and groups.loc[0, "overrides"] == ""


def run_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_cli_writes_tables_and_roc_overlay(sweeps: Path, tmp_path: Path) -> None:
    result = run_cli(sweeps, "--metric", "eer", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "model=resnet18" in result.stdout and "video EER (lower is better)" in result.stdout
    assert "skipped 2" in result.stdout and NO_EVAL in result.stdout
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert list(table["dataset"]) == ["celebdf", "demo", "demo"]
    assert list(table["rank"]) == [1, 1, 2]
    assert table["video_eer_mean"].iloc[1:].is_monotonic_increasing
    assert table.loc[table["n_runs"] == 3, "runs"].item() == ";".join(RESNET_DEMO)
    assert {"video_eer_mean", "video_eer_std", "video_eer_n"} <= set(table.columns)
    assert len(pd.read_csv(tmp_path / "comparison_runs.csv")) == 5
    assert "± " in (tmp_path / "comparison.md").read_text()
    with Image.open(tmp_path / "roc_overlay.png") as image:
        assert image.format == "PNG" and min(image.size) > 300


def test_cli_filters_by_dataset_and_defaults_out_to_first_folder(
    sweeps: Path, tmp_path: Path
) -> None:
    multirun = tmp_path / "multirun"
    write_run(multirun / "0", job("resnet18", 1), 1, {"demo": 1.6, "celebdf": 0.6})
    write_run(multirun / "1", job("resnet18", 2), 2, {"demo": 1.6})
    result = run_cli(multirun, "--dataset", "celebdf")
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(multirun / "comparison.csv")["dataset"]) == ["celebdf"]
    assert (multirun / "roc_overlay.png").is_file()
    missing = run_cli(multirun, "--dataset", "dfdc")
    assert missing.returncode == 1 and "found: celebdf, demo" in missing.stderr


def test_cli_repeats_the_evaluations_warnings(tmp_path: Path) -> None:
    multirun = tmp_path / "multirun"
    write_run(multirun / "0", job("resnet18", 1), 1, {"demo": 1.6})
    flat = write_run(multirun / "1", job("s3d", 1), 1, {"demo": 0.0})
    metrics_path = flat / "eval" / "demo" / "metrics.json"
    warning = "all 36 videos scored 0.4941: the detector's output does not depend on its input"
    metrics_path.write_text(
        json.dumps(json.loads(metrics_path.read_text()) | {"warnings": [warning]})
    )
    result = run_cli(multirun)
    assert result.returncode == 0, result.stderr
    assert f"warning: 1 on demo: {warning}" in result.stdout.replace("\n", " ")
    assert f"- 1 on demo: {warning}" in (multirun / "comparison.md").read_text()
    runs = pd.read_csv(multirun / "comparison_runs.csv", keep_default_na=False)
    assert list(runs.sort_values("run")["warnings"]) == ["", warning]


def test_cli_fails_clearly_without_results(tmp_path: Path) -> None:
    write_run(tmp_path / "run", job("resnet18", 1), 1, None)
    result = run_cli(tmp_path)
    assert result.returncode == 1 and "no runs with evaluation results" in result.stderr
    assert NO_EVAL in result.stdout
    assert not (tmp_path / "comparison.csv").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{empty}"], 1, "no run folders"),
        (["{absent}"], 2, "no such folder"),
        (["{sweeps}", "--metric", "speed"], 2, "unknown metric 'speed'"),
        (["{sweeps}", "--roc-top", "0"], 2, "expected a positive whole number"),
    ],
)
def test_cli_usage_errors(
    sweeps: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    args: list[str],
    code: int,
    message: str,
) -> None:
    places = {"empty": tmp_path, "absent": tmp_path / "absent", "sweeps": sweeps}
    with pytest.raises(SystemExit) as exit_info:
        compare_main([arg.format(**places) for arg in args] + ["--out", str(tmp_path / "out")])
    assert exit_info.value.code == code and message in capsys.readouterr().err


def test_cli_help_and_usage_list_compare() -> None:
    assert "compare" in subprocess.run([*CLI[:-1], "--help"], capture_output=True, text=True).stdout
    result = run_cli("--help")
    assert result.returncode == 0 and "--metric" in result.stdout and "--dataset" in result.stdout
