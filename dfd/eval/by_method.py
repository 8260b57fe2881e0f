"""Metrics per manipulation method: every real video against the fakes of one method.

A cross-manipulation protocol (train on one FaceForensics++ method, test on each other) and
any multi-method test set read their per-method AUCs from here; methods come from the
labels' `method` column.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dfd.eval.metrics import binary_metrics

REAL_METHODS = frozenset({"", "real"})


def metrics_by_method(
    videos: pd.DataFrame, clips: pd.DataFrame, threshold: float
) -> dict[str, dict[str, Any]]:
    """{method: {"num_fake_videos", "video": metrics[, "clip": metrics]}} of each fake method,
    against all real videos (and clips, when they carry the method); empty without a method
    column or without real videos."""
    if "method" not in videos.columns:
        return {}
    real = videos["label"] == 0
    methods = sorted(set(videos.loc[~real, "method"].fillna("").astype(str)) - REAL_METHODS)
    if not real.any():
        return {}
    found = {}
    for method in methods:
        keep = real | (videos["method"] == method)
        found[method] = {
            "num_fake_videos": int((videos["method"] == method).sum()),
            "video": binary_metrics(
                videos.loc[keep, "score"], videos.loc[keep, "label"], threshold
            ),
        }
        if "method" in clips.columns:
            kept = (clips["label"] == 0) | (clips["method"] == method)
            found[method]["clip"] = binary_metrics(
                clips.loc[kept, "score"], clips.loc[kept, "label"], threshold
            )
    return found
