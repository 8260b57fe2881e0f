"""Training tricks as config switches, each trained for real on CPU through dfd.tasks.train.train."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from dfd.tasks.train import train
from helpers.runs import compose_train

pytestmark = pytest.mark.slow


def run(tiny_prepared: Path, tmp_path: Path, *overrides: str) -> dict:
    """Train 2 epochs on the tiny dataset in this process; return the last checkpoint."""
    cfg = compose_train(
        tmp_path,
        f"data.prepared_dir={tiny_prepared.parent}",
        "model=resnet18",
        "datamodule.image_size=48",
        "datamodule.clip_len=2",
        "datamodule.batch_size=4",
        "datamodule.num_workers=0",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "test=false",
        *overrides,
    )
    train(cfg)
    return torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)


def batches_per_epoch(tiny_prepared: Path, tmp_path: Path) -> int:
    cfg = compose_train(
        tmp_path,
        f"data.prepared_dir={tiny_prepared.parent}",
        "datamodule.clip_len=2",
        "datamodule.batch_size=4",
        "datamodule.num_workers=0",
    )
    return len(instantiate(cfg.datamodule).train_dataloader())


def test_ema_validates_and_saves_the_averaged_weights(tiny_prepared: Path, tmp_path: Path) -> None:
    checkpoint = run(tiny_prepared, tmp_path, "callbacks=ema", "callbacks.ema.avg_fn.decay=0.5")
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert int(checkpoint["averaging_state"]["n_averaged"]) == checkpoint["global_step"]
    key = "detector.classifier.weight"
    assert not torch.equal(averaged[key], current[key]), "the EMA is the current model"


def test_swa_averages_epochs(tiny_prepared: Path, tmp_path: Path) -> None:
    checkpoint = run(
        tiny_prepared,
        tmp_path,
        "callbacks=swa",
        "callbacks.swa.swa_epoch_start=1",
        "trainer.max_epochs=3",
    )
    [swa] = [
        state
        for name, state in checkpoint["callbacks"].items()
        if name.startswith("StochasticWeightAveraging")
    ]
    assert swa["n_averaged"] >= 1 and swa["average_model_state"] is not None


def test_staged_unfreezing_combines_with_ema(tiny_prepared: Path, tmp_path: Path) -> None:
    checkpoint = run(tiny_prepared, tmp_path, "callbacks=[staged_unfreeze,ema]")
    names = " ".join(checkpoint["callbacks"])
    assert "BackboneFinetuning" in names and "WeightAveraging" in names


def test_gradient_accumulation_steps_once_per_k_batches(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    checkpoint = run(tiny_prepared, tmp_path, "trainer.accumulate_grad_batches=2")
    batches = batches_per_epoch(tiny_prepared, tmp_path)
    assert batches > 1 and checkpoint["global_step"] == 2 * -(-batches // 2)


def test_gradient_clipping_bounds_every_step(tiny_prepared: Path, tmp_path: Path) -> None:
    """Plain SGD with the gradient norm clipped to ~0 leaves the weights where they started."""
    overrides = (
        "module=sgd",
        "module.optimizer.momentum=0",
        "module.optimizer.weight_decay=0",
        "module.optimizer.lr=0.5",
        "module.scheduler=null",
    )
    clipped = run(tiny_prepared, tmp_path / "clipped", *overrides, "trainer.gradient_clip_val=1e-9")
    free = run(tiny_prepared, tmp_path / "free", *overrides)
    L.seed_everything(42)
    initial = instantiate(compose_train(tmp_path, "model=resnet18").module).state_dict()
    key = "detector.classifier.weight"
    moved = {
        name: float((ckpt["state_dict"][key] - initial[key]).abs().max())
        for name, ckpt in (("clipped", clipped), ("free", free))
    }
    assert moved["clipped"] < 1e-6 < 1e-3 < moved["free"], moved


def test_channels_last_weights_train(tiny_prepared: Path, tmp_path: Path) -> None:
    checkpoint = run(tiny_prepared, tmp_path, "module.channels_last=true")
    conv = checkpoint["state_dict"]["detector.backbone.model.conv1.weight"]
    assert conv.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_trains_on_cpu(tiny_prepared: Path, tmp_path: Path, precision: str) -> None:
    """On CPU Lightning runs 16-mixed as bf16-mixed (CPU autocast has no fp16 AMP)."""
    checkpoint = run(tiny_prepared, tmp_path, f"trainer.precision={precision}")
    trainer = instantiate(
        compose_train(tmp_path, f"trainer.precision={precision}").trainer, logger=False
    )
    assert trainer.precision == "bf16-mixed"
    assert checkpoint["global_step"] > 0


def test_compiled_detector_trains_and_saves_plain_weights(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    checkpoint = run(
        tiny_prepared,
        tmp_path,
        "module.compile=true",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
    )
    assert not any("_orig_mod" in key for key in checkpoint["state_dict"])
    assert checkpoint["global_step"] == 2
