"""The interface every detector implements; the LightningModule, Grad-CAM, export and checkpoint
loading use nothing else, so a new kind of detector needs no change there.

A detector takes normalized clips (B, T, C, H, W) and returns one fake logit per clip (B,).
It declares:

- `input_spec`: what clips it accepts (frames or whole clips, channels, clip length and image
  size); `check_input` holds a datamodule to it at start-up, with one line naming the option;
- `forward_train(batch)`: the training pass. The default is `forward` with no auxiliary loss.
  A detector that learns from more than the label (a reconstruction, a consistency term, a
  blending-boundary mask) overrides it and returns its extra losses in
  `DetectorOutput.aux_losses` (the module adds them to the BCE loss and logs each by name), and
  names the batch entries it needs besides "clip" and "label" in `extra_targets` (e.g.
  {"mask", "second_view", "method"}): the datamodule must provide them, and the module refuses
  MixUp for it (MixUp mixes clips, not their masks, second views or method classes); one that
  classifies manipulation methods ("method") names them in `methods`, "real" first, and the
  datamodule numbers every clip's method by that list;
- `method_groups`: whether it trains on batches of method groups (each real clip followed by one
  fake of every method it names, from the same people), which the datamodule then serves;
- `frame_scores` and `forward_with_frames`: whether, and how, it also scores every frame alone;
- `plan_training(total_steps, steps_per_epoch)`: told by the module when training starts how
  long it lasts, for a detector whose mechanism follows training progress (a schedule of its
  own, statistics refitted every half epoch), so that nobody types steps per epoch by hand;
- `parameter_groups()`: named module groups, "backbone" among them, for staged unfreezing
  and linear probing;
- `gradcam_target_layers()` and `gradcam_layout`: where Grad-CAM reads its feature maps and
  how their outputs are laid out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import nn

from dfd.models.inputs import InputSpec

# How a Grad-CAM layer's output is laid out: "frames" (B*T, C, h, w), a frame backbone's maps;
# "channels_first" (B, C, T', h, w); "channels_last" (B, T', h, w, C); "tokens"
# (B, 1 + T'*h*w, C), a class token then T' square frames of tokens; "frame_tokens"
# (B*T, 1 + h*w, C), an image transformer's class token and square grid of tokens per frame.
GradCamLayout = Literal["frames", "channels_first", "channels_last", "tokens", "frame_tokens"]


@dataclass
class DetectorOutput:
    """What a training pass returns: clip logits (B,), auxiliary losses by name (scalars, added
    to the training loss as they are: weight them inside the detector), frame logits (B, T)."""

    logits: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    frame_logits: torch.Tensor | None = None


class Detector(nn.Module, ABC):
    """Base of every detector: clips (B, T, C, H, W) in, fake logits (B,) out."""

    # the paper whose mechanism it implements: "Authors, Title, Venue Year" ("" for generic ones)
    paper: ClassVar[str] = ""
    extra_targets: ClassVar[frozenset[str]] = frozenset()
    # with the "method" target: the manipulation methods its classes stand for, "real" first
    methods: tuple[str, ...] = ()
    # trains on method groups: a real clip, then one fake of each of `methods[1:]`, per group
    method_groups: ClassVar[bool] = False
    frame_scores: ClassVar[bool] = False
    gradcam_layout: GradCamLayout = "frames"

    @property
    @abstractmethod
    def input_spec(self) -> InputSpec:
        """The clips this detector accepts."""

    @abstractmethod
    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Fake logits (B,) of normalized clips (B, T, C, H, W)."""

    @abstractmethod
    def parameter_groups(self) -> dict[str, nn.Module]:
        """Named groups of modules covering every parameter once; "backbone" is the group
        staged unfreezing holds frozen at first and a linear probe keeps frozen."""

    def describe(self) -> str:
        """The detector's name in messages."""
        return type(self).__name__

    def weights_source(self) -> str:
        """Where pretrained weights come from for users online (e.g. "timm:legacy_xception",
        "open_clip:ViT-B-16/openai", a file), or "none" for a detector trained from scratch."""
        return "none"

    def check_input(self, clip_len: int, image_size: int, channels: int = 3) -> None:
        """Raise one ValueError naming the setting to change if such clips do not fit."""
        self.input_spec.check(self.describe(), clip_len, image_size, channels)

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """The training pass on a batch ("clip", "label" and the `extra_targets`)."""
        return DetectorOutput(self(batch["clip"]))

    def plan_training(self, total_steps: int | None, steps_per_epoch: int | None) -> None:
        """Called once training starts with its optimizer steps in all and per epoch (None
        where unknown, e.g. an endless stream). Most detectors ignore it."""

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Clip logits (B,) and frame logits (B, T), or None unless `frame_scores`."""
        return self(clips), None

    def gradcam_target_layers(self) -> list[str]:
        """Dotted module paths Grad-CAM can explain, the default first (none: no default; a
        ValueError says why when there is a reason to give)."""
        return []

    def gradcam_token_frames(self, clip_len: int) -> int:
        """For the "tokens" layout: the frames T' of token grids a clip of T frames gives."""
        return clip_len


class ParameterGroup(nn.Module):
    """Some parameters of a model held as one module's own (not copies), so that a callback
    freezing or unfreezing a group by module reaches exactly these parameters."""

    def __init__(self, parameters: Iterable[tuple[str, nn.Parameter]]) -> None:
        super().__init__()
        for name, parameter in parameters:
            self.register_parameter(name.replace(".", "__"), parameter)
