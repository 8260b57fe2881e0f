"""The start-of-training check: does validation show people that training shows?"""

from __future__ import annotations

import pandas as pd

from dfd.datasets.identity_check import IdentityOverlap, identity_message, identity_overlap


def rows(*identity: str) -> pd.DataFrame:
    return pd.DataFrame({"video_id": [f"v{i}" for i in range(len(identity))], "identity": identity})


def test_shared_people_are_counted_and_warned_about() -> None:
    train = rows("anna", "bob", "carl;dana", "")
    val = rows("bob", "dana;erin", "erin", "")  # a swap names the filmed person and the donor
    overlap = identity_overlap(train, val)
    assert overlap == IdentityOverlap(shared=2, val=3, train=4)
    warn, message = identity_message(overlap)
    assert warn and message == (
        "validation shares 2 of 3 identities with training: checkpoint choice may reward "
        "memorising people; use a protocol / cv by identity"
    )


def test_unseen_validation_people_are_fine() -> None:
    overlap = identity_overlap(rows("anna", "bob;carl"), rows("dana", "erin"))
    assert overlap == IdentityOverlap(shared=0, val=2, train=3)
    warn, message = identity_message(overlap)
    assert not warn and "all unseen" in message


def test_missing_or_empty_identities_are_unknown() -> None:
    no_column = pd.DataFrame({"video_id": ["a", "b"]})
    for train, val in [
        (no_column, no_column),
        (rows("", " "), rows("anna")),
        (rows("anna"), rows("")),
    ]:
        assert identity_overlap(train, val) is None
    warn, message = identity_message(None)
    assert not warn and message.startswith("identities unknown")
