"""Percentile bootstrap intervals of ranking metrics, resampling videos or whole groups.

A resample is a row of weights: how many times each video was drawn. The metrics work on the
weighted fake and real counts at each distinct score (a "tally"), so many resamples are scored
at once with numpy. Resamples that hold one class only are redrawn, and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dfd.eval.aggregate import to_numpy
from dfd.eval.metrics import Scores, as_scores_and_labels, has_both_classes

logger = logging.getLogger(__name__)
TallyMetric = Callable[[np.ndarray, np.ndarray], np.ndarray]
CHUNK_CELLS = 2_000_000  # weights drawn per batch of resamples (resamples x videos)
MAX_REDRAWS_PER_RESAMPLE = 10


def tally(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(fake, real): weighted counts at each distinct score, ascending; a row per row of weights."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    weights, fake = weights[:, order], labels[order] == 1
    return (
        np.add.reduceat(weights * fake, starts, axis=1),
        np.add.reduceat(weights * ~fake, starts, axis=1),
    )


def auroc_from_tally(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """AUROC per row: the share of (fake, real) pairs ranked right, ties counting one half."""
    real_below = np.cumsum(real, axis=1) - real
    wins = (fake * (real_below + real / 2)).sum(axis=1)
    return wins / (fake.sum(axis=1) * real.sum(axis=1))


def ap_from_tally(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Average precision per row: precision at each distinct threshold times the recall gained."""
    fake, real = fake[:, ::-1], real[:, ::-1]
    true_pos, false_pos = np.cumsum(fake, axis=1), np.cumsum(real, axis=1)
    flagged = true_pos + false_pos
    precision = np.divide(true_pos, flagged, out=np.zeros_like(flagged), where=flagged > 0)
    return (fake * precision).sum(axis=1) / fake.sum(axis=1)


TALLY_METRICS: dict[str, TallyMetric] = {"auroc": auroc_from_tally, "ap": ap_from_tally}


@dataclass(frozen=True)
class Bootstrap:
    """Metric values of the kept resamples, and how many one-class resamples were redrawn."""

    values: dict[str, np.ndarray]
    redrawn: int


def _metric_functions(metrics: Sequence[str]) -> dict[str, TallyMetric]:
    unknown = sorted(set(metrics) - set(TALLY_METRICS))
    if unknown:
        raise ValueError(f"no bootstrap for metrics {unknown}; choose from {sorted(TALLY_METRICS)}")
    return {name: TALLY_METRICS[name] for name in metrics}


def _clusters(groups: Scores | Sequence[object] | None, count: int) -> np.ndarray:
    if groups is None:
        return np.arange(count)
    codes = pd.factorize(to_numpy(groups), use_na_sentinel=False)[0]
    if len(codes) != count:
        raise ValueError(f"{len(codes)} groups for {count} videos")
    return codes


def _draw(rng: np.random.Generator, clusters: np.ndarray, count: int) -> np.ndarray:
    """Video weights of `count` resamples, each drawing as many clusters as there are."""
    size = int(clusters.max()) + 1
    drawn = rng.multinomial(size, np.full(size, 1 / size), size=count)
    return drawn[:, clusters].astype(np.float64)


def bootstrap_samples(
    scores: Scores,
    labels: Scores,
    groups: Scores | Sequence[object] | None = None,
    metrics: Sequence[str] = ("auroc", "ap"),
    resamples: int = 1000,
    seed: int = 0,
) -> Bootstrap:
    """Metric values on `resamples` bootstrap resamples that hold both classes.

    Videos are drawn with replacement; with `groups`, whole groups are (all videos of a drawn
    group come along). A resample with one class is redrawn; ValueError when that happens more
    than 10 times per kept resample.
    """
    functions = _metric_functions(metrics)
    scores, labels = as_scores_and_labels(scores, labels)
    if not has_both_classes(labels) or resamples < 1:
        raise ValueError("the bootstrap needs both real and fake videos and resamples >= 1")
    scores, labels = scores.numpy(), labels.numpy()
    clusters = _clusters(groups, len(scores))
    rng = np.random.default_rng(seed)
    kept: dict[str, list[np.ndarray]] = {name: [] for name in functions}
    collected = redrawn = 0
    while collected < resamples:
        if redrawn > MAX_REDRAWS_PER_RESAMPLE * resamples:
            raise ValueError(f"{redrawn} resamples had one class only; too few groups per class")
        count = min(max(1, CHUNK_CELLS // len(scores)), resamples - collected)
        fake, real = tally(scores, labels, _draw(rng, clusters, count))
        both = (fake.sum(axis=1) > 0) & (real.sum(axis=1) > 0)
        for name, function in functions.items():
            kept[name].append(function(fake[both], real[both]))
        collected, redrawn = collected + int(both.sum()), redrawn + int((~both).sum())
    return Bootstrap({name: np.concatenate(parts) for name, parts in kept.items()}, redrawn)


def bootstrap_ci(
    scores: Scores,
    labels: Scores,
    groups: Scores | Sequence[object] | None = None,
    metrics: Sequence[str] = ("auroc", "ap"),
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile interval (low, high) per metric at the given level; see `bootstrap_samples`."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    result = bootstrap_samples(scores, labels, groups, metrics, resamples, seed)
    if result.redrawn:
        logger.info("bootstrap: redrew %d resamples that had one class only", result.redrawn)
    tail = (1 - level) / 2
    return {
        name: (float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)))
        for name, values in result.values.items()
    }
