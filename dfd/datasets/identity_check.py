"""Does validation show the people training shows? Then the checkpoint chosen on validation
may be the one that best remembers faces, not the one that best spots manipulations.

Pure functions of manifest rows: people come from the `identity` column (a face swap names
two, `filmed;donor`); a missing column or empty cells mean the people are unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dfd.datasets.labels import identities

IDENTITY_COLUMN = "identity"


@dataclass(frozen=True)
class IdentityOverlap:
    """How many of the validation identities training also shows."""

    shared: int
    val: int
    train: int


def people(rows: pd.DataFrame) -> set[str]:
    """Every identity the rows name (empty when they name none or have no identity column)."""
    if IDENTITY_COLUMN not in rows:
        return set()
    return {name for cell in rows[IDENTITY_COLUMN] for name in identities(cell)}


def identity_overlap(train: pd.DataFrame, val: pd.DataFrame) -> IdentityOverlap | None:
    """The validation identities that training shows too; None when either split names none."""
    train_people, val_people = people(train), people(val)
    if not train_people or not val_people:
        return None
    return IdentityOverlap(len(train_people & val_people), len(val_people), len(train_people))


def identity_message(overlap: IdentityOverlap | None) -> tuple[bool, str]:
    """(is it a warning, the message) for the start of training."""
    if overlap is None:
        return False, (
            "identities unknown (no identity column, or it is empty): cannot tell "
            "whether validation shows the people training shows"
        )
    if overlap.shared:
        return True, (
            f"validation shares {overlap.shared} of {overlap.val} identities with "
            "training: checkpoint choice may reward memorising people; use a protocol "
            "/ cv by identity"
        )
    return False, (
        f"validation identities ({overlap.val}) are all unseen in training "
        f"({overlap.train} identities)"
    )
