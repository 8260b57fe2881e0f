"""Celeb-DF (v1 and v2, the same tree) as released, with its official test list."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


CELEBDF_FOLDERS = ("Celeb-real", "YouTube-real", "Celeb-synthesis")
CELEBDF_PROTOCOLS = ("official", "identity_disjoint")
_CELEB_REAL = re.compile(r"(id\d+)_(\d+)")
_CELEB_FAKE = re.compile(r"(id\d+)_(id\d+)_(\d+)")
_CELEBDF_TEST_LABELS = {"1": REAL, "0": FAKE}  # the test list's own code: 1 is real


@dataclass(frozen=True)
class _CelebVideo:
    path: Path
    video_id: str
    label: int
    identities: tuple[str, ...]  # celebrities whose faces it shows; none for YouTube-real
    source: str  # video id of the real video it was made from; its own id for a real


def read_celebdf(
    root: str | Path,
    test_list: str | Path = "List_of_testing_videos.txt",
    protocol: str = "official",
) -> LabelTable:
    """Celeb-DF v2: `Celeb-real/idX_NNNN.mp4`, `YouTube-real/NNNNN.mp4` (real) and
    `Celeb-synthesis/idX_idY_NNNN.mp4` (fake: video idX_NNNN with idY's face swapped in).

    `protocol="official"`: the videos named in `test_list` (lines `<1 real | 0 fake> <path>`,
    relative to `root`) get split "test", exactly as in published results. The official list
    shares identities, and even source videos, with the other videos, so grouping by identity
    (or by source) would drag most of the dataset into test. Instead every other video is
    grouped by its source video (a Celeb-real video with all its fakes, each YouTube-real
    video alone) for a clean train/val split, the listed videos get groups of their own
    (`test/<source>`), and the identities and source videos shared with the test list are
    counted in a warning. Bad or unmatched test-list lines are rejected.

    `protocol="identity_disjoint"`: the test list is ignored. A fake links its two identities
    (union-find), and every Celeb video is in the group of its identities, so no face is in
    two splits. Celeb-DF swaps faces within a few clusters of identities, so these groups
    are few and large.
    """
    if protocol not in CELEBDF_PROTOCOLS:
        raise ValueError(
            f"unknown Celeb-DF protocol {protocol!r}; expected one of {CELEBDF_PROTOCOLS}"
        )
    root = Path(root)
    require_folder(root, "Celeb-DF folder")
    table = LabelTable()
    videos = _celebdf_videos(root, table)
    if protocol == "identity_disjoint":
        table.videos = _identity_grouped(videos)
    else:
        listed = _official_test_ids(root / test_list, root, videos, table)
        table.videos = _official_grouped(videos, listed)
    return table


def _celebdf_videos(root: Path, table: LabelTable) -> list[_CelebVideo]:
    """Every video of the three folders; badly named ones go to ``table.rejected``."""
    videos = []
    for folder in CELEBDF_FOLDERS:
        require_folder(root / folder, f"Celeb-DF '{folder}/' folder")
        for path in media_under(root / folder):
            video, reason = _celebdf_video(path, folder, video_id_for(path, root))
            if video is None:
                table.rejected.append((path.relative_to(root).as_posix(), reason))
            else:
                videos.append(video)
    return videos


def _celebdf_video(path: Path, folder: str, video_id: str) -> tuple[_CelebVideo | None, str]:
    if folder == "YouTube-real":
        return _CelebVideo(path, video_id, REAL, (), video_id), ""
    if folder == "Celeb-real":
        if not _CELEB_REAL.fullmatch(path.stem):
            return None, "name is not id<X>_<NNNN>"
        return _CelebVideo(path, video_id, REAL, (path.stem.split("_")[0],), video_id), ""
    match = _CELEB_FAKE.fullmatch(path.stem)
    if match is None:
        return None, "name is not id<X>_id<Y>_<NNNN>"
    target, swapped_in, number = match.groups()
    return _CelebVideo(
        path, video_id, FAKE, (target, swapped_in), f"Celeb-real/{target}_{number}"
    ), ""


def _identity_grouped(videos: list[_CelebVideo]) -> list[LabeledVideo]:
    groups = LinkedIds()
    for video in videos:
        groups.link(video.identities)
    return [
        _labeled(v, f"identity/{groups.find(v.identities[0])}" if v.identities else v.video_id)
        for v in videos
    ]


def _labeled(video: _CelebVideo, group: str, split: str | None = None) -> LabeledVideo:
    """A Celeb-DF video with its identities (target, then the face swapped in) and its method
    (`Celeb-synthesis` for a fake)."""
    method = CELEBDF_FOLDERS[2] if video.label == FAKE else REAL_METHOD
    return LabeledVideo(
        video.path,
        video.video_id,
        video.label,
        group=group,
        split=split,
        identity=IDENTITY_SEP.join(video.identities),
        method=method,
    )


def _official_test_ids(
    list_path: Path, root: Path, videos: list[_CelebVideo], table: LabelTable
) -> set[str]:
    """The ids of the videos the official test list names; its bad lines go to ``table.rejected``."""
    if not list_path.is_file():
        raise FileNotFoundError(f"Celeb-DF test list not found: {list_path}")
    by_file = {video.path.relative_to(root).as_posix(): video for video in videos}
    listed: set[str] = set()
    for number, line in enumerate(list_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        video, reason = _listed_video(line, by_file)
        if video is None:
            table.rejected.append((f"{list_path.name}:{number} {line.strip()}", reason))
        else:
            listed.add(video.video_id)
    return listed


def _listed_video(line: str, by_file: dict[str, _CelebVideo]) -> tuple[_CelebVideo | None, str]:
    fields = line.split()
    if len(fields) != 2:
        return None, "line is not '<label> <path>'"
    label = _CELEBDF_TEST_LABELS.get(fields[0])
    if label is None:
        return None, f"unknown label {fields[0]!r} (expected 1 = real or 0 = fake)"
    video = by_file.get(PurePosixPath(fields[1]).as_posix())
    if video is None:
        return None, "video not found among the Celeb-DF videos read"
    if video.label != label:
        return None, f"label {fields[0]} contradicts the video's folder"
    return video, ""


def _official_grouped(videos: list[_CelebVideo], listed: set[str]) -> list[LabeledVideo]:
    test = [video for video in videos if video.video_id in listed]
    rest = [video for video in videos if video.video_id not in listed]
    _warn_test_overlap(test, rest)
    return [
        _labeled(v, f"test/{v.source}", "test") if v.video_id in listed else _labeled(v, v.source)
        for v in videos
    ]


def _warn_test_overlap(test: list[_CelebVideo], rest: list[_CelebVideo]) -> None:
    identities = {i for v in test for i in v.identities} & {i for v in rest for i in v.identities}
    sources = {v.source for v in test} & {v.source for v in rest}
    if identities or sources:
        log.warning(
            "Celeb-DF official protocol: %d identities and %d source videos are in both the "
            "official test list and the videos for train/val (the official split allows this; "
            "protocol=identity_disjoint avoids it)",
            len(identities),
            len(sources),
        )
