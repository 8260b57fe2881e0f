"""CORE: the same face seen through two augmentations must get the same representation.

Ni, Meng, Yu, Quan, Ren and Zhao, "CORE: Consistent Representation Learning for Face Forgery
Detection", CVPR Workshops 2022. A detector trained with strong augmentation gives both
augmented copies of a face the same label but may still represent them differently, and so
overfit to what the augmentation happens to leave. CORE trains on two independently augmented
views of each face and adds an explicit term pulling their representations together: the
L2-normalized pooled features f1, f2 of the two views should have cosine similarity 1,
loss_con = mean((cos(f1, f2) - 1)^2), beside the classification loss of both views.

How dfd builds it: any timm backbone (the paper's Xception by default, `legacy_xception`),
pooled features, a linear classifier; each frame is a face, a clip's logit is the mean of its
frames'. The second view is the batch's "second_view" (the datamodule draws a second
augmentation of the same frames). The module's BCE is the first view's; the second view's BCE
is added here, so the sum of the two is twice the paper's mean over the doubled batch, and
the consistency term is doubled with it: the loss is the paper's, times two
(`consistency_rate` is the paper's weight).

How dfd differs from DeepfakeBench's `core` detector: DeepfakeBench has no two-view loader, so
its consistency term compares the first half of a batch with the second half, unrelated
images; dfd compares the two views of the same face, as the paper does. Its network is
DeepfakeBench's Xception with a two-way layer, the network dfd builds here with the default
backbone: its checkpoints load as `detector_weights` with `key_map=deepfakebench_core`
(dfd.models.weights), with their scores.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.backbones import timm_encoder
from dfd.models.base import Detector, DetectorOutput
from dfd.models.feature_maps import last_feature_map
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_weights


def consistency_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """mean((cos(first, second) - 1)^2) over rows of features (N, F): 0 when every pair points
    the same way, 4 when every pair points opposite ways."""
    cos = F.cosine_similarity(first, second, dim=1)
    return (cos - 1.0).pow(2).mean()


class CORE(Detector):
    """A frame classifier trained with CORE's two-view consistency term.

    Args:
        backbone: timm model name (the paper's Xception: `legacy_xception`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm model (classifier dropped).
        consistency_rate: weight of the consistency term (the paper's code: 1).
        detector_weights: a trained detector's weights, in dfd's layout or renamed by
            `key_map` (`deepfakebench_core`: a DeepfakeBench CORE checkpoint).
        key_map: one of dfd.models.weights.KEY_MAPS.
    """

    paper = (
        "Ni, Meng, Yu, Quan, Ren, Zhao, CORE: Consistent Representation Learning for Face "
        "Forgery Detection, CVPR Workshops 2022"
    )
    extra_targets = frozenset({"second_view"})
    frame_scores = True

    def __init__(
        self,
        backbone: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        consistency_rate: float = 1.0,
        detector_weights: str | None = None,
        key_map: str | None = None,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.consistency_rate = consistency_rate
        self.backbone = timm_encoder(backbone, pretrained, weights)
        self.classifier = nn.Linear(self.backbone.num_features, 1)
        if detector_weights:
            load_weights(self, detector_weights, key_map, name=self.describe())

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(kind="frames")

    def describe(self) -> str:
        return f"CORE ({self.backbone_name})"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        """The backbone's last convolutional feature map (found by a dry run)."""
        return ["backbone." + last_feature_map(self.backbone)]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T)."""
        frames = self.classifier(self.backbone(clips.flatten(0, 1))).reshape(clips.shape[:2])
        return frames.mean(dim=1), frames

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Both views in one backbone pass (BatchNorm sees them together, as in the paper)."""
        clips = batch["clip"]
        views = torch.cat([clips, batch["second_view"]]).flatten(0, 1)
        features = self.backbone(views)
        first, second = features.chunk(2)
        frames = self.classifier(features).reshape(2, *clips.shape[:2])
        logits = frames.mean(dim=2)
        second_bce = F.binary_cross_entropy_with_logits(logits[1], batch["label"])
        consistency = 2.0 * self.consistency_rate * consistency_loss(first, second)
        return DetectorOutput(
            logits[0], {"second_view_bce": second_bce, "consistency": consistency}, frames[0]
        )
