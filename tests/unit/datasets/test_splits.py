"""Grouped splits and the leakage check."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from dfd.datasets.labels import LabeledVideo
from dfd.datasets.splits import SplitLeakageError, assert_no_group_leakage, assign_splits


def make_videos(groups: int, fakes_per_group: int = 2) -> list[LabeledVideo]:
    """Each group: one real original and its fakes, like a DFDC source video."""
    videos = []
    for g in range(groups):
        videos.append(LabeledVideo(Path(f"g{g}_real.mp4"), f"g{g}_real", 0, f"g{g}"))
        videos += [
            LabeledVideo(Path(f"g{g}_fake{k}.mp4"), f"g{g}_fake{k}", 1, f"g{g}")
            for k in range(fakes_per_group)
        ]
    return videos


def test_groups_stay_whole_and_fractions_are_approached() -> None:
    videos = make_videos(40)
    splits = assign_splits(videos, val_fraction=0.2, test_fraction=0.25, seed=0)
    assert set(splits) == {video.video_id for video in videos}
    assert_no_group_leakage((video.group, splits[video.video_id]) for video in videos)
    counts = Counter(splits.values())
    assert abs(counts["val"] - 0.2 * len(videos)) <= 3
    assert abs(counts["test"] - 0.25 * len(videos)) <= 3


def test_same_seed_same_split_other_seed_differs() -> None:
    videos = make_videos(30)
    first = assign_splits(videos, 0.2, 0.2, seed=3)
    assert assign_splits(list(videos), 0.2, 0.2, seed=3) == first
    assert assign_splits(videos, 0.2, 0.2, seed=4) != first


def test_every_split_gets_a_group_and_both_classes_when_possible() -> None:
    videos = [LabeledVideo(Path(f"{i}.mp4"), f"v{i}", i % 2, f"v{i}") for i in range(8)]
    splits = assign_splits(videos, 0.1, 0.1, seed=0)
    for split in ("train", "val", "test"):
        labels = {video.label for video in videos if splits[video.video_id] == split}
        assert labels == {0, 1}, split


def test_three_groups_fill_three_splits() -> None:
    videos = make_videos(3, fakes_per_group=0)
    assert sorted(assign_splits(videos, 0.15, 0.15, seed=0).values()) == ["test", "train", "val"]


def test_explicit_split_moves_its_whole_group() -> None:
    videos = make_videos(10)
    pinned = LabeledVideo(Path("g0_real.mp4"), "g0_real", 0, "g0", split="test")
    videos[0] = pinned
    for seed in range(5):
        splits = assign_splits(videos, 0.2, 0.2, seed=seed)
        assert {splits[v.video_id] for v in videos if v.group == "g0"} == {"test"}


def test_fully_explicit_splits_are_kept_as_given() -> None:
    videos = [
        LabeledVideo(Path(f"{i}.mp4"), f"v{i}", i % 2, f"v{i}", split="train") for i in range(4)
    ]
    assert set(assign_splits(videos, 0.2, 0.2, seed=0).values()) == {"train"}


def test_conflicting_explicit_splits_in_a_group_raise() -> None:
    videos = [
        LabeledVideo(Path("a.mp4"), "a", 0, "same", split="train"),
        LabeledVideo(Path("b.mp4"), "b", 1, "same", split="test"),
    ]
    with pytest.raises(ValueError, match="conflicting"):
        assign_splits(videos, 0.2, 0.2, seed=0)


def test_leakage_check_names_the_leaking_groups() -> None:
    assert_no_group_leakage([("a", "train"), ("a", "train"), ("b", "test")])
    with pytest.raises(SplitLeakageError, match="'a'") as caught:
        assert_no_group_leakage([("a", "train"), ("a", "test"), ("b", "val")])
    assert "'b'" not in str(caught.value)
    frame = pd.DataFrame({"group": ["x", "x", "y"], "split": ["val", "test", "val"]})
    with pytest.raises(AssertionError, match="'x'"):
        assert_no_group_leakage(frame)


def test_bad_fractions_raise() -> None:
    with pytest.raises(ValueError):
        assign_splits(make_videos(5), 0.6, 0.5, seed=0)
