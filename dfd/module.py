"""The LightningModule: a detector (clip in, logit out) trained with BCE, MixUp and smoothing,
plus whatever auxiliary losses the detector returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.callbacks import BaseFinetuning
from timm.data import Mixup
from torch import nn

from dfd.config import to_plain
from dfd.eval.metrics import DetectionScores
from dfd.models import Detector


def smooth_targets(targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Binary label smoothing: 1 -> 1 - s/2, 0 -> s/2 (as for two one-hot classes)."""
    return targets * (1.0 - smoothing) + 0.5 * smoothing


def to_channels_last(model: nn.Module) -> None:
    """Conv weights to channels-last layout: 4D (2D convs) and 5D (3D convs) alike."""
    layouts = {4: torch.channels_last, 5: torch.channels_last_3d}
    for parameter in model.parameters():
        if parameter.dim() in layouts:
            parameter.data = parameter.data.contiguous(memory_format=layouts[parameter.dim()])


class DeepfakeDetectionModule(L.LightningModule):
    """Trains any detector config (`_target_` of a `dfd.models.Detector`).

    The training loss is BCE on the clip logits plus the detector's auxiliary losses
    (`Detector.forward_train`), each also logged as `train/aux/<name>`.

    Args:
        detector: config of the detector, instantiated here so checkpoints are self-contained.
        optimizer: partial optimizer config (`_partial_: true`); gets the trainable parameters.
        scheduler: optional partial LR scheduler config (stepped per epoch).
        pos_weight: BCE weight of the fake class; "auto" = real/fake clip ratio of the train set.
        label_smoothing: s in [0, 1): targets become s/2 and 1 - s/2.
        mixup: optional timm Mixup arguments (mixup_alpha, cutmix_alpha, prob, ...), applied to
            whole clips: every frame of a clip is mixed with the same partner and weight.
        aggregation: how clip scores become a face-track score for the validation metric (any
            strategy of `dfd.eval.aggregate`; faces -> video by max).
        channels_last: keep conv weights in channels-last layout (faster convolutions on
            recent GPUs and with oneDNN on CPU); 3D CNNs get the 5D equivalent.
        compile: compile the detector with `torch.compile` (weights and checkpoints unchanged).
        freeze_backbone: keep the backbone as it was built for the whole run (a linear probe):
            its parameters get no gradient and it stays in eval mode, so BatchNorm statistics
            do not drift and its dropout is off; only the rest of the detector trains.
    """

    def __init__(
        self,
        detector: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        pos_weight: float | str | None = None,
        label_smoothing: float = 0.0,
        mixup: Mapping[str, Any] | None = None,
        aggregation: str = "mean",
        channels_last: bool = False,
        compile: bool = False,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        detector, optimizer, scheduler, mixup = map(
            to_plain, (detector, optimizer, scheduler, mixup)
        )
        self.save_hyperparameters()
        self.detector = instantiate(detector)
        if not isinstance(self.detector, Detector):
            raise ValueError(
                f"model._target_ builds a {type(self.detector).__name__}, not a "
                "dfd.models.Detector (see dfd/models/base.py)"
            )
        extra = ", ".join(sorted(self.detector.extra_targets))
        if mixup and extra:
            raise ValueError(
                f"{self.detector.describe()} trains on {extra} besides the clips, which MixUp "
                "would not mix along: set module.mixup=null"
            )
        if freeze_backbone:  # Lightning keeps each submodule's mode: eval stays eval
            self.backbone.requires_grad_(False).eval()
        if channels_last:
            to_channels_last(self.detector)
        if compile:
            self.detector.compile()
        self.mixup = (
            Mixup(**mixup, label_smoothing=label_smoothing, num_classes=2) if mixup else None
        )
        self.register_buffer(
            "pos_weight", torch.tensor(pos_weight if isinstance(pos_weight, (int, float)) else 1.0)
        )
        self.scores = nn.ModuleDict(
            {split: DetectionScores(aggregation) for split in ("val_scores", "test_scores")}
        )

    @property
    def backbone(self) -> nn.Module:
        """The detector's "backbone" group (what Lightning's BackboneFinetuning freezes and
        unfreezes, and `freeze_backbone` keeps frozen)."""
        return self.detector.parameter_groups()["backbone"]

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.detector(clip)

    def train(self, mode: bool = True) -> DeepfakeDetectionModule:
        """Train or eval mode, as asked; a frozen backbone stays in eval mode either way."""
        super().train(mode)
        if self.hparams.freeze_backbone:
            self.backbone.eval()
        return self

    def setup(self, stage: str) -> None:
        if self.hparams.freeze_backbone and any(
            isinstance(c, BaseFinetuning) for c in self.trainer.callbacks
        ):
            raise ValueError(
                "module.freeze_backbone keeps the backbone frozen for the whole run; "
                "a finetuning callback (callbacks=staged_unfreeze) would unfreeze it"
            )
        if stage == "fit" and self.hparams.pos_weight == "auto":
            real, fake = self.trainer.datamodule.class_counts("train")
            self.pos_weight.fill_(real / max(fake, 1))

    def on_train_start(self) -> None:
        """Tell the detector how long training lasts (see `Detector.plan_training`)."""
        total = self.trainer.estimated_stepping_batches
        per_epoch = self.trainer.num_training_batches / self.trainer.accumulate_grad_batches
        self.detector.plan_training(
            int(total) if math.isfinite(total) else None,
            max(1, int(per_epoch)) if math.isfinite(per_epoch) else None,
        )

    def _targets_and_clips(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        clip, label = batch["clip"], batch["label"]
        if self.mixup is None:
            return clip, smooth_targets(label, self.hparams.label_smoothing)
        b, t, c, h, w = clip.shape
        mixed, soft = self.mixup(clip.reshape(b, t * c, h, w), label.long())
        return mixed.reshape(b, t, c, h, w), soft[:, 1]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        missing = self.detector.extra_targets - batch.keys()
        if missing:
            raise ValueError(
                f"{self.detector.describe()} trains on {', '.join(sorted(missing))}, which the "
                "datamodule's batches lack"
            )
        clip, targets = self._targets_and_clips(batch)
        output = self.detector.forward_train({**batch, "clip": clip})
        loss = F.binary_cross_entropy_with_logits(
            output.logits, targets, pos_weight=self.pos_weight
        )
        for name, aux in output.aux_losses.items():
            self.log(f"train/aux/{name}", aux, on_step=True, on_epoch=True, batch_size=len(clip))
            loss = loss + aux
        self.log(
            "train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(clip)
        )
        return loss

    def _evaluate_step(self, batch: dict[str, torch.Tensor], split: str) -> None:
        logits = self(batch["clip"])
        loss = F.binary_cross_entropy_with_logits(logits, batch["label"])
        self.log(f"{split}/loss", loss, sync_dist=True, batch_size=len(logits))
        self.scores[f"{split}_scores"].update(
            torch.sigmoid(logits), batch["label"], batch["video_idx"], batch.get("face_idx")
        )

    def _log_scores(self, split: str) -> None:
        metrics = self.scores[f"{split}_scores"].compute()
        for name, value in metrics.items():
            self.log(f"{split}/{name}", value, prog_bar=name == "video_auroc")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")
        self.scores["val_scores"].reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")
        self.scores["test_scores"].reset()

    def configure_optimizers(self) -> dict[str, Any]:
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = instantiate(self.hparams.optimizer)(trainable)
        if not self.hparams.scheduler:
            return {"optimizer": optimizer}
        scheduler = instantiate(self.hparams.scheduler)(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
