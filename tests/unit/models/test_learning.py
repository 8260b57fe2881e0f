"""The learning task itself: a plain frame CNN learns it, so a zoo detector that fails it has a
defect of its own (see helpers/learning.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.learning import learn

RESNET18 = {
    "_target_": "dfd.models.FrameDetector",
    "backbone": {"_target_": "dfd.models.backbones.timm_encoder", "name": "resnet18"},
}


@pytest.mark.slow
def test_a_plain_cnn_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn(RESNET18, learning_task, steps=150)
    assert learned.last_loss < 0.6 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
