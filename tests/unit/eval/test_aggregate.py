"""Aggregation strategies, clip -> face -> video scores and the face/video tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dfd.eval.aggregate import (
    STRATEGIES,
    aggregate_by_video,
    aggregate_scores,
    bind_strategy,
    face_table,
    video_table,
)

TRACK = np.array([0.1, 0.9, 0.4, 0.6, 0.5])


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("mean", {}, 0.5),
        ("median", {}, 0.5),
        ("max", {}, 0.9),
        ("topk_mean", {}, (0.9 + 0.6 + 0.5) / 3),
        ("topk_mean", {"k": 1}, 0.9),
        ("topk_mean", {"k": 50}, 0.5),  # k above the count uses every clip
    ],
)
def test_simple_strategies(name: str, options: dict, expected: float) -> None:
    assert bind_strategy(name, **options)(TRACK) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.9, 0.85, 0.1, 0.5, 0.3], 0.875),  # 2 of 5 above 0.8 reach the fake share 0.4
        ([0.9, 0.5, 0.1, 0.5, 0.3], 0.46),  # 1 of 5 above 0.8: plain mean
        ([0.1] * 9 + [0.7], 0.1),  # 9 of 10 below 0.2 reach the real share 0.9
        ([0.1] * 8 + [0.7, 0.7], 0.22),  # 8 of 10: plain mean
        ([0.9] * 4 + [0.1] * 6, 0.9),  # the fake rule is tried first
    ],
)
def test_confident_strategy(scores: list[float], expected: float) -> None:
    assert bind_strategy("confident")(np.array(scores)) == pytest.approx(expected)


def test_confident_options() -> None:
    scores = np.array([0.7, 0.75, 0.3, 0.4])
    assert bind_strategy("confident", high=0.6, fake_share=0.5)(scores) == pytest.approx(0.725)
    assert bind_strategy("confident", low=0.5, real_share=0.5)(scores) == pytest.approx(0.35)


def test_unknown_strategy_or_option_raises() -> None:
    with pytest.raises(ValueError, match="unknown aggregation 'mode', choose from .*confident"):
        bind_strategy("mode")
    with pytest.raises(ValueError, match="'mean' has no option \\['k'\\]"):
        bind_strategy("mean", k=3)
    with pytest.raises(ValueError, match="k >= 1"):
        bind_strategy("topk_mean", k=0)(TRACK)


def test_registry_lists_every_strategy() -> None:
    assert sorted(STRATEGIES) == ["confident", "max", "mean", "median", "topk_mean"]


def test_faces_reduce_by_strategy_then_videos_by_max() -> None:
    scores = np.array([0.2, 0.4, 0.9, 0.1, 0.3, 0.6])
    faces = np.array([0, 0, 1, 1, 0, 0])
    videos = np.array([7, 7, 7, 7, 3, 3])
    ids, video_scores = aggregate_scores(scores, faces, videos, "mean")
    assert ids.tolist() == [3, 7]
    assert video_scores == pytest.approx([0.45, 0.5])  # video 7: faces 0.3 and 0.5
    ids, video_scores = aggregate_scores(
        torch.tensor(scores), torch.tensor(faces), torch.tensor(videos), "topk_mean", k=1
    )
    assert video_scores == pytest.approx([0.6, 0.9])


def test_aggregate_by_video_keeps_tensors_and_takes_any_strategy() -> None:
    scores = torch.tensor([0.2, 0.4, 0.9, 0.1, 0.3])
    labels = torch.tensor([0, 0, 1, 1, 1])
    video = torch.tensor([5, 5, 2, 2, 2])
    ids, median, video_labels = aggregate_by_video(scores, labels, video, "median")
    assert ids.tolist() == [2, 5] and video_labels.tolist() == [1, 0]
    assert median.dtype == torch.float32 and torch.allclose(median, torch.tensor([0.3, 0.3]))
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_by_video(scores, labels, video, "mode")


def clips_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": ["b", "b", "b", "a", "a", "c"],
            "face": [0, 0, 1, 0, 0, 0],
            "label": [1, 1, 1, 0, 0, 1],
            "score": [0.2, 0.4, 0.9, 0.1, 0.3, 0.5],
            "group": ["g1", "g1", "g1", "g2", "g2", "g3"],
            "method": ["swap", "swap", "swap", "real", "real", "blend"],
        }
    )


def test_video_table() -> None:
    table = video_table(clips_table(), "mean", threshold=0.5)
    assert list(table.columns) == [
        "video_id",
        "label",
        "score",
        "prediction",
        "num_clips",
        "num_faces",
        "group",
        "method",
    ]
    assert table["video_id"].tolist() == ["a", "b", "c"]
    assert table["score"].tolist() == pytest.approx([0.2, 0.9, 0.5])
    assert table["prediction"].tolist() == [0, 1, 1]  # score >= threshold is fake
    assert table["num_clips"].tolist() == [2, 3, 1]
    assert table["num_faces"].tolist() == [1, 2, 1]
    assert table["group"].tolist() == ["g2", "g1", "g3"]
    assert table["method"].tolist() == ["real", "swap", "blend"]


def test_video_table_without_optional_columns_and_with_options() -> None:
    clips = clips_table().drop(columns=["group", "method"])
    table = video_table(clips, "topk_mean", threshold=0.35, k=1)
    assert list(table.columns) == [
        "video_id",
        "label",
        "score",
        "prediction",
        "num_clips",
        "num_faces",
    ]
    assert table["score"].tolist() == pytest.approx([0.3, 0.9, 0.5])
    assert table["prediction"].tolist() == [0, 1, 1]


def test_face_table() -> None:
    table = face_table(clips_table(), "max")
    assert list(table.columns) == [
        "video_id",
        "face",
        "label",
        "score",
        "num_clips",
        "group",
        "method",
    ]
    assert list(zip(table["video_id"], table["face"])) == [("a", 0), ("b", 0), ("b", 1), ("c", 0)]
    assert table["score"].tolist() == pytest.approx([0.3, 0.4, 0.9, 0.5])
    assert table["num_clips"].tolist() == [2, 2, 1, 1]


def test_tables_name_missing_columns() -> None:
    with pytest.raises(ValueError, match="lacks the columns \\['score'\\]"):
        video_table(clips_table().drop(columns=["score"]))
