"""Shared fixtures: a tiny real dataset built by dfd itself (demo builder + preparation)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from helpers.interrupts import tear_down_on_sigterm
from helpers.object_store import object_store  # noqa: F401  a real S3-compatible server
from helpers.runs import run_entry_point
from helpers.servers import postgres_url, redis_url  # noqa: F401  real servers, as fixtures

# Under pytest-xdist (`make test`: a worker per core) each worker, and every command it starts,
# gets its share of the cores: OpenMP threads beyond the cores spin and slow every worker.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // WORKERS)))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

TINY_GROUPS = ("pair01", "pair02", "pair04")  # the demo puts them in test, train, val


def pytest_configure(config: pytest.Config) -> None:
    tear_down_on_sigterm()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The detectors' learning tests share one worker (`--dist loadgroup`), so the learning
    task, the suite's costliest fixture, is built once rather than once per worker."""
    for item in items:
        if "learning_task" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("learning_task"))


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three identity pairs (one per split), one short clip per identity, SBI and swap twins."""
    from dfd.demo.build import build_demo

    out = tmp_path_factory.mktemp("tiny_demo") / "raw"
    build_demo(
        out, seed=0, clip_seconds=0.6, clips_per_photo=1, max_clips_per_video=1, groups=TINY_GROUPS
    )
    return out


@pytest.fixture(scope="session")
def tiny_prepared(tiny_raw: Path) -> Path:
    """The tiny dataset prepared (4 frames per video, 64 px crops); returns the manifest path."""
    from dfd.datasets.labels import read_label_csv
    from dfd.datasets.manifest import ok_rows
    from dfd.prepare.runner import PrepareSettings, prepare_dataset

    prepared = tiny_raw.parent / "prepared"
    manifest = prepare_dataset(
        read_label_csv(tiny_raw / "labels.csv", tiny_raw),
        tiny_raw,
        prepared,
        PrepareSettings(num_frames=4, face_size=64),
        val_fraction=0.3,
        test_fraction=0.3,
        seed=0,
        show_progress=False,
    )
    ok = ok_rows(manifest)
    for split in ("train", "val", "test"):
        assert set(ok[ok["split"] == split]["label"]) == {0, 1}, f"{split} lacks a class"
    return prepared / "manifest.csv"


@pytest.fixture(scope="session")
def tiny_run(tiny_prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A resnet18 run trained through train.py on the tiny dataset (2 epochs, 2-frame clips of
    48 px, the settings of test_entry_points): its run folder, evaluated and with its threshold."""
    from helpers.runs import tiny_overrides

    log_dir = tmp_path_factory.mktemp("tiny_run")
    run_entry_point("train.py", *tiny_overrides(tiny_prepared, log_dir))
    (run,) = (log_dir / "train" / "runs").iterdir()
    return run


@pytest.fixture(scope="session")
def learning_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifest of the task every detector must learn (see helpers/learning.py)."""
    from helpers.learning import build_learning_manifest

    return build_learning_manifest(tmp_path_factory.mktemp("learning"))
