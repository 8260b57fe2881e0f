"""A test set's summary says when a detector's scores do not depend on its input."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from dfd.eval.scoring import ScoringSettings
from dfd.tasks.evaluation import summarize

SETTINGS = {
    "bootstrap": {"resamples": 50, "level": 0.95, "by_group": False, "min_groups": 8, "seed": 0}
}
THRESHOLD = {"rule": "fixed", "value": 0.5, "chosen_on": "config"}


def clips_scored(scores: list[float]) -> pd.DataFrame:
    """One clip a video, the first half real."""
    count = len(scores)
    return pd.DataFrame(
        {
            "video_id": [f"v{i}" for i in range(count)],
            "face": 0,
            "clip_start": 0,
            "label": [int(i >= count // 2) for i in range(count)],
            "score": scores,
        }
    )


@pytest.mark.parametrize(
    ("scores", "constant"),
    [
        ([0.494] * 6, True),
        ([0.1, 0.2, 0.3, 0.6, 0.7, 0.8], False),
        ([0.2, 0.2, 0.2, 0.2, 0.2, 0.9], False),
    ],
)
def test_constant_video_scores_are_flagged(
    caplog: pytest.LogCaptureFixture, scores: list[float], constant: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.tasks.evaluation"):
        _, metrics = summarize(
            "demo", clips_scored(scores), None, THRESHOLD, SETTINGS, ScoringSettings()
        )
    assert metrics["constant_video_scores"] is constant
    sentence = "all 6 videos scored 0.4940: the detector's output does not depend on its input, so its AUC of 0.5 ranks nothing"
    assert metrics["warnings"] == ([sentence] if constant else [])
    warned = [
        r.getMessage() for r in caplog.records if "does not depend on its input" in r.getMessage()
    ]
    assert warned == ([f"demo: {sentence}"] if constant else [])
