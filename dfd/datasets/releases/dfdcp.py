"""DFDC Preview (DFDCP; Dolhansky et al., "The Deepfake Detection Challenge (DFDC) Preview
Dataset", arXiv:1910.08854, 2019) as it unzips: `fb_dfd_release_0.1_final/` holding
`dataset.json`, `original_videos/`, `method_A/` and `method_B/`, e.g.

    original_videos/<id>/<name>.mp4                          real
    method_A/1795659/1795659_B/2059066_1795659_B_001.mp4     fake made by method A

`dataset.json` maps each path (relative to the root) to at least `label` (real/fake) and `set`
(train/test).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath

from dfd.datasets.labels import (
    FAKE,
    IDENTITY_SEP,
    REAL_METHOD,
    LabeledVideo,
    LabelTable,
    parse_label,
    video_id_for,
)
from dfd.datasets.media import require_folder
from dfd.datasets.splits import LinkedIds

log = logging.getLogger(__name__)
DFDCP_FOLDERS = {"original_videos": REAL_METHOD, "method_A": "method_A", "method_B": "method_B"}
# `set` -> dfd split: the field's DFDCP is the `set == test` part (SBI's inference, DeepfakeBench's
# test); train videos get no split, so dfd draws validation from their groups
_DFDCP_SETS = {"test": "test", "train": None}


def read_dfdc_preview(root: str | Path, metadata: str = "dataset.json") -> LabelTable:
    """DFDC Preview with its own train/test sets: `set` "test" gives split "test", "train" none.

    The method is the first folder (`method_A`, `method_B`; `original_videos` is real). Videos
    are grouped by the numeric identity ids in their path (the folders and the name's fields
    before the clip number), linked so a fake joins every real of the people it shows. That the
    ids name people is inferred from the tree: the release does not document them. The
    official sets are kept exactly: a test video's group is `test/<ids>`, and the identities
    the two sets share are counted in a warning (the same allowance as Celeb-DF's test list).
    Rows with an unknown label or set, an unknown first folder or a label that contradicts it
    are rejected. DeepfakeBench validates on the test set (its val is a copy of test); dfd
    draws validation from the train set's groups, so no checkpoint is chosen on test.
    """
    root = Path(root)
    require_folder(root, "DFDC Preview folder")
    metadata_path = root / metadata
    if not metadata_path.is_file():
        raise FileNotFoundError(f"DFDC Preview metadata not found: {metadata_path}")
    entries = json.loads(metadata_path.read_text(encoding="utf-8"))
    table = LabelTable()
    kept: list[tuple[PurePosixPath, int, str | None, list[str]]] = []
    for name, entry in sorted(entries.items()):
        parsed, reason = _dfdcp_entry(name, entry)
        if parsed is None:
            table.rejected.append((f"{metadata}: {name}", reason))
        else:
            kept.append(parsed)
    linked = LinkedIds()
    for _, _, _, ids in kept:
        linked.link(ids)
    for relative, label, split, ids in kept:
        path = root / relative
        key = linked.find(ids[0]) if ids else video_id_for(path, root)
        table.videos.append(
            LabeledVideo(
                path,
                video_id_for(path, root),
                label,
                group=f"test/{key}" if split == "test" else key,
                split=split,
                identity=IDENTITY_SEP.join(ids),
                method=DFDCP_FOLDERS[relative.parts[0]],
            )
        )
    _warn_shared_identities(kept)
    return table


def _dfdcp_entry(
    name: str, entry: object
) -> tuple[tuple[PurePosixPath, int, str | None, list[str]] | None, str]:
    if not isinstance(entry, dict):
        return None, "entry is not an object"
    relative = PurePosixPath(name)
    folder = relative.parts[0] if len(relative.parts) > 1 else ""
    if folder not in DFDCP_FOLDERS:
        return None, f"first folder {folder!r} is none of {sorted(DFDCP_FOLDERS)}"
    label = parse_label(entry.get("label", ""))
    if label is None:
        return None, f"unknown label {entry.get('label')!r} (expected real/fake)"
    if (label == FAKE) != (folder != "original_videos"):
        return None, f"label {entry.get('label')!r} contradicts the folder {folder}"
    set_name = str(entry.get("set", "")).strip().lower()
    if set_name not in _DFDCP_SETS:
        return None, f"unknown set {entry.get('set')!r} (expected train/test)"
    return (relative, label, _DFDCP_SETS[set_name], _identity_ids(relative)), ""


def _identity_ids(relative: PurePosixPath) -> list[str]:
    """The numeric ids of the folders, then those of the name's fields before its last (the
    clip number): `method_A/1795659/1795659_B/2059066_1795659_B_001` -> 1795659, 2059066."""
    fields = [*relative.parts[1:-1], *relative.stem.split("_")[:-1]]
    ids = [part for folder in fields for part in folder.split("_") if part.isdigit()]
    return list(dict.fromkeys(ids))


def _warn_shared_identities(kept: list[tuple[PurePosixPath, int, str | None, list[str]]]) -> None:
    test = {i for _, _, split, ids in kept if split == "test" for i in ids}
    train = {i for _, _, split, ids in kept if split != "test" for i in ids}
    if test & train:
        log.warning(
            "DFDC Preview: %d identity ids are in both the official test set and the train set "
            "(the official sets allow this; dfd keeps them as given)",
            len(test & train),
        )
