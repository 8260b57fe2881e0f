"""Evaluation protocols as row selections: which manipulation methods each split keeps.

A protocol (``conf/protocol/<name>.yaml``, the ``protocol`` block) runs after the split is set
(the manifest's split column, or a cross-validation fold), so its test videos are always people
(leakage units) that training never saw. Real videos stay in every split; fake videos stay in a
split only when their ``method`` is one of that split's methods:

- ``train_methods``: a list of methods, or ``all``; ``[]`` trains on real videos only (with
  pseudo-fakes made online, see ``conf/protocol/real_only.yaml``);
- ``val_methods``: a list, ``all``, or ``train`` (the default: what training saw, so the
  checkpoint is never chosen on the test manipulations);
- ``test_methods``: a list, or ``all``.

Methods match case-insensitively; a fake without a method is kept only by ``all``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from dfd.datasets.folds import describe_splits, resolve_by
from dfd.datasets.labels import FAKE, REAL_METHOD

ALL, SAME_AS_TRAIN = "all", "train"
SPLITS = ("train", "val", "test")
Methods = tuple[str, ...] | str
_NO_METHODS = (
    "(none: give the labels a method column and prepare again; a demo built before "
    "it had one: make clean-demo demo-data)"
)


def _methods(value: object, key: str, allowed: Sequence[str]) -> Methods:
    """A list of method names (lower-cased, as a tuple) or one of the allowed words."""
    if isinstance(value, str):
        if value not in allowed:
            raise ValueError(
                f"protocol.{key} must be a list of methods or one of {list(allowed)}, got {value!r}"
            )
        return value
    if not isinstance(value, Sequence):
        raise ValueError(
            f"protocol.{key} must be a list of methods or one of {list(allowed)}, got {value!r}"
        )
    return tuple(str(method).strip().lower() for method in value)


@dataclass(frozen=True)
class Protocol:
    """A named row selection: the methods kept as fakes in train, val and test, and a note
    printed with its summary."""

    name: str
    train_methods: Methods = ALL
    val_methods: Methods = SAME_AS_TRAIN
    test_methods: Methods = ALL
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "train_methods", _methods(self.train_methods, "train_methods", (ALL,))
        )
        object.__setattr__(
            self, "val_methods", _methods(self.val_methods, "val_methods", (ALL, SAME_AS_TRAIN))
        )
        object.__setattr__(
            self, "test_methods", _methods(self.test_methods, "test_methods", (ALL,))
        )
        if isinstance(self.train_methods, tuple) and isinstance(self.test_methods, tuple):
            shared = sorted(set(self.train_methods) & set(self.test_methods))
            if shared:
                raise ValueError(
                    f"protocol {self.name}: method(s) {shared} are in both train_methods "
                    "and test_methods; a protocol tests on methods training never saw"
                )

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Protocol | None:
        """A protocol from the ``protocol`` block (None when there is none); unknown keys are errors."""
        if not config:
            return None
        config = dict(config)
        unknown = sorted(set(config) - {field.name for field in fields(cls)})
        if unknown:
            raise ValueError(
                f"unknown protocol key(s) {unknown}; expected name, train_methods, "
                "val_methods, test_methods, note"
            )
        if "name" not in config:
            raise ValueError("a protocol needs a name")
        return cls(**config)

    def methods(self, split: str) -> Methods:
        """The methods whose fakes ``split`` keeps (``all`` or a tuple)."""
        if split == "val" and self.val_methods == SAME_AS_TRAIN:
            return self.train_methods
        return {"train": self.train_methods, "val": self.val_methods, "test": self.test_methods}[
            split
        ]


def video_methods(rows: pd.DataFrame) -> pd.Series:
    """Each row's method, lower-cased: ``real`` for every real video, as written for a fake."""
    written = rows["method"].astype(str).str.strip().str.lower() if "method" in rows else ""
    return pd.Series(written, index=rows.index).where(rows["label"] == FAKE, REAL_METHOD)


def select_rows(rows: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """The rows the protocol keeps: every real video, and fakes of each split's methods.

    ValueError when a named method has no fake videos at all, or when a split that should hold
    fakes is left without any.
    """
    methods = video_methods(rows)
    fakes = rows["label"] == FAKE
    _check_named_methods(protocol, set(methods[fakes]))
    keep = ~fakes
    for split in SPLITS:
        wanted = protocol.methods(split)
        in_split = rows["split"] == split
        kept = in_split & fakes & (methods.isin(wanted) if isinstance(wanted, tuple) else True)
        if in_split.any() and wanted != () and not kept.any():
            raise ValueError(
                f"protocol {protocol.name}: the {split} split has no fake videos of "
                f"method(s) {_text(wanted)} (its fakes: "
                f"{_text(tuple(sorted(set(methods[in_split & fakes]))))})"
            )
        keep |= kept
    return rows[keep]


def _check_named_methods(protocol: Protocol, present: set[str]) -> None:
    named = {
        method
        for split in SPLITS
        if isinstance(protocol.methods(split), tuple)
        for method in protocol.methods(split)
    }
    missing = sorted(named - present)
    if missing:
        raise ValueError(
            f"protocol {protocol.name}: no fake video has method(s) {missing}; the "
            f"manifest's fake methods are {sorted(present) or _NO_METHODS}"
        )


def _text(methods: Methods) -> str:
    return methods if isinstance(methods, str) else ", ".join(methods) or "none"


def protocol_summary(rows: pd.DataFrame, protocol: Protocol) -> str:
    """What each split of the selected rows holds: videos per method, and who is in them."""
    methods = video_methods(rows)
    videos = rows.assign(method=methods).drop_duplicates("video_id")
    counts = []
    for split in SPLITS:
        per_method = videos[videos["split"] == split]["method"].value_counts().sort_index()
        text = ", ".join(f"{method} {count}" for method, count in per_method.items()) or "no videos"
        counts.append(f"{split} [{text}]")
    note = f". {protocol.note}" if protocol.note else ""
    return (
        f"protocol {protocol.name}: {'; '.join(counts)}; "
        f"{describe_splits(rows, resolve_by(rows, None))}{note}"
    )
