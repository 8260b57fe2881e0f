"""The LightningModule: losses, clip-level MixUp, staged unfreezing, metrics, aggregation."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import BackboneFinetuning, Callback

from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.aggregate import aggregate_by_video
from dfd.eval.metrics import DetectionScores, binary_metrics
from dfd.module import DeepfakeDetectionModule, smooth_targets
from dfd.tasks.callbacks import constant_lr_factor

TINY_DETECTOR = {
    "_target_": "dfd.models.FrameDetector",
    "backbone": {"_target_": "dfd.models.backbones.timm_encoder", "name": "resnet18"},
}
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}


def module(**kwargs) -> DeepfakeDetectionModule:
    return DeepfakeDetectionModule(detector=TINY_DETECTOR, optimizer=ADAM, **kwargs)


def test_label_smoothing_targets() -> None:
    assert torch.allclose(smooth_targets(torch.tensor([0.0, 1.0]), 0.1), torch.tensor([0.05, 0.95]))


def test_mixup_mixes_whole_clips_with_one_weight() -> None:
    model = module(
        mixup={"mixup_alpha": 0.4, "cutmix_alpha": 0.0, "prob": 1.0}, label_smoothing=0.0
    )
    torch.manual_seed(0)
    np.random.seed(0)  # timm's Mixup draws its weight from numpy
    clip = torch.rand(4, 3, 3, 8, 8)
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    mixed, targets = model._targets_and_clips({"clip": clip.clone(), "label": labels})
    # batch-mode MixUp pairs clip i with clip B-1-i; clip 0 = lam * clip 0 + (1 - lam) * clip 3
    lam = (mixed[0] - clip[3]) / (clip[0] - clip[3])
    finite = torch.isfinite(lam)
    assert torch.allclose(lam[finite], lam[finite].flatten()[0], atol=1e-4), "one weight per clip"
    weight = float(lam[finite].flatten()[0])
    assert 0.0 < weight < 1.0
    # soft target of clip 1 (fake) mixed with clip 2 (fake) stays 1; clip 0 with clip 3 stays 0
    assert torch.allclose(targets, torch.tensor([0.0, 1.0, 1.0, 0.0]), atol=1e-5)


def test_mixup_soft_targets_between_classes() -> None:
    model = module(mixup={"mixup_alpha": 0.4, "cutmix_alpha": 0.0, "prob": 1.0})
    torch.manual_seed(1)
    np.random.seed(1)
    _, targets = model._targets_and_clips(
        {"clip": torch.rand(2, 2, 3, 8, 8), "label": torch.tensor([0.0, 1.0])}
    )
    assert torch.allclose(targets[0] + targets[1], torch.tensor(1.0))
    assert 0.0 < float(targets[0]) < 1.0


def test_metrics_match_known_values() -> None:
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    labels = torch.tensor([0, 0, 1, 1])
    metrics = binary_metrics(scores, labels)
    assert metrics["auroc"] == pytest.approx(0.75)
    assert metrics["acc"] == pytest.approx(0.75)
    assert 0.0 <= metrics["eer"] <= 0.5
    assert math.isnan(binary_metrics(torch.tensor([0.9, 0.8]), torch.tensor([1, 1]))["auroc"])


def test_video_aggregation_mean_and_max() -> None:
    scores = torch.tensor([0.2, 0.4, 0.9, 0.1])
    labels = torch.tensor([0, 0, 1, 1])
    video = torch.tensor([5, 5, 2, 2])
    ids, mean, lab = aggregate_by_video(scores, labels, video, "mean")
    assert ids.tolist() == [2, 5] and lab.tolist() == [1, 0]
    assert torch.allclose(mean, torch.tensor([0.5, 0.3]))
    assert torch.allclose(
        aggregate_by_video(scores, labels, video, "max")[1], torch.tensor([0.9, 0.4])
    )
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_by_video(scores, labels, video, "median-ish")


def test_video_level_metrics_differ_from_clip_level() -> None:
    collector = DetectionScores()
    # video 0 (real): one clip scored high; video 1 (fake): two clips scored medium
    collector.update(
        torch.tensor([0.2, 0.7, 0.6, 0.6]), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1])
    )
    metrics = collector.compute()
    assert metrics["clip_auroc"] == pytest.approx(0.5)
    assert metrics["video_auroc"] == pytest.approx(1.0)


class RecordBackbone(Callback):
    """Records, at each epoch start, whether the backbone trains and the learning rates."""

    def __init__(self) -> None:
        self.trainable: list[bool] = []
        self.lrs: list[list[float]] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: DeepfakeDetectionModule) -> None:
        self.trainable.append(all(p.requires_grad for p in pl_module.backbone.parameters()))
        self.lrs.append([group["lr"] for group in trainer.optimizers[0].param_groups])


def test_staged_unfreezing_with_a_real_trainer(tiny_prepared: Path, tmp_path: Path) -> None:
    model = module(pos_weight="auto")
    before = {k: v.clone() for k, v in model.backbone.state_dict().items() if v.is_floating_point()}
    recorder = RecordBackbone()
    unfreeze = BackboneFinetuning(
        unfreeze_backbone_at_epoch=2, backbone_initial_ratio_lr=0.1, lambda_func=constant_lr_factor
    )
    trainer = L.Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        callbacks=[unfreeze, recorder],
        default_root_dir=tmp_path,
        enable_progress_bar=False,
    )
    dm = FaceClipDataModule(
        str(tiny_prepared), clip_len=1, image_size=48, batch_size=4, num_workers=0
    )
    trainer.fit(model, datamodule=dm)
    assert recorder.trainable == [False, False, True]
    assert len(recorder.lrs[0]) == 1 and len(recorder.lrs[2]) == 2
    assert recorder.lrs[2][1] == pytest.approx(0.1 * recorder.lrs[2][0])
    real, fake = dm.class_counts("train")
    assert float(model.pos_weight) == pytest.approx(real / fake)
    after = model.backbone.state_dict()
    changed = [k for k in before if "running" not in k and not torch.equal(before[k], after[k])]
    assert changed, "the backbone never trained after unfreezing"
