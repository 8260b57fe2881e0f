"""Decision thresholds chosen on a validation set.

A threshold t predicts fake when `score >= t`. The `eer` and `youden` rules return an observed
score (or +inf for "nothing is fake"), so the operating point they pick is realised exactly.
"""

from __future__ import annotations

import numpy as np

from dfd.eval.metrics import Scores, as_scores_and_labels, equal_error, has_both_classes, roc_points

RULES = ("eer", "youden", "fixed")


def choose_threshold(
    scores: Scores, labels: Scores, rule: str = "eer", value: float = 0.5
) -> float:
    """Threshold by rule: `eer`, `youden` or `fixed` (returns `value`).

    `eer`: the ROC point nearest the equal error rate (smallest |FPR - FNR|). `youden`: the ROC
    point with the highest TPR - FPR. Ties go to the higher threshold. Both need real and fake
    labels and raise ValueError otherwise.
    """
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule '{rule}', choose from {list(RULES)}")
    if rule == "fixed":
        return float(value)
    scores, labels = as_scores_and_labels(scores, labels)
    if not has_both_classes(labels):
        raise ValueError(
            f"the '{rule}' threshold needs both real and fake labels; these have only one class"
        )
    fpr, tpr, thresholds = roc_points(scores, labels)
    best = equal_error(fpr, tpr)[1] if rule == "eer" else int(np.argmax(tpr - fpr))
    return float(thresholds[best])
