"""The test sets a checkpoint is scored on besides (or instead of) its own data's: other
prepared datasets named by their `conf/data` config, each tested whole on its test split with
the clip settings the checkpoint trained with (the cross-dataset protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import FaceClipDataset
from dfd.datasets.manifest import require_prepared


def own_rows_only(trained_on: Mapping[str, Any], manifest: Path) -> dict[str, Any]:
    """Settings that keep the training run's cross-validation fold and protocol to its own data:
    another dataset is tested on its own test split, whole."""
    if Path(trained_on["manifest_path"]).resolve() == manifest.resolve():
        return {}
    return {"cv": None, "protocol": None}


def test_datamodules(
    manifests: Mapping[str, Path],
    trained_data: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, FaceClipDataModule]:
    """One set-up datamodule per dataset, with the checkpoint's data settings (`trained_data`,
    its datamodule hyperparameters) and `overrides`; an unprepared dataset or one without
    test clips is a one-line error."""
    modules = {}
    for name, manifest in manifests.items():
        require_prepared(manifest, name)
        settings = {
            **(overrides or {}),
            **own_rows_only(trained_data, manifest),
            "manifest_path": str(manifest),
        }
        datamodule = FaceClipDataModule(**{**trained_data, **settings})
        datamodule.setup()
        if "test" not in datamodule.datasets:
            raise ValueError(f"dataset '{name}' has no usable test clips in {manifest}")
        modules[name] = datamodule
    return modules


def test_splits(modules: Mapping[str, FaceClipDataModule]) -> dict[str, FaceClipDataset]:
    """{name: test split} of set-up datamodules."""
    return {name: module.datasets["test"] for name, module in modules.items()}
