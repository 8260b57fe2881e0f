"""The inference loop behind reports: every clip scored once, frame scores from frame models,
scores traced back to their videos, face tracks and crop files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.scoring import ScoringSettings, detector_logits, score_dataset
from dfd.report.tables import clip_table, frame_table
from helpers.runs import compose_train


def detector(tmp_path: Path, model: str) -> torch.nn.Module:
    return instantiate(compose_train(tmp_path, f"model={model}").model).eval()


def test_mean_head_frame_scores_average_to_the_clip_score(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    """With frame-mean pooling a clip's logit is the mean of its frames' logits (linear head)."""
    dm = FaceClipDataModule(str(tiny_prepared), clip_len=4, image_size=64, num_workers=0)
    clips = dm.normalize(next(iter(dm.val_dataloader()))["clip"])
    with torch.inference_mode():
        clip_logits, frame_logits = detector_logits(detector(tmp_path, "resnet18"), clips)
    assert frame_logits.shape == clips.shape[:2]
    assert torch.allclose(frame_logits.mean(1), clip_logits, atol=1e-5)


@pytest.mark.parametrize("model", ["resnet18", "lstm", "r3d_18"])
def test_every_clip_scored_once_and_traced_back(
    tiny_prepared: Path, tmp_path: Path, model: str
) -> None:
    dm = FaceClipDataModule(str(tiny_prepared), clip_len=2, image_size=64, num_workers=0)
    dataset = dm.dataset("test")
    scored = score_dataset(
        detector(tmp_path, model), dataset, dm.normalize, ScoringSettings(batch_size=3)
    )
    assert sorted(scored.clip_idx.tolist()) == list(range(len(dataset)))
    assert ((scored.scores >= 0) & (scored.scores <= 1)).all()
    clips = clip_table(dataset, scored)
    assert len(clips) == len(dataset) and set(clips["video_id"]) == set(dataset.video_ids)
    for _, row in clips.iterrows():
        paths = row["frames"].split(";")
        assert len(paths) == row["num_frames"] and all(Path(p).is_file() for p in paths)
        assert row["video_id"] in paths[0]
    frames = frame_table(dataset, scored)
    if model == "r3d_18":
        assert scored.frames is None and frames is None  # a 3D CNN has no frame-level scores
    else:
        assert len(frames) == clips["num_frames"].sum()
        assert frames.groupby(["video_id", "face"])["frame"].is_monotonic_increasing.all()


def test_scores_do_not_depend_on_batching(tiny_prepared: Path, tmp_path: Path) -> None:
    dm = FaceClipDataModule(str(tiny_prepared), clip_len=2, image_size=64, num_workers=0)
    model = detector(tmp_path, "resnet18")
    one = score_dataset(model, dm.dataset("test"), dm.normalize, ScoringSettings(batch_size=1))
    many = score_dataset(model, dm.dataset("test"), dm.normalize, ScoringSettings(batch_size=5))
    assert np.allclose(one.scores, many.scores, atol=1e-5)
    assert np.allclose(one.frames, many.frames, atol=1e-5)


def test_scoring_gives_every_submodule_its_own_mode_back(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    """A frozen backbone (eval mode inside a detector in train mode) stays frozen."""
    model = detector(tmp_path, "resnet18").train()
    model.backbone.eval()
    dm = FaceClipDataModule(str(tiny_prepared), clip_len=2, image_size=48, num_workers=0)
    score_dataset(model, dm.dataset("test"), dm.normalize, ScoringSettings(batch_size=8))
    assert model.training and model.classifier.training
    assert not any(module.training for module in model.backbone.modules())
