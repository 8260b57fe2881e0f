"""Celeb-DF read from a tree laid out like the release, with its official test list."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.celebdf import read_celebdf
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from helpers.release_trees import place, real_face_video

CELEB_REAL = ["id0_0000", "id0_0001", "id1_0000", "id2_0000", "id3_0000", "id4_0000"]
CELEB_FAKE = [
    "id0_id1_0000",
    "id1_id0_0000",
    "id0_id1_0001",
    "id2_id0_0000",
    "id3_id4_0000",
    "id4_id3_0000",
]
CELEB_TEST_LIST = """
1 YouTube-real/00000.mp4
1 Celeb-real/id3_0000.mp4
0 Celeb-synthesis/id3_id4_0000.mp4
0 Celeb-synthesis/id0_id1_0001.mp4
2 Celeb-real/id1_0000.mp4
1 Celeb-real/id9_0000.mp4
0 Celeb-real/id2_0000.mp4
garbage

"""
CELEB_TEST = {
    "YouTube-real/00000",
    "Celeb-real/id3_0000",
    "Celeb-synthesis/id3_id4_0000",
    "Celeb-synthesis/id0_id1_0001",
}


@pytest.fixture(scope="module")
def real_video() -> Path:
    return real_face_video()


@pytest.fixture
def celebdf_tree(tmp_path: Path, real_video: Path) -> Path:
    root = tmp_path / "Celeb-DF-v2"
    for name in CELEB_REAL:
        place(real_video, root / f"Celeb-real/{name}.mp4")
    for name in CELEB_FAKE:
        place(real_video, root / f"Celeb-synthesis/{name}.mp4")
    for name in ("00000", "00001", "00002"):
        place(real_video, root / f"YouTube-real/{name}.mp4")
    place(real_video, root / "Celeb-real/badname.mp4")
    place(real_video, root / "Celeb-synthesis/id5_0000.mp4")
    (root / "List_of_testing_videos.txt").write_text(CELEB_TEST_LIST.lstrip())
    return root


def test_celebdf_labels_and_official_test_split(
    celebdf_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.celebdf"):
        table = read_celebdf(celebdf_tree)
    by_id = {v.video_id: v for v in table.videos}
    assert len(by_id) == 15
    assert {i for i, v in by_id.items() if v.label == FAKE} == {
        f"Celeb-synthesis/{n}" for n in CELEB_FAKE
    }
    assert by_id["YouTube-real/00001"].label == by_id["Celeb-real/id0_0000"].label == REAL
    assert {i for i, v in by_id.items() if v.split == "test"} == CELEB_TEST
    assert all(v.split is None for i, v in by_id.items() if i not in CELEB_TEST)
    tags = {i: (v.identity, v.method) for i, v in by_id.items()}
    assert tags["Celeb-synthesis/id0_id1_0000"] == ("id0;id1", "Celeb-synthesis")
    assert tags["Celeb-real/id0_0000"] == ("id0", "real") and tags["YouTube-real/00001"] == (
        "",
        "real",
    )
    assert "4 identities and 1 source videos" in caplog.text


def test_celebdf_official_groups_by_source_video(celebdf_tree: Path) -> None:
    group = {v.video_id: v.group for v in read_celebdf(celebdf_tree).videos}
    assert (
        group["Celeb-synthesis/id0_id1_0000"]
        == group["Celeb-real/id0_0000"]
        == "Celeb-real/id0_0000"
    )
    assert group["Celeb-synthesis/id1_id0_0000"] == group["Celeb-real/id1_0000"]
    assert group["Celeb-synthesis/id0_id1_0001"] == "test/Celeb-real/id0_0001"
    assert group["Celeb-real/id0_0001"] == "Celeb-real/id0_0001"
    assert group["YouTube-real/00001"] == "YouTube-real/00001"


def test_celebdf_official_list_is_exactly_the_test_set(celebdf_tree: Path) -> None:
    videos = read_celebdf(celebdf_tree).videos
    splits = assign_splits(videos, val_fraction=0.3, test_fraction=0.0, seed=0)
    assert {video_id for video_id, split in splits.items() if split == "test"} == CELEB_TEST
    assert {"train", "val"} <= set(splits.values())
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in videos)


def test_celebdf_rejects_bad_names_and_test_list_lines(celebdf_tree: Path) -> None:
    reasons = dict(read_celebdf(celebdf_tree).rejected)
    assert reasons["Celeb-real/badname.mp4"] == "name is not id<X>_<NNNN>"
    assert reasons["Celeb-synthesis/id5_0000.mp4"] == "name is not id<X>_id<Y>_<NNNN>"
    lines = {
        row.split(" ", 1)[0]: reason for row, reason in reasons.items() if row.startswith("List_of")
    }
    assert set(lines) == {
        "List_of_testing_videos.txt:5",
        "List_of_testing_videos.txt:6",
        "List_of_testing_videos.txt:7",
        "List_of_testing_videos.txt:8",
    }
    assert "unknown label '2'" in lines["List_of_testing_videos.txt:5"]
    assert "not found" in lines["List_of_testing_videos.txt:6"]
    assert "contradicts" in lines["List_of_testing_videos.txt:7"]
    assert "'<label> <path>'" in lines["List_of_testing_videos.txt:8"]


def test_celebdf_identity_disjoint_keeps_each_identity_in_one_group(celebdf_tree: Path) -> None:
    (celebdf_tree / "List_of_testing_videos.txt").unlink()
    videos = read_celebdf(celebdf_tree, protocol="identity_disjoint").videos
    assert len(videos) == 15 and all(v.split is None for v in videos)
    groups_of: dict[str, set[str]] = {}
    for video in videos:
        for identity in video.path.stem.split("_"):
            if identity.startswith("id"):
                groups_of.setdefault(identity, set()).add(video.group)
    assert all(len(groups) == 1 for groups in groups_of.values())
    assert groups_of["id0"] == groups_of["id1"] == groups_of["id2"] == {"identity/id0"}
    assert groups_of["id3"] == groups_of["id4"] == {"identity/id3"}
    assert {v.group for v in videos if v.video_id.startswith("YouTube")} == {
        "YouTube-real/00000",
        "YouTube-real/00001",
        "YouTube-real/00002",
    }


def test_celebdf_missing_parts_are_clear_errors(celebdf_tree: Path) -> None:
    with pytest.raises(ValueError, match="unknown Celeb-DF protocol"):
        read_celebdf(celebdf_tree, protocol="random")
    with pytest.raises(FileNotFoundError, match="test list"):
        read_celebdf(celebdf_tree, test_list="missing.txt")
    for video in (celebdf_tree / "YouTube-real").iterdir():
        video.unlink()
    (celebdf_tree / "YouTube-real").rmdir()
    with pytest.raises(FileNotFoundError, match="'YouTube-real/' folder"):
        read_celebdf(celebdf_tree)


KAGGLE_CSV = """
filename,label,original,split,frames
a.mp4,REAL,,train,300
b.mp4,FAKE,a.mp4,train,300
c.mp4,fake,a.mp4,train,
d.mp4,REAL,NaN,train,
e.mp4,FAKE,,train,
gone.mp4,FAKE,a.mp4,train,
f.mp4,MAYBE,,train,
,REAL,,train,
a.mp4,REAL,,train,
"""
