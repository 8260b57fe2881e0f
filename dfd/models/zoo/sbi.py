"""Self-Blended Images: the detector is a plain EfficientNet-B4; the method is its training data.

Shiohara and Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022. Every real
training face is paired with a fake made from itself (an altered copy blended back in through
a deformed, feathered mask), so blending traces are the only thing that tells the classes
apart and the detector cannot learn one manipulation method's look. The paper's classifier is
an ImageNet EfficientNet-B4; the recipe is dfd's data path: `experiment=sbi`
(conf/experiment/sbi.yaml: real training clips only, each beside its own SBI-style blend).
This class is that classifier, named for the paper: trained without the recipe it is only an
EfficientNet-B4.

How dfd differs from DeepfakeBench's `sbi` detector: DeepfakeBench's yaml loads an Xception
checkpoint into EfficientNet-B4 with strict=False (silently unused) and trains a 3-class
head; dfd keeps the paper's binary head and loads weights strictly.
"""

from __future__ import annotations

from dfd.models.detector import FrameDetector


class SBI(FrameDetector):
    """EfficientNet-B4 frames, averaged over the clip (see `FrameDetector`), for the SBI recipe."""

    paper = "Shiohara, Yamasaki, Detecting Deepfakes with Self-Blended Images, CVPR 2022"

    def describe(self) -> str:
        return "SBI (EfficientNet-B4)"

    def weights_source(self) -> str:
        return "timm:efficientnet_b4"
