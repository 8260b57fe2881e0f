"""Grouped train/val/test splits and the check that no group leaks across splits.

A group holds every video that shares an identity or a source (an original and its fakes).
Whole groups go to one split, so a model is never tested on a face it was trained on.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from dfd.datasets.labels import SPLITS, LabeledVideo


class LinkedIds:
    """Union-find over ids: every id linked to another ends up in one set, named by its smallest id."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        """The name of the set holding ``item`` (a new id is a set of its own)."""
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def link(self, items: Iterable[str]) -> None:
        """Put all ``items`` in one set."""
        roots = sorted({self.find(item) for item in items})
        for other in roots[1:]:
            self.parent[other] = roots[0]


class SplitLeakageError(AssertionError):
    """A group appears in more than one split."""


@dataclass
class _Group:
    name: str
    videos: list[LabeledVideo]
    labels: set[int] = field(init=False)

    def __post_init__(self) -> None:
        self.labels = {video.label for video in self.videos}

    @property
    def size(self) -> int:
        return len(self.videos)


def leaking_groups(rows: Iterable[tuple[str, str]] | pd.DataFrame) -> dict[str, list[str]]:
    """Every group found in more than one split, with those splits."""
    if isinstance(rows, pd.DataFrame):
        rows = zip(rows["group"], rows["split"])
    splits_of: dict[str, set[str]] = defaultdict(set)
    for group, split in rows:
        splits_of[str(group)].add(str(split))
    return {group: sorted(splits) for group, splits in splits_of.items() if len(splits) > 1}


def assert_no_group_leakage(rows: Iterable[tuple[str, str]] | pd.DataFrame) -> None:
    """Raise :class:`SplitLeakageError` naming every group found in more than one split."""
    leaking = leaking_groups(rows)
    if leaking:
        shown = "; ".join(
            f"{group!r} in {splits}" for group, splits in sorted(leaking.items())[:20]
        )
        raise SplitLeakageError(f"{len(leaking)} group(s) found in more than one split: {shown}")


def assign_splits(
    videos: list[LabeledVideo], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Map each video id to train/val/test, keeping whole groups together.

    Explicit ``split`` values on videos fix their whole group. The remaining groups are
    shuffled with ``seed`` and dealt out to reach the val/test fractions by clip count,
    first giving val and test one group of each class where that is possible. With at
    least three groups, every split whose fraction is above zero (and train) gets one
    unless explicit splits leave no group free to move.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad split fractions val={val_fraction} test={test_fraction}")
    groups = _groups(videos)
    chosen = _explicit_splits(groups)
    free = [group for group in groups if group.name not in chosen]
    random.Random(seed).shuffle(free)
    targets = {"val": val_fraction * len(videos), "test": test_fraction * len(videos)}
    members: dict[str, list[_Group]] = {split: [] for split in SPLITS}
    for group in groups:
        if group.name in chosen:
            members[chosen[group.name]].append(group)
    _seed_classes(free, members, targets)
    _fill_by_size(free, members, targets)
    if len(groups) >= 3:
        _ensure_non_empty(
            members, [s for s in SPLITS if s == "train" or targets[s] > 0], set(chosen)
        )
    result = {
        video.video_id: split
        for split, items in members.items()
        for group in items
        for video in group.videos
    }
    assert_no_group_leakage((video.group, result[video.video_id]) for video in videos)
    return result


def _groups(videos: list[LabeledVideo]) -> list[_Group]:
    by_name: dict[str, list[LabeledVideo]] = defaultdict(list)
    for video in videos:
        by_name[video.group].append(video)
    return [_Group(name, by_name[name]) for name in sorted(by_name)]


def _explicit_splits(groups: list[_Group]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for group in groups:
        explicit = {video.split for video in group.videos if video.split}
        if len(explicit) > 1:
            raise ValueError(
                f"group {group.name!r} has conflicting explicit splits {sorted(explicit)}"
            )
        if explicit:
            chosen[group.name] = explicit.pop()
    return chosen


def _count(items: list[_Group]) -> int:
    return sum(group.size for group in items)


def _seed_classes(
    free: list[_Group], members: dict[str, list[_Group]], targets: dict[str, float]
) -> None:
    """Give val and test the smallest free group of each class they lack, leaving train one too."""
    for split in ("val", "test"):
        if targets[split] <= 0:
            continue
        for label in sorted({label for group in free for label in group.labels}):
            if any(label in group.labels for group in members[split]):
                continue
            having = [group for group in free if label in group.labels]
            train_keeps_label = (
                any(label in group.labels for group in members["train"]) or len(having) > 1
            )
            if having and train_keeps_label:
                pick = min(having, key=lambda group: group.size)
                free.remove(pick)
                members[split].append(pick)


def _fill_by_size(
    free: list[_Group], members: dict[str, list[_Group]], targets: dict[str, float]
) -> None:
    """Deal the free groups: each goes where it most reduces a val/test deficit, else to train.

    The deficits are kept as running counts, so dealing stays linear in the number of groups.
    """
    deficits = {split: targets[split] - _count(members[split]) for split in ("val", "test")}
    for group in free:
        split = max(deficits, key=lambda name: deficits[name])
        if group.size < 2 * deficits[split]:
            members[split].append(group)
            deficits[split] -= group.size
        else:
            members["train"].append(group)
    free.clear()


def _ensure_non_empty(
    members: dict[str, list[_Group]], required: list[str], pinned: set[str]
) -> None:
    """Move the smallest movable group of the most populated split into any required empty split.

    Groups with an explicit split (``pinned``) never move, and no split is emptied to fill another.
    """
    for split in required:
        if members[split]:
            continue
        donor = max(SPLITS, key=lambda name: (len(members[name]), name == "train"))
        movable = [group for group in members[donor] if group.name not in pinned]
        if len(members[donor]) < 2 or not movable:
            continue
        pick = min(movable, key=lambda group: (group.size, group.name))
        members[donor].remove(pick)
        members[split].append(pick)
