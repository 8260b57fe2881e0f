"""The data check finds missing and corrupt frames and leaking groups in a prepared dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfd.datasets.check import check_prepared
from dfd.datasets.manifest import read_manifest, write_manifest
from helpers.runs import REPO


@pytest.fixture
def prepared_copy(tiny_prepared: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny prepared dataset, safe to break; returns its manifest."""
    target = tmp_path / "prepared"
    shutil.copytree(tiny_prepared.parent, target)
    return target / "manifest.csv"


def first_ok_frames(manifest: Path) -> tuple[str, list[Path]]:
    rows = read_manifest(manifest)
    row = rows[rows["status"] == "ok"].iloc[0]
    return row["clip_id"], [manifest.parent / p for p in row["frame_paths"].split(";")]


def test_a_sound_dataset_passes(prepared_copy: Path) -> None:
    report = check_prepared(prepared_copy, show_progress=False)
    assert report.passed and report.skipped == {"no_face": 1}
    assert set(report.balance.index) == {"train", "val", "test"}
    assert (report.balance[["real", "fake"]] > 0).all().all()


def test_missing_and_corrupt_frames_are_found(prepared_copy: Path) -> None:
    clip_id, frames = first_ok_frames(prepared_copy)
    frames[0].unlink()
    frames[1].write_bytes(b"\xff\xd8 not really a jpeg")
    report = check_prepared(prepared_copy, show_progress=False)
    assert not report.passed
    assert report.missing == [(clip_id, str(frames[0]))]
    assert [(c, p) for c, p, _ in report.unreadable] == [(clip_id, str(frames[1]))]


def test_leaking_groups_are_found(prepared_copy: Path) -> None:
    manifest = read_manifest(prepared_copy)
    ok = manifest["status"] == "ok"
    group = manifest[ok & (manifest["split"] == "test")]["group"].iloc[0]
    manifest.loc[manifest.index[ok & (manifest["group"] == group)][0], "split"] = "train"
    write_manifest(manifest, prepared_copy)
    assert check_prepared(prepared_copy, show_progress=False).leaking == {group: ["test", "train"]}


def test_command_exits_nonzero_on_a_broken_dataset(prepared_copy: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "dfd.datasets.check",
        f"data.prepared_dir={prepared_copy.parent}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sound = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert sound.returncode == 0 and "passed" in sound.stdout, sound.stderr
    first_ok_frames(prepared_copy)[1][0].unlink()
    broken = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert broken.returncode == 1 and "FAILED" in broken.stdout


@pytest.mark.parametrize(
    ("keep", "problem"),
    [
        ("none", "no usable clip: 0 real and 0 fake ok clips"),
        ("real", "one class only: "),
    ],
)
def test_an_empty_or_one_class_set_fails(prepared_copy: Path, keep: str, problem: str) -> None:
    manifest = read_manifest(prepared_copy)
    dropped = manifest["label"] == 1 if keep == "real" else manifest["status"] == "ok"
    manifest.loc[dropped, "status"] = "skipped"
    manifest.loc[dropped, "reason"] = "no_face"
    write_manifest(manifest, prepared_copy)
    report = check_prepared(prepared_copy, show_progress=False)
    assert not report.passed
    assert report.classes is not None and report.classes.startswith(problem)
    assert " 0 fake ok clips" in report.classes
