"""RECCE: learn what real faces look like by reconstructing them, and look where a face
reconstructs badly.

Cao, Ma, Yao, Chen, Ding and Yang, "End-to-End Reconstruction-Classification Learning for Face
Forgery Detection", CVPR 2022. An encoder-decoder is trained to reconstruct real faces only
(L1 reconstruction loss on the reals of a batch), so it models the distribution of real faces
and reconstructs forgeries worse. The reconstruction difference |x - x_hat| then guides an
attention over the encoder's features (reconstruction-guided attention: a gate computed from
the difference multiplies the features, plus a residual), and a metric-learning term on pooled
embeddings of the encoder and decoder pulls real faces together and pushes fakes away from
them: max(0, 1 - mean sim(real, real) + mean sim(real, fake)), sim = (cos + 1) / 2. Loss:
BCE + 0.1 * reconstruction + 0.1 * metric (the paper's lambda_1 = lambda_2 = 0.1).

How dfd builds it: a timm encoder (the paper's Xception by default, `legacy_xception`) gives
a middle map (`out_indices[0]`, Xception's stride-16 middle flow) that a decoder upsamples
back to the image, and its last map, which the guided attention re-weights before pooling and
a linear classifier. Departures from the paper, to fit any timm CNN: the attention re-weights
the encoder's last map (the paper re-weights Xception's middle-flow block 8 and continues
through the exit flow); the paper's graph reasoning between encoder and decoder is left out;
the decoder reconstructs the normalized image without a tanh (normalized pixels leave
[-1, 1]), and no input noise is added (the official code's is std 1e-6).

How dfd differs from DeepfakeBench's `recce` detector: DeepfakeBench computes the
reconstruction and metric inputs but trains on cross-entropy alone; dfd adds both losses, as
the paper trains. No extra batch entries are needed: the detector reconstructs its own input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import Detector, DetectorOutput
from dfd.models.inputs import InputSpec
from dfd.models.zoo.timm_features import timm_features


def real_reconstruction_loss(
    reconstruction: torch.Tensor, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Mean |x_hat - x| over the real images (label 0) of (N, 3, H, W); 0 when none is real."""
    real = (labels < 0.5).to(images.dtype)
    per_image = (reconstruction - images).abs().mean((1, 2, 3))
    return (per_image * real).sum() / real.sum().clamp(min=1.0)


def metric_loss(embedding: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - mean sim(real, real') + mean sim(real, fake)) over pairs of pooled embeddings
    (N, C), sim = (cos + 1) / 2 (a pair of two fakes counts in neither mean)."""
    unit = F.normalize(embedding, dim=1)
    sim = (unit @ unit.T + 1.0) / 2.0
    real = labels < 0.5
    pair_real = (
        real[:, None] & real[None, :] & ~torch.eye(len(real), dtype=torch.bool, device=real.device)
    )
    pair_mixed = real[:, None] ^ real[None, :]
    together = (sim * pair_real).sum() / pair_real.sum().clamp(min=1)
    apart = (sim * pair_mixed).sum() / pair_mixed.sum().clamp(min=1)
    return torch.relu(1.0 - together + apart)


def up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Twice the resolution: nearest upsampling, 3x3 conv, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class GuidedAttention(nn.Module):
    """Features re-weighted by a gate read from the reconstruction difference |x - x_hat|:
    gate * h(features) + dropout(features)."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(3, 1, 1, bias=False),
            nn.Sigmoid(),
        )
        self.h = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, difference: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(
            difference, size=features.shape[-2:], mode="bilinear", align_corners=False
        )
        return self.gate(small) * self.h(features) + self.dropout(features)


class RECCE(Detector):
    """Reconstruction-classification learning on every frame; a clip's logit is the mean of
    its frames'.

    Args:
        encoder: timm model name (the paper's Xception: `legacy_xception`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the encoder (see `timm_features`).
        out_indices: the encoder maps used: (the decoder's input, the attended last map).
        recon_weight: lambda_1, the reconstruction loss's weight (the paper's 0.1).
        metric_weight: lambda_2, the metric-learning loss's weight (the paper's 0.1).
        dropout: dropout of the attention's residual and before the classifier (paper: 0.2).
    """

    paper = (
        "Cao, Ma, Yao, Chen, Ding, Yang, End-to-End Reconstruction-Classification Learning "
        "for Face Forgery Detection, CVPR 2022"
    )
    frame_scores = True

    def __init__(
        self,
        encoder: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        out_indices: Sequence[int] = (3, 4),
        recon_weight: float = 0.1,
        metric_weight: float = 0.1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if len(out_indices) != 2:
            raise ValueError(f"RECCE uses two encoder maps (middle, last); got {out_indices}")
        self.encoder_name = encoder
        self.recon_weight, self.metric_weight = recon_weight, metric_weight
        self.encoder = timm_features(encoder, pretrained, weights, out_indices)
        (middle, last), (stride, self.min_size) = (
            self.encoder.feature_info.channels(),
            self.encoder.feature_info.reduction(),
        )
        widths = [middle] + [max(middle // 2**i, 32) for i in range(1, int(math.log2(stride)) + 1)]
        self.decoder = nn.ModuleList(up_block(a, b) for a, b in pairwise(widths))
        self.to_image = nn.Conv2d(widths[-1], 3, 1)
        self.attention = GuidedAttention(last, dropout)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(last, 1)

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length, at least as large as the encoder's coarsest stride."""
        return InputSpec(kind="frames", min_image_size=self.min_size)

    def describe(self) -> str:
        return f"RECCE ({self.encoder_name})"

    def weights_source(self) -> str:
        return f"timm:{self.encoder_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The encoder; the decoder; the attention and classifier."""
        return {
            "backbone": self.encoder,
            "decoder": nn.ModuleList([self.decoder, self.to_image]),
            "head": nn.ModuleList([self.attention, self.classifier]),
        }

    def gradcam_target_layers(self) -> list[str]:
        """The reconstruction-guided attention's output, the map the classifier pools."""
        return ["attention"]

    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Frame logits (N,), reconstructions (N, 3, H, W) and the pooled embeddings the metric
        term compares (the encoder's middle map, then each decoder stage's but the last)."""
        middle, last = self.encoder(images)
        embeddings = [middle.mean((2, 3))]
        decoded = self.dropout(middle)
        for block in self.decoder:
            decoded = block(decoded)
            embeddings.append(decoded.mean((2, 3)))
        reconstruction = self.to_image(decoded)
        if reconstruction.shape[-2:] != images.shape[-2:]:
            reconstruction = F.interpolate(
                reconstruction, size=images.shape[-2:], mode="bilinear", align_corners=False
            )
        attended = self.attention((images - reconstruction).abs(), last)
        logits = self.classifier(self.dropout(attended.mean((2, 3)))).squeeze(1)
        return logits, reconstruction, embeddings[:-1]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T)."""
        frames = self.run(clips.flatten(0, 1))[0].reshape(clips.shape[:2])
        return frames.mean(dim=1), frames

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Reconstruction loss on the real frames, metric loss over all frames' embeddings."""
        clips = batch["clip"]
        images = clips.flatten(0, 1)
        labels = batch["label"].repeat_interleave(clips.shape[1])
        logits, reconstruction, embeddings = self.run(images)
        recon = real_reconstruction_loss(reconstruction, images, labels)
        metric = sum(metric_loss(e, labels) for e in embeddings)
        frames = logits.reshape(clips.shape[:2])
        return DetectorOutput(
            frames.mean(dim=1),
            {"reconstruction": self.recon_weight * recon, "metric": self.metric_weight * metric},
            frames,
        )
