"""Multi-view testing: clips spread over each face track, three spatial crops, and the views of
a clip reduced by mean or max over probabilities or logits, in every scorer alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import clip_windows
from dfd.eval.scoring import ScoringSettings, score_dataset, three_crops, view_probabilities
from helpers.runs import CONF, compose_train


@pytest.mark.parametrize(
    ("frames", "count", "starts"),
    [
        (8, None, [0, 4]),
        (8, 3, [0, 2, 4]),
        (8, 5, [0, 1, 2, 3, 4]),
        (8, 9, [0, 1, 2, 3, 4]),
        (3, 5, [0]),
        (16, 1, [0]),
    ],
)
def test_clips_are_spread_from_the_first_frame_to_the_last(
    frames: int, count: int | None, starts: list[int]
) -> None:
    assert clip_windows(frames, 4, count) == starts


def test_three_crops_cut_an_enlarged_frame_left_centre_and_right() -> None:
    ramp = torch.arange(32.0).expand(1, 1, 3, 32, 32)  # brightness grows left to right
    left, centre, right = three_crops(ramp, 0.8)
    assert left.shape == centre.shape == right.shape == ramp.shape
    assert left.mean() < centre.mean() < right.mean()
    assert float(centre.mean()) == pytest.approx(float(ramp.mean()), abs=0.05)
    assert all(torch.allclose(crop, ramp) for crop in three_crops(ramp, 1.0))


def brightness_logit(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A detector whose logit is each clip's (and frame's) mean value: views differ."""
    return clips.mean(dim=(1, 2, 3, 4)), clips.mean(dim=(2, 3, 4))


@pytest.mark.parametrize(
    ("reduce", "space"), [("mean", "prob"), ("max", "prob"), ("mean", "logit")]
)
def test_views_reduce_as_configured(reduce: str, space: str) -> None:
    clips = torch.linspace(-2, 2, 2 * 2 * 3 * 8 * 8).reshape(2, 2, 3, 8, 8)
    settings = ScoringSettings(tta=("hflip",), crops=3, view_reduce=reduce, view_space=space)
    scores, frames = view_probabilities(brightness_logit, clips, settings)
    views = [c for v in (clips, clips.flip(-1)) for c in three_crops(v, settings.crop_scale)]
    logits = torch.stack([brightness_logit(view)[0] for view in views])
    expected = {
        ("mean", "prob"): torch.sigmoid(logits).mean(0),
        ("max", "prob"): torch.sigmoid(logits).amax(0),
        ("mean", "logit"): torch.sigmoid(logits.mean(0)),
    }[reduce, space]
    torch.testing.assert_close(scores, expected)
    assert frames.shape == (2, 2)


def test_bad_view_settings_fail_before_scoring() -> None:
    for bad in (
        {"crops": 2},
        {"clips": 0},
        {"crop_scale": 1.5},
        {"view_reduce": "median"},
        {"view_space": "odds"},
    ):
        with pytest.raises(ValueError, match="evaluation.views"):
            ScoringSettings(**bad)


def test_the_settings_defaults_are_the_evaluation_configs() -> None:
    evaluation = OmegaConf.to_container(OmegaConf.load(CONF / "evaluation/default.yaml"))
    assert ScoringSettings.from_evaluation(evaluation, None, 16) == ScoringSettings()
    older = {key: value for key, value in evaluation.items() if key != "views"}
    assert ScoringSettings.from_evaluation(older, None, 16) == ScoringSettings()


def test_evaluation_views_reach_the_validation_and_test_clips(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    cfg = compose_train(tmp_path, "evaluation.views.clips=3", "datamodule.clip_len=2")
    assert cfg.datamodule.eval_clips_per_track == 3
    data = FaceClipDataModule(
        str(tiny_prepared), clip_len=2, image_size=32, num_workers=0, eval_clips_per_track=3
    )
    data.setup()
    for split in ("val", "test"):
        dataset = data.dataset(split)
        per_track = dict.fromkeys(range(len(dataset.rows)), 0)
        for window in dataset.windows:
            per_track[window.row] += 1
        assert set(per_track.values()) == {3}, "each track gives 3 clips (4 frames, length 2)"
    assert len(data.dataset("train").windows) == 2 * len(data.dataset("train").rows)


def test_a_real_detector_scores_every_view_of_every_spread_clip(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    detector = instantiate(compose_train(tmp_path, "model=resnet18").model)
    data = FaceClipDataModule(
        str(tiny_prepared), clip_len=2, image_size=48, num_workers=0, eval_clips_per_track=3
    )
    single = score_dataset(detector, data.dataset("test"), data.normalize, ScoringSettings())
    multi = score_dataset(
        detector, data.dataset("test"), data.normalize, ScoringSettings(crops=3, tta=("hflip",))
    )
    assert len(multi.scores) == len(single.scores) == 3 * len(data.dataset("test").rows)
    assert not torch.allclose(torch.tensor(multi.scores), torch.tensor(single.scores))
