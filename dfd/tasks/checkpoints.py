"""The one checkpoint loader: a run folder or a checkpoint file in, the trained LightningModule
and its datamodule's hyperparameters out. evaluate, predict, export and serve all load here."""

from __future__ import annotations

import inspect
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dfd.data.datamodule import FaceClipDataModule
from dfd.errors import UsageError
from dfd.module import DeepfakeDetectionModule
from dfd.runs import RunDir


class CheckpointError(UsageError, ValueError):
    """The path names no usable checkpoint: missing, a run folder without one, or not one
    (a user error: the `dfd` command prints it as one line and exits 2)."""


@dataclass(frozen=True)
class TrainedCheckpoint:
    """A checkpoint's module (eager, CPU, train mode as saved), its datamodule hyperparameters
    (missing ones at FaceClipDataModule's defaults) and the run folder it was saved in."""

    path: Path
    module: DeepfakeDetectionModule
    data: dict[str, Any]
    run: RunDir | None


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or the best checkpoint of a run folder."""
    path = Path(path)
    if path.is_dir():
        best = RunDir(path).best_checkpoint()
        if best is None:
            raise CheckpointError(f"no best checkpoint in {RunDir(path).checkpoints_dir}")
        return best.resolve()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path.resolve()


# the settings of a detector config that fetch or read the weights it starts from
START_WEIGHTS = {"pretrained": False, "weights": None, "detector_weights": None}


def without_start_weights(config: Any) -> Any:
    """A detector config that builds its network without fetching pretrained weights (the
    checkpoint's state dict replaces them anyway, and this works offline)."""
    if isinstance(config, Mapping):
        cleared = {key: without_start_weights(value) for key, value in config.items()}
        if "_target_" in cleared:
            cleared.update({k: v for k, v in START_WEIGHTS.items() if k in cleared})
        return cleared
    if isinstance(config, list):
        return [without_start_weights(item) for item in config]
    return config


def _read(checkpoint: Path) -> dict[str, Any]:
    if not zipfile.is_zipfile(checkpoint):  # a video, a truncated download, a text file
        raise CheckpointError(
            f"{checkpoint} is not a dfd checkpoint (not a file torch.save writes)"
        )
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(f"{checkpoint} is not a checkpoint: {error}") from error
    if not isinstance(saved, dict) or not {"state_dict", "hyper_parameters"} <= saved.keys():
        raise CheckpointError(f"{checkpoint} is not a dfd checkpoint (no module hyperparameters)")
    return saved


def load_trained(path: str | Path) -> TrainedCheckpoint:
    """The module and datamodule hyperparameters of a checkpoint or of a run's best one.

    The module is built eager (not compiled) and without downloading start weights.
    """
    checkpoint = find_checkpoint(path)
    saved = _read(checkpoint)
    hparams = dict(saved["hyper_parameters"])
    hparams.update(detector=without_start_weights(hparams["detector"]), compile=False)
    try:
        module = DeepfakeDetectionModule(**hparams)
        module.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, RuntimeError) as error:  # another model's weights or settings
        raise CheckpointError(
            f"{checkpoint} is not a checkpoint this dfd can load ({type(error).__name__}: {error})"
        ) from error
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(FaceClipDataModule).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    data = {**defaults, **dict(saved.get("datamodule_hyper_parameters") or {})}
    # the detector's extra training targets: scoring never needs them (nor the blends they need)
    data["targets"] = ()
    return TrainedCheckpoint(checkpoint, module, data, RunDir.of_checkpoint(checkpoint))
