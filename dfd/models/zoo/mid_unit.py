"""Frame detectors that act halfway through a CNN: a timm network cut into units, something
done with the features after one of them (an attention map that re-weights them, a consistency
volume read from them), and one fake logit from the last unit's pooled features (FFD, PCL)."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch
from torch import nn

from dfd.models.inputs import InputSpec
from dfd.models.zoo.per_frame import PerFrameDetector
from dfd.models.zoo.units import BackboneUnits


class MidUnitDetector(PerFrameDetector):
    """A CNN cut into units with a detector-specific step after unit `mid_unit`; a clip's logit
    is the mean of its frames'. Subclasses say what the step does (`at_mid_unit`), which of
    their modules belong to the head (`head_modules`), their name and their paper's size."""

    title: ClassVar[str]
    paper_size: ClassVar[int]

    def __init__(
        self,
        backbone: str,
        pretrained: bool,
        weights: str | None,
        mid_unit: int,
        dropout: float,
        option: str,
    ) -> None:
        """`option` names `mid_unit`'s config key in the error for a unit out of range."""
        super().__init__()
        self.backbone_name = backbone
        self.backbone = BackboneUnits(backbone, 3, None, pretrained, weights)
        channels = self.backbone.channels
        if not 0 <= mid_unit < len(channels) - 1:
            raise ValueError(f"{option} {mid_unit} is not before the last of {backbone}'s units")
        self.mid_unit, self.mid_channels = mid_unit, channels[mid_unit]
        self.min_size = self.backbone.reductions[-1]
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels[-1], 1)

    @abstractmethod
    def at_mid_unit(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features the next unit reads, and what the training pass needs from this step."""

    @abstractmethod
    def head_modules(self) -> list[nn.Module]:
        """The detector's own modules (the classifier aside)."""

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length, at least as large as the backbone's total stride (at the
        paper's size when it names one)."""
        return InputSpec(
            kind="frames", min_image_size=self.min_size, native_image_size=self.paper_size
        )

    def describe(self) -> str:
        return f"{self.title} ({self.backbone_name})"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The backbone; the detector's own modules and the classifier."""
        head = nn.ModuleList([*self.head_modules(), self.classifier])
        return {"backbone": self.backbone, "head": head}

    def gradcam_target_layers(self) -> list[str]:
        """The backbone's last unit, the map the classifier pools."""
        return [f"backbone.units.{len(self.backbone.units) - 1}"]

    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame logits (N,) of normalized images, and what `at_mid_unit` kept for training."""
        x, kept = images, None
        for index, unit in enumerate(self.backbone.units):
            x = unit(x)
            if index == self.mid_unit:
                x, kept = self.at_mid_unit(x)
        pooled = self.dropout(x.mean((2, 3)))
        return self.classifier(pooled).squeeze(1), kept

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images)[0]
