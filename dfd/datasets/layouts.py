"""The simplest layout read from the folder structure itself: `real/` and `fake/` folders.

The benchmark datasets as released have their own readers in :mod:`dfd.datasets.releases`.
"""

from __future__ import annotations

from pathlib import Path

from dfd.datasets.labels import FAKE, REAL, LabeledVideo, LabelTable, video_id_for
from dfd.datasets.media import media_under, require_folder
from dfd.moved import moved_name


def read_folder_tree(root: str | Path) -> LabelTable:
    """`root/real/**` are real videos and `root/fake/**` fakes; each video is its own group."""
    root = Path(root)
    require_folder(root, "dataset folder")
    table = LabelTable()
    for name, label in (("real", REAL), ("fake", FAKE)):
        folder = root / name
        require_folder(folder, f"'{name}/' folder")
        for path in media_under(folder):
            video_id = video_id_for(path, root)
            table.videos.append(LabeledVideo(path, video_id, label, group=video_id))
    return table


def __getattr__(name: str) -> object:
    """Readers that moved to dfd.datasets.releases, for run folders that name them here."""
    return moved_name(__name__, name)
