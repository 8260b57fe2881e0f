"""Per-method metrics: each fake method against every real video."""

from __future__ import annotations

import pandas as pd
import pytest

from dfd.eval.by_method import metrics_by_method
from dfd.eval.metrics import binary_metrics


def test_each_method_is_scored_against_all_reals() -> None:
    videos = pd.DataFrame(
        {
            "label": [0, 0, 0, 1, 1, 1, 1],
            "method": ["real", "real", "real", "swap", "swap", "sbi", "sbi"],
            "score": [0.1, 0.4, 0.6, 0.9, 0.8, 0.3, 0.5],
        }
    )
    clips = videos.loc[videos.index.repeat(2)].reset_index(drop=True)
    found = metrics_by_method(videos, clips, 0.5)
    assert set(found) == {"swap", "sbi"}
    assert found["swap"]["video"]["auroc"] == pytest.approx(1.0)
    sbi = binary_metrics([0.1, 0.4, 0.6, 0.3, 0.5], [0, 0, 0, 1, 1], 0.5)
    assert found["sbi"]["video"] == pytest.approx(sbi)
    assert found["sbi"]["num_fake_videos"] == 2 and "clip" in found["sbi"]


def test_no_method_column_or_no_reals_gives_nothing() -> None:
    videos = pd.DataFrame({"label": [0, 1], "score": [0.2, 0.7]})
    assert metrics_by_method(videos, videos, 0.5) == {}
    fakes = pd.DataFrame({"label": [1, 1], "method": ["a", "b"], "score": [0.2, 0.7]})
    assert metrics_by_method(fakes, fakes, 0.5) == {}
