"""Open what `dfd predict` is given: a checkpoint, a train run folder, or an exported model
(TorchScript `.pt` or `.onnx`) with its JSON sidecar `<file>.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dfd.datasets.media import VIDEO_SUFFIXES
from dfd.errors import UsageError
from dfd.inference.checkpoint import load_checkpoint
from dfd.inference.preparation import config_defaults
from dfd.inference.runtimes import EXPORTED_RUNTIMES, EagerRuntime, Runtime
from dfd.inference.spec import DetectorSpec
from dfd.tasks.checkpoints import CheckpointError

FORMAT_SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}


class ModelLoadError(UsageError, ValueError):
    """The given model cannot be used (missing, a video, or an export without its sidecar)."""


@dataclass(frozen=True)
class LoadedDetector:
    """A detector ready to score: `module` is the eager network (checkpoints only, what
    Grad-CAM needs), `kind` one of checkpoint, torchscript, onnx."""

    source: Path
    kind: str
    runtime: Runtime
    spec: DetectorSpec
    module: nn.Module | None = None


def sidecar_path(model: Path) -> Path:
    """The JSON sidecar beside an exported model: `<file>.json`."""
    return model.with_name(model.name + ".json")


def exported_format(path: Path) -> str | None:
    """The export format a file name implies, or None for anything else."""
    return next((name for name, suffix in FORMAT_SUFFIXES.items() if path.suffix == suffix), None)


def load_exported(path: Path, device: torch.device) -> LoadedDetector:
    """An exported model and the spec its sidecar records."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise ModelLoadError(f"{path} has no sidecar {sidecar.name}: export it with `dfd export`")
    data = json.loads(sidecar.read_text())
    fmt = data.get("format")
    if fmt not in EXPORTED_RUNTIMES:
        raise ModelLoadError(f"{sidecar} names an unknown format {fmt!r}")
    spec = DetectorSpec.from_json(data, config_defaults(), f"sidecar {sidecar.name}")
    return LoadedDetector(path, fmt, EXPORTED_RUNTIMES[fmt](path, device), spec)


def load_detector(path: str | Path, device: torch.device) -> LoadedDetector:
    """A checkpoint, a run folder (its best checkpoint) or an exported model, on `device`."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model not found: {path}")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        raise ModelLoadError(
            f"{path} is a video, not a model: give the model (checkpoint, run folder or "
            "exported .pt/.onnx) first, then the videos"
        )
    if path.is_file() and exported_format(path):
        return load_exported(path, device)
    try:
        loaded = load_checkpoint(path)
    except CheckpointError as error:
        raise ModelLoadError(str(error)) from error
    return LoadedDetector(
        loaded.path,
        "checkpoint",
        EagerRuntime(loaded.detector, device),
        loaded.spec,
        loaded.detector,
    )
