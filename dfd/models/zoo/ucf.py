"""UCF: detect forgeries by the features all forgery methods share, not those of one method.

Yan, Zhang, Fan and Wu, "UCF: Uncovering Common Features for Generalizable Deepfake Detection",
ICCV 2023. A detector trained on some forgery methods overfits to what is specific to them and
to what is not forgery at all (identity, background). UCF disentangles each face into three
parts: a content encoder gives forgery-irrelevant content features c, a forgery encoder gives
forgery features that two branches split into method-specific features f_s and common features
f_c. Multi-task learning keeps them apart: f_s classifies the forgery method (real and each
fake method), f_c real against fake; f_c alone scores faces at test time. A conditional decoder
reconstructs a face from its content with its forgery features f = (f_s, f_c) as the condition
(AdaIN: at every decoder stage the content's channel statistics are replaced by those of the
forgery features'), from its own (self reconstruction) and from a partner face's forgery
features (cross reconstruction), so that f carries no content and c no forgery. A contrastive
regularization (triplet, margin 3) pulls same-class features together and pushes others apart:
the common features by real/fake, the specific features by method. Loss: CE(common) + 0.1
CE(specific) + 0.3 L1 reconstruction + 0.05 contrastive, the paper's weights.

How dfd builds it: the two encoders are timm CNNs of one architecture (the paper's Xception,
timm's `legacy_xception`, dfd's `xception` detector's network, by default), each last feature
map turned to `feature_dim` channels by a 1x1 convolution (as the paper's code does, 2048 ->
512); f_s and f_c are its two halves' branches (1x1 convolutions), each pooled into a head (an
MLP). The common head puts out one real/fake logit (BCE, the module's loss; the paper's two
softmax outputs are the same model) and a clip's logit is the mean of its frames'. The
method classes are the datamodule's "method" target over `methods` ("real" first; a fake of
another method gets the class after the last, so the specific head has len(methods) + 1
outputs; online self-blends are method "sbi", see `dfd.data.dataset.ONLINE_BLEND_METHOD`).
Pairs for the cross reconstruction come from the batch itself, no special dataset: each frame
is paired with the same frame of the next clip of the batch (the last with the first), so with
SBI pairs (`datamodule.pair_self_blend`) half the pairs are a real face and its own blend. Per
pair the paper sums four L1 terms (two self, two cross reconstructions); here every image has
one of each, so the loss is 2 x (mean self L1 + mean cross L1), the paper's scale. As in the
authors' code, the decoder stops at a quarter of the image size and upsamples bilinearly (the
full-size stages would cost more than the encoders); it reconstructs normalized images without
their final tanh (ImageNet-normalized pixels leave [-1, 1]).

How dfd differs from DeepfakeBench's `ucf` detector (the authors' code): DeepfakeBench needs a
pair dataset (each fake with a random real, reals first in the batch) and numbers methods by a
per-method `label_dict`; dfd pairs within any batch and numbers methods by the model's list.
DeepfakeBench's contrastive term picks one random positive and negative per anchor and assumes
the batch's first half is real; dfd averages over every valid triplet of the batch by the
labels themselves. DeepfakeBench also shuffles the common features among same-label images 70%
of the time before decoding (not in the paper; left out here), and its decoder runs the
condition through the content path's own convolutions; here the condition has its own.
DeepfakeBench's checkpoints do not load: its decoder's layers differ from dfd's.

At the zoo's CPU scale (resnet18 encoders, feature_dim 64, 150 steps of 16 faces at 64 px,
random init) its loss falls (2.29 -> 1.61) but its validation AUC stayed at chance (0.505),
under the 0.6 bar the single-encoder detectors pass; see its learning test. One term at a time
(same 150 steps, seed 0): no auxiliary term 0.721, the method head alone 0.651, the
contrastive term alone 0.549, the reconstruction alone 0.509. The reconstruction is what holds
the common head back at this scale: its L1 starts near 1.9 and its gradient through the shared
forgery encoder outweighs the BCE's for the first hundreds of steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.backbones import timm_encoder
from dfd.models.base import Detector, DetectorOutput
from dfd.models.inputs import InputSpec

# the demo's methods, then FaceForensics++'s (matched case-insensitively); others share a class
DEFAULT_METHODS = (
    "real",
    "sbi",
    "swap",
    "deepfakes",
    "face2face",
    "faceswap",
    "neuraltextures",
    "faceshifter",
)
PAPER_SIZE = 256  # the paper's face crops
MIN_WIDTH = 32  # the decoder's narrowest stage


def adain(content: torch.Tensor, condition: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The content maps (N, C, h, w) with each channel's mean and std replaced by those of the
    condition's same channel (adaptive instance normalization)."""

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
        return mean, (var + eps).sqrt()

    (content_mean, content_std), (condition_mean, condition_std) = stats(content), stats(condition)
    return (content - content_mean) / content_std * condition_std + condition_mean


def triplet_loss(features: torch.Tensor, classes: torch.Tensor, margin: float) -> torch.Tensor:
    """mean max(0, d(a, p) - d(a, n) + margin) over every triplet of rows of `features` (N, F):
    anchor a, positive p of a's class (p != a), negative n of another class (Euclidean
    distances); 0 when no triplet exists (one class only)."""
    distance = torch.cdist(features, features)
    same = classes[:, None] == classes[None, :]
    positive = same & ~torch.eye(len(classes), dtype=torch.bool, device=classes.device)
    valid = positive[:, :, None] & ~same[:, None, :]
    hinge = torch.relu(distance[:, :, None] - distance[:, None, :] + margin)
    return (hinge * valid).sum() / valid.sum().clamp(min=1)


def branch(in_channels: int, out_channels: int) -> nn.Sequential:
    """Three 1x1 convolutions with LeakyReLU between: one part of the forgery features."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1),
    )


def head(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """An MLP on pooled features: linear, LeakyReLU, linear."""
    return nn.Sequential(
        nn.Linear(in_features, hidden), nn.LeakyReLU(inplace=True), nn.Linear(hidden, out_features)
    )


def up(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    """Twice the resolution (bilinear), then `convs` 3x3 convolutions with ReLU."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1)]
        layers += [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ConditionalDecoder(nn.Module):
    """Content maps (N, C, h, w) and forgery maps of the same shape -> images (N, 3, h * 2^s,
    w * 2^s): s stages, each AdaIN of the content by the condition, then both upsampled (the
    content with two convolutions, the condition with one; the last stage's condition is not
    needed), channels halved down to MIN_WIDTH."""

    def __init__(self, channels: int, stages: int) -> None:
        super().__init__()
        widths = [channels] + [max(channels // 2 ** (i + 1), MIN_WIDTH) for i in range(stages)]
        self.content = nn.ModuleList(up(a, b, 2) for a, b in pairwise(widths))
        self.condition = nn.ModuleList(up(a, b, 1) for a, b in pairwise(widths[:-1]))
        self.to_image = nn.Conv2d(widths[-1], 3, 1)
        for module in self.modules():  # He init: PyTorch's default shrinks every conv's output,
            if isinstance(module, nn.Conv2d):  # and AdaIN would pass the shrunk scale on
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, content: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        for i, stage in enumerate(self.content):
            content = stage(adain(content, condition))
            if i < len(self.condition):
                condition = self.condition[i](condition)
        return self.to_image(content)


class UCF(Detector):
    """UCF's disentanglement on every frame: the common forgery features score it.

    Args:
        encoder: timm model name of both encoders (the paper's Xception: `legacy_xception`).
        pretrained: ImageNet weights from the model hub for both encoders (online only).
        weights: a local ImageNet state dict of the timm model, loaded into both encoders.
        methods: the manipulation methods the specific head classifies, "real" first; fakes
            of any other method share one more class.
        feature_dim: channels of the forgery and content features (the paper's code: 512);
            the specific and common features get half each.
        specific_weight: the method classification loss's weight (the paper's 0.1).
        reconstruction_weight: the self and cross reconstruction losses' weight (0.3).
        contrastive_weight: the contrastive term's weight (0.05).
        reconstruction_warmup: training steps over which the reconstruction weight ramps up
            linearly from 0 (0: full weight from the first step, as the paper trains); lets the
            common head find the forgery before the decoder's L1 pulls on the shared encoder.
        margin: the contrastive term's margin (the paper's 3).
        dropout: before the heads.
    """

    paper = (
        "Yan, Zhang, Fan, Wu, UCF: Uncovering Common Features for Generalizable Deepfake "
        "Detection, ICCV 2023"
    )
    extra_targets = frozenset({"method"})
    frame_scores = True

    def __init__(
        self,
        encoder: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        methods: Sequence[str] = DEFAULT_METHODS,
        feature_dim: int = 512,
        specific_weight: float = 0.1,
        reconstruction_weight: float = 0.3,
        contrastive_weight: float = 0.05,
        reconstruction_warmup: int = 0,
        margin: float = 3.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not methods or str(methods[0]).lower() != "real":
            raise ValueError(f"UCF's methods must name 'real' first (got {list(methods)})")
        if feature_dim % 2:
            raise ValueError(f"feature_dim must be even (two halves), got {feature_dim}")
        self.encoder_name, self.methods, self.margin = encoder, tuple(map(str, methods)), margin
        self.loss_weights = (specific_weight, reconstruction_weight, contrastive_weight)
        self.reconstruction_warmup = reconstruction_warmup
        # training steps taken, in the state dict so that a resumed run continues the ramp
        self.register_buffer("steps_trained", torch.zeros((), dtype=torch.long))
        self.forgery_encoder = timm_encoder(encoder, pretrained, weights)
        self.content_encoder = timm_encoder(encoder, pretrained, weights)
        channels, self.stride = self.measure()
        half = feature_dim // 2
        self.forgery_adapter = self.adapter(channels, feature_dim)
        self.content_adapter = self.adapter(channels, feature_dim)
        self.specific, self.common = branch(feature_dim, half), branch(feature_dim, half)
        self.dropout = nn.Dropout(dropout)
        self.specific_head = head(half, feature_dim, len(self.methods) + 1)
        self.common_head = head(half, feature_dim, 1)
        self.decoder = ConditionalDecoder(
            feature_dim, stages=max(int(math.log2(self.stride)) - 2, 1)
        )

    @staticmethod
    def adapter(in_channels: int, out_channels: int) -> nn.Sequential:
        """1x1 convolution, BatchNorm, ReLU: an encoder's last map to `feature_dim` channels."""
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def measure(self, size: int = 64) -> tuple[int, int]:
        """Channels and stride of the encoders' last feature map (a dry run)."""
        model = self.forgery_encoder.model
        was_training = model.training
        with torch.no_grad():
            features = model.eval().forward_features(torch.zeros(1, 3, size, size))
        model.train(was_training)
        return features.shape[1], size // features.shape[-1]

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length, at least one encoder stride wide (the paper: 256 px)."""
        return InputSpec(kind="frames", min_image_size=self.stride, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"UCF ({self.encoder_name})"

    def weights_source(self) -> str:
        return f"timm:{self.encoder_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The two encoders; the adapters and the specific/common branches; the decoder; the
        heads."""
        return {
            "backbone": nn.ModuleList([self.forgery_encoder, self.content_encoder]),
            "disentangle": nn.ModuleList(
                [self.forgery_adapter, self.content_adapter, self.specific, self.common]
            ),
            "decoder": self.decoder,
            "head": nn.ModuleList([self.specific_head, self.common_head]),
        }

    def gradcam_target_layers(self) -> list[str]:
        """The common forgery features, the map the score is pooled from."""
        return ["common"]

    def forgery(self, images: torch.Tensor) -> torch.Tensor:
        """Forgery features (N, feature_dim, h, w) of images (N, 3, H, W)."""
        return self.forgery_adapter(self.forgery_encoder.model.forward_features(images))

    def common_logits(self, common: torch.Tensor) -> torch.Tensor:
        """Real/fake logits (N,) of common feature maps."""
        return self.common_head(self.dropout(common.mean((2, 3)))).squeeze(1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T), from the common features alone."""
        common = self.common(self.forgery(clips.flatten(0, 1)))
        frames = self.common_logits(common).reshape(clips.shape[:2])
        return frames.mean(dim=1), frames

    def reconstruct(
        self, content: torch.Tensor, condition: torch.Tensor, size: torch.Size
    ) -> torch.Tensor:
        """Images of `size` decoded from content and forgery maps."""
        images = self.decoder(content, condition)
        if images.shape[-2:] != size:
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return images

    def warmup_factor(self) -> float:
        """The reconstruction weight's share at this step: 0 -> 1 over reconstruction_warmup."""
        if self.reconstruction_warmup <= 0:
            return 1.0
        return min(1.0, int(self.steps_trained) / self.reconstruction_warmup)

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """The common logits, with the specific, reconstruction and contrastive losses."""
        clips = batch["clip"]
        frames_per_clip = clips.shape[1]
        images = clips.flatten(0, 1)
        labels = batch["label"].repeat_interleave(frames_per_clip)
        methods = batch["method"].repeat_interleave(frames_per_clip)
        forgery = self.forgery(images)
        content = self.content_adapter(self.content_encoder.model.forward_features(images))
        specific, common = self.specific(forgery), self.common(forgery)
        logits = self.common_logits(common)
        specific_vectors = specific.mean((2, 3))
        method_logits = self.specific_head(self.dropout(specific_vectors))
        condition = torch.cat([specific, common], dim=1)
        # each frame's partner: the same frame of the next clip (the last clip's: the first's)
        partner = condition.roll(-frames_per_clip, dims=0)
        size = images.shape[-2:]
        self_l1 = (self.reconstruct(content, condition, size) - images).abs().mean()
        cross_l1 = (self.reconstruct(content, partner, size) - images).abs().mean()
        contrastive = triplet_loss(common.mean((2, 3)), labels, self.margin) + triplet_loss(
            specific_vectors, methods, self.margin
        )
        specific_weight, reconstruction_weight, contrastive_weight = self.loss_weights
        reconstruction_weight *= self.warmup_factor()
        if self.training:
            self.steps_trained += 1
        frames = logits.reshape(clips.shape[:2])
        return DetectorOutput(
            frames.mean(dim=1),
            {
                "specific": specific_weight * F.cross_entropy(method_logits, methods),
                "reconstruction": reconstruction_weight * 2.0 * (self_l1 + cross_l1),
                "contrastive": contrastive_weight * contrastive,
            },
            frames,
        )
