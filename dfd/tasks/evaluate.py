"""The evaluate job behind evaluate.py: a trained checkpoint scored on one or several datasets."""

from __future__ import annotations

import logging
import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfd.config import config_file
from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import FaceClipDataset
from dfd.datasets.manifest import require_prepared
from dfd.errors import MissingFile, UsageError
from dfd.module import DeepfakeDetectionModule
from dfd.tasks.console import closing_line, quiet_library_noise
from dfd.tasks.evaluation import flat_metrics
from dfd.tasks.evaluation_report import report_checkpoint
from dfd.tasks.train import HISTORY_FILE, finish_wandb, instantiate_each, record_run

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Score a trained checkpoint on the test split of one or several datasets.

    The clip settings (clip length, image size, normalization) come from the checkpoint; the
    threshold is chosen on the validation split of the data it was trained on (or, when that
    is gone, of the first dataset evaluated) and applied unchanged to every test set. Each
    dataset's results go to `<output_dir>/eval/<dataset>/`, a summary across them beside.
    """
    quiet_library_noise()
    ckpt_path = find_checkpoint(cfg.ckpt_path)
    with reading_checkpoint(ckpt_path):
        module = DeepfakeDetectionModule.load_from_checkpoint(ckpt_path, map_location="cpu")
    overrides = OmegaConf.to_container(cfg.get("data_overrides") or {}, resolve=True)
    trained_on = FaceClipDataModule.load_from_checkpoint(ckpt_path, **overrides)
    module.detector.check_input(trained_on.hparams.clip_len, trained_on.hparams.image_size)
    test_sets, first = {}, None
    for name, manifest in dataset_manifests(cfg).items():
        require_prepared(manifest, name)
        settings = {
            **overrides,
            **own_rows_only(trained_on, manifest),
            "manifest_path": str(manifest),
        }
        datamodule = FaceClipDataModule.load_from_checkpoint(ckpt_path, **settings)
        datamodule.setup()
        if "test" not in datamodule.datasets:
            raise ValueError(f"dataset '{name}' has no usable test clips in {manifest}")
        test_sets[name] = datamodule.datasets["test"]
        first = first or datamodule
    val, source = threshold_split(trained_on, first)
    run = Path(ckpt_path).resolve().parent.parent
    loggers = instantiate_each(cfg.get("logger"))
    record_run(cfg, loggers)
    try:
        results = report_checkpoint(
            cfg,
            module,
            trained_on,
            val,
            test_sets,
            Path(cfg.paths.output_dir) / "eval",
            ckpt_path,
            cfg.device,
            precision=cfg.precision,
            history_path=run / HISTORY_FILE,
            config_yaml=training_config(run) or OmegaConf.to_yaml(cfg, resolve=True),
            loggers=loggers,
            own_data=trained_data_name(run),
            threshold_source=source,
        )
        for result in results.values():
            print(closing_line(result.folder, flat_metrics("test", result.metrics)))
        return {name: result.metrics for name, result in results.items()}
    finally:
        finish_wandb()


def own_rows_only(trained_on: FaceClipDataModule, manifest: Path) -> dict[str, Any]:
    """Settings that keep the training run's cross-validation fold and protocol to its own data:
    another dataset is tested on its own test split, whole."""
    if Path(trained_on.hparams.manifest_path).resolve() == manifest.resolve():
        return {}
    return {"cv": None, "protocol": None}


def find_checkpoint(path: str | Path) -> str:
    """A checkpoint file, or the best checkpoint of a run folder (the one not named last)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(
            (c for c in path.glob("checkpoints/*.ckpt") if c.stem != "last"),
            key=lambda c: c.stat().st_mtime,
        )
        if not found:
            raise MissingFile(f"no best checkpoint in {path / 'checkpoints'}")
        path = found[-1]
    if not path.is_file():
        raise MissingFile(f"checkpoint not found: {path}")
    return str(path)


@contextmanager
def reading_checkpoint(path: str | Path) -> Iterator[None]:
    """What torch and Lightning raise on a file that is not a dfd checkpoint (a video, a
    truncated download, another library's weights), as one line the user can act on."""
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        raise UsageError(f"{path} is not a dfd checkpoint (not a file torch.save writes)")
    try:
        yield
    except (EOFError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError) as error:
        raise UsageError(
            f"{path} is not a dfd checkpoint ({type(error).__name__}: {error})"
        ) from error


def dataset_manifests(cfg: DictConfig) -> dict[str, Path]:
    """{name: manifest} of the datasets to test: `datasets` (names of conf/data configs) or `data`."""
    names = list(cfg.get("datasets") or []) or [str(cfg.data.name)]
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
    merged = OmegaConf.merge(cfg, {"data": OmegaConf.load(path)})
    return merged.data


def threshold_split(
    trained_on: FaceClipDataModule, first: FaceClipDataModule
) -> tuple[FaceClipDataset | None, str]:
    """The validation split of the checkpoint's own data, or of the first test dataset when the
    training data is not here (with a warning: the threshold then comes from another source)."""
    try:
        trained_on.setup()
        return trained_on.datasets.get("val"), "val"
    except FileNotFoundError:
        log.warning(
            "the checkpoint's training data (%s) is not here: choosing the threshold on "
            "the validation split of %s",
            trained_on.hparams.manifest_path,
            first.hparams.manifest_path,
        )
        first.setup()
        return first.datasets.get("val"), f"val of {first.hparams.manifest_path}"


def training_config(run: Path) -> str | None:
    """The training run's composed config, when the checkpoint sits in its run folder."""
    path = run / ".hydra" / "config.yaml"
    return path.read_text() if path.is_file() else None


def trained_data_name(run: Path) -> str | None:
    """The name of the dataset the checkpoint's run trained on, when its config is there."""
    text = training_config(run)
    return None if text is None else OmegaConf.create(text).get("data", {}).get("name")
