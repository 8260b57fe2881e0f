"""The Detector interface: every model config builds one that keeps its promises (parameter
groups cover each parameter once, Grad-CAM layers exist, frame scores when it says so); clip
shapes it cannot take fail in one line naming the setting; a detector's auxiliary loss and extra
targets really reach the training loss of the real LightningModule and Trainer."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from dfd.models import Detector, DetectorOutput, FrameDetector, InputSpec
from dfd.models.backbones import FrameEncoder
from dfd.module import DeepfakeDetectionModule
from helpers.runs import compose_train, options


@pytest.mark.parametrize("option", options("model"))
def test_every_model_config_builds_a_detector(tmp_path: Path, option: str) -> None:
    detector = instantiate(compose_train(tmp_path, f"model={option}").model)
    assert isinstance(detector, Detector)
    groups = detector.parameter_groups()
    assert "backbone" in groups and len(groups) > 1
    grouped = [id(p) for group in groups.values() for p in group.parameters()]
    assert sorted(grouped) == sorted(id(p) for p in detector.parameters()), "each once"
    spec = detector.input_spec
    assert spec.channels == 3
    assert spec.kind == ("frames" if detector.frame_scores else "clips")
    layers = detector.gradcam_target_layers()
    assert layers and all(detector.get_submodule(path) is not None for path in layers)


def test_frame_scores_and_default_training_pass() -> None:
    detector = FrameDetector(FrameEncoder(nn.Flatten(1), 3 * 8 * 8)).eval()
    clips = torch.randn(2, 3, 3, 8, 8)
    logits, frames = detector.forward_with_frames(clips)
    assert frames.shape == (2, 3) and torch.equal(logits, detector(clips))
    output = detector.forward_train({"clip": clips, "label": torch.ones(2)})
    assert torch.equal(output.logits, logits) and output.aux_losses == {}


@pytest.mark.parametrize(
    "option,overrides,shape,option_named",
    [
        ("mvit_v2_s", (), (8, 224), "datamodule.clip_len=16"),
        ("mvit_v2_s", (), (16, 160), "datamodule.image_size=224"),
        ("s3d", (), (8, 224), "datamodule.clip_len=13"),
        ("transformer", ("model.temporal.max_len=4",), (5, 64), "datamodule.clip_len=4"),
    ],
)
def test_input_spec_errors_are_one_line_naming_the_setting(
    tmp_path: Path, option: str, overrides: tuple[str, ...], shape: tuple, option_named: str
) -> None:
    detector = instantiate(compose_train(tmp_path, f"model={option}", *overrides).model)
    with pytest.raises(ValueError) as error:
        detector.check_input(*shape)
    message = str(error.value)
    assert "\n" not in message and option_named in message
    assert message.startswith(detector.describe())


def test_channels_other_than_rgb_are_refused_in_one_line() -> None:
    detector = FrameDetector(FrameEncoder(nn.Flatten(1), 3 * 8 * 8))
    detector.check_input(4, 8)
    with pytest.raises(ValueError, match=r"^FrameDetector with MeanPool takes 3-channel frames"):
        detector.check_input(4, 8, channels=1)


class MaskedDetector(Detector):
    """The example of the seam: a blending-boundary style detector that also predicts where a
    clip was blended (an extra target, "mask") and learns it through an auxiliary loss."""

    extra_targets = frozenset({"mask"})

    def __init__(self, mask_weight: float = 0.5) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3, padding=1)
        self.mask_head = nn.Conv2d(4, 1, 1)
        self.classifier = nn.Linear(4, 1)
        self.mask_weight = mask_weight

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(kind="frames")

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": nn.ModuleList([self.mask_head, self.classifier])}

    def _maps(self, clips: torch.Tensor) -> torch.Tensor:
        return F.relu(self.backbone(clips.flatten(0, 1)))  # (B*T, 4, H, W)

    def _logits(self, maps: torch.Tensor, batch: int) -> torch.Tensor:
        pooled = maps.mean((2, 3)).reshape(batch, -1, maps.shape[1]).mean(1)
        return self.classifier(pooled).squeeze(-1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self._logits(self._maps(clips), len(clips))

    def forward_train(self, batch: dict[str, torch.Tensor]) -> DetectorOutput:
        maps = self._maps(batch["clip"])
        mask_logits = self.mask_head(maps).reshape(batch["mask"].shape)
        mask_loss = F.binary_cross_entropy_with_logits(mask_logits, batch["mask"])
        return DetectorOutput(
            self._logits(maps, len(batch["clip"])), {"mask": self.mask_weight * mask_loss}
        )


def masked_batches(count: int = 4, with_mask: bool = True) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    samples = []
    for index in range(count):
        sample = {
            "clip": torch.randn(2, 3, 8, 8, generator=generator),
            "label": torch.tensor(float(index % 2)),
            "video_idx": torch.tensor(index),
        }
        if with_mask:
            sample["mask"] = (torch.rand(2, 8, 8, generator=generator) > 0.5).float()
        samples.append(sample)
    return samples


def masked_module(**kwargs) -> DeepfakeDetectionModule:
    torch.manual_seed(0)
    return DeepfakeDetectionModule(
        detector={"_target_": MaskedDetector},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.5},
        **kwargs,
    )


def one_step(module: DeepfakeDetectionModule, samples: list[dict]) -> L.Trainer:
    trainer = L.Trainer(
        max_steps=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, torch.utils.data.DataLoader(samples, batch_size=len(samples)))
    return trainer


def test_aux_loss_and_extra_target_reach_the_training_loss() -> None:
    module, samples = masked_module(), masked_batches()
    batch = torch.utils.data.default_collate(samples)
    with torch.no_grad():
        output = module.detector.forward_train(batch)
        bce = F.binary_cross_entropy_with_logits(output.logits, batch["label"])
    mask_head = module.detector.mask_head.weight.clone()
    trainer = one_step(module, samples)
    logged = trainer.callback_metrics
    assert float(logged["train/aux/mask_step"]) == pytest.approx(float(output.aux_losses["mask"]))
    assert float(logged["train/loss_step"]) == pytest.approx(float(bce + output.aux_losses["mask"]))
    # the mask head feeds no logit: only the auxiliary loss can have moved it
    assert not torch.equal(module.detector.mask_head.weight, mask_head)


def test_missing_extra_target_and_mixup_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"trains on mask, which the datamodule's batches lack"):
        one_step(masked_module(), masked_batches(with_mask=False))
    with pytest.raises(ValueError, match=r"trains on mask besides the clips.*module.mixup=null"):
        masked_module(mixup={"mixup_alpha": 0.4})


def test_a_module_that_is_not_a_detector_is_refused() -> None:
    with pytest.raises(ValueError, match=r"builds a Linear, not a dfd.models.Detector"):
        DeepfakeDetectionModule(
            detector={"_target_": "torch.nn.Linear", "in_features": 1, "out_features": 1},
            optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
        )
