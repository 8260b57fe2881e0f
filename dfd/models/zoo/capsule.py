"""Capsule-Forensics: primary capsules over VGG-19 features, routed by agreement to a real and a
fake capsule.

Nguyen, Yamagishi and Echizen, "Capsule-Forensics: Using Capsule Networks to Detect Forged Images
and Videos", ICASSP 2019 (its second version, "Use of a Capsule Network to Detect Fake Images and
Videos", arXiv 1910.12467, is what DeepfakeBench's `capsule_net` follows). A pretrained VGG-19 up
to its third max pooling (256 channels, stride 8) extracts features; ten primary capsules each
read them with two convolutions, pool their mean and standard deviation over the image (a
statistical pooling that makes them size-free) and compress those to an 8-d pose vector;
dynamic routing (Sabour, Frosst and Hinton, NeurIPS 2017; two iterations) sends them to two
4-d output capsules, real and fake. While training, Gaussian noise on the routing weights and
dropout on the votes keep one primary capsule from deciding alone. The score is a softmax over
the two output capsules taken per dimension and averaged over the dimensions.

How dfd builds it: torchvision's `vgg19` cut after its third pooling, frozen when pretrained
(the authors optimise the capsules only: a frozen ImageNet extractor), trained with the rest
when not (`freeze_extractor`; a frozen random VGG would be a fixed random projection); the
capsules as in the paper, each capsule's pose squashed on its own; routing by the dot product
of votes and outputs, as Sabour et al.'s. The fake logit is log p_fake - log p_real of the
averaged softmax, so dfd's BCE trains the same score the paper tests with; the authors sum a
cross-entropy per output dimension instead (on outputs already softmaxed).

How dfd differs from DeepfakeBench's `capsule_net`: its VGG trains with the capsules (it is
part of the detector), and it squashes the primary capsules across the ten capsules rather than
each pose vector; it routes with the noise and the dropout off, in training too. No key map for its checkpoints: the
routing here keeps one agreement per vote, not one per vote dimension as its code does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.backbones import create_torchvision
from dfd.models.base import ParameterGroup
from dfd.models.inputs import InputSpec
from dfd.models.zoo.per_frame import PerFrameDetector

VGG19_THIRD_POOL = 19  # vgg19.features[:19]: conv1_1 .. pool3, 256 channels at stride 8
VGG_CHANNELS, VGG_STRIDE = 256, 8
PAPER_SIZE = 256
EPSILON = 1e-8


def squash(vectors: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Capsule non-linearity: the vector's direction kept, its length mapped to |v|^2/(1+|v|^2)."""
    squared = (vectors**2).sum(dim=dim, keepdim=True)
    return squared / (1.0 + squared) * vectors / torch.sqrt(squared + EPSILON)


class StatsPooling(nn.Module):
    """Mean and standard deviation of each channel over the image: (N, C, H, W) -> (N, 2, C)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        flat = features.flatten(2)
        return torch.stack((flat.mean(2), flat.std(2)), dim=1)


def primary_capsule(in_channels: int, pose_dim: int) -> nn.Sequential:
    """One primary capsule: two 3x3 convolutions, statistical pooling, two 1-d convolutions
    over the 16 pooled channels that leave a pose vector of `pose_dim` (16 halved by stride 2)."""
    if pose_dim != 8:
        raise ValueError("the paper's primary capsule gives 8-d poses (16 channels, stride 2)")
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Conv2d(64, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        StatsPooling(),
        nn.Conv1d(2, 8, 5, stride=2, padding=2),
        nn.BatchNorm1d(8),
        nn.Conv1d(8, 1, 3, padding=1),
        nn.BatchNorm1d(1),
        nn.Flatten(),
    )


class DynamicRouting(nn.Module):
    """Routing by agreement from `inputs` capsules of `in_dim` to `outputs` of `out_dim`: each
    input votes W_ij u_i for every output, outputs are squashed weighted sums of votes, and the
    weights follow the softmax of accumulated agreements (vote . output)."""

    def __init__(
        self,
        inputs: int,
        outputs: int,
        in_dim: int,
        out_dim: int,
        iterations: int = 2,
        noise: float = 0.01,
        dropout: float = 0.05,
    ) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError("routing needs at least one iteration")
        self.weights = nn.Parameter(torch.randn(outputs, inputs, out_dim, in_dim))
        self.iterations, self.noise, self.dropout = iterations, noise, dropout

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        """Output capsules (N, outputs, out_dim) of input poses (N, inputs, in_dim)."""
        weights = self.weights
        if self.training and self.noise > 0:
            weights = weights + self.noise * torch.randn_like(weights)
        votes = torch.einsum("oidk,nik->noid", weights, poses)  # (N, outputs, inputs, out_dim)
        votes = F.dropout(votes, self.dropout, self.training)
        agreement = votes.new_zeros(votes.shape[:3])
        for iteration in range(self.iterations):
            coupling = agreement.softmax(dim=2)  # each output's weights over the inputs
            outputs = squash((coupling.unsqueeze(-1) * votes).sum(dim=2))
            if iteration < self.iterations - 1:
                agreement = agreement + (votes * outputs.unsqueeze(2)).sum(-1)
        return outputs


def vgg19_extractor(pretrained: bool, weights: str | None) -> nn.Sequential:
    """torchvision's VGG-19 up to its third max pooling (ImageNet weights when pretrained, or a
    local torchvision vgg19 state dict)."""
    return create_torchvision("vgg19", pretrained, weights).features[:VGG19_THIRD_POOL]


class CapsuleForensics(PerFrameDetector):
    """VGG-19 features, ten primary capsules and dynamic routing to a real and a fake capsule,
    per frame; a clip's logit is the mean of its frames'.

    Args:
        pretrained: torchvision's ImageNet VGG-19 (online only).
        weights: a local state dict of torchvision's `vgg19`.
        freeze_extractor: keep the VGG layers fixed (the paper's setting, with pretrained
            weights); null: frozen exactly when pretrained or weights are given.
        capsules: primary capsules (10 in the paper's second version).
        pose_dim: the primary capsules' size (8).
        output_dim: the output capsules' size (4).
        routing_iterations: 2 in the paper.
        routing_noise: standard deviation of the noise added to the routing weights in training.
        routing_dropout: dropout on the votes in training.
    """

    paper = (
        "Nguyen, Yamagishi, Echizen, Capsule-Forensics: Using Capsule Networks to Detect "
        "Forged Images and Videos, ICASSP 2019"
    )

    def __init__(
        self,
        pretrained: bool = False,
        weights: str | None = None,
        freeze_extractor: bool | None = None,
        capsules: int = 10,
        pose_dim: int = 8,
        output_dim: int = 4,
        routing_iterations: int = 2,
        routing_noise: float = 0.01,
        routing_dropout: float = 0.05,
    ) -> None:
        super().__init__()
        self.extractor = vgg19_extractor(pretrained, weights)
        if freeze_extractor is None:
            freeze_extractor = pretrained or weights is not None
        self.freeze_extractor = freeze_extractor
        if freeze_extractor:
            self.extractor.requires_grad_(False)
        self.capsules = nn.ModuleList(
            primary_capsule(VGG_CHANNELS, pose_dim) for _ in range(capsules)
        )
        self.routing = DynamicRouting(
            capsules, 2, pose_dim, output_dim, routing_iterations, routing_noise, routing_dropout
        )

    @property
    def input_spec(self) -> InputSpec:
        """Frames of at least two feature cells (the capsules pool a standard deviation over
        the stride-8 map); the paper's size is 256."""
        return InputSpec(kind="frames", min_image_size=2 * VGG_STRIDE, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        frozen = "frozen" if self.freeze_extractor else "trained"
        return f"Capsule-Forensics (VGG-19 to pool3, {frozen}; {len(self.capsules)} capsules)"

    def weights_source(self) -> str:
        return "torchvision:vgg19"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The VGG layers ("frozen" when fixed by design, so staged unfreezing leaves them);
        the capsules and routing ("head")."""
        head = nn.ModuleList([self.capsules, self.routing])
        if self.freeze_extractor:
            return {"backbone": ParameterGroup(()), "frozen": self.extractor, "head": head}
        return {"backbone": self.extractor, "head": head}

    def gradcam_target_layers(self) -> list[str]:
        """The VGG's last convolution, the map every capsule reads."""
        last = max(i for i, m in enumerate(self.extractor) if isinstance(m, nn.Conv2d))
        return [f"extractor.{last}"]

    def output_capsules(self, images: torch.Tensor) -> torch.Tensor:
        """The real and fake capsules (N, 2, output_dim) of normalized images."""
        features = self.extractor(images)
        poses = torch.stack([capsule(features) for capsule in self.capsules], dim=1)
        return self.routing(squash(poses))

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        """log p_fake - log p_real, p the softmax over the two capsules per dimension, averaged
        over the dimensions (the paper's score)."""
        probabilities = self.output_capsules(images).softmax(dim=1).mean(dim=2)
        return torch.log(probabilities[:, 1]) - torch.log(probabilities[:, 0])
