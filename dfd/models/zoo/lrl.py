"""LRL: a face classified by how alike its patches are, in colour and in high frequencies.

Chen, Yao, Chen, Ding, Li and Ji, "Local Relation Learning for Face Forgery Detection",
AAAI 2021. A manipulated face is a patchwork: its forged patches resemble each other and differ
from the untouched ones, while a real face's patches are all of one source. LRL therefore
classifies a face from the similarities between its patches rather than from a pooled vector.
Two encoders read the face (RGB) and its high frequencies (the DCT coefficients of the grey
image above a diagonal cut-off, transformed back); an RGB-frequency attention module (RFAM)
after three of their levels weighs each stream at every position and passes the weighted maps
on; the fused maps of the three levels are stacked on the deepest grid and cut into 4 x 4
patches, whose pair-wise cosine similarities (the multi-scale patch similarity module, MPSM)
are the classifier's input. Two more heads learn the patchwork from the blend mask: the
similarities are fitted (MSE) to 1 - |m_i - m_j|, m the mask's share of patch i, and a decoder
predicts the mask itself (BCE).

How dfd builds it: two timm `efficientnet_b4` encoders (any timm EfficientNet by `backbone`;
the frequency one takes one channel, its stem's weights summed over colour when loaded), RFAM
after stage 2 (stride 8), stage 4 (stride 16) and the head convolution (stride 32), the two
shallower fused maps average-pooled to the deepest grid, which is pooled to 8 x 8 and cut into
2 x 2 patches (16 patches, DeepfakeBench's layout at 256 px, at any input size). The high-pass
image is computed inside the detector from the normalised face, standardised per image. The
masks are the batch's "mask" (self-blends give theirs; a prepared fake without one trains the
class only, `mask_valid`); weights 1 for both mask losses, as DeepfakeBench's. One fake logit
per frame.

How dfd differs from DeepfakeBench's `lrl`: its frequency input, (idct / 255 - 0.5) / 0.5, is
centred near -1 (a high-pass image has mean near 0); dfd standardises it. It fits the
similarities of every image, masks or not (a face swap without a mask is fitted as if real);
dfd only those with a valid mask. Both decoders read the fused deepest map only. No key map for its checkpoints: its EfficientNet-B4 is
EfficientNet-PyTorch's, which computes another function at 256 px than timm's (see
`efficientnet_b4` in the zoo's checkpoint table).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from timm.models import adapt_input_conv
from torch import nn

from dfd.models.base import DetectorOutput
from dfd.models.inputs import InputSpec
from dfd.models.zoo.dct import dct2, idct2
from dfd.models.zoo.efficientnet_stages import efficientnet, stage_channels
from dfd.models.zoo.masked_losses import masked_map_loss, masked_mean
from dfd.models.zoo.pcl import consistency_target
from dfd.models.zoo.per_frame import PerFrameDetector

FUSED_STAGES = (2, 4)  # RFAM after these timm EfficientNet stages (stride 8, 16), and the head
HIGH_PASS_CUT = 1 / 3  # DCT coefficients with row/H + column/W below this are dropped
PATCH_GRID = 4  # patches a side
PATCH_CELLS = 2  # deepest-grid cells a patch side
LUMA = (0.299, 0.587, 0.114)
PAPER_SIZE = 256


def high_pass(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): the grey image's DCT above the diagonal cut-off, transformed back and
    standardised per image."""
    grey = torch.einsum("nchw,c->nhw", images, images.new_tensor(LUMA))
    height, width = grey.shape[-2:]
    rows = torch.arange(height, device=images.device)[:, None] / height
    cols = torch.arange(width, device=images.device)[None, :] / width
    keep = (rows + cols >= HIGH_PASS_CUT).to(images.dtype)
    detail = idct2(dct2(grey) * keep)[:, None]
    mean = detail.mean((2, 3), keepdim=True)
    return (detail - mean) / detail.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)


class RFAM(nn.Module):
    """RGB-frequency attention: a map per stream from both, each stream weighted by its own."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, 2, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, rgb: torch.Tensor, frequency: torch.Tensor) -> tuple[torch.Tensor, ...]:
        weights = self.attention(torch.cat([rgb, frequency], dim=1))
        return rgb * weights[:, :1], frequency * weights[:, 1:]


def patch_similarity(features: torch.Tensor) -> torch.Tensor:
    """(N, P, P): (1 + cos) / 2 between the P = PATCH_GRID**2 patches of a feature map, each
    patch the concatenation of its PATCH_CELLS x PATCH_CELLS cells."""
    side = PATCH_GRID * PATCH_CELLS
    cells = F.adaptive_avg_pool2d(features, (side, side))
    patches = F.unfold(cells, kernel_size=PATCH_CELLS, stride=PATCH_CELLS).transpose(1, 2)
    patches = F.normalize(patches, dim=-1)
    return (patches @ patches.transpose(1, 2) + 1) / 2


def off_diagonal(similarity: torch.Tensor) -> torch.Tensor:
    """(N, P * (P - 1)): every pair's similarity but a patch's with itself."""
    count = similarity.shape[-1]
    keep = ~torch.eye(count, dtype=torch.bool, device=similarity.device)
    return similarity[:, keep]


class MaskDecoder(nn.Module):
    """Upsampling blocks (x2 each, conv, instance norm, ReLU) from the fused deepest map to a
    mask logit map."""

    def __init__(self, channels: int, widths: tuple[int, ...] = (256, 256, 128, 64)) -> None:
        super().__init__()
        blocks, previous = [], channels
        for width in widths:
            blocks.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2),
                    nn.Conv2d(previous, width, 3, padding=1),
                    nn.InstanceNorm2d(width),
                    nn.ReLU(),
                )
            )
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.logits = nn.Conv2d(previous, 1, 1, bias=False)

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        logits = self.logits(self.blocks(features))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class LRL(PerFrameDetector):
    """RGB and high-frequency EfficientNets joined by attention at three levels, a face
    classified from the similarities of its patches, per frame; a clip's logit is its frames'
    mean. Trained with the blend mask through the similarities and a mask decoder.

    Args:
        backbone: a timm EfficientNet for both streams (the paper's: `efficientnet_b4`).
        pretrained: ImageNet weights from the model hub (online only), for both streams.
        weights: a local state dict of the timm backbone, for both streams.
        similarity_weight: weight of the MSE between similarities and the mask's.
        mask_weight: weight of the decoder's BCE with the mask.
        dropout: in the classifier.
    """

    paper = (
        "Chen, Yao, Chen, Ding, Li, Ji, Local Relation Learning for Face Forgery Detection, "
        "AAAI 2021"
    )
    extra_targets = frozenset({"mask"})

    def __init__(
        self,
        backbone: str = "efficientnet_b4",
        pretrained: bool = False,
        weights: str | None = None,
        similarity_weight: float = 1.0,
        mask_weight: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.rgb = efficientnet(backbone, pretrained, weights)
        self.frequency = efficientnet(backbone, pretrained, weights)
        stem = self.frequency.conv_stem  # one input channel, its weights summed over colour
        stem.weight = nn.Parameter(adapt_input_conv(1, stem.weight.data))
        stem.in_channels = 1
        channels = stage_channels(self.rgb)
        self.fusions = nn.ModuleList(
            [RFAM(channels[stage]) for stage in FUSED_STAGES] + [RFAM(self.rgb.num_features)]
        )
        fused = sum(channels[stage] for stage in FUSED_STAGES) + self.rgb.num_features
        pairs = PATCH_GRID**2 * (PATCH_GRID**2 - 1)
        self.classifier = nn.Sequential(
            nn.Linear(pairs, 128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, 1)
        )
        self.decoder = MaskDecoder(fused)
        self.similarity_weight, self.mask_weight = similarity_weight, mask_weight

    @property
    def input_spec(self) -> InputSpec:
        """Frames of at least 32 px (the network's total stride); the paper's size is 256."""
        return InputSpec(kind="frames", min_image_size=32, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"LRL ({self.backbone_name} x 2)"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name} (both streams)"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The two EfficientNets; the attention modules, classifier and mask decoder."""
        return {
            "backbone": nn.ModuleList([self.rgb, self.frequency]),
            "head": nn.ModuleList([self.fusions, self.classifier, self.decoder]),
        }

    def gradcam_target_layers(self) -> list[str]:
        """The RGB stream's head convolution's output (before its last attention)."""
        return ["rgb.bn2"]

    def fused_features(self, images: torch.Tensor) -> torch.Tensor:
        """The three fused levels stacked on the deepest grid (N, C, h, w)."""
        rgb = self.rgb.bn1(self.rgb.conv_stem(images))
        frequency = self.frequency.bn1(self.frequency.conv_stem(high_pass(images)))
        levels = []
        for index, (rgb_stage, frequency_stage) in enumerate(
            zip(self.rgb.blocks, self.frequency.blocks, strict=True)
        ):
            rgb, frequency = rgb_stage(rgb), frequency_stage(frequency)
            if index in FUSED_STAGES:
                rgb, frequency = self.fusions[FUSED_STAGES.index(index)](rgb, frequency)
                levels.append(rgb + frequency)
        rgb = self.rgb.bn2(self.rgb.conv_head(rgb))
        frequency = self.frequency.bn2(self.frequency.conv_head(frequency))
        rgb, frequency = self.fusions[-1](rgb, frequency)
        deepest = rgb + frequency
        grid = deepest.shape[-2:]
        return torch.cat([F.adaptive_avg_pool2d(level, grid) for level in levels] + [deepest], 1)

    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (N,), patch similarities (N, P, P) and the fused features of images."""
        features = self.fused_features(images)
        similarity = patch_similarity(features)
        return self.classifier(off_diagonal(similarity)).squeeze(1), similarity, features

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images)[0]

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Frame logits, with the similarity and mask losses on the frames with a valid mask."""
        clips = batch["clip"]
        images = clips.flatten(0, 1)
        masks = batch["mask"].flatten(0, 1).to(images.dtype)
        valid = batch["mask_valid"].repeat_interleave(clips.shape[1])
        logits, similarity, features = self.run(images)
        target = consistency_target(masks, (PATCH_GRID, PATCH_GRID))
        similarity_loss = masked_mean(((similarity - target) ** 2).mean((1, 2)), valid)
        mask_logits = self.decoder(features, masks.shape[-2:])
        frames = logits.reshape(clips.shape[:2])
        return DetectorOutput(
            frames.mean(dim=1),
            {
                "similarity": self.similarity_weight * similarity_loss,
                "mask": self.mask_weight * masked_map_loss(mask_logits, masks, valid),
            },
            frames,
        )
