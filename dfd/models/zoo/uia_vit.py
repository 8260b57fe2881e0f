"""UIA-ViT: a vision transformer taught, without masks, which patches of a face disagree.

Zhuang, Chu, Tan, Liu, Yuan, Miao, Luo and Yu, "UIA-ViT: Unsupervised Inconsistency-Aware
Method based on Vision Transformer for Face Forgery Detection", ECCV 2022. A forged face is a
patchwork whose forged patches agree with each other and not with the rest; a ViT's attention
between patches can learn that, but datasets rarely ship the masks that would say which patches
are forged. UIA-ViT estimates them instead:

- unsupervised patch consistency learning (UPCL): the patch features of a middle block are
  fitted, now and then, as two multivariate Gaussians, one of real faces' patches and one of
  fake faces' inner patches; a fake face's patch closer (Mahalanobis) to the fake Gaussian than
  to the real one counts as forged. The sigmoid of the late blocks' mean attention logits
  between patches is pulled (L1) towards a consistency target: c_real between two real
  patches, c_fake between two forged ones, c_cross between one of each (every pair of a real
  face is real-real). The three constants are learned; 1/|c_real| + 1/|c_fake| and |c_cross|
  keep them apart;
- progressive consistency weighted assemble (PCWA): besides the class token, the classifier
  reads the patch tokens averaged with weights moving, as training progresses, from uniform to
  the class token's attention to each patch (the same late blocks' logits, sigmoid), so the
  head leans on the patches the attention singles out once that attention means something.

How dfd builds it: timm's ViT (`vit_base_patch16_224.orig_in21k_ft_in1k`, the paper's ImageNet-21k
weights; any timm ViT with a class token by `backbone`, at any size its patches divide, its
position embedding interpolated), features after block 6 of 12 (half the depth), attention
logits of blocks 8 to 12 (the last five), recomputed from each block's input with its own
query and key projections and averaged over blocks and heads; the Gaussians (Ledoit-Wolf
shrinkage, scikit-learn) refitted every `refit_steps` training steps (default: half an epoch)
on up to four real faces' patches and four fake faces' inner patches (the middle 8 of 14 a
side) per step, the consistency loss on from `pcl_start_steps` (default: one epoch); the PCWA
weight 1 before 1/8 of training, then sigmoid(-12 (progress - 0.7)) on the uniform part;
progress 1 outside training. Training lasts as the trainer says (`Detector.plan_training`;
`total_steps` overrides). Loss: the module's BCE plus 0.06 x consistency + 0.05 (1/|c_real| +
1/|c_fake|) + 0.5 |c_cross| (the official weights). One fake logit per frame.

How dfd differs from DeepfakeBench's `uia_vit`: its epoch length (`batch_per_epoch`, which sets
the refits, the start of the consistency loss and the progress) is typed by hand in the yaml;
dfd takes it from the trainer. Its fake faces' target counts each patch's pair with itself
(c_fake or c_real, where a real face's diagonal is 1) yet divides by the off-diagonal pairs;
dfd leaves the diagonal out for both. Its middle-block features pass a learnable LayerNorm that
no loss reaches (the features are only fitted); dfd normalises without weights, which is what
that layer computes as initialised. DeepfakeBench publishes no UIA-ViT checkpoint, so there is
no key map. The Gaussians are fitted on each process's own patches under DDP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from sklearn.covariance import LedoitWolf
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from dfd.models.backbones import create_timm
from dfd.models.base import DetectorOutput, ParameterGroup
from dfd.models.inputs import InputSpec
from dfd.models.zoo.per_frame import PerFrameDetector

ATTENTION_BLOCKS = 5  # the last five blocks' attention (8 to 12 of ViT-B's 12)
FACES_PER_STEP = 4  # faces of each class whose patches a training step collects
INNER = (3 / 14, 11 / 14)  # a fake face's inner patches: the middle 8 of 14 a side
UNIFORM_UNTIL = 1 / 8  # training progress before which PCWA weighs patches uniformly
PCWA_SLOPE, PCWA_MIDPOINT = 12.0, 0.7
CONSTANTS = {"real": 0.6, "fake": 0.6, "cross": 0.2}  # the official initial values
PAPER_SIZE = 224


def attention_logits(block: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The pre-softmax attention (N, heads, L, L) a timm ViT block computes from its input."""
    attention = block.attn
    n, length, _ = tokens.shape
    qkv = attention.qkv(block.norm1(tokens))
    qkv = qkv.reshape(n, length, 3, attention.num_heads, attention.head_dim).permute(2, 0, 3, 1, 4)
    query, key = attention.q_norm(qkv[0]), attention.k_norm(qkv[1])
    return (query * attention.scale) @ key.transpose(-2, -1)


def pcwa_weights(location: torch.Tensor, progress: float) -> torch.Tensor:
    """Patch weights (N, P) summing to about 1: uniform early in training, moving towards the
    class token's attention `location` (N, P, in (0, 1)) as `progress` (0 to 1) nears 1."""
    uniform = torch.ones_like(location)
    if progress >= UNIFORM_UNTIL:
        share = 1 / (1 + math.exp(PCWA_SLOPE * (progress - PCWA_MIDPOINT)))  # sigmoid(-k (p - m))
        uniform = share * uniform + (1 - share) * location
    return uniform / location.shape[1]


def consistency_targets(
    forged: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, cross: torch.Tensor
) -> torch.Tensor:
    """Targets (N, P, P) from patch labels (N, P, True = forged): `fake` between two forged
    patches, `real` between two real ones, `cross` between one of each."""
    f = forged.to(real.dtype)
    both_fake = f.unsqueeze(2) * f.unsqueeze(1)
    both_real = (1 - f).unsqueeze(2) * (1 - f).unsqueeze(1)
    return fake * both_fake + real * both_real + cross * (1 - both_fake - both_real)


def off_diagonal_l1(attention: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |attention - target| over the pairs of distinct patches and the images."""
    patches = attention.shape[-1]
    off = 1 - torch.eye(patches, device=attention.device, dtype=attention.dtype)
    return ((attention - target).abs() * off).sum() / (len(attention) * (patches**2 - patches))


class PatchGaussians(nn.Module):
    """Real and fake patch features as two Gaussians (mean and precision, buffers saved with the
    checkpoint), refitted from the features collected since the last fit."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("means", torch.zeros(2, dim))
        self.register_buffer("precisions", torch.zeros(2, dim, dim))
        self.register_buffer("fitted", torch.zeros(2, dtype=torch.bool))
        self.collected: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])

    @property
    def ready(self) -> bool:
        return bool(self.fitted.all())

    def collect(self, label: int, features: torch.Tensor) -> None:
        """Keep patch features (n, C) of one class (0 real, 1 fake) for the next fit."""
        if len(features):
            self.collected[label].append(features.detach().float().cpu())

    def refit(self) -> None:
        """Fit each class with at least two collected patches anew; forget the collection."""
        for label, rows in enumerate(self.collected):
            samples = torch.cat(rows) if rows else torch.empty(0)
            if len(samples) >= 2:
                fit = LedoitWolf().fit(samples.double().numpy())
                self.means[label] = torch.as_tensor(fit.location_, dtype=self.means.dtype)
                self.precisions[label] = torch.as_tensor(fit.precision_, dtype=self.means.dtype)
                self.fitted[label] = True
            rows.clear()

    @torch.no_grad()
    def forged(self, features: torch.Tensor) -> torch.Tensor:
        """Which patches (N, P) of features (N, P, C) lie closer, by Mahalanobis distance, to
        the fake Gaussian than to the real one."""
        distances = []
        for label in (0, 1):
            centred = features.float() - self.means[label]
            distances.append(
                torch.einsum("npc,cd,npd->np", centred, self.precisions[label], centred)
            )
        return distances[0] > distances[1]  # squared distances order as the distances


class UIAViT(PerFrameDetector):
    """A ViT whose late attention learns patch consistency from Gaussians of its own middle
    features, classified from its class token and its attention-weighted patches, per frame;
    a clip's logit is its frames' mean.

    Args:
        backbone: a timm ViT with a class token (the paper's: ViT-B/16 with ImageNet-21k
            weights, `vit_base_patch16_224.orig_in21k_ft_in1k`).
        pretrained: its weights from the model hub (online only).
        weights: a local state dict of the timm ViT.
        patch_size: another patch size than the backbone's (None: its own; hub weights are
            resampled to it by timm, a local state dict must have it already).
        pcl_weight: weight of the patch consistency loss.
        separation_weight: weight of 1/|c_real| + 1/|c_fake|.
        cross_weight: weight of |c_cross|.
        refit_steps: training steps between refits of the Gaussians (None: half an epoch).
        pcl_start_steps: training steps before the consistency loss starts (None: an epoch).
        total_steps: training steps in all, for PCWA's progress (None: the trainer's).
        dropout: before the classifier.
    """

    gradcam_layout = "frame_tokens"
    paper = (
        "Zhuang, Chu, Tan, Liu, Yuan, Miao, Luo, Yu, UIA-ViT: Unsupervised Inconsistency-Aware "
        "Method based on Vision Transformer for Face Forgery Detection, ECCV 2022"
    )

    def __init__(
        self,
        backbone: str = "vit_base_patch16_224.orig_in21k_ft_in1k",
        pretrained: bool = False,
        weights: str | None = None,
        patch_size: int | None = None,
        pcl_weight: float = 0.06,
        separation_weight: float = 0.05,
        cross_weight: float = 0.5,
        refit_steps: int | None = None,
        pcl_start_steps: int | None = None,
        total_steps: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone = vision_transformer(backbone, pretrained, weights, patch_size)
        self.feature_block = len(self.backbone.blocks) // 2 - 1  # 0-based: block 6 of 12
        self.pcl_weight, self.separation_weight = pcl_weight, separation_weight
        self.cross_weight = cross_weight
        self.schedule = {
            "refit_steps": refit_steps,
            "pcl_start_steps": pcl_start_steps,
            "total_steps": total_steps,
        }
        self.planned: dict[str, int | None] = dict.fromkeys(self.schedule)
        self.constants = ParameterGroup(
            (name, nn.Parameter(torch.tensor(value))) for name, value in CONSTANTS.items()
        )
        dim = self.backbone.embed_dim
        self.gaussians = PatchGaussians(dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * dim, 1)
        self.register_buffer("steps_trained", torch.zeros((), dtype=torch.long))

    @property
    def input_spec(self) -> InputSpec:
        """Frames whose size the patches divide, two patches a side at least; the paper's is
        224."""
        patch = self.backbone.patch_embed.patch_size[0]
        return InputSpec(
            kind="frames",
            min_image_size=2 * patch,
            image_size_multiple=patch,
            native_image_size=PAPER_SIZE,
        )

    def describe(self) -> str:
        return f"UIA-ViT ({self.backbone_name})"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The ViT; the classifier and the three consistency constants."""
        return {"backbone": self.backbone, "head": nn.ModuleList([self.classifier, self.constants])}

    def gradcam_target_layers(self) -> list[str]:
        """The last block's first LayerNorm: the tokens the class token last attends to."""
        return [f"backbone.blocks.{len(self.backbone.blocks) - 1}.norm1"]

    def plan_training(self, total_steps: int | None, steps_per_epoch: int | None) -> None:
        """Half an epoch between refits, one epoch before the consistency loss, and the length
        of training, where the config leaves them to the trainer."""
        self.planned = {
            "refit_steps": max(1, steps_per_epoch // 2) if steps_per_epoch else None,
            "pcl_start_steps": steps_per_epoch,
            "total_steps": total_steps,
        }

    def _step_setting(self, name: str) -> int:
        value = self.schedule[name] if self.schedule[name] is not None else self.planned[name]
        if value is None:
            raise ValueError(
                f"{self.describe()} follows training progress and was not told its length: "
                f"train it through dfd's module, or set model.{name}"
            )
        return value

    def run(
        self, images: torch.Tensor, progress: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (N,), the mean late attention (N, L, L, sigmoid, class token first) and the
        middle block's normalised patch features (N, P, C) of normalized images."""
        depth = len(self.backbone.blocks)
        late = range(depth - ATTENTION_BLOCKS, depth)
        inputs = [index - 1 for index in late]  # a block's input is the previous one's output
        indices = sorted({self.feature_block, *inputs})
        final, intermediates = self.backbone.forward_intermediates(
            images, indices=indices, output_fmt="NLC", return_prefix_tokens=True
        )
        outputs = {
            i: torch.cat([prefix, patches], 1)
            for i, (patches, prefix) in zip(indices, intermediates)
        }
        logits = torch.stack(
            [attention_logits(self.backbone.blocks[i + 1], outputs[i]).mean(1) for i in inputs]
        )
        attention = torch.sigmoid(logits.mean(0))
        middle = outputs[self.feature_block][:, 1:]
        features = F.layer_norm(middle, middle.shape[-1:])
        cls, patches = final[:, 0], final[:, 1:]
        weights = pcwa_weights(attention[:, 0, 1:], progress)
        pooled = (weights.unsqueeze(-1) * patches).sum(1)
        score = self.classifier(self.dropout(torch.cat([cls, pooled], dim=1))).squeeze(1)
        return score, attention, features

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images, progress=1.0)[0]

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Frame logits; the patch features collected (and the Gaussians refitted on
        schedule); once they are fitted and the start is reached, the consistency losses."""
        clips = batch["clip"]
        images = clips.flatten(0, 1)
        labels = batch["label"].repeat_interleave(clips.shape[1]).round().long()
        step = int(self.steps_trained)
        if step and step % self._step_setting("refit_steps") == 0:
            self.gaussians.refit()
        progress = min(1.0, step / max(1, self._step_setting("total_steps")))
        logits, attention, features = self.run(images, progress)
        self.collect(features, labels, images.shape[-2:])
        aux = {}
        if self.gaussians.ready and step >= self._step_setting("pcl_start_steps"):
            aux = self.consistency_losses(attention[:, 1:, 1:], features, labels)
        self.steps_trained += 1
        frames = logits.reshape(clips.shape[:2])
        return DetectorOutput(frames.mean(dim=1), aux, frames)

    def collect(self, features: torch.Tensor, labels: torch.Tensor, size: torch.Size) -> None:
        """Patches of the first real faces, and the inner patches of the first fake ones."""
        rows, cols = self.backbone.patch_embed.dynamic_feat_size(tuple(size))
        grid = features.reshape(len(features), rows, cols, -1)
        top, bottom = round(rows * INNER[0]), round(rows * INNER[1])
        left, right = round(cols * INNER[0]), round(cols * INNER[1])
        real = grid[labels == 0][:FACES_PER_STEP]
        fake = grid[labels == 1][:FACES_PER_STEP, top:bottom, left:right]
        self.gaussians.collect(0, real.flatten(0, 2))
        self.gaussians.collect(1, fake.flatten(0, 2))

    def consistency_losses(
        self, attention: torch.Tensor, features: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The weighted patch consistency loss (real faces' and fake faces' means added) and
        the constants' regulariser."""
        c = self.constants
        fake = labels == 1  # a real face's patches are all real: no distances needed
        forged = torch.zeros(features.shape[:2], dtype=torch.bool, device=features.device)
        forged[fake] = self.gaussians.forged(features[fake])
        targets = consistency_targets(forged, c.real, c.fake, c.cross)
        loss = sum(
            off_diagonal_l1(attention[labels == label], targets[labels == label])
            for label in (0, 1)
            if (labels == label).any()
        )
        spread = self.separation_weight * (1 / c.real.abs() + 1 / c.fake.abs())
        return {
            "consistency": self.pcl_weight * loss,
            "constants": spread + self.cross_weight * c.cross.abs(),
        }


def vision_transformer(
    name: str, pretrained: bool, weights: str | None, patch_size: int | None = None
) -> VisionTransformer:
    """A timm ViT without its classifier, at any input size (ImageNet weights, or a local state
    dict)."""
    not_a_vit = f"{name} is not a timm ViT with one class token"
    try:
        patch = {} if patch_size is None else {"patch_size": patch_size}
        model = create_timm(
            name, pretrained, weights, num_classes=0, dynamic_img_size=True, **patch
        )
    except TypeError as error:  # dynamic_img_size: a ViT's option only
        raise ValueError(not_a_vit) from error
    if not isinstance(model, VisionTransformer) or model.num_prefix_tokens != 1:
        raise ValueError(not_a_vit)
    if len(model.blocks) < 2 * ATTENTION_BLOCKS:
        raise ValueError(
            f"{name} has {len(model.blocks)} blocks; UIA-ViT reads the last five "
            "and the middle one, so it needs 10 or more"
        )
    return model
