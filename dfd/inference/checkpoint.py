"""A trained checkpoint and what its run folder says about it: the threshold chosen on
validation, the aggregation it was chosen with, the training config and its hash."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from dfd.data.datamodule import FaceClipDataModule
from dfd.inference.preparation import training_preparation
from dfd.inference.spec import Aggregation, DetectorSpec, Threshold
from dfd.module import DeepfakeDetectionModule
from dfd.tasks.evaluate import find_checkpoint, reading_checkpoint

DEFAULT_THRESHOLD = 0.5
CONFIG_FILES = (".hydra/resolved_config.yaml", ".hydra/config.yaml")


def run_folder(checkpoint: Path) -> Path | None:
    """The train run folder of a checkpoint saved in its `checkpoints/`, else None."""
    checkpoint = checkpoint.resolve()
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


def without_start_weights(config: Any) -> Any:
    """A detector config that builds its network without fetching pretrained weights (the
    checkpoint's state dict replaces them anyway, and this works offline)."""
    if isinstance(config, Mapping):
        cleared = {key: without_start_weights(value) for key, value in config.items()}
        if "_target_" in cleared:
            cleared.update(
                {k: v for k, v in (("pretrained", False), ("weights", None)) if k in cleared}
            )
        return cleared
    if isinstance(config, list):
        return [without_start_weights(item) for item in config]
    return config


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint's detector (eval mode, CPU), its spec and its datamodule hyperparameters."""

    path: Path
    detector: nn.Module
    spec: DetectorSpec
    data: dict[str, Any]


def dfd_version() -> str | None:
    """The installed dfd version."""
    try:
        return metadata.version("dfd")
    except metadata.PackageNotFoundError:
        return None


def module_and_data(checkpoint: Path) -> tuple[DeepfakeDetectionModule, dict[str, Any]]:
    """The LightningModule of a checkpoint (eager, not compiled) and its datamodule's
    hyperparameters, missing ones at FaceClipDataModule's defaults."""
    with reading_checkpoint(checkpoint):
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        hparams = dict(saved["hyper_parameters"])
        hparams.update(detector=without_start_weights(hparams["detector"]), compile=False)
        module = DeepfakeDetectionModule(**hparams)
        module.load_state_dict(saved["state_dict"])
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(FaceClipDataModule).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    return module, {**defaults, **dict(saved.get("datamodule_hyper_parameters") or {})}


def read_threshold(run: Path | None, checkpoint: Path) -> tuple[Threshold, list[str]]:
    """The threshold of `<run>/eval/threshold.json`, or 0.5 with a note saying so."""
    path = run / "eval" / "threshold.json" if run else None
    if path is None or not path.is_file():
        where = path or "no run folder around the checkpoint"
        return (
            Threshold(DEFAULT_THRESHOLD, "fixed", "default", "none"),
            [f"no threshold chosen on validation ({where}): using {DEFAULT_THRESHOLD}"],
        )
    data = json.loads(path.read_text())
    threshold = Threshold(
        float(data["value"]), str(data["rule"]), str(data["chosen_on"]), str(path)
    )
    chosen_for = _evaluated_checkpoints(run)
    notes = []
    if chosen_for and str(checkpoint.resolve()) not in chosen_for:
        notes.append(
            f"the threshold was chosen for {sorted(chosen_for)[0]}, not for {checkpoint.name}"
        )
    return threshold, notes


def _evaluated_checkpoints(run: Path) -> set[str]:
    """The checkpoints the run's own evaluation scored (from its metrics.json files)."""
    found = set()
    for metrics in run.glob("eval/*/metrics.json"):
        checkpoint = json.loads(metrics.read_text()).get("checkpoint")
        if checkpoint:
            found.add(str(Path(checkpoint).resolve()))
    return found


def training_config(run: Path | None) -> Path | None:
    """The run's resolved config (or its composed one) when there is one."""
    for name in CONFIG_FILES if run else ():
        if (run / name).is_file():
            return run / name
    return None


def read_aggregation(config: Path | None, module: DeepfakeDetectionModule) -> Aggregation:
    """The evaluation's aggregation of the run (what its threshold was chosen with), else the
    module's own (its validation metric's)."""
    if config is not None:
        evaluation = OmegaConf.load(config).get("evaluation")
        if evaluation is not None and "aggregation" in evaluation:
            options = evaluation.get("aggregation_options")
            options = {} if options is None else OmegaConf.to_container(options, resolve=True)
            return Aggregation(
                str(evaluation.aggregation), options, f"evaluation config ({config})"
            )
    return Aggregation(str(module.hparams.aggregation), {}, "checkpoint hyperparameters")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """A checkpoint file, or a run folder's best checkpoint, with its spec."""
    checkpoint = Path(find_checkpoint(path)).resolve()
    module, data = module_and_data(checkpoint)
    module.detector.check_input(data["clip_len"], data["image_size"])
    run = run_folder(checkpoint)
    threshold, notes = read_threshold(run, checkpoint)
    config = training_config(run)
    prepare, prepare_source, prepare_notes = training_preparation(
        data.get("manifest_path") or "", data["crop_margin"]
    )
    spec = DetectorSpec(
        clip_len=int(data["clip_len"]),
        image_size=int(data["image_size"]),
        mean=tuple(data["mean"]),
        std=tuple(data["std"]),
        crop_margin=float(data["crop_margin"]),
        threshold=threshold,
        aggregation=read_aggregation(config, module),
        prepare=prepare,
        prepare_source=prepare_source,
        frame_scores=hasattr(module.detector, "forward_with_frames"),
        provenance={
            "source_checkpoint": str(checkpoint),
            "dfd_version": dfd_version(),
            "detector": module.hparams.detector,
            "training_config": str(config) if config else None,
            "training_config_sha256": sha256_of(config) if config else None,
        },
        notes=tuple(notes + prepare_notes),
    )
    return LoadedCheckpoint(checkpoint, module.detector.eval(), spec, data)
