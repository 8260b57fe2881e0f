"""The one checkpoint loader: a run folder or a checkpoint in, module and data settings out, and
one clear error for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.models import FrameDetector
from dfd.runs import RunDir
from dfd.tasks.checkpoints import CheckpointError, load_trained, without_start_weights

OLD_RUN = Path(__file__).resolve().parents[2] / "fixtures" / "run_before_house"


def test_a_run_folder_loads_its_best_checkpoint() -> None:
    trained = load_trained(OLD_RUN)
    assert trained.path == RunDir(OLD_RUN).best_checkpoint().resolve()
    assert trained.run == RunDir(OLD_RUN.resolve())
    assert isinstance(trained.module.detector, FrameDetector)
    assert trained.data["clip_len"] == 2 and trained.data["image_size"] == 48
    assert trained.data["num_workers"] is not None  # datamodule defaults fill what was not saved


def test_a_checkpoint_outside_a_run_folder_has_no_run(tmp_path: Path) -> None:
    copy = tmp_path / "model.ckpt"
    copy.write_bytes(RunDir(OLD_RUN).best_checkpoint().read_bytes())
    trained = load_trained(copy)
    assert trained.run is None and trained.path == copy.resolve()


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_trained(tmp_path / "nope.ckpt")


def test_run_folder_without_a_best_checkpoint(tmp_path: Path) -> None:
    RunDir(tmp_path).checkpoints_dir.mkdir()
    RunDir(tmp_path).last_checkpoint.write_bytes(b"")
    with pytest.raises(CheckpointError, match="no best checkpoint in"):
        load_trained(tmp_path)


def test_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(
        CheckpointError, match="is not a dfd checkpoint .not a file torch.save writes"
    ):
        load_trained(text)


def test_a_torch_file_that_is_not_a_dfd_checkpoint(tmp_path: Path) -> None:
    weights = tmp_path / "weights.ckpt"
    torch.save({"state_dict": {}}, weights)
    with pytest.raises(CheckpointError, match="not a dfd checkpoint"):
        load_trained(weights)


def test_a_checkpoint_rebuilds_its_detector_without_its_start_weights() -> None:
    """The files a detector started from (ImageNet weights, a DeepfakeBench checkpoint) need
    not exist where its checkpoint is loaded: the checkpoint's own state dict replaces them."""
    config = {
        "_target_": "dfd.models.zoo.xception.Xception",
        "pretrained": True,
        "weights": "/gone/imagenet.pth",
        "detector_weights": "/gone/ckpt_best.pth",
        "key_map": "deepfakebench_xception",
        "dropout": 0.0,
    }
    cleared = without_start_weights({"detector": config})["detector"]
    assert cleared == {
        **config,
        "pretrained": False,
        "weights": None,
        "detector_weights": None,
    }
