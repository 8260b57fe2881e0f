"""Helpers for configs passed into objects that save them (Lightning hyperparameters)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def to_plain(config: Any) -> Any:
    """OmegaConf nodes -> plain dicts/lists (resolved), other values unchanged."""
    if isinstance(config, (DictConfig, ListConfig)):
        return OmegaConf.to_container(config, resolve=True)
    return config
