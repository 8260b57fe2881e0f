"""DF40 (Yan et al., "DF40: Toward Next-Generation Deepfake Detection", NeurIPS 2024;
github.com/YZY-stack/DF40) as its preprocessed frames are downloaded:

    DF40/<method>/ff/frames/<video>/     fakes made from FaceForensics++ videos
    DF40/<method>/cdf/frames/<video>/    fakes made from Celeb-DF videos
    DF40/<method>/{fake,real}/...        methods shipped with their own reals
    DF40_train/<method>/frames/<video>/  the "known" methods' training fakes, FF++ domain only

This is what DF40's own preprocessing writes (`DeepfakeBench_DF40/preprocessing/preprocess.py`:
each video of `<method>/ff/` or `<method>/cdf/` becomes `frames/<video stem>/<NNN>.png`, with
`landmarks/` of `.npy` files beside it) and what its dataset JSONs list (downloads, not in the
repository; public code reading them quotes `DF40/blendface/cdf/frames/id0_id1_0000/000.png` and
`DF40_train/inswap/frames/993_989/131.png`). DF40_train has no `ff/` level there, though the
README's tree shows one: a method folder with none of ff/, cdf/, fake/, real/ is read as ff/.
A face-swap or reenactment fake is named like the FF++ or Celeb-DF fake it redoes: FF++
`<target>_<source>` ids (`993_989`), Celeb-DF `id<target>_id<source>_<NNNN>` (`id1_id16_0004`),
or one source video's name (`id0_0000`). Entire-face-synthesis images are generated from
noise, not from a video (DF40 issue #16), but are filed in folders named after the reals:
`StyleGAN2/ff/001/` is grouped with FF++'s `001` like a fake, `DiT/cdf/YouTube-real/00043/` stays
alone. The reals of the ff/cdf methods are not in DF40: they are FF++'s and Celeb-DF's own, read
with `data=faceforensics` or `data=celebdf` (or DF40's JSONs, with `data=deepfakebench`).
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
# a frame folder's name as FF++ ids (001, 993_989) or a Celeb-DF name (id0_0000, id1_id16_0004)
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
    `<method>/real/` a real, directly under a method folder with none of these (DF40_train's) an
    ff fake; a fake's method is its method folder. A fake whose folder is named like an FF++ or
    Celeb-DF video (`993_989`, `id0_id1_0000`) is grouped with those ids (per domain, linked
    across methods), other videos alone; a warning counts them. `masks/` folders (DeepfakeBench's
    preprocessing writes them) are not videos and are skipped. DF40 is a test set, so every
    video gets `split` ("test"; None for `DF40_train` or to split by groups).
    A requested method without a folder, or without videos, is a rejected row.
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
    entries: list[tuple[Path, int, str, list[str]]] = []
    for method in methods:
        method_dir = root / method
        if not method_dir.is_dir():
            table.rejected.append((method, f"method folder missing: {method_dir}"))
            continue
        found = [
            (path, kind)
            for kind, folder in _method_folders(method_dir, domains)
            for path in media_under(folder)
            if "masks" not in path.relative_to(folder).parts
        ]
        if not found:
            expected = ", ".join(f"{kind}/" for kind in (*domains, "fake", "real"))
            table.rejected.append(
                (method, f"no videos under {expected} or frames/ in {method_dir}")
            )
        for path, kind in found:
            label = REAL if kind == "real" else FAKE
            entries.append((path, label, method, _ids(path.stem, kind)))
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
        for path, label, method, ids in entries
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
    """(kind, folder) to read: its ff/ and cdf/ (those in `domains`), fake/ and real/; a method
    folder with none of the four is DF40_train's, whose frames/ lies where ff/ would."""
    kinds = (*domains, "fake", "real")
    if not any((method_dir / kind).is_dir() for kind in (*DF40_DOMAINS, "fake", "real")):
        return [("ff", _frames_only(method_dir))] if "ff" in domains else []
    return [
        (kind, _frames_only(method_dir / kind)) for kind in kinds if (method_dir / kind).is_dir()
    ]


def _frames_only(folder: Path) -> Path:
    """`folder/frames` when there is one: a tree preprocessed by its user also keeps the videos
    and DeepfakeBench's `frames_wocropface/` (uncropped frames) beside it, each the same video
    again, which would be counted twice and scored on uncropped frames."""
    frames = folder / "frames"
    return frames if frames.is_dir() else folder


def _ids(name: str, kind: str) -> list[str]:
    """`ff/000`, `ff/003` for `000_003` in an ff folder; [] when the name does not parse."""
    pattern = _DF40_IDS.get(kind)
    match = pattern.fullmatch(name) if pattern else None
    return [f"{kind}/{i}" for i in match.groups() if i] if match else []
