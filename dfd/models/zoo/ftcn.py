"""FTCN: a fully temporal 3D CNN (every spatial kernel 1) and a temporal transformer.

Zheng, Bao, Zhao, Chen, Wen, "Exploring Temporal Coherence for More General Video Face
Forgery Detection", ICCV 2021. The paper takes a 3D ResNet-50 (I3D-R50) and sets every
spatial convolution kernel to 1, keeping the temporal ones: each output location sees one
spatial position's history only, so the network cannot learn a single frame's spatial
artefacts and must look for temporal incoherence, which generalises across forgery methods.
A Temporal Transformer then reads the feature frames (spatially averaged, one token per
frame, a class token and learned positions) and gives the verdict. Input: 16 consecutive
frames of 224 px.

Built in-house (dfd/models/zoo/resnet3d.py: the I3D-R50 layout with spatial kernel 1); no
pretrained weights exist offline, so it trains from scratch here (`weights` loads a file, e.g.
a converted FTCN checkpoint). The transformer's size (1 layer, 8 heads, 512 wide, 4x MLP) is
dfd's choice where the paper leaves it to its code.

How dfd differs from DeepfakeBench: DeepfakeBench's ftcn.yaml builds a VideoMAE (`model_name:
videomae`) and feeds frames spread over the whole video; here it is the temporal-only network,
on consecutive frames (`max_frame_stride` 1: see conf/model/ftcn.yaml for the preparation).

At the zoo's learning scale (64 px, clips of 4 of 8 frames spread over 0.8 s) the fakes are
self-blends whose mask is drawn once per clip, the same in every frame: the cue is a spatial
blending boundary that does not change over time, which a temporal-only network is built not
to see. Its learning test therefore asserts the opposite of the zoo's bar: the training loss
stays flat and the validation AUC stays below 0.6 (measured: 0.505), the blindness the paper
designs for; a clip-wise temporal cue (flicker, frame-wise blends) is what it would learn.
"""

from __future__ import annotations

import torch
from torch import nn

from dfd.config import to_plain
from dfd.models.base import Detector
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_weights
from dfd.models.zoo.resnet3d import I3D_TEMPORAL_KERNELS, RESNET50_DEPTHS, ResNet3d

PAPER_CLIP_LEN = 16
PAPER_SIZE = 224


class TemporalTransformer(nn.Module):
    """Feature frames (B, T, F) -> class-token feature (B, D): a projection, a class token,
    learned positions (up to `max_len` frames) and a pre-norm transformer encoder."""

    def __init__(self, features: int, dim: int, depth: int, heads: int, max_len: int) -> None:
        super().__init__()
        self.project = nn.Linear(features, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.positions = nn.Parameter(torch.zeros(1, max_len + 1, dim))
        nn.init.trunc_normal_(self.positions, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout=0.1, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        tokens = self.project(frames)
        tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self.positions[:, : tokens.shape[1]]
        return self.norm(self.encoder(tokens)[:, 0])


class FTCN(Detector):
    """A temporal-only 3D ResNet (spatial kernels 1) and a temporal transformer head."""

    paper = (
        "Zheng, Bao, Zhao, Chen, Wen, Exploring Temporal Coherence for More General Video "
        "Face Forgery Detection, ICCV 2021"
    )
    gradcam_layout = "channels_first"

    def __init__(
        self,
        depths: tuple[int, ...] = RESNET50_DEPTHS,
        width: int = 64,
        head_dim: int = 512,
        head_depth: int = 1,
        head_heads: int = 8,
        max_clip_len: int = 32,
        max_frame_stride: int | None = 1,
        dropout: float = 0.0,
        weights: str | None = None,
    ) -> None:
        """`depths`/`width`: the 3D ResNet's blocks per stage and first width (ResNet-50:
        3-4-6-3, 64); `head_*`: the temporal transformer; `max_clip_len`: its positions."""
        super().__init__()
        self.backbone = ResNet3d(
            to_plain(depths),
            width,
            spatial_kernel=1,
            temporal_kernels=I3D_TEMPORAL_KERNELS[: len(depths)],
        )
        self.head = TemporalTransformer(
            self.backbone.num_features, head_dim, head_depth, head_heads, max_clip_len
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_dim, 1)
        self.max_clip_len, self.max_frame_stride = max_clip_len, max_frame_stride
        if weights:
            load_weights(self, weights, name=self.describe())

    @property
    def input_spec(self) -> InputSpec:
        """Clips of 2 to `max_clip_len` consecutive frames (16 in the paper), any size."""
        return InputSpec(
            kind="clips",
            min_clip_len=2,
            max_clip_len=self.max_clip_len,
            native_clip_len=PAPER_CLIP_LEN,
            native_image_size=PAPER_SIZE,
            max_frame_stride=self.max_frame_stride,
        )

    def describe(self) -> str:
        return "FTCN"

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": self.head, "classifier": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        return [f"backbone.layers.{len(self.backbone.layers) - 1}"]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        maps = self.backbone(clips.transpose(1, 2))  # (B, F, T, h, w)
        frames = maps.mean(dim=(3, 4)).transpose(1, 2)  # one token per feature frame
        return self.classifier(self.dropout(self.head(frames))).squeeze(-1)
