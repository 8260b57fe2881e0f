"""Multi-attention: several attention maps, each pooling textures of one face region.

Zhao, Wei, Zhou, Zhang, Chen and Yu, "Multi-attentional Deepfake Detection", CVPR 2021.
A forgery leaves subtle, local artefacts that one global vector averages away, so the network
looks at several regions at once: an attention module turns deep features into M maps (M = 4);
a texture enhancement block takes shallow features, removes their local average (what stays
is texture) and sharpens it with densely connected convolutions; bilinear attention pooling
(BAP) gathers those textures under each map into one L2-normalised row per region; the deep
features pooled under the summed maps add a global vector; a small ensemble head classifies
both together. Two training aids keep the maps apart and useful:

- the regional independence loss: each region's pooled low-frequency features stay within a
  margin of that region's running centre (a wider margin for fakes, which vary more), and the
  centres stay a margin apart, so the maps do not all settle on the same region;
- attention-guided data augmentation (AGDA): one map per face (drawn with probability rising
  with its mass) blurs and adds noise to the region it covers, and the network must classify
  that face too, so it cannot lean on one region alone; a match loss keeps the other regions'
  features where they were.

How dfd builds it: timm's `efficientnet_b4` (any timm EfficientNet by `backbone`) run stage by
stage: texture from the end of stage 1 and attention from the end of stage 4 (blocks 5 and 21
of EfficientNet-B4's 32, DeepfakeBench's `b2` and `b5`); texture enhancement as the paper
describes it (local average over the attention map's grid, three densely connected 3x3
convolutions); the maps' outer cells zeroed (one twelfth of the side, as the official code's
24-cell border of 2); whole maps dropped with `attention_dropout` in training; one fake logit
per frame. The training loss is the module's BCE on the faces plus `ril_weight` x the
regional independence loss, `agda_weight` x BCE on their AGDA copies and `match_weight` x the
match loss, the official code's weights (1, 0.5, 1, 0.1). The centres move by `center_momentum`
each step, decayed by `center_decay` once an epoch as in the official code (the trainer says
how long an epoch is; `center_decay_steps` sets another period, 0 never).

How dfd differs from DeepfakeBench's `multi_attention`: it replaces each training batch with
its AGDA copy instead of training on both, has no match loss, and counts inference calls
towards its switch from a backbone-only warm-up (CE on EfficientNet's own classifier for its
first 10 x 3591 batches) to the attention model, so a validation pass moves that switch; dfd
trains the attention model from the first step (start from a backbone trained on the task with
`weights` for the warm-up). It drops features, not whole maps. Its regional independence loss,
like the official code's, divides the centres' margin term by M and the momentum, kept here.
No key map for its checkpoints: its EfficientNet-B4 is EfficientNet-PyTorch's, which computes
another function at 256 px than timm's (see `efficientnet_b4` in the zoo's checkpoint table).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from dfd.models.base import DetectorOutput
from dfd.models.inputs import InputSpec
from dfd.models.zoo.efficientnet_stages import efficientnet, stage_channels
from dfd.models.zoo.per_frame import PerFrameDetector

TEXTURE_STAGE = 1  # timm EfficientNet stage ending at block 5 of B4 (stride 4)
ATTENTION_STAGE = 4  # ending at block 21 (stride 16)
BORDER = 1 / 12  # share of each side whose cells an attention map ignores
PAPER_SIZE = 380


class AttentionMaps(nn.Module):
    """M non-negative attention maps from deep features, zero on the border cells."""

    def __init__(self, channels: int, maps: int) -> None:
        super().__init__()
        self.extract = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.project = nn.Sequential(nn.Conv2d(channels, maps, 1, bias=False), nn.BatchNorm2d(maps))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        maps = F.elu(self.project(self.extract(features))) + 1
        return maps * border_mask(maps.shape[-2:], maps.device)


def border_mask(size: torch.Size, device: torch.device) -> torch.Tensor:
    """1 on cells whose centre lies inside the inner (1 - 2 BORDER) of the map, else 0."""
    rows, cols = (((torch.arange(n, device=device) + 0.5) / n) for n in size)
    inside_rows = (rows > BORDER) & (rows < 1 - BORDER)
    inside_cols = (cols > BORDER) & (cols < 1 - BORDER)
    return (inside_rows[:, None] & inside_cols[None, :]).float()


class TextureEnhancement(nn.Module):
    """Shallow features minus their average over each attention cell (the texture), through
    three densely connected 3x3 convolutions; also returns that average (D, the rest)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(channels, channels, 1)
        self.dense = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(k * channels),
                nn.ReLU(),
                nn.Conv2d(k * channels, channels, 3, padding=1),
            )
            for k in (1, 2, 3)
        )
        self.last = nn.Sequential(
            nn.BatchNorm2d(4 * channels),
            nn.ReLU(),
            nn.Conv2d(4 * channels, 4 * channels, 1),
            nn.BatchNorm2d(4 * channels),
        )
        self.out_channels = 4 * channels

    def forward(
        self, features: torch.Tensor, grid: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        average = F.adaptive_avg_pool2d(features, grid)
        texture = features - F.interpolate(average, features.shape[-2:], mode="nearest")
        stacked = self.first(texture)
        for layer in self.dense:
            stacked = torch.cat([stacked, layer(stacked)], dim=1)
        return self.last(stacked), average


def attention_pooling(features: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Bilinear attention pooling: (B, M, C), the features summed under each map, each row
    L2-normalised."""
    if maps.shape[-2:] != features.shape[-2:]:
        maps = F.interpolate(maps, features.shape[-2:], mode="bilinear", align_corners=True)
    return F.normalize(torch.einsum("bmhw,bchw->bmc", maps, features), dim=-1)


def weighted_average(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, C): the features averaged with one weight map (B, 1, h, w)."""
    if weights.shape[-2:] != features.shape[-2:]:
        weights = F.interpolate(weights, features.shape[-2:], mode="bilinear", align_corners=True)
    weights = weights + 1e-8
    return torch.einsum("bhw,bchw->bc", weights[:, 0], features) / weights.sum((1, 2, 3))[:, None]


class RegionalIndependenceLoss(nn.Module):
    """Each region's features near their running centre (margins for real and fake), the
    centres at least `inter_margin` apart."""

    def __init__(
        self,
        maps: int,
        channels: int,
        intra_margins: tuple[float, float],
        inter_margin: float,
        momentum: float,
    ) -> None:
        super().__init__()
        self.register_buffer("centers", torch.zeros(maps, channels))
        self.register_buffer("intra_margins", torch.tensor(intra_margins))
        self.register_buffer("momentum", torch.tensor(momentum))
        self.inter_margin = inter_margin

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """`features` (B, M, C): each region's pooled features; `labels` (B,) 0 real, 1 fake."""
        centers = (
            self.centers + self.momentum * (features.detach() - self.centers).mean(0)
        ).detach()
        if self.training:
            self.centers.copy_(centers)
        margins = self.intra_margins[labels.long()][:, None]
        intra = F.relu((features - centers).norm(dim=-1) - margins).mean()
        maps = centers.shape[0]
        pairs = torch.triu_indices(maps, maps, offset=1, device=centers.device)
        distances = (centers[pairs[0]] - centers[pairs[1]]).norm(dim=-1)
        inter = F.relu(self.inter_margin - distances).sum() / maps
        # the official scaling by 1 / momentum, left out when the centres are frozen (0)
        return intra + (inter / self.momentum if self.momentum > 0 else inter)


class AttentionGuidedAugmentation(nn.Module):
    """Blur and noise where one attention map (per image, drawn by its mass) looks, softly."""

    def __init__(
        self,
        kernel_size: int = 11,
        sigma: float = 7.0,
        threshold: tuple[float, float] = (0.4, 0.6),
        zoom: tuple[float, float] = (3.0, 5.0),
        scale: float = 0.5,
        noise: float = 0.1,
    ) -> None:
        super().__init__()
        self.kernel_size, self.sigma = kernel_size, sigma
        self.threshold, self.zoom, self.scale, self.noise = threshold, zoom, scale, noise

    def soften(self, weights: torch.Tensor) -> torch.Tensor:
        """A sigmoid step at a random threshold, 0 at weight 0 and 1 at weight 1."""
        threshold = torch.empty(()).uniform_(*self.threshold).item()
        zoom = torch.empty(()).uniform_(*self.zoom).item()
        floor = torch.sigmoid(torch.tensor(-threshold * zoom)).item()
        return (torch.sigmoid((weights - threshold) * zoom) - floor) / (1 - floor)

    @torch.no_grad()
    def forward(
        self, images: torch.Tensor, maps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented images and the index (B,) of the map each one used."""
        mass = maps.sum((2, 3))
        chosen = torch.multinomial(torch.sqrt(mass + 1), 1)[:, 0]
        weights = maps[torch.arange(len(maps)), chosen][:, None]
        weights = F.interpolate(weights, images.shape[-2:], mode="bilinear", align_corners=True)
        weights = self.soften(weights / (weights.amax((2, 3), keepdim=True) + 1e-8))
        small = F.interpolate(images, scale_factor=self.scale, mode="bilinear", align_corners=True)
        small = gaussian_blur(small, [self.kernel_size] * 2, [self.sigma] * 2)
        small = small + torch.randn_like(small) * self.noise
        degraded = F.interpolate(small, images.shape[-2:], mode="bilinear", align_corners=True)
        return images * (1 - weights) + degraded * weights, chosen


class MultiAttention(PerFrameDetector):
    """An EfficientNet whose shallow textures are pooled under M attention maps and whose deep
    features are pooled under their sum, classified together, per frame; a clip's logit is its
    frames' mean. Trained with the regional independence loss and attention-guided augmentation.

    Args:
        backbone: a timm EfficientNet (the paper's: `efficientnet_b4`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm backbone.
        num_attentions: attention maps (regions), M.
        mid_dim: width of the ensemble head.
        attention_dropout: chance of dropping a whole map in training.
        final_dropout: dropout on the globally pooled deep features.
        ril_weight: weight of the regional independence loss.
        agda_weight: weight of the BCE on the AGDA copies (0: no AGDA).
        match_weight: weight of the match loss between a face and its AGDA copy.
        intra_margins: how far a real and a fake face's region may lie from its centre.
        inter_margin: how far apart the centres are pushed.
        center_momentum: how far the centres move towards each batch's mean.
        center_decay: factor on the momentum every `center_decay_steps` training steps.
        center_decay_steps: steps between decays (None: an epoch, as the paper; 0: never).
    """

    paper = "Zhao, Wei, Zhou, Zhang, Chen, Yu, Multi-attentional Deepfake Detection, CVPR 2021"
    frame_scores = True

    def __init__(
        self,
        backbone: str = "efficientnet_b4",
        pretrained: bool = False,
        weights: str | None = None,
        num_attentions: int = 4,
        mid_dim: int = 256,
        attention_dropout: float = 0.25,
        final_dropout: float = 0.5,
        ril_weight: float = 0.5,
        agda_weight: float = 1.0,
        match_weight: float = 0.1,
        intra_margins: tuple[float, float] = (0.05, 0.1),
        inter_margin: float = 0.2,
        center_momentum: float = 0.05,
        center_decay: float = 0.9,
        center_decay_steps: int | None = None,
    ) -> None:
        super().__init__()
        if num_attentions < 2:
            raise ValueError("multi_attention needs num_attentions >= 2 (regions to tell apart)")
        self.backbone_name = backbone
        self.backbone = efficientnet(backbone, pretrained, weights)
        channels = stage_channels(self.backbone)
        texture_channels, attention_channels = channels[TEXTURE_STAGE], channels[ATTENTION_STAGE]
        self.num_attentions = num_attentions
        self.attention = AttentionMaps(attention_channels, num_attentions)
        self.texture = TextureEnhancement(texture_channels)
        self.local_projection = nn.Sequential(
            nn.Linear(num_attentions * self.texture.out_channels, mid_dim),
            nn.Hardswish(),
            nn.Linear(mid_dim, mid_dim),
            nn.Hardswish(),
        )
        self.final_dropout = nn.Dropout(final_dropout)
        self.global_projection = nn.Sequential(
            nn.Linear(self.backbone.num_features, mid_dim), nn.Hardswish()
        )
        self.classifier = nn.Sequential(
            nn.Linear(2 * mid_dim, mid_dim), nn.Hardswish(), nn.Linear(mid_dim, 1)
        )
        self.attention_dropout = attention_dropout
        self.independence = RegionalIndependenceLoss(
            num_attentions, texture_channels, tuple(intra_margins), inter_margin, center_momentum
        )
        self.augmentation = AttentionGuidedAugmentation()
        self.ril_weight, self.agda_weight, self.match_weight = ril_weight, agda_weight, match_weight
        self.center_decay, self.center_decay_steps = center_decay, center_decay_steps
        self.epoch_steps: int | None = None  # told by plan_training
        self.register_buffer("steps_trained", torch.zeros((), dtype=torch.long))

    def plan_training(self, total_steps: int | None, steps_per_epoch: int | None) -> None:
        """Keep the epoch's length: the default period of the centres' decay."""
        self.epoch_steps = steps_per_epoch

    @property
    def input_spec(self) -> InputSpec:
        """Frames of at least 64 px (an attention map of 4 cells a side); the paper's size is
        380 (EfficientNet-B4's own)."""
        return InputSpec(kind="frames", min_image_size=64, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"Multi-attention ({self.backbone_name}, {self.num_attentions} maps)"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The EfficientNet; the attention, texture and classification modules."""
        head = nn.ModuleList(
            [
                self.attention,
                self.texture,
                self.local_projection,
                self.global_projection,
                self.classifier,
            ]
        )
        return {"backbone": self.backbone, "head": head}

    def gradcam_target_layers(self) -> list[str]:
        """EfficientNet's head convolution's output, the deep map pooled under the attention."""
        return ["backbone.bn2"]

    def run(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits (N,), attention maps (N, M, h, w) and the regions' pooled low-frequency
        features (N, M, C) of normalized images."""
        x = self.backbone.bn1(self.backbone.conv_stem(images))
        for index, stage in enumerate(self.backbone.blocks):
            x = stage(x)
            if index == TEXTURE_STAGE:
                shallow = x
            elif index == ATTENTION_STAGE:
                maps = self.attention(x)
        deep = self.backbone.bn2(self.backbone.conv_head(x))
        enhanced, average = self.texture(shallow, maps.shape[-2:])
        regions = attention_pooling(enhanced, maps)
        kept = maps
        if self.training and self.attention_dropout > 0:
            keep = F.dropout(maps.new_ones(maps.shape[:2]), self.attention_dropout)
            regions = regions * keep[..., None]
            kept = maps * keep[..., None, None]
        local = self.local_projection(regions.flatten(1))
        pooled = self.final_dropout(weighted_average(deep, kept.sum(1, keepdim=True)))
        logits = self.classifier(torch.cat([local, self.global_projection(pooled)], dim=1))
        return {
            "logits": logits.squeeze(1),
            "maps": maps,
            "low_frequency": attention_pooling(average, maps),
        }

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images)["logits"]

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """The faces' logits, with the regional independence, AGDA and match losses."""
        clips = batch["clip"]
        images = clips.flatten(0, 1)
        labels = batch["label"].repeat_interleave(clips.shape[1])
        faces = self.run(images)
        losses = {
            "independence": self.ril_weight * self.independence(faces["low_frequency"], labels)
        }
        if self.agda_weight > 0:
            augmented, chosen = self.augmentation(images, faces["maps"].detach())
            copies = self.run(augmented)
            others = 1.0 - F.one_hot(chosen, self.num_attentions).float()
            drift = (copies["low_frequency"] - faces["low_frequency"]).norm(dim=-1)
            losses["agda"] = self.agda_weight * F.binary_cross_entropy_with_logits(
                copies["logits"], labels.float()
            )
            losses["match"] = self.match_weight * (drift * others).mean()
        if self.training:
            self.steps_trained += 1
            period = self.center_decay_steps
            period = self.epoch_steps if period is None else period
            if period and int(self.steps_trained) % period == 0:
                self.independence.momentum.mul_(self.center_decay)
        frames = faces["logits"].reshape(clips.shape[:2])
        return DetectorOutput(frames.mean(dim=1), losses, frames)
