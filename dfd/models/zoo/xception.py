"""Xception, FaceForensics++'s baseline frame detector.

Rössler, Cozzolino, Verdoliva, Riess, Thies, Nießner, "FaceForensics++: Learning to Detect
Manipulated Facial Images", ICCV 2019, on Chollet's Xception ("Xception: Deep Learning with
Depthwise Separable Convolutions", CVPR 2017). FaceForensics++ took an ImageNet Xception,
replaced its classifier by a real/fake layer (no dropout) and trained on face crops of 299 px,
first the new layer alone (3 epochs), then the whole network; dfd's staged unfreezing
(`callbacks=staged_unfreeze`) is that schedule.

The network is timm's `legacy_xception`, the original architecture (entry flow, eight middle
blocks of three separable convolutions, exit flow) whose ImageNet weights are the ones the
FaceForensics++ code loaded. A clip's logit is the mean of its frames' logits (mean pooling of
frame features before a linear layer). One logit, trained with BCE, where FaceForensics++ and
DeepfakeBench use two softmax outputs: the same model (the logit is their difference).
DeepfakeBench's trained Xception checkpoints load as `detector_weights` with
`key_map=deepfakebench_xception` (dfd.models.weights).
"""

from __future__ import annotations

from dfd.models.backbones import timm_encoder
from dfd.models.detector import FrameDetector
from dfd.models.inputs import InputSpec
from dfd.models.temporal import MeanPool
from dfd.models.weights import load_weights

TIMM_NAME = "legacy_xception"
PAPER_SIZE = 299  # FaceForensics++'s face crops


class Xception(FrameDetector):
    """FaceForensics++'s Xception: an ImageNet Xception with a real/fake layer, per frame."""

    paper = (
        "Rössler, Cozzolino, Verdoliva, Riess, Thies, Nießner, FaceForensics++: Learning to "
        "Detect Manipulated Facial Images, ICCV 2019"
    )

    def __init__(
        self,
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
        detector_weights: str | None = None,
        key_map: str | None = None,
    ) -> None:
        """`pretrained`/`weights`: ImageNet weights for the backbone, from timm's hub or a
        file; `detector_weights`: a trained detector's weights, in dfd's layout or renamed by
        `key_map` (`deepfakebench_xception`: a DeepfakeBench Xception checkpoint)."""
        super().__init__(timm_encoder(TIMM_NAME, pretrained, weights), MeanPool, dropout)
        if detector_weights:
            load_weights(self, detector_weights, key_map, name=self.describe())

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length and size from 7 px (its unpadded stem convolutions need
        7; the paper's size is 299)."""
        return InputSpec(kind="frames", min_image_size=7, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return "Xception (FaceForensics++)"
