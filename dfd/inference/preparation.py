"""Which preparation settings a detector's videos are prepared with at prediction time.

Training crops were made by `dfd.prepare` with settings recorded beside every finished video
(`<prepared>/records/<video>.json`, the fields that shape the crops). When the checkpoint's
training data is still reachable, prediction uses exactly those; otherwise the defaults of
conf/prepare.yaml, with the crop margin the checkpoint itself records (`crop_margin`).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from dfd.config import config_file
from dfd.datasets.manifest import STATUS_OK, read_manifest
from dfd.prepare.records import read_record, record_path
from dfd.prepare.settings import PrepareSettings

PREPARE_CONFIG = config_file("prepare.yaml")


def config_defaults() -> PrepareSettings:
    """The `prepare:` block of conf/prepare.yaml (the dataclass defaults when it is not there)."""
    if not PREPARE_CONFIG.is_file():
        return PrepareSettings()
    block = OmegaConf.to_container(OmegaConf.load(PREPARE_CONFIG).prepare, resolve=True)
    return PrepareSettings(**block)


def recorded_settings(manifest_path: str | Path) -> tuple[dict[str, Any], Path] | None:
    """(output settings, record file) of the first prepared video of a manifest, or None when
    the manifest or its records are not here."""
    manifest_path = Path(manifest_path)
    try:
        manifest = read_manifest(manifest_path)
    except (OSError, ValueError):
        return None
    for video_id in manifest.loc[manifest["status"] == STATUS_OK, "video_id"].unique():
        path = record_path(manifest_path.parent, str(video_id))
        record = read_record(path)
        if record and isinstance(record.get("settings"), dict):
            return record["settings"], path
    return None


def training_preparation(
    manifest_path: str | Path, crop_margin: float
) -> tuple[PrepareSettings, str, list[str]]:
    """(settings, where they came from, notes) for a detector trained on `manifest_path`."""
    base = config_defaults()
    recorded = recorded_settings(manifest_path)
    if recorded is not None:
        values, path = recorded
        known = set(asdict(base))
        settings = PrepareSettings(
            **{**asdict(base), **{k: v for k, v in values.items() if k in known}}
        )
        notes = []
        if abs(settings.margin - crop_margin) > 1e-9:
            notes.append(
                f"the training crops' margin {settings.margin} differs from the "
                f"checkpoint's crop_margin {crop_margin}: the recorded margin is used"
            )
        return settings, f"recorded with the training data ({path})", notes
    settings = replace(base, margin=crop_margin)
    note = (
        f"the training data's preparation records are not reachable ({manifest_path}): "
        f"preparing with the defaults of conf/prepare.yaml and the checkpoint's crop margin"
    )
    return (
        settings,
        f"defaults of conf/prepare.yaml, margin {crop_margin} from the checkpoint",
        [note],
    )


def for_this_machine(
    settings: PrepareSettings, device: str, workers: int | None
) -> PrepareSettings:
    """The settings with this run's face-detection device and worker count."""
    return replace(settings, device=device, workers=workers or settings.workers)
