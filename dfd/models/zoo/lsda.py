"""LSDA: a student detector distilled from forgery features augmented in latent space.

Yan, Luo, Lyu, Liu and Wu, "Transcending Forgery Specificity with Latent Space Augmentation
for Generalizable Deepfake Detection", CVPR 2024. A detector trained on a few manipulation
methods learns their specific traces and misses the next method; LSDA widens the forgery space
it learns from instead of the image space. One teacher encoder per training method (and one
for real faces) learns features that tell the methods apart (a domain classifier over real and
every method); each step, the methods' fake features are augmented in latent space, within a
method (moved towards the method's hardest example, away from its mean, by noise, or by the
difference of two of its samples) and across methods (mixed with another method's features of
the same group), and fused; a student encoder, the detector kept for inference, is distilled
(MSE) towards the real teacher's features on real faces and towards the augmented fake
features on fakes, and classifies real against fake.

How dfd builds it: every encoder a timm EfficientNet (`efficientnet_b4`, any timm model with
`forward_features` by `backbone`) whose last map a 1x1 convolution turns into `feature_dim`
(512) channels; the fusion (1x1 then two 3x3 convolutions with leaky ReLUs) and the domain and
binary heads as DeepfakeBench's. Batches are method groups (`Detector.method_groups`: a real
clip, then one fake of each of `methods[1:]` from its split group, see `dfd.data.groups`); each
frame of a group is augmented with the same frame of its fellows. Loss: the module's BCE on
the student's score + `domain_weight` x domain cross-entropy + `distillation_weight` x the two
MSEs; DeepfakeBench weighs them 0.5, 1 and 1, which the defaults 2 and 2 keep relative to
BCE's 1. One fake logit per frame, from the student alone.

How dfd differs from DeepfakeBench's `lsda`: its real encoder is an IResNet-100 from random
init; dfd's is the same EfficientNet as the others. Its extra "real" loss pulls real features
towards NeuralTextures' and Face2Face's and pushes them from FaceSwap's and Deepfakes' (a rule
for FaceForensics++'s four methods only, marked optional in its code); dfd leaves it out. Its
difference transform adds the difference of two channels of the same sample (it indexes the
sample's maps); dfd adds the difference of two samples of the same method, as the paper
describes. No key map for its checkpoints: its EfficientNets are EfficientNet-PyTorch's (see
`efficientnet_b4` in the zoo's checkpoint table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dfd.config import to_plain
from dfd.models.backbones import create_timm
from dfd.models.base import DetectorOutput
from dfd.models.inputs import InputSpec
from dfd.models.zoo.per_frame import PerFrameDetector

FF_METHODS = ("real", "deepfakes", "face2face", "faceswap", "neuraltextures")
WITHIN_METHOD_AUGMENTATIONS = 4  # towards the hard example, from the mean, noise, difference
MIX_ALPHA = (0.5, 2.0)  # the Beta(alpha, alpha) of cross-method mixing draws alpha in this range
PAPER_SIZE = 256


class Encoder(nn.Module):
    """A timm CNN's last feature map projected to `dim` channels (N, dim, h, w)."""

    def __init__(self, backbone: str, pretrained: bool, weights: str | None, dim: int) -> None:
        super().__init__()
        self.backbone = create_timm(backbone, pretrained, weights, num_classes=0, global_pool="")
        self.project = nn.Conv2d(self.backbone.num_features, dim, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone.forward_features(images))


def within_method_augmentation(features: torch.Tensor) -> torch.Tensor:
    """Each group's features (G, M, C, h, w) of each method moved by one of four draws, with
    a random strength in [0, 1): towards that method's hardest example (the farthest from its
    mean over the batch), away from its mean, by Gaussian noise of random scale, or by the
    difference of two of its samples."""
    groups, methods = features.shape[:2]
    device = features.device
    each = torch.arange(methods, device=device)
    mean = features.mean(0, keepdim=True)
    distance = (features - mean).flatten(2).norm(dim=2)  # (G, M)
    hardest = features[distance.argmax(0), each].unsqueeze(0)
    first, second = (torch.randint(groups, (groups, methods), device=device) for _ in range(2))
    difference = features[first, each] - features[second, each]
    scale = torch.rand(groups, methods, 1, 1, 1, device=device)
    strength = torch.rand(groups, methods, 1, 1, 1, device=device)
    candidates = torch.stack(
        [
            features + strength * (hardest - features),
            features + strength * (features - mean),
            features + strength * scale * torch.randn_like(features),
            features + strength * difference,
        ]
    )
    choice = torch.randint(WITHIN_METHOD_AUGMENTATIONS, (groups, methods), device=device)
    return candidates.gather(0, choice.view(1, groups, methods, 1, 1, 1).expand_as(features[None]))[
        0
    ]


def cross_method_mixup(features: torch.Tensor) -> torch.Tensor:
    """Each group's method features (G, M, C, h, w) mixed with the same group's features in a
    shuffled method order, by lambda ~ Beta(alpha, alpha), alpha drawn per group."""
    groups, methods = features.shape[:2]
    low, high = MIX_ALPHA
    alpha = low + (high - low) * torch.rand(groups)
    lam = torch.distributions.Beta(alpha, alpha).sample().to(features).view(groups, 1, 1, 1, 1)
    order = torch.argsort(torch.rand(groups, methods), dim=1).to(features.device)
    shuffled = features[torch.arange(groups, device=features.device).unsqueeze(1), order]
    return lam * features + (1 - lam) * shuffled


class LSDA(PerFrameDetector):
    """A student encoder and classifier, distilled during training from per-method teacher
    features augmented in latent space; per frame, a clip's logit is its frames' mean.

    Args:
        backbone: the timm CNN of every encoder (the paper's: `efficientnet_b4`).
        pretrained: ImageNet weights from the model hub (online only), for every encoder.
        weights: a local state dict of the timm backbone, for every encoder.
        methods: the training methods, "real" first: one teacher per fake method (matched
            case-insensitively against the manifest's method column).
        feature_dim: channels of the encoders' features.
        domain_weight: weight of the teachers' method classification loss.
        distillation_weight: weight of the student's distillation loss.
        dropout: before the binary classifier's last layer.
    """

    extra_targets = frozenset({"method"})
    method_groups = True
    paper = (
        "Yan, Luo, Lyu, Liu, Wu, Transcending Forgery Specificity with Latent Space "
        "Augmentation for Generalizable Deepfake Detection, CVPR 2024"
    )

    def __init__(
        self,
        backbone: str = "efficientnet_b4",
        pretrained: bool = False,
        weights: str | None = None,
        methods: Sequence[str] = FF_METHODS,
        feature_dim: int = 512,
        domain_weight: float = 2.0,
        distillation_weight: float = 2.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        methods = tuple(str(name) for name in to_plain(methods))
        if len(methods) < 3 or methods[0].lower() != "real":
            raise ValueError(
                f"LSDA needs 'real' and at least two fake methods in model.methods (got "
                f"{list(methods)}): it mixes the methods' features"
            )
        self.methods, self.backbone_name = methods, backbone
        self.domain_weight, self.distillation_weight = domain_weight, distillation_weight

        def encoder() -> Encoder:
            return Encoder(backbone, pretrained, weights, feature_dim)

        self.student = encoder()
        self.real_teacher = encoder()
        self.method_teachers = nn.ModuleList(encoder() for _ in methods[1:])
        self.fuse = nn.Sequential(
            nn.Conv2d(2 * feature_dim, feature_dim, 1),
            nn.LeakyReLU(),
            nn.Conv2d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(),
        )
        self.domain_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(feature_dim, feature_dim // 2),
            nn.LeakyReLU(),
            nn.Linear(feature_dim // 2, len(methods)),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(feature_dim, 512),
            nn.LeakyReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, 1),
        )

    @property
    def input_spec(self) -> InputSpec:
        """Frames of at least 32 px (the network's total stride); the paper's size is 256."""
        return InputSpec(kind="frames", min_image_size=32, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"LSDA ({self.backbone_name})"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The student's CNN; the teachers with the fusion and the domain head (training only);
        the student's projection and the classifier."""
        teachers = nn.ModuleList(
            [self.real_teacher, self.method_teachers, self.fuse, self.domain_head]
        )
        head = nn.ModuleList([self.student.project, self.classifier])
        return {"backbone": self.student.backbone, "teachers": teachers, "head": head}

    def gradcam_target_layers(self) -> list[str]:
        """The student's projected feature map, which the classifier pools."""
        return ["student.project"]

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.student(images)).squeeze(1)

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Student logits per frame, with the domain loss of the teachers and the student's
        distillation towards the real teacher and the augmented fake features."""
        clips, size = batch["clip"], len(self.methods)
        expected = torch.arange(size, device=clips.device).repeat(len(clips) // size)
        if len(clips) % size or not torch.equal(batch["method"], expected):
            raise ValueError(
                f"{self.describe()} trains on method groups (each real clip followed by one "
                f"fake of {', '.join(self.methods[1:])}); the datamodule's batches are not "
                "(it serves them when datamodule.method_groups is true, as train.py sets it)"
            )
        time = clips.shape[1]
        # (G, size, T, ...) -> (G T, size, ...): a group per frame position
        grouped = clips.unflatten(0, (-1, size)).transpose(1, 2).flatten(0, 1)
        real, fakes = grouped[:, 0], grouped[:, 1:]
        real_features = self.real_teacher(real)
        fake_features = torch.stack(
            [teacher(fakes[:, m]) for m, teacher in enumerate(self.method_teachers)], dim=1
        )
        domains = torch.cat([real_features.unsqueeze(1), fake_features], 1).flatten(0, 1)
        domain_labels = torch.arange(size, device=clips.device).repeat(len(grouped))
        domain_loss = F.cross_entropy(self.domain_head(domains), domain_labels)
        augmented = torch.cat(
            [within_method_augmentation(fake_features), cross_method_mixup(fake_features)], 2
        )
        targets = self.fuse(augmented.flatten(0, 1)).unflatten(0, fake_features.shape[:2])
        student = self.student(grouped.flatten(0, 1)).unflatten(0, (len(grouped), size))
        distillation = F.mse_loss(student[:, 0], real_features) + F.mse_loss(
            student[:, 1:], targets
        )
        logits = self.classifier(student.flatten(0, 1)).view(-1, time, size)
        frames = logits.transpose(1, 2).reshape(len(clips), time)  # back to batch order
        return DetectorOutput(
            frames.mean(dim=1),
            {
                "domain": self.domain_weight * domain_loss,
                "distillation": self.distillation_weight * distillation,
            },
            frames,
        )
