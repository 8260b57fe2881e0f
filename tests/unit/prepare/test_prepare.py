"""Face preparation on real videos: sampling, detection, tracking, crops, skips, resume, Hydra entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd.datasets.labels import read_label_csv
from dfd.datasets.manifest import face_boxes, frame_indices, frame_paths, read_manifest
from dfd.demo.media import fetch_media
from dfd.prepare.crops import crop_square, save_rgb_jpeg, square_region
from dfd.prepare.runner import prepare_dataset
from dfd.prepare.settings import PrepareSettings
from helpers.runs import REPO as REPO_ROOT

SUBPROCESS_ENV = {"NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_media(["man_webcam", "cartoon_no_face"])


def make_raw_dir(root: Path, media: dict[str, Path], rows: list[str]) -> Path:
    """A raw folder with the real test videos, a corrupt one, and a labels.csv of ``rows``."""
    raw = root / "raw"
    (raw / "people").mkdir(parents=True)
    shutil.copy(media["man_webcam"], raw / "people" / "man.mp4")
    shutil.copy(media["cartoon_no_face"], raw / "cartoon.mp4")
    (raw / "corrupt.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    )
    (raw / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    return raw


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]):
    """One run over a face video, a cartoon, a corrupt file, a missing file and a bad label row."""
    raw = make_raw_dir(
        tmp_path_factory.mktemp("mixed"),
        media,
        [
            "people/man.mp4,REAL",
            "cartoon.mp4,FAKE",
            "corrupt.mp4,FAKE",
            "missing.mp4,REAL",
            "odd.mp4,PERHAPS",
        ],
    )
    labels = read_label_csv(raw / "labels.csv", raw)
    prepared = raw.parent / "prepared"
    settings = PrepareSettings(num_frames=4, face_size=96)
    manifest = prepare_dataset(
        labels, raw, prepared, settings, val_fraction=0.25, test_fraction=0.25, show_progress=False
    )
    return prepared, manifest


# --- pure functions -------------------------------------------------------------------------


def test_crop_pads_with_black_and_keeps_rgb_order(tmp_path: Path) -> None:
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    frame[:, :100] = (220, 20, 20)  # red left half
    frame[:, 100:] = (20, 20, 220)  # blue right half
    crop = crop_square(frame, np.array([0.0, 0.0, 40.0, 40.0]), margin=0.5, size=64)
    assert crop.shape == (64, 64, 3)
    assert crop[:5, :5].max() == 0  # outside the frame: black
    save_rgb_jpeg(crop, tmp_path / "crop.jpg")
    saved = np.asarray(Image.open(tmp_path / "crop.jpg"))
    red = saved[48:60, 48:60].reshape(-1, 3).mean(axis=0)
    assert red[0] > 150 and red[2] < 60
    assert square_region(np.array([10.0, 20.0, 30.0, 60.0]), margin=0.25) == (-10, 10, 60)


# --- real videos ----------------------------------------------------------------------------


def test_bad_inputs_are_recorded_and_the_run_finishes(mixed_run) -> None:
    prepared, manifest = mixed_run
    status = dict(zip(manifest["video_id"], zip(manifest["status"], manifest["reason"])))
    assert set(status) == {
        "people/man",
        "cartoon",
        "corrupt",
        "missing",
    }  # the bad label row is rejected
    assert status["people/man"] == ("ok", "")
    assert status["cartoon"] == ("skipped", "no_face")
    assert status["missing"] == ("skipped", "missing_file")
    assert status["corrupt"][0] == "skipped" and status["corrupt"][1].startswith("unreadable")
    on_disk = read_manifest(prepared / "manifest.csv")
    assert on_disk["video_id"].tolist() == manifest["video_id"].tolist()
    assert set(on_disk["split"]) == {"train", "val", "test"}


def test_face_clip_has_the_asked_frames_as_square_crops(mixed_run) -> None:
    prepared, manifest = mixed_run
    row = manifest.set_index("video_id").loc["people/man"]
    assert (row["clip_id"], row["source"], row["label"]) == ("people/man", "people/man.mp4", 0)
    assert row["num_frames"] == 4
    assert (row["width"], row["height"]) == (640, 360) and row["fps"] > 0
    paths = frame_paths(row, prepared)
    indices = frame_indices(row)
    assert [p.name for p in paths] == [f"{i:06d}.jpg" for i in indices]
    assert all(p.parent == prepared / "faces" / "people" / "man" for p in paths)
    assert indices == sorted(indices) and len(set(indices)) == 4
    assert all(float(s) >= 0.9 for s in row["det_scores"].split(";"))  # a face in every frame
    boxes = face_boxes(row)
    assert boxes.shape == (4, 4) and np.all(boxes[:, 2:] > boxes[:, :2])
    assert np.all((boxes[:, :2] >= 0) & (boxes[:, 2:] <= (640, 360)))
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (96, 96) and image.mode == "RGB"


def test_face_crop_keeps_skin_red_dominant(mixed_run) -> None:
    """RGB order survives decoding, cropping and JPEG writing (a BGR swap makes skin blue)."""
    prepared, manifest = mixed_run
    row = manifest.set_index("video_id").loc["people/man"]
    for path in frame_paths(row, prepared):
        centre = np.asarray(Image.open(path), dtype=float)[32:64, 32:64].reshape(-1, 3).mean(axis=0)
        assert centre[0] > centre[2] + 30, centre


def test_second_run_reuses_clips_and_force_redoes_them(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = make_raw_dir(tmp_path, media, ["people/man.mp4,REAL"])
    labels = read_label_csv(raw / "labels.csv", raw)
    prepared = tmp_path / "prepared"
    settings = PrepareSettings(num_frames=2, face_size=64)
    first = prepare_dataset(labels, raw, prepared, settings, show_progress=False)
    paths = frame_paths(first.iloc[0], prepared)
    mtimes = [p.stat().st_mtime_ns for p in paths]

    again = prepare_dataset(labels, raw, prepared, settings, show_progress=False)
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert again.equals(first)

    paths[0].unlink()  # an interrupted or damaged clip is redone
    prepare_dataset(labels, raw, prepared, settings, show_progress=False)
    assert all(p.is_file() for p in paths)
    mtimes = [p.stat().st_mtime_ns for p in paths]

    forced = PrepareSettings(num_frames=2, face_size=64, force=True)
    prepare_dataset(labels, raw, prepared, forced, show_progress=False)
    assert all(p.stat().st_mtime_ns > old for p, old in zip(paths, mtimes))
    assert not list((prepared / "faces" / "people").glob("*.partial"))


def run_prepare(tmp_path: Path, raw: Path) -> subprocess.CompletedProcess:
    """``python -m dfd.prepare`` over the labels of ``raw``, as a user runs it."""
    command = [
        sys.executable,
        "-m",
        "dfd.prepare",
        "data=csv",
        f"data.raw_dir={raw}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "prepare.num_frames=2",
        "prepare.face_size=64",
        "prepare.workers=1",
    ]
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **SUBPROCESS_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_hydra_entry_point_writes_the_manifest(tmp_path: Path, media: dict[str, Path]) -> None:
    raw = make_raw_dir(
        tmp_path,
        media,
        [
            "people/man.mp4,FAKE",
            "people/man_too.mp4,REAL",
            "missing.mp4,REAL",
            "odd.mp4,PERHAPS",
            ",REAL",
        ],
    )
    shutil.copy(raw / "people" / "man.mp4", raw / "people" / "man_too.mp4")
    result = run_prepare(tmp_path, raw)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = read_manifest(tmp_path / "data" / "csv" / "prepared" / "manifest.csv")
    assert manifest["status"].tolist() == ["ok", "ok", "skipped"]
    assert manifest.loc[0, "num_frames"] == 2 and manifest.loc[0, "label"] == 1
    assert "prepare summary" in result.stdout
    summary = " ".join(result.stdout.split())
    for line in (
        "videos │ 3",
        "with a face │ 2 (66.7%)",
        "face clips │ 2",
        "skipped: missing_file │ 1",
        "clip frames with a detected face │ 4 of 4 (100.0%)",
        "rejected label rows │ 2",
        "labels.csv:5 odd.mp4,PERHAPS: unknown label 'PERHAPS'",
        "labels.csv:6 ,REAL: empty file",
    ):
        assert line in summary, result.stdout


@pytest.mark.slow
def test_a_run_with_one_class_only_exits_1_and_says_why(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = make_raw_dir(tmp_path, media, ["people/man.mp4,REAL", "cartoon.mp4,FAKE"])
    result = run_prepare(tmp_path, raw)
    assert result.returncode == 1, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("dfd prepare:")]
    assert "one class only: 1 real and 0 fake ok clips from 2 videos" in line
    assert str(tmp_path / "data" / "csv" / "prepared" / "manifest.csv") in line
    assert "Traceback" not in result.stderr


def test_a_run_without_a_usable_clip_exits_1_and_bad_labels_exit_2(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    raw = make_raw_dir(tmp_path / "none", media, ["missing.mp4,REAL", "gone.mp4,FAKE"])
    empty = run_prepare(tmp_path / "none", raw)
    assert empty.returncode == 1, empty.stderr[-3000:]
    assert "no usable clip: 0 real and 0 fake ok clips from 2 videos" in empty.stderr
    assert "prepare summary" in empty.stdout and "Traceback" not in empty.stderr
    (raw / "labels.csv").write_text("video,label\nmissing.mp4,REAL\n")
    unreadable = run_prepare(tmp_path / "none", raw)
    assert unreadable.returncode == 2, unreadable.stderr[-3000:]
    assert "cannot read the labels" in unreadable.stderr and "missing column(s) ['file']" in (
        unreadable.stderr
    )
    assert "Traceback" not in unreadable.stderr
