"""The DeepFake Detection Challenge dataset (Dolhansky et al., "The DeepFake Detection Challenge
(DFDC) Dataset", arXiv:2006.07397, 2020) as Kaggle distributed it: `dfdc_train_part_<k>/`
folders of videos, each with a `metadata.json` mapping a file name to its `label` (REAL or FAKE)
and, for a fake, the file name of its `original`; and the public test set released after the
competition: a folder of videos with `labels.csv` (`filename,label`, 1 = fake) beside them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path, PurePosixPath

from dfd.datasets.labels import (
    FAKE,
    LabeledVideo,
    LabelTable,
    parse_label,
    read_kaggle_csv,
    video_id_for,
)
from dfd.datasets.media import require_folder


def read_dfdc_metadata(root: str | Path) -> LabelTable:
    """Every `metadata.json` under `root`. A fake is grouped with its original by the original's
    file name, which is unique across parts: an original in another part than its fake still
    shares its group, so the same face never lands in two splits."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"DFDC root folder not found: {root}")
    metadata_files = sorted(root.rglob("metadata.json"))
    if not metadata_files:
        raise FileNotFoundError(f"no metadata.json found under {root}")
    table = LabelTable()
    seen: set[str] = set()
    for metadata in metadata_files:
        entries = json.loads(metadata.read_text(encoding="utf-8"))
        for name, entry in sorted(entries.items()):
            video, reason = _video_from_entry(name, entry, metadata.parent, root, seen)
            if video is None:
                table.rejected.append((f"{metadata.relative_to(root).as_posix()}: {name}", reason))
            else:
                table.videos.append(video)
    return table


def _video_from_entry(
    name: str, entry: object, part_dir: Path, root: Path, seen: set[str]
) -> tuple[LabeledVideo | None, str]:
    if not isinstance(entry, dict):
        return None, "entry is not an object"
    label = parse_label(entry.get("label", ""))
    if label is None:
        return None, f"unknown label {entry.get('label')!r} (expected REAL/FAKE)"
    path = part_dir / name
    video_id = video_id_for(path, root)
    if video_id in seen:
        return None, f"duplicate video id {video_id!r}"
    seen.add(video_id)
    original = entry.get("original") if label == FAKE else None
    group = f"dfdc/{PurePosixPath(original or name).stem}"
    return LabeledVideo(path=path, video_id=video_id, label=label, group=group), ""


def read_dfdc_test(root: str | Path, labels_file: str = "labels.csv") -> LabelTable:
    """DFDC's public test set: the videos in `root` and `labels_file` beside them, columns
    `filename,label` with 1 = fake (as DeepfakeBench and SBI read it), every video in split
    "test". The set names no originals, so each video is its own group. The file lists 5000
    videos; a row whose video is not in `root` is rejected, as are unknown labels and repeats.
    """
    root = Path(root)
    require_folder(root, "DFDC test folder")
    labels = root / labels_file
    if not labels.is_file():
        raise FileNotFoundError(f"DFDC test labels file not found: {labels}")
    table = read_kaggle_csv(labels, root, split_column=None)
    table.videos = [replace(video, split="test") for video in table.videos]
    return table
