"""The detector of docs/add-a-detector.md is real: the page shows its files as they are, it
trains through the real LightningModule and Trainer on real face clips, and `dfd models` lists
it from a config folder of the user's own, as the page says."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from dfd.cli.models import main
from dfd.data.datamodule import FaceClipDataModule
from dfd.models.catalog import compose_train
from dfd.module import DeepfakeDetectionModule

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


@pytest.fixture
def my_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's config folder holding the page's YAML, its class importable."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    (tmp_path / "model").mkdir()
    shutil.copy(EXAMPLES / "my_detector.yaml", tmp_path / "model" / "my_detector.yaml")
    return tmp_path


def test_the_page_shows_the_example_files() -> None:
    page = (REPO / "docs" / "add-a-detector.md").read_text()
    for name in ("my_detector.py", "my_detector.yaml"):
        assert f'--8<-- "docs/examples/{name}"' in page, name


def test_the_example_trains_through_the_real_module(my_conf: Path, tiny_prepared: Path) -> None:
    cfg = compose_train("my_detector", [my_conf])
    module = DeepfakeDetectionModule(
        detector=OmegaConf.to_container(cfg.model),
        optimizer={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-2},
    )
    assert type(module.detector).__name__ == "MyDetector"
    before = [p.detach().clone() for p in module.detector.parameters()]
    data = FaceClipDataModule(
        str(tiny_prepared), clip_len=2, image_size=64, batch_size=4, num_workers=0
    )
    trainer = L.Trainer(
        max_steps=4,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 4
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    after = list(module.detector.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after)), "every parameter trained"


def test_dfd_models_lists_it_from_the_users_config_folder(
    my_conf: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--config-dir", str(my_conf), "--only", "my_detector", "--format", "csv"]
    assert main([*argv, "--repeats", "1"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["name"] == "my_detector"
    assert row["input"] == "frames 160px (image_size >= 8)"  # the datamodule's default size
    assert int(row["parameters"]) == 3 * 16 * 9 + 16 + 2 * 16 + 16 * 32 * 9 + 32 + 2 * 32 + 33
    assert float(row["gflops"]) > 0 and float(row["cpu_ms"]) > 0
    assert row["pretrained"] == "none"
