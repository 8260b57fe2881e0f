"""Test-time augmentation: a clip's score is the mean fake probability of its views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.scoring import ScoringSettings, score_dataset
from dfd.models import FrameDetector
from dfd.models.backbones import FrameEncoder
from helpers.runs import compose_train


def mirror_blind_detector() -> FrameDetector:
    """Per-pixel features (1x1 convolution) averaged over the image: blind to a left-right
    mirror by construction."""
    torch.manual_seed(0)
    pixels = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return FrameDetector(FrameEncoder(pixels, 8)).eval()


@pytest.fixture(scope="module")
def data(tiny_prepared: Path) -> FaceClipDataModule:
    return FaceClipDataModule(str(tiny_prepared), clip_len=3, image_size=48, num_workers=0)


def test_flip_of_a_mirror_blind_detector_changes_nothing(data: FaceClipDataModule) -> None:
    detector, test = mirror_blind_detector(), data.dataset("test")
    plain = score_dataset(detector, test, data.normalize, ScoringSettings(batch_size=4))
    flipped = score_dataset(
        detector, test, data.normalize, ScoringSettings(tta=("hflip",), batch_size=4)
    )
    np.testing.assert_array_equal(flipped.clip_idx, plain.clip_idx)
    np.testing.assert_allclose(flipped.scores, plain.scores, atol=1e-6)
    np.testing.assert_allclose(flipped.frames, plain.frames, atol=1e-6)


def test_tta_score_is_the_mean_probability_of_the_two_views(
    data: FaceClipDataModule, tmp_path: Path
) -> None:
    detector = instantiate(compose_train(tmp_path, "model=resnet18").model).eval()
    test = data.dataset("test")
    scored = score_dataset(
        detector, test, data.normalize, ScoringSettings(tta=("hflip",), batch_size=3)
    )
    by_hand = {}
    with torch.no_grad():
        for index in range(len(test)):
            clip = data.normalize(test[index]["clip"][None])
            views = [detector.forward_with_frames(view) for view in (clip, clip.flip(-1))]
            (clip_a, frames_a), (clip_b, frames_b) = [
                (torch.sigmoid(c)[0], torch.sigmoid(f)[0]) for c, f in views
            ]
            assert not torch.allclose(clip_a, clip_b), "the mirrored view must score differently"
            by_hand[index] = ((clip_a + clip_b) / 2, (frames_a + frames_b) / 2)
    for row, index in enumerate(scored.clip_idx):
        clip_score, frame_scores = by_hand[int(index)]
        assert scored.scores[row] == pytest.approx(float(clip_score), abs=1e-6)
        np.testing.assert_allclose(scored.frames[row], frame_scores.numpy(), atol=1e-6)


def test_unknown_view_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown test-time augmentation \['vflip'\].*hflip"):
        ScoringSettings(tta=("vflip",))
