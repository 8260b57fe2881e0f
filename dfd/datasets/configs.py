"""Datasets named by their `conf/data` config, as the cross-dataset protocol names them: where
each one's prepared manifest is, resolved against the running job's paths. Light: checked
before any training starts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dfd.config import config_file
from dfd.errors import UsageError


def dataset_manifests(cfg: DictConfig, names: Sequence[str]) -> dict[str, Path]:
    """{name: manifest} of conf/data configs by name (`cfg.data` itself under its own name)."""
    manifests = {}
    for name in names:
        data = cfg.data if name == cfg.data.get("name") else load_data_config(cfg, name)
        manifests[name] = Path(str(data.prepared_dir)) / "manifest.csv"
    return manifests


def load_data_config(cfg: DictConfig, name: str) -> DictConfig:
    """conf/data/<name>.yaml resolved against this run's paths; a clear error for a bad name."""
    folder = config_file("data")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise UsageError(f"unknown dataset config '{name}': choose from {known}")
    loaded = OmegaConf.load(path)
    bases = [b for b in loaded.pop("defaults", []) if isinstance(b, str) and b != "_self_"]
    merged = OmegaConf.merge(*(OmegaConf.load(folder / f"{b}.yaml") for b in bases), loaded)
    resolved = OmegaConf.create(OmegaConf.to_container(cfg))  # not in struct mode
    resolved.data = merged  # replaced whole: its interpolations see this run's paths
    return resolved.data
