"""TALL: a clip's frames tiled into one thumbnail, read by an image Swin Transformer.

Xu, Liang, Jiang, Li, Xu, Chen, Guo, "TALL: Thumbnail Layout for Deepfake Video Detection",
ICCV 2023. The T consecutive frames of a clip are each resized to a cell and laid out row by
row in a sqrt(T) x sqrt(T) grid (4 frames, 2 x 2, in a 224 px thumbnail: the paper's default),
so a 2D backbone sees spatial artefacts inside each cell and temporal changes across cells.
At training time the paper masks a fixed-size square at the same random position in every
frame of the clip before tiling, so the network cannot lean on one facial region. A learned
embedding per frame position, added to each cell's patch tokens, tells the network which
frame a token comes from (as in DeepfakeBench's TALL; not checked against the paper's
released code). The backbone is a timm Swin (Swin-B at 224 for users; a tiny Swin
in the tests); one logit, trained with BCE (the paper's two-way softmax is the same model).

How dfd differs from DeepfakeBench: DeepfakeBench's clips take 4 of 32 frames spread over the
whole video and its grid masking dataset is not wired into training; here the clip is 4
consecutive frames (`max_frame_stride` 1: prepare with `prepare.fps` at the video's rate, see
conf/model/tall.yaml) and the mask is applied in the forward pass while training.

At the zoo's learning scale (a tiny Swin from scratch, 64 px frames, 8 training people) TALL
fits its training clips (loss 0.70 -> 0.57) but does not reach the zoo's validation bar
(AUC 0.55): a Swin without ImageNet pretraining needs more data than the task has, like the
video transformers (dfd/models/zoo/hf_video.py). Its learning test asserts the falling loss.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dfd.config import to_plain
from dfd.models.backbones import timm_encoder
from dfd.models.base import Detector
from dfd.models.inputs import InputSpec

PAPER_CLIP_LEN = 4
PAPER_THUMBNAIL = 224


def tile(clips: torch.Tensor, rows: int) -> torch.Tensor:
    """(B, T, C, h, w) frames laid out row by row in a rows x rows grid: (B, C, rows*h, rows*w)."""
    b, _, c, h, w = clips.shape
    grid = clips.reshape(b, rows, rows, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(b, c, rows * h, rows * w)


def untile(maps: torch.Tensor, rows: int) -> torch.Tensor:
    """Channels-last thumbnail maps (B, R, R, D) back to frames (B, T, R/rows, R/rows, D)."""
    b, height, width, d = maps.shape
    cells = maps.reshape(b, rows, height // rows, rows, width // rows, d).transpose(2, 3)
    return cells.reshape(b, rows * rows, height // rows, width // rows, d)


def retile(frames: torch.Tensor, rows: int) -> torch.Tensor:
    """Frames (B, T, h, w, D) laid out again as one channels-last thumbnail (B, H, W, D)."""
    b, _, h, w, d = frames.shape
    grid = frames.reshape(b, rows, rows, h, w, d).transpose(2, 3)
    return grid.reshape(b, rows * h, rows * w, d)


def mask_square(clips: torch.Tensor, side: int, generator: torch.Generator | None = None):
    """Zero (the normalized mean) one side x side square per clip, at a random position shared
    by all of its frames."""
    b, _, _, h, w = clips.shape
    top = torch.randint(0, h - side + 1, (b,), generator=generator, device="cpu")
    left = torch.randint(0, w - side + 1, (b,), generator=generator, device="cpu")
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    inside = (
        (ys >= top.view(b, 1, 1))
        & (ys < (top + side).view(b, 1, 1))
        & (xs >= left.view(b, 1, 1))
        & (xs < (left + side).view(b, 1, 1))
    )
    return clips.masked_fill(inside.view(b, 1, 1, h, w).to(clips.device), 0.0)


class FrameEmbedding(nn.Module):
    """A learned embedding per frame position, added to the patch tokens of that frame's cell."""

    def __init__(self, frames: int, rows: int, dim: int) -> None:
        super().__init__()
        self.rows = rows
        self.embedding = nn.Parameter(torch.zeros(frames, dim))
        nn.init.trunc_normal_(self.embedding, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, H', W', D), channels last as Swin's patch embedding gives them."""
        _, height, width, dim = tokens.shape
        cells = self.embedding.view(self.rows, self.rows, dim)
        per_token = cells.repeat_interleave(height // self.rows, 0).repeat_interleave(
            width // self.rows, 1
        )
        return tokens + per_token


class TALL(Detector):
    """T frames tiled into one thumbnail grid, grid-masked while training, read by a Swin."""

    paper = (
        "Xu, Liang, Jiang, Li, Xu, Chen, Guo, TALL: Thumbnail Layout for Deepfake Video "
        "Detection, ICCV 2023"
    )
    gradcam_layout = "channels_last"

    def __init__(
        self,
        backbone: str = "swin_base_patch4_window7_224",
        clip_len: int = PAPER_CLIP_LEN,
        thumbnail_size: int = PAPER_THUMBNAIL,
        mask_fraction: float = 0.25,
        max_frame_stride: int | None = 1,
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
        backbone_kwargs: dict | None = None,
    ) -> None:
        """`backbone`: a timm Swin (patch embedding, stages, norm); `clip_len`: frames per
        thumbnail, a square (4: 2 x 2); `thumbnail_size`: the thumbnail's side (each frame a
        cell of thumbnail_size / sqrt(clip_len)); `mask_fraction`: the masked square's side
        as a fraction of a cell (0: no masking); `backbone_kwargs`: timm settings (a tiny Swin)."""
        super().__init__()
        rows = math.isqrt(clip_len)
        if rows * rows != clip_len:
            raise ValueError(
                f"TALL tiles a square grid: clip_len must be 4, 9, 16...; got {clip_len}"
            )
        if "swin" not in backbone:
            raise ValueError(f"TALL's backbone is a timm Swin Transformer; got '{backbone}'")
        self.rows, self.clip_len, self.thumbnail_size = rows, clip_len, thumbnail_size
        self.cell = thumbnail_size // rows
        self.mask_side = int(round(mask_fraction * self.cell))
        self.max_frame_stride = max_frame_stride
        self.backbone = timm_encoder(
            backbone,
            pretrained,
            weights,
            img_size=thumbnail_size,
            **to_plain(backbone_kwargs or {}),
        )
        swin = self.backbone.model
        grid = swin.patch_embed.grid_size[0]
        last_split = grid // 2 ** (len(swin.layers) - 2)  # the stage Grad-CAM reads, per side
        if grid % rows or last_split % rows:
            raise ValueError(
                f"TALL: {grid} patches per side do not split into {rows} cells at every stage "
                "but the last; pick a thumbnail_size that does"
            )
        self.layout = FrameEmbedding(clip_len, rows, swin.embed_dim)
        self.frame_maps = nn.Identity()  # the second-to-last stage's maps, cut back into frames
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backbone.num_features, 1)

    @property
    def input_spec(self) -> InputSpec:
        """`clip_len` consecutive frames of any size (each resized to its cell)."""
        return InputSpec(
            kind="clips",
            clip_len=self.clip_len,
            native_image_size=PAPER_THUMBNAIL,
            max_frame_stride=self.max_frame_stride,
        )

    def describe(self) -> str:
        return "TALL"

    def weights_source(self) -> str:
        return self.backbone.source

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "layout": self.layout, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        """The second-to-last Swin stage, per frame (the last one's grid may not split into
        cells: 7 x 7 at 224 px)."""
        return ["frame_maps"]

    def thumbnail(self, clips: torch.Tensor) -> torch.Tensor:
        """The clips as thumbnails (B, C, S, S), a square masked in every frame while training."""
        b, t, c, h, w = clips.shape
        if (h, w) != (self.cell, self.cell):
            frames = F.interpolate(
                clips.reshape(b * t, c, h, w),
                size=(self.cell, self.cell),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
            clips = frames.reshape(b, t, c, self.cell, self.cell)
        if self.training and self.mask_side > 0:
            clips = mask_square(clips, self.mask_side)
        return tile(clips, self.rows)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        swin = self.backbone.model
        maps = swin.layers[:-1](self.layout(swin.patch_embed(self.thumbnail(clips))))
        maps = retile(self.frame_maps(untile(maps, self.rows)), self.rows)
        features = swin.forward_head(swin.norm(swin.layers[-1](maps)), pre_logits=True)
        return self.classifier(self.dropout(features)).squeeze(-1)
