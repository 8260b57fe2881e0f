"""Label sources for standard dataset layouts, read from the folder structure itself.

Each returns a :class:`~dfd.data.labels.LabelTable` like the CSV and DFDC sources. Groups are
chosen so that no face leaks across splits: a fake and the originals it was made from share
one group.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from dfd.data.labels import FAKE, REAL, LabeledVideo, LabelTable, video_id_for

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")


def _videos_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def _require_dir(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} not found: {folder}")


def read_folder_tree(root: str | Path) -> LabelTable:
    """`root/real/**` are real videos and `root/fake/**` fakes; each video is its own group."""
    root = Path(root)
    _require_dir(root, "dataset folder")
    table = LabelTable()
    for name, label in (("real", REAL), ("fake", FAKE)):
        folder = root / name
        _require_dir(folder, f"'{name}/' folder")
        for path in _videos_under(folder):
            video_id = video_id_for(path, root)
            table.videos.append(LabeledVideo(path, video_id, label, group=video_id))
    return table


class _Groups:
    """Union-find over ids: every id linked to another ends up in one group (its smallest id)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def link(self, items: Iterable[str]) -> None:
        roots = sorted({self.find(item) for item in items})
        for other in roots[1:]:
            self.parent[other] = roots[0]


def _official_splits(splits_dir: Path) -> dict[str, str]:
    """FF++ split files (train.json, val.json, test.json: lists of [id, id] pairs) -> id: split."""
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        path = splits_dir / f"{split}.json"
        if not path.is_file():
            raise FileNotFoundError(f"FaceForensics++ split file not found: {path}")
        for pair in json.loads(path.read_text()):
            split_of.update({str(video): split for video in pair})
    return split_of


def read_faceforensics(root: str | Path, compression: str = "c23",
                       methods: Sequence[str] = FF_METHODS[:4],
                       splits_dir: str | Path | None = None) -> LabelTable:
    """FaceForensics++: `original_sequences/youtube/<c>/videos/<id>.mp4` and
    `manipulated_sequences/<method>/<c>/videos/<target>_<source>.mp4`.

    A fake links its two originals into one group (FF++ pairs them), so an original and all
    fakes made from it stay in one split. With `splits_dir`, the official split files fix
    the split of every pair; videos of ids they do not list are rejected.
    """
    root = Path(root)
    originals_dir = root / "original_sequences" / "youtube" / compression / "videos"
    _require_dir(originals_dir, "FaceForensics++ originals folder")
    entries: list[tuple[Path, int, list[str]]] = [
        (path, REAL, [path.stem]) for path in _videos_under(originals_dir)]
    table = LabelTable()
    for method in methods:
        method_dir = root / "manipulated_sequences" / method / compression / "videos"
        if not method_dir.is_dir():
            table.rejected.append((f"manipulated_sequences/{method}", f"folder missing: {method_dir}"))
            continue
        for path in _videos_under(method_dir):
            ids = path.stem.split("_")
            if len(ids) != 2:
                table.rejected.append((str(path.relative_to(root)), "name is not <target>_<source>"))
                continue
            entries.append((path, FAKE, ids))
    groups = _Groups()
    for _, _, ids in entries:
        groups.link(ids)
    split_of = _official_splits(Path(splits_dir)) if splits_dir else None
    for path, label, ids in entries:
        split = split_of.get(ids[0]) if split_of is not None else None
        if split_of is not None and split is None:
            table.rejected.append((str(path.relative_to(root)), "not in the official split files"))
            continue
        table.videos.append(LabeledVideo(path, video_id_for(path, root), label,
                                         group=f"ff{groups.find(ids[0])}", split=split))
    return table
