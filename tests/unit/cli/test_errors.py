"""Mistakes a user can fix stop `dfd` with one line naming what to do and exit status 2; the
traceback only with --debug or HYDRA_FULL_ERROR=1. Each case runs the real command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers.runs import options, run_dfd

# the demo and the benchmark's stand-ins made from it know where the demo is built
LAYOUTS_NEEDING_A_PATH = [
    name for name in options("data") if name not in ("demo", "demo_sbi", "demo_swap")
]
SERVE_MODULES = ("fastapi", "starlette", "uvicorn", "multipart", "celery", "redis", "psycopg")


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The command failed with status 2 and one line on stderr, no traceback; that line."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def not_a_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "model.ckpt"
    path.write_text("this is not a checkpoint\n")
    return path


@pytest.mark.parametrize("data", LAYOUTS_NEEDING_A_PATH)
def test_train_without_the_data_path_names_the_option(data: str, tmp_path: Path) -> None:
    line = one_error_line(run_dfd("train", f"data={data}", cwd=tmp_path))
    assert "data.raw_dir is not set: add data.raw_dir=..." in line


def test_prepare_without_the_data_path_names_the_option(tmp_path: Path) -> None:
    line = one_error_line(run_dfd("prepare", "data=csv", cwd=tmp_path))
    assert "data.raw_dir is not set: add data.raw_dir=..." in line


@pytest.mark.parametrize("command", ["train", "check"])
def test_a_dataset_not_prepared_says_to_prepare_it(command: str, tmp_path: Path) -> None:
    line = one_error_line(
        run_dfd(command, "data=csv", f"data.raw_dir={tmp_path}", f"paths.data_dir={tmp_path}")
    )
    assert f"no {tmp_path}/csv/prepared/manifest.csv" in line
    assert "run `dfd prepare data=csv` first" in line


def test_a_stream_not_written_says_how_to_write_it(tmp_path: Path) -> None:
    line = one_error_line(
        run_dfd(
            "train",
            "data=csv",
            f"data.raw_dir={tmp_path}",
            f"datamodule.stream_url={tmp_path}/stream",
        )
    )
    assert f"no stream at {tmp_path}/stream (no manifest.csv)" in line
    assert "prepare.output=stream" in line


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (["datamodule.pair_self_blend=true"], "set train_real_only=true"),
        (["datamodule.stream_shuffle_window=0"], "stream_shuffle_window must be a number"),
        (["datamodule.stream_cache_size=lots"], "size 'lots' is not a number of B, KB"),
    ],
)
def test_datamodule_settings_it_cannot_take(
    settings: list[str], expected: str, tmp_path: Path
) -> None:
    """Refused when the datamodule is built (inside Hydra's instantiate), still one line."""
    prepared = tmp_path / "csv" / "prepared"
    prepared.mkdir(parents=True)
    (prepared / "manifest.csv").touch()
    result = run_dfd(
        "train", "data=csv", f"data.raw_dir={tmp_path}", f"paths.data_dir={tmp_path}", *settings
    )
    assert expected in one_error_line(result)


def test_evaluate_without_a_checkpoint_names_the_option() -> None:
    line = one_error_line(run_dfd("evaluate"))
    assert "ckpt_path is not set: add ckpt_path=..." in line


def test_evaluate_with_a_missing_checkpoint(tmp_path: Path) -> None:
    line = one_error_line(run_dfd("evaluate", f"ckpt_path={tmp_path / 'gone.ckpt'}"))
    assert f"checkpoint not found: {tmp_path / 'gone.ckpt'}" in line


def test_evaluate_with_a_file_that_is_not_a_checkpoint(not_a_checkpoint: Path) -> None:
    line = one_error_line(run_dfd("evaluate", f"ckpt_path={not_a_checkpoint}"))
    assert f"{not_a_checkpoint} is not a dfd checkpoint" in line


def test_an_unknown_config_option_is_one_line() -> None:
    line = one_error_line(run_dfd("train", "model=no_such_model", "--cfg", "job"))
    assert "no_such_model" in line and "resnet18" in line, "names the options there are"


def test_predict_with_video_and_model_swapped(tmp_path: Path) -> None:
    video, run = tmp_path / "clip.mp4", tmp_path / "run"
    video.write_bytes(b"\x00" * 64)
    run.mkdir()
    result = run_dfd("predict", str(video), str(run))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "is a video, not a model: give the model" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "{model}", "{video}"],
        ["export", "{model}", "--format", "torchscript"],
    ],
)
def test_predict_and_export_a_file_that_is_not_a_checkpoint(
    command: list[str], not_a_checkpoint: Path, tmp_path: Path
) -> None:
    """The path stays whole however long (a console 80 columns wide once broke it in two)."""
    model = tmp_path / ("a-folder-with-a-long-name-" * 4) / "model.ckpt"
    model.parent.mkdir()
    not_a_checkpoint.rename(model)
    args = [word.format(model=model, video=tmp_path / "v.mp4") for word in command]
    result = run_dfd(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{model} is not a dfd checkpoint" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "{model}", "--port", "1"],
        ["worker", "{model}", "--queue", "redis://127.0.0.1:1/0", "--upload-dir", "{uploads}"],
    ],
)
def test_serve_and_worker_a_file_that_is_not_a_checkpoint(
    command: list[str], not_a_checkpoint: Path, tmp_path: Path
) -> None:
    args = [word.format(model=not_a_checkpoint, uploads=tmp_path / "up") for word in command]
    line = one_error_line(run_dfd(*args))
    assert f"{not_a_checkpoint} is not a dfd checkpoint" in line


@pytest.mark.parametrize("asked", [["--debug"], ["HYDRA_FULL_ERROR=1"]])
def test_the_traceback_when_asked_for(asked: list[str], tmp_path: Path) -> None:
    flags = [a for a in asked if a.startswith("--")]
    env = dict(a.split("=") for a in asked if "=" in a)
    result = run_dfd("evaluate", f"ckpt_path={tmp_path / 'gone.ckpt'}", *flags, env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "checkpoint not found" in result.stderr


def blocking(tmp_path: Path, modules: tuple[str, ...]) -> dict[str, str]:
    """An environment in which `modules` cannot be imported, as when an extra is not installed."""
    folder = tmp_path / "blocked"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in modules)
    )
    import os

    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize(
    "command,extra",
    [
        (["serve", "{model}"], "serve"),
        (
            ["worker", "{model}", "--queue", "redis://127.0.0.1:1/0", "--upload-dir", "{up}"],
            "serve",
        ),
        (["export", "{model}", "--format", "onnx"], "export"),
    ],
)
def test_a_missing_extra_says_which_to_install(
    command: list[str], extra: str, not_a_checkpoint: Path, tmp_path: Path
) -> None:
    modules = SERVE_MODULES if extra == "serve" else ("onnx", "onnxruntime")
    args = [word.format(model=not_a_checkpoint, up=tmp_path / "up") for word in command]
    line = one_error_line(run_dfd(*args, env=blocking(tmp_path, modules)))
    assert f'install the {extra} extra: pip install "dfd[{extra}]"' in line


def test_a_missing_detector_extra_fails_the_preparation_in_one_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "labels.csv").write_text("file,label\na.mp4,REAL\n")
    (raw / "a.mp4").write_bytes(b"")  # never opened: the run stops before any video
    result = run_dfd(
        "prepare",
        "data=csv",
        f"data.raw_dir={raw}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "prepare.detector=blazeface",
        env=blocking(tmp_path, ("ai_edge_litert",)),
    )
    line = one_error_line(result)
    assert 'install the blazeface extra: pip install "dfd[blazeface]"' in line, line
    assert not (tmp_path / "data" / "csv" / "prepared" / "records").exists()
