"""DF40 (Yan et al., "DF40: Toward Next-Generation Deepfake Detection", NeurIPS 2024;
github.com/YZY-stack/DF40) as its preprocessed frames are downloaded:

    DF40/<method>/ff/...     fakes made from FaceForensics++ videos, as frame folders
    DF40/<method>/cdf/...    fakes made from Celeb-DF videos
    DF40/<method>/fake/...   and <method>/real/: methods shipped with their own reals

`DF40_train/<method>/ff/` (the "known" methods, FF++ domain only) has the same shape. The README
shows only these levels: how folders are named inside `ff/` and `cdf/`, and how a fake names
the FF++ or Celeb-DF video it came from, are unconfirmed (DF40 gives them in DeepfakeBench JSON
files, not stored here). The reals of the `ff`/`cdf` methods are not in DF40: they are FF++'s and
Celeb-DF's own, read with `data=faceforensics` or `data=celebdf`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from dfd.datasets.labels import (
    FAKE,
    IDENTITY_SEP,
    REAL,
    REAL_METHOD,
    LabeledVideo,
    LabelTable,
    video_id_for,
)
from dfd.datasets.media import media_under, require_folder
from dfd.datasets.splits import LinkedIds

log = logging.getLogger(__name__)
DF40_DOMAINS = ("ff", "cdf")
# a frame folder's name as an FF++ id (000, 000_003) or a Celeb-DF name (id0_0000, id0_id1_0000)
_DF40_IDS = {
    "ff": re.compile(r"(\d{3})(?:_(\d{3}))?"),
    "cdf": re.compile(r"(id\d+)(?:_(id\d+))?_\d{4}"),
}


def read_df40(
    root: str | Path,
    methods: str | Sequence[str] = "all",
    domains: Sequence[str] = DF40_DOMAINS,
    split: str | None = "test",
) -> LabelTable:
    """Every frame folder (or video file) of `methods` ("all": every folder in `root`): under
    `<method>/<domain>/` for `domains` a fake, under `<method>/fake/` a fake, under
    `<method>/real/` a real; a fake's method is its method folder. A fake whose folder is named
    like an FF++ or Celeb-DF video (`000_003`, `id0_id1_0000`) is grouped with those ids (per
    domain, linked across methods), other videos alone; a warning counts them. `masks/` folders
    (DeepfakeBench's preprocessing writes them) are not videos and are skipped. DF40 is a test
    set, so every video gets `split` ("test"; None for `DF40_train` or to split by groups).
    A requested method without a folder, or a folder with none of ff/, cdf/, fake/, real/, is
    a rejected row.
    """
    root = Path(root)
    require_folder(root, "DF40 folder")
    unknown = sorted(set(domains) - set(DF40_DOMAINS))
    if unknown:
        raise ValueError(f"unknown DF40 domains {unknown}; expected {DF40_DOMAINS}")
    if isinstance(methods, str):
        methods = (
            sorted(p.name for p in root.iterdir() if p.is_dir()) if methods == "all" else [methods]
        )
    table = LabelTable()
    entries: list[tuple[Path, str, int, str, list[str]]] = []
    for method in methods:
        folders = _method_folders(root / method, domains)
        if not (root / method).is_dir():
            table.rejected.append((method, f"method folder missing: {root / method}"))
        elif not folders:
            expected = "/, ".join((*domains, "fake", "real"))
            table.rejected.append((method, f"no {expected}/ folder in {root / method}"))
        for kind, folder in folders:
            label = REAL if kind == "real" else FAKE
            for path in media_under(folder):
                if "masks" not in path.relative_to(folder).parts:
                    entries.append((path, kind, label, method, _ids(path.stem, kind)))
    linked = LinkedIds()
    for *_, ids in entries:
        linked.link(ids)
    table.videos = [
        LabeledVideo(
            path,
            video_id_for(path, root),
            label,
            group=f"df40/{linked.find(ids[0])}" if ids else video_id_for(path, root),
            split=split,
            identity=IDENTITY_SEP.join(i.split("/", 1)[1] for i in ids),
            method=method if label == FAKE else REAL_METHOD,
        )
        for path, _, label, method, ids in entries
    ]
    alone = sum(not ids for *_, ids in entries)
    if alone:
        log.warning(
            "DF40: %d of %d videos are not named like an FF++ or Celeb-DF video; each is its "
            "own group",
            alone,
            len(entries),
        )
    return table


def _method_folders(method_dir: Path, domains: Sequence[str]) -> list[tuple[str, Path]]:
    kinds = (*domains, "fake", "real")
    return [(kind, method_dir / kind) for kind in kinds if (method_dir / kind).is_dir()]


def _ids(name: str, kind: str) -> list[str]:
    """`ff/000`, `ff/003` for `000_003` in an ff folder; [] when the name does not parse."""
    pattern = _DF40_IDS.get(kind)
    match = pattern.fullmatch(name) if pattern else None
    return [f"{kind}/{i}" for i in match.groups() if i] if match else []
