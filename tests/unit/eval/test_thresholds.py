"""choose_threshold on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dfd.eval.thresholds import choose_threshold

SEPARATED = (np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
# ROC points by threshold: 0.8 -> (0, 1/3), 0.7 -> (0, 2/3), 0.6 -> (1/3, 2/3), 0.4 -> (1/3, 1)
OVERLAP = (np.array([0.1, 0.2, 0.6, 0.4, 0.7, 0.8]), np.array([0, 0, 0, 1, 1, 1]))


def test_eer_threshold() -> None:
    assert choose_threshold(*SEPARATED, rule="eer") == pytest.approx(0.8)
    # at 0.6 FPR = FNR = 1/3 exactly
    assert choose_threshold(*OVERLAP, rule="eer") == pytest.approx(0.6)


def test_eer_threshold_is_the_point_nearest_the_crossing() -> None:
    # ROC: 0.9 -> (0, 1/4), 0.6 -> (0, 3/4), 0.5 -> (1/3, 3/4), 0.3 -> (1/3, 1), ...
    # FPR - FNR: -3/4, -1/4, +1/12, +1/3: the crossing is nearest the point of threshold 0.5
    scores = np.array([0.5, 0.2, 0.1, 0.9, 0.6, 0.6, 0.3])
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    assert choose_threshold(scores, labels) == pytest.approx(0.5)


def test_youden_threshold() -> None:
    assert choose_threshold(*SEPARATED, rule="youden") == pytest.approx(0.8)
    # J: 0.8 -> 1/3, 0.7 -> 2/3, 0.6 -> 1/3, 0.4 -> 2/3: a tie goes to the higher threshold
    assert choose_threshold(*OVERLAP, rule="youden") == pytest.approx(0.7)


def test_inverted_scores_flag_nothing_under_youden() -> None:
    threshold = choose_threshold(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1]), "youden")
    assert math.isinf(threshold) and threshold > 0


def test_fixed_threshold_ignores_the_scores() -> None:
    assert choose_threshold(*SEPARATED, rule="fixed", value=0.3) == 0.3
    assert choose_threshold(np.array([0.5]), np.array([1]), rule="fixed") == 0.5


def test_accepts_tensors() -> None:
    scores, labels = OVERLAP
    assert choose_threshold(torch.tensor(scores), torch.tensor(labels)) == pytest.approx(0.6)


def test_unknown_rule_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown threshold rule 'f1'.*'eer', 'youden', 'fixed'"):
        choose_threshold(*SEPARATED, rule="f1")


@pytest.mark.parametrize("rule", ["eer", "youden"])
def test_one_class_cannot_choose_a_threshold(rule: str) -> None:
    with pytest.raises(ValueError, match="needs both real and fake labels"):
        choose_threshold(np.array([0.2, 0.7]), np.array([1, 1]), rule=rule)
