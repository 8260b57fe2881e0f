"""Cross-validation folds over leakage units: every video is tested once over the folds, and no
unit is ever in two of train, validation and test.

A leakage unit is the set of videos that must stay on one side of a split:

- ``by="group"``: one manifest group (an identity, a source video and its fakes, ...);
- ``by="identity"``: the people. Videos that share an identity, or share a group, form one unit
  (union-find). A face swap shows two people (its ``identity`` is ``filmed;donor``), so it ties
  both identities, and every video of either, into one unit: its donor's face is never in
  training while the filmed person is tested, or the reverse. Groups are never split either,
  since the manifest promises that (the datamodule checks it). Rows without an identity fall
  back to their group.

Fold ``i`` of ``k`` tests one k-th of the units (whole units, dealt largest first to the fold
with the fewest videos, ties to the one with fewer videos of the unit's main class); validation
is ``val_fraction`` of the other units' videos, as whole units, never test units; train is the
rest. ``folds="groups"`` tests one unit per fold (leave-one-unit-out, units in name order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from dfd.datasets.labels import identities
from dfd.datasets.splits import LinkedIds

LEAVE_ONE_OUT = "groups"
BY_CHOICES = ("identity", "group")
_SHOWN_UNITS = 8


@dataclass(frozen=True)
class CvSettings:
    """The ``data.cv`` block: ``folds`` (None: keep the manifest's splits; k >= 2; or "groups"),
    ``fold`` (0..k-1), ``by`` (identity | group | None: identity when the rows have any),
    ``seed`` (the order equal-sized units are dealt in) and ``val_fraction``. The defaults are
    conf/data/cv/default.yaml's (tests/unit/test_settings_defaults.py keeps them equal)."""

    folds: int | str | None = None
    fold: int = 0
    by: str | None = None
    seed: int = 0
    val_fraction: float = 0.15

    def __post_init__(self) -> None:
        if (
            self.folds is not None
            and self.folds != LEAVE_ONE_OUT
            and (isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2)
        ):
            raise ValueError(
                f"cv.folds must be null, a whole number >= 2 or '{LEAVE_ONE_OUT}' "
                f"(leave one unit out), got {self.folds!r}"
            )
        if isinstance(self.fold, bool) or not isinstance(self.fold, int) or self.fold < 0:
            raise ValueError(f"cv.fold must be a whole number >= 0, got {self.fold!r}")
        if self.by is not None and self.by not in BY_CHOICES:
            raise ValueError(f"cv.by must be one of {BY_CHOICES} or null, got {self.by!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"cv.val_fraction must lie in (0, 1), got {self.val_fraction!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CvSettings:
        """Settings from a ``data.cv`` mapping (None: cross-validation off); unknown keys are errors."""
        config = dict(config or {})
        unknown = sorted(set(config) - {field.name for field in fields(cls)})
        if unknown:
            raise ValueError(
                f"unknown cv key(s) {unknown}; expected folds, fold, by, seed, val_fraction"
            )
        return cls(**config)

    @property
    def enabled(self) -> bool:
        """Whether folds replace the manifest's split column."""
        return self.folds is not None


def resolve_by(rows: pd.DataFrame, by: str | None) -> str:
    """``by`` as given (checked), or identity when the rows name anyone, else group."""
    has_identity = "identity" in rows and rows["identity"].astype(str).str.strip().ne("").any()
    if by is None:
        return "identity" if has_identity else "group"
    if by not in BY_CHOICES:
        raise ValueError(f"cv.by must be one of {BY_CHOICES}, got {by!r}")
    if by == "identity" and not has_identity:
        raise ValueError(
            "cv.by=identity but the manifest names no identity (add an identity column "
            "to the labels and prepare again, or use cv.by=group)"
        )
    return by


def leakage_units(rows: pd.DataFrame, by: str | None = None) -> pd.Series:
    """The leakage unit of each row (aligned with ``rows``), see the module docstring.

    An identity unit is named by its people, ``anna+bob`` (``anna+bob+carl+5 more`` when large).
    """
    by = resolve_by(rows, by)
    groups = rows["group"].astype(str)
    if by == "group":
        return groups.rename("unit")
    people = [identities(cell) for cell in rows["identity"]]
    links = LinkedIds()
    for group, names in zip(groups, people):
        links.link([f"group\n{group}", *(f"identity\n{name}" for name in names)])
    roots = [links.find(f"group\n{group}") for group in groups]
    members: dict[str, set[str]] = {}
    for root, names in zip(roots, people):
        members.setdefault(root, set()).update(names)
    names = {root: _unit_name(found) or root.split("\n", 1)[1] for root, found in members.items()}
    return pd.Series([names[root] for root in roots], index=rows.index, name="unit")


def _unit_name(people: set[str]) -> str:
    ordered = sorted(people)
    more = f"+{len(ordered) - 3} more" if len(ordered) > 3 else ""
    return "+".join(ordered[:3]) + more


@dataclass(frozen=True)
class _Unit:
    name: str
    videos: int
    fakes: int


def _units(rows: pd.DataFrame, units: pd.Series) -> list[_Unit]:
    """Each unit with its video and fake-video counts, in name order."""
    videos = rows.assign(unit=units.to_numpy()).drop_duplicates("video_id")
    counts = videos.groupby("unit")["label"].agg(["size", "sum"])
    return [
        _Unit(str(name), int(size), int(fakes))
        for name, size, fakes in zip(counts.index, counts["size"], counts["sum"])
    ]


def _fold_of_units(units: list[_Unit], folds: int | str, seed: int) -> dict[str, int]:
    """Deal units to folds: one each for leave-one-out, else balanced by videos, then classes."""
    if folds == LEAVE_ONE_OUT:
        return {unit.name: index for index, unit in enumerate(units)}
    order = [units[i] for i in np.random.default_rng(seed).permutation(len(units))]
    order.sort(key=lambda unit: unit.videos, reverse=True)
    videos, fakes = [0] * folds, [0] * folds
    assigned = {}
    for unit in order:
        mostly_fake = 2 * unit.fakes >= unit.videos
        same_class = fakes if mostly_fake else [v - f for v, f in zip(videos, fakes)]
        best = min(range(folds), key=lambda k: (videos[k], same_class[k], k))
        videos[best] += unit.videos
        fakes[best] += unit.fakes
        assigned[unit.name] = best
    return assigned


def _validation_units(candidates: list[_Unit], fraction: float, seed: int, fold: int) -> set[str]:
    """Whole units holding about ``fraction`` of the candidates' videos (at least one unit, never
    all), with a unit of each class where the rest keeps that class too."""
    order = [
        candidates[i] for i in np.random.default_rng([seed, fold]).permutation(len(candidates))
    ]
    target = fraction * sum(unit.videos for unit in candidates)
    chosen: list[_Unit] = []
    total = 0  # videos in chosen, kept as a running count (linear in the units)
    for unit in order[:-1]:
        if not chosen or abs(total + unit.videos - target) < abs(total - target):
            chosen.append(unit)
            total += unit.videos
    for has_class in (lambda unit: unit.fakes > 0, lambda unit: unit.fakes < unit.videos):
        names = {unit.name for unit in chosen}
        rest = [unit for unit in order if unit.name not in names]
        if any(has_class(unit) for unit in chosen) or sum(map(has_class, rest)) < 2:
            continue
        chosen.append(min((unit for unit in rest if has_class(unit)), key=lambda unit: unit.videos))
    return {unit.name for unit in chosen}


def cross_validation_split(rows: pd.DataFrame, settings: CvSettings) -> pd.DataFrame:
    """``rows`` (manifest rows) with ``split`` replaced by fold ``settings.fold``'s train/val/test.

    Deterministic for the same rows and settings. ValueError for a fold out of range, more folds
    than units, or a fold that leaves fewer than two units for train and validation.
    """
    if not settings.enabled:
        return rows
    units = leakage_units(rows, settings.by)
    by = resolve_by(rows, settings.by)
    table = _units(rows, units)
    count = len(table) if settings.folds == LEAVE_ONE_OUT else int(settings.folds)
    if count > len(table):
        raise ValueError(
            f"cv.folds={settings.folds}: only {len(table)} leakage unit(s) by {by} "
            f"to deal into {count} folds"
        )
    if settings.fold >= count:
        raise ValueError(
            f"cv.fold={settings.fold} is out of range: {count} folds are numbered 0 to {count - 1}"
        )
    fold_of = _fold_of_units(table, settings.folds, settings.seed)
    test = {name for name, fold in fold_of.items() if fold == settings.fold}
    rest = [unit for unit in table if unit.name not in test]
    if len(rest) < 2:
        raise ValueError(
            f"cv fold {settings.fold} leaves {len(rest)} unit(s) by {by} outside the "
            "test fold: train and validation need at least one each (use fewer folds)"
        )
    val = _validation_units(rest, settings.val_fraction, settings.seed, settings.fold)
    split = units.map(lambda unit: "test" if unit in test else "val" if unit in val else "train")
    return rows.assign(split=split.to_numpy())


def fold_count(rows: pd.DataFrame, settings: CvSettings) -> int:
    """How many folds the settings make of these rows (k, or the number of units)."""
    if settings.folds == LEAVE_ONE_OUT:
        return int(leakage_units(rows, settings.by).nunique())
    return int(settings.folds)


def describe_splits(rows: pd.DataFrame, by: str | None = None) -> str:
    """``train 40 videos / 6 identities, val 8 / 1, test 12 / 2: test identities a, b``.

    Counts distinct videos and people per split (groups with ``by="group"``, or when the rows
    name no one).
    """
    by = resolve_by(rows, by)
    what = "identities" if by == "identity" else "groups"
    parts, test_names = [], []
    for split in ("train", "val", "test"):
        chosen = rows[rows["split"] == split]
        names = _people(chosen) if by == "identity" else sorted(set(chosen["group"].astype(str)))
        videos = chosen["video_id"].nunique()
        parts.append(
            f"{split} {videos} videos / {len(names)} {what}"
            if split == "train"
            else f"{split} {videos} / {len(names)}"
        )
        test_names = names if split == "test" else test_names
    shown = ", ".join(test_names[:_SHOWN_UNITS]) + (
        " ..." if len(test_names) > _SHOWN_UNITS else ""
    )
    return f"{', '.join(parts)}; test {what}: {shown or '(none)'}"


def _people(rows: pd.DataFrame) -> list[str]:
    return sorted({name for cell in rows["identity"] for name in identities(cell)})


def fold_summary(rows: pd.DataFrame, settings: CvSettings) -> str:
    """``cv fold 2 of 5 (by identity): train ...`` for rows split by :func:`cross_validation_split`."""
    by = resolve_by(rows, settings.by)
    return f"cv fold {settings.fold} of {fold_count(rows, settings)} (by {by}): {describe_splits(rows, by)}"
