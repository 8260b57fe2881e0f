"""Clip scores -> face-track scores -> video scores.

A strategy reduces the clip scores of one face track (a 1-D array) to one score; the face
scores of a video are then reduced by max (a video is fake if any of its faces is). To add a
strategy, write a function of the scores (options as keyword arguments) and register it in
`STRATEGIES`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api.typing import DataFrameGroupBy

Strategy = Callable[..., float]
CLIP_COLUMNS = ("video_id", "face", "label", "score")
EXTRA_COLUMNS = ("group", "method")


def mean(scores: np.ndarray) -> float:
    """Mean clip score."""
    return float(np.mean(scores))


def median(scores: np.ndarray) -> float:
    """Median clip score."""
    return float(np.median(scores))


def maximum(scores: np.ndarray) -> float:
    """Highest clip score."""
    return float(np.max(scores))


def topk_mean(scores: np.ndarray, k: int = 3) -> float:
    """Mean of the k highest clip scores (all of them when there are fewer than k)."""
    if k < 1:
        raise ValueError(f"topk_mean needs k >= 1, got {k}")
    return float(np.mean(np.sort(scores)[-k:]))


def confident(
    scores: np.ndarray,
    high: float = 0.8,
    low: float = 0.2,
    fake_share: float = 0.4,
    real_share: float = 0.9,
) -> float:
    """Mean of the confident clips, in the style of the DFDC winner.

    If at least `fake_share` of the scores are above `high`, the mean of those; else if at least
    `real_share` of them are below `low`, the mean of those; else the plain mean.
    """
    for confident_clips, share in ((scores > high, fake_share), (scores < low, real_share)):
        if confident_clips.any() and confident_clips.mean() >= share:
            return float(np.mean(scores[confident_clips]))
    return mean(scores)


STRATEGIES: dict[str, Strategy] = {
    "mean": mean,
    "median": median,
    "max": maximum,
    "topk_mean": topk_mean,
    "confident": confident,
}


def bind_strategy(name: str, **options: Any) -> Callable[[np.ndarray], float]:
    """The named strategy with its options bound; unknown names or options raise ValueError."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown aggregation '{name}', choose from {sorted(STRATEGIES)}")
    function = STRATEGIES[name]
    accepted = list(inspect.signature(function).parameters)[1:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"aggregation '{name}' has no option {unknown}; its options: {accepted}")
    return lambda scores: function(np.asarray(scores, dtype=np.float64), **options)


def to_numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A flat numpy array from a tensor (on any device), array or sequence."""
    if torch.is_tensor(values):
        values = values.detach().cpu().numpy()
    return np.asarray(values).reshape(-1)


def _tracks(clips: pd.DataFrame) -> DataFrameGroupBy:
    return clips.groupby(["video_id", "face"], dropna=False)


def aggregate_scores(
    scores: torch.Tensor | np.ndarray,
    face_idx: torch.Tensor | np.ndarray,
    video_idx: torch.Tensor | np.ndarray,
    strategy: str = "mean",
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique videos, video scores): clips -> face by strategy, faces -> video by max."""
    reduce = bind_strategy(strategy, **options)
    clips = pd.DataFrame(
        {"video_id": to_numpy(video_idx), "face": to_numpy(face_idx), "score": to_numpy(scores)}
    )
    videos = _tracks(clips)["score"].agg(reduce).groupby(level="video_id").max()
    return videos.index.to_numpy(), videos.to_numpy()


def aggregate_by_video(
    scores: torch.Tensor,
    labels: torch.Tensor,
    video_idx: torch.Tensor,
    how: str = "mean",
    face_idx: torch.Tensor | None = None,
    **options: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(video indices, video scores, video labels) as tensors.

    `how` is any strategy name, applied per face track (`face_idx`; one track per video when
    None), faces -> video by max; a video's label is its clips' highest (fake if any clip is).
    """
    faces = torch.zeros_like(video_idx) if face_idx is None else face_idx
    videos, video_scores = aggregate_scores(scores, faces, video_idx, how, **options)
    video_labels = pd.Series(to_numpy(labels)).groupby(to_numpy(video_idx)).max()
    return (
        torch.tensor(videos, device=video_idx.device),
        torch.tensor(video_scores, dtype=scores.dtype, device=scores.device),
        torch.tensor(video_labels.to_numpy(), dtype=labels.dtype, device=labels.device),
    )


def _check_columns(clips: pd.DataFrame) -> None:
    missing = [column for column in CLIP_COLUMNS if column not in clips.columns]
    if missing:
        raise ValueError(f"clips table lacks the columns {missing}; it needs {list(CLIP_COLUMNS)}")


def face_table(clips: pd.DataFrame, strategy: str = "mean", **options: Any) -> pd.DataFrame:
    """One row per face track, sorted: video_id, face, label, score, num_clips (+ group, method).

    `clips` has one row per clip with the columns video_id, face, label, score and optionally
    group and method (their first value per track is kept). The label is the track's highest.
    """
    _check_columns(clips)
    reduce = bind_strategy(strategy, **options)
    tracks = _tracks(clips)
    table = pd.DataFrame(
        {
            "label": tracks["label"].max(),
            "score": tracks["score"].agg(reduce),
            "num_clips": tracks.size(),
            **{column: tracks[column].first() for column in EXTRA_COLUMNS if column in clips},
        }
    )
    return table.reset_index()


def video_table(
    clips: pd.DataFrame, strategy: str = "mean", threshold: float = 0.5, **options: Any
) -> pd.DataFrame:
    """One row per video, sorted by video_id.

    Columns: video_id, label, score, prediction, num_clips, num_faces (+ group, method when the
    clips table has them, first value per video). The score is the highest face-track score,
    each track reduced by the strategy; prediction is 1 (fake) when score >= threshold.
    """
    faces = face_table(clips, strategy, **options)
    videos = faces.groupby("video_id", dropna=False)
    table = pd.DataFrame(
        {
            "label": videos["label"].max(),
            "score": videos["score"].max(),
            "num_clips": videos["num_clips"].sum(),
            "num_faces": videos.size(),
            **{column: videos[column].first() for column in EXTRA_COLUMNS if column in faces},
        }
    )
    table.insert(2, "prediction", (table["score"] >= threshold).astype(int))
    return table.reset_index()
