"""A trained checkpoint and what its run folder says about it: the threshold chosen on
validation, the scoring settings it was chosen with, the training config and its hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from dfd.eval.scoring import ScoringSettings
from dfd.inference.preparation import training_preparation
from dfd.inference.spec import DetectorSpec, Threshold
from dfd.models import Detector
from dfd.module import DeepfakeDetectionModule
from dfd.runs import RunDir
from dfd.tasks.checkpoints import load_trained

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint's detector (eval mode, CPU), its spec and its datamodule hyperparameters."""

    path: Path
    detector: Detector
    spec: DetectorSpec
    data: dict[str, Any]


def dfd_version() -> str | None:
    """The installed dfd version."""
    try:
        return metadata.version("dfd")
    except metadata.PackageNotFoundError:
        return None


def read_threshold(run: RunDir | None, checkpoint: Path) -> tuple[Threshold, list[str]]:
    """The threshold of `<run>/eval/threshold.json`, or 0.5 with a note saying so."""
    path = run.threshold if run else None
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


def _evaluated_checkpoints(run: RunDir) -> set[str]:
    """The checkpoints the run's own evaluation scored (from its metrics.json files)."""
    found = set()
    for evaluation in run.evaluations():
        if not evaluation.metrics.is_file():
            continue
        checkpoint = json.loads(evaluation.metrics.read_text()).get("checkpoint")
        if checkpoint:
            found.add(str(Path(checkpoint).resolve()))
    return found


def training_config(run: RunDir | None) -> Path | None:
    """The run's resolved config (or its composed one) when there is one."""
    for path in (run.resolved_config, run.config) if run else ():
        if path.is_file():
            return path
    return None


def read_scoring(
    config: Path | None, module: DeepfakeDetectionModule, data: dict[str, Any]
) -> tuple[ScoringSettings, str]:
    """(scoring settings, source): the run's evaluation settings and training precision (how
    its threshold was chosen), else the module's aggregation, float32 and no views."""
    if config is not None:
        run = OmegaConf.load(config)
        evaluation = run.get("evaluation")
        if evaluation is not None and "aggregation" in evaluation:
            settings = ScoringSettings.from_evaluation(
                OmegaConf.to_container(evaluation, resolve=True),
                OmegaConf.select(run, "trainer.precision"),
                data["batch_size"],
            )
            return settings, f"evaluation config ({config})"
    settings = ScoringSettings(
        batch_size=data["batch_size"], aggregation=str(module.hparams.aggregation)
    )
    return settings, "checkpoint hyperparameters"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """A checkpoint file, or a run folder's best checkpoint, with its spec."""
    trained = load_trained(path)
    checkpoint, module, data, run = trained.path, trained.module, trained.data, trained.run
    module.detector.check_input(data["clip_len"], data["image_size"])
    threshold, notes = read_threshold(run, checkpoint)
    config = training_config(run)
    scoring, scoring_source = read_scoring(config, module, data)
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
        scoring=scoring,
        scoring_source=scoring_source,
        prepare=prepare,
        prepare_source=prepare_source,
        frame_scores=module.detector.frame_scores,
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
