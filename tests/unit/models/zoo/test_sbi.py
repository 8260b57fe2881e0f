"""SBI: the paper's detector config composes with its data recipe (experiment=sbi)."""

from __future__ import annotations

from pathlib import Path

import torch

from dfd.models.zoo.sbi import SBI
from dfd.tasks.train import build_module_and_data
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_experiment_sbi_trains_the_sbi_detector_on_the_paper_s_recipe(
    tmp_path: Path, tiny_prepared: Path
) -> None:
    cfg = compose_train(tmp_path, "experiment=sbi", f"data.prepared_dir={tiny_prepared.parent}")
    assert cfg.model._target_ == "dfd.models.zoo.sbi.SBI"
    assert cfg.model.backbone.name == "efficientnet_b4"
    data = cfg.datamodule
    assert data.train_real_only and data.pair_self_blend and data.online_self_blend == 0
    assert data.self_blend_style == "sbi"
    module, datamodule = build_module_and_data(cfg)
    assert isinstance(module.detector, SBI)
    assert module.detector.weights_source() == "timm:efficientnet_b4"
    assert "Self-Blended Images" in module.detector.paper
    assert datamodule.hparams.image_size == 380

    # the composed EfficientNet-B4 trains on a real batch of pairs (64 px here)
    batch = training_batch(tiny_prepared, (), clip_len=1, self_blend_style="sbi")
    logits = module.detector.forward_train(batch).logits
    assert logits.shape == (8,)
    torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["label"]).backward()
    assert all(p.grad is not None for p in module.detector.parameters())
