"""dfd predict on raw videos: real demo videos and broken inputs, with a checkpoint trained here
and with its exports (slow where a trained run is needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfd.cli.predict import main as predict_main
from dfd.datasets.manifest import read_manifest
from dfd.demo.encode import write_video
from dfd.inference.inputs import expand_inputs
from dfd.inference.preparation import config_defaults, training_preparation
from helpers import media

# how close predict's video scores come to the run's own evaluation of the same videos
EVAL_AGREEMENT = 1e-5


def predict_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dfd.cli.predict", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------ fast: no model needed


def test_inputs_expand_files_folders_and_globs(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.MOV", "notes.txt", "deep/c.mkv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    media.frame_folder(tmp_path / "frames", count=2)  # a video given as its frames
    inputs = expand_inputs(
        [
            str(tmp_path),
            str(tmp_path / "a.mp4"),
            str(tmp_path / "notes.txt"),
            str(tmp_path / "*.mp4"),
            str(tmp_path / "*.avi"),
            str(tmp_path / "empty"),
            str(tmp_path / "gone.mp4"),
        ]
    )
    names = [(item.path.name, item.problem.split(":")[0]) for item in inputs]
    assert names == [
        ("a.mp4", ""),
        ("b.MOV", ""),
        ("c.mkv", ""),
        ("frames", ""),
        ("notes.txt", ""),
        ("*.avi", "missing_file"),
        ("empty", "no_videos"),
        ("gone.mp4", "missing_file"),
    ]


def test_usage_errors_exit_with_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as no_videos:
        predict_main([str(tmp_path)])
    assert no_videos.value.code == 2
    with pytest.raises(SystemExit) as bad_batch:
        predict_main([str(tmp_path), "video.mp4", "--batch-size", "0"])
    assert bad_batch.value.code == 2
    assert predict_main([str(tmp_path / "missing.ckpt"), "video.mp4"]) == 2
    assert "model not found" in one_line(capsys.readouterr().err)


def test_preparation_settings_are_the_recorded_ones(tiny_prepared: Path, tmp_path: Path) -> None:
    settings, source, notes = training_preparation(tiny_prepared, crop_margin=0.3)
    assert (settings.num_frames, settings.face_size) == (4, 64), "as the fixture prepared"
    assert settings.decoder == config_defaults().decoder and "records" in source and not notes
    fallback, source, notes = training_preparation(tmp_path / "manifest.csv", crop_margin=0.25)
    assert fallback.num_frames == config_defaults().num_frames and fallback.margin == 0.25
    assert source.startswith("defaults of conf/prepare.yaml") and "not reachable" in notes[0]


# ------------------------------------------------------------------------ slow: a trained run


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory, tiny_raw: Path) -> dict[str, Path]:
    """A truncated video, a text file named .mp4, a video without a face, a missing path."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    real = sorted((tiny_raw / "real").glob("*.mp4"))[0].read_bytes()
    (folder / "corrupt.mp4").write_bytes(real[: len(real) // 3])
    (folder / "text.mp4").write_text("not a video at all\n")
    write_video(folder / "flat.mp4", np.full((12, 96, 128, 3), (40, 120, 40), np.uint8))
    return {
        "corrupt": folder / "corrupt.mp4",
        "text": folder / "text.mp4",
        "no_face": folder / "flat.mp4",
        "missing": folder / "missing.mp4",
    }


@pytest.fixture(scope="module")
def predicted(
    tiny_run: Path,
    tiny_raw: Path,
    bad_inputs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:
    """`dfd predict` with the run folder on every demo video and the bad inputs."""
    out = tmp_path_factory.mktemp("predicted")
    result = predict_cli(
        str(tiny_run),
        str(tiny_raw / "real"),
        str(tiny_raw / "fake" / "*.mp4"),
        *map(str, bad_inputs.values()),
        "--json",
        str(out / "out.json"),
        "--csv",
        str(out / "out.csv"),
        "--frames",
        "--gradcam",
        str(out / "cam"),
        "--device",
        "cpu",
        "--batch-size",
        "3",
    )
    return {"result": result, "out": out, "json": json.loads((out / "out.json").read_text())}


@pytest.mark.slow
def test_every_input_gets_a_row_and_failures_set_the_exit_code(
    predicted: dict, tiny_raw: Path, bad_inputs: dict[str, Path]
) -> None:
    result, document = predicted["result"], predicted["json"]
    assert result.returncode == 1, result.stdout + result.stderr
    videos = {Path(v["video"]): v for v in document["videos"]}
    demo = sorted(tiny_raw.glob("*/*.mp4"))
    assert set(videos) == set(demo) | set(bad_inputs.values())
    expected = {
        "corrupt": "unreadable",
        "text": "unreadable",
        "no_face": "no_face",
        "missing": "missing_file",
    }
    for name, code in expected.items():
        row = videos[bad_inputs[name]]
        assert row["status"] == "failed" and row["reason"].split(":")[0] == code, row
        assert row["verdict"] is None and row["fake_probability"] is None
    assert videos[tiny_raw / "real" / "cartoon_no_face.mp4"]["reason"] == "no_face"
    scored = [v for path, v in videos.items() if v["status"] == "ok"]
    assert len(scored) == len(demo) - 1
    threshold = json.loads((predicted["out"] / "out.json").read_text())["model"]["threshold"]
    for video in scored:
        assert video["verdict"] == (
            "FAKE" if video["fake_probability"] >= threshold["value"] else "REAL"
        )
        assert video["faces"] >= 1 and video["frames_used"] == 4 and video["clips"] == 2
        assert len(video["clip_scores"]) == 2 * video["faces"]
        assert [f["frame"] for f in video["frame_scores"]] == sorted(
            f["frame"] for f in video["frame_scores"]
        )
        assert all(f["score"] is not None and len(f["box"]) == 4 for f in video["frame_scores"])
        assert len(video["gradcam"]) == 1 and Path(video["gradcam"][0]).is_file()
    assert document["summary"] == {
        "videos": len(videos),
        "ok": len(scored),
        "failed": len(videos) - len(scored),
        "fake": sum(v["verdict"] == "FAKE" for v in scored),
    }
    assert "threshold" in result.stdout and "recorded with the training data" in one_line(
        result.stdout
    )
    assert "failed" in result.stdout and "no_face" in result.stdout
    assert "could not be scored" in result.stderr and "could not be scored" not in result.stdout


@pytest.mark.slow
def test_csv_has_the_json_rows(predicted: dict) -> None:
    out, document = predicted["out"], predicted["json"]
    table = pd.read_csv(out / "out.csv", keep_default_na=False)
    assert list(table["video"]) == [v["video"] for v in document["videos"]]
    assert list(table["status"]) == [v["status"] for v in document["videos"]]
    ok = table[table["status"] == "ok"]
    expected = [v["fake_probability"] for v in document["videos"] if v["status"] == "ok"]
    assert np.allclose(ok["fake_probability"].astype(float), expected)
    clips = pd.read_csv(out / "out.clips.csv")
    frames = pd.read_csv(out / "out.frames.csv")
    assert len(clips) == sum(len(v["clip_scores"]) for v in document["videos"])
    assert len(frames) == sum(len(v["frame_scores"]) for v in document["videos"])
    assert set(frames.columns) >= {"video", "face", "frame", "time", "box", "detection", "score"}


@pytest.mark.slow
def test_scores_agree_with_the_runs_evaluation(
    predicted: dict, tiny_run: Path, tiny_raw: Path, tiny_prepared: Path
) -> None:
    """Same preparation code and settings, same clips, same model: the test videos' scores are
    those of `<run>/eval/demo/videos.csv` (up to float noise of other batch sizes)."""
    evaluated = pd.read_csv(tiny_run / "eval" / "demo" / "videos.csv")
    manifest = read_manifest(tiny_prepared)
    source = dict(zip(manifest["video_id"], manifest["source"]))
    scores = {Path(v["video"]): v["fake_probability"] for v in predicted["json"]["videos"]}
    threshold = predicted["json"]["model"]["threshold"]["value"]
    differences = []
    for row in evaluated.itertuples():
        score = scores[tiny_raw / source[row.video_id]]
        differences.append(abs(score - row.score))
        assert (score >= threshold) == bool(row.prediction), row.video_id
    assert len(differences) == len(evaluated) > 0
    assert max(differences) <= EVAL_AGREEMENT, differences
    print(
        f"largest |predict - evaluation| over {len(differences)} test videos: {max(differences):.2e}"
    )


@pytest.fixture(scope="module")
def exported(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The run exported to both formats (sidecars beside)."""
    folder = tmp_path_factory.mktemp("exported")
    paths = {}
    for fmt, suffix in (("torchscript", ".pt"), ("onnx", ".onnx")):
        paths[fmt] = folder / f"detector{suffix}"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dfd.cli.export",
                str(tiny_run),
                "--format",
                fmt,
                "--out",
                str(paths[fmt]),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_an_exported_model_gives_the_checkpoints_verdicts(
    fmt: str, exported: dict[str, Path], predicted: dict, tiny_raw: Path, tmp_path: Path
) -> None:
    videos = sorted((tiny_raw / "fake").glob("*.mp4"))[:3] + sorted(
        (tiny_raw / "real").glob("man*.mp4")
    )
    result = predict_cli(
        str(exported[fmt]),
        *map(str, videos),
        "--json",
        str(tmp_path / "out.json"),
        "--frames",
        "--device",
        "cpu",
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["model"]["kind"] == fmt
    reference = {v["video"]: v for v in predicted["json"]["videos"]}
    assert document["model"]["threshold"] == predicted["json"]["model"]["threshold"]
    for video in document["videos"]:
        want = reference[video["video"]]
        assert video["verdict"] == want["verdict"]
        assert video["fake_probability"] == pytest.approx(want["fake_probability"], abs=1e-4)
        got_frames = [f["score"] for f in video["frame_scores"]]
        assert got_frames == pytest.approx([f["score"] for f in want["frame_scores"]], abs=1e-4)


@pytest.mark.slow
def test_gradcam_needs_a_checkpoint(
    exported: dict[str, Path], tiny_raw: Path, tmp_path: Path
) -> None:
    result = predict_cli(str(exported["onnx"]), str(tiny_raw / "real"), "--gradcam", str(tmp_path))
    assert result.returncode == 2 and "--gradcam needs a checkpoint" in one_line(result.stderr)


@pytest.mark.slow
def test_an_export_without_its_sidecar_is_refused(
    exported: dict[str, Path], tiny_raw: Path, tmp_path: Path
) -> None:
    lonely = tmp_path / "detector.pt"
    shutil.copy(exported["torchscript"], lonely)
    result = predict_cli(str(lonely), str(tiny_raw / "real"))
    assert result.returncode == 2 and "no sidecar" in one_line(result.stderr)


@pytest.mark.slow
def test_a_damaged_middle_is_scored_on_the_frames_that_decode(
    tiny_run: Path, tmp_path: Path
) -> None:
    video = media.broken_middle_video(tmp_path)  # the run samples 4 frames: frame 15 is damaged
    result = predict_cli(
        str(tiny_run), str(video), "--json", str(tmp_path / "out.json"), "--device", "cpu"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = json.loads((tmp_path / "out.json").read_text())["videos"]
    assert row["status"] == "ok" and row["frames_used"] == 3
    assert row["notes"] == ["1 of 4 sampled frames did not decode"]
    assert row["face_scores"][0]["faces_in"] == "3 of 3 frames"


@pytest.mark.slow
def test_a_folder_of_frames_is_scored_as_one_video(tiny_run: Path, tmp_path: Path) -> None:
    folder = media.frame_folder(tmp_path / "frames", count=10, suffix=".jpg")
    result = predict_cli(
        str(tiny_run), str(folder), "--json", str(tmp_path / "out.json"), "--device", "cpu"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = json.loads((tmp_path / "out.json").read_text())["videos"]
    assert row["status"] == "ok" and row["frames_used"] == 4
    assert row["video"].endswith("frames")
