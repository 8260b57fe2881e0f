"""Standard dataset layouts, built as tiny trees of a real video, read by their label sources."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL, read_kaggle_csv
from dfd.datasets.layouts import read_celebdf, read_faceforensics, read_folder_tree
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from dfd.demo.media import fetch_media
from dfd.prepare.runner import PrepareSettings, prepare_dataset
from helpers.media import frame_folder

PAIRS = [("000", "003"), ("010", "011"), ("020", "021")]
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
    return fetch_media(["man_webcam"])["man_webcam"]


def place(video: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(video)


@pytest.fixture
def ff_tree(tmp_path: Path, real_video: Path) -> Path:
    root = tmp_path / "ff"
    for a, b in PAIRS:
        for original in (a, b):
            place(real_video, root / f"original_sequences/youtube/c23/videos/{original}.mp4")
    for method, (a, b) in zip(("Deepfakes", "Face2Face", "FaceSwap"), PAIRS):
        for target, source in ((a, b), (b, a)):
            place(
                real_video,
                root / f"manipulated_sequences/{method}/c23/videos/{target}_{source}.mp4",
            )
    place(real_video, root / "manipulated_sequences/Deepfakes/c23/videos/badname.mp4")
    splits = root / "splits"
    splits.mkdir()
    for split, pair in zip(("train", "val", "test"), PAIRS):
        (splits / f"{split}.json").write_text(json.dumps([list(pair)]))
    return root


def test_faceforensics_groups_originals_with_their_fakes(ff_tree: Path) -> None:
    table = read_faceforensics(
        ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
    )
    assert len(table.videos) == 12 and sum(v.label for v in table.videos) == 6
    group_of = {v.video_id.rsplit("/", 1)[-1]: v.group for v in table.videos}
    for a, b in PAIRS:
        assert group_of[a] == group_of[b] == group_of[f"{a}_{b}"] == group_of[f"{b}_{a}"]
    assert len(set(group_of.values())) == 3
    tags = {v.video_id.rsplit("/", 1)[-1]: (v.identity, v.method) for v in table.videos}
    a, b = PAIRS[0]
    assert tags[a] == (a, "real") and tags[f"{a}_{b}"] == (f"{a};{b}", "Deepfakes")
    reasons = dict(table.rejected)
    assert "name is not <target>_<source>" in reasons.values()
    assert any("NeuralTextures" in row for row in reasons)


def test_faceforensics_official_splits(ff_tree: Path) -> None:
    table = read_faceforensics(
        ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap"], splits_dir=ff_tree / "splits"
    )
    split_of = {v.video_id.rsplit("/", 1)[-1]: v.split for v in table.videos}
    for split, (a, b) in zip(("train", "val", "test"), PAIRS):
        assert split_of[a] == split_of[b] == split_of[f"{a}_{b}"] == split_of[f"{b}_{a}"] == split
    (ff_tree / "splits/test.json").write_text("[]")
    unlisted = read_faceforensics(ff_tree, methods=["FaceSwap"], splits_dir=ff_tree / "splits")
    assert sum("not in the official split files" in r for _, r in unlisted.rejected) == 4


def test_faceforensics_tree_prepares_without_leakage(ff_tree: Path, tmp_path: Path) -> None:
    table = read_faceforensics(ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap"])
    manifest = prepare_dataset(
        table,
        ff_tree,
        tmp_path / "prepared",
        PrepareSettings(num_frames=2),
        val_fraction=0.3,
        test_fraction=0.3,
        show_progress=False,
    )
    assert (manifest["status"] == "ok").all() and set(manifest["split"]) == {"train", "val", "test"}
    assert_no_group_leakage(manifest)


def test_folder_tree_labels_by_folder(tmp_path: Path, real_video: Path) -> None:
    place(real_video, tmp_path / "real/a.mp4")
    place(real_video, tmp_path / "real/day2/b.mp4")
    place(real_video, tmp_path / "fake/c.mp4")
    (tmp_path / "fake/notes.txt").write_text("not a video")
    frame_folder(tmp_path / "fake/d_frames", count=2)  # a video given as its frames
    table = read_folder_tree(tmp_path)
    assert {(v.video_id, v.label) for v in table.videos} == {
        ("real/a", 0),
        ("real/day2/b", 0),
        ("fake/c", 1),
        ("fake/d_frames", 1),
    }
    place(real_video, tmp_path / "only_real/real/x.mp4")
    with pytest.raises(FileNotFoundError, match="'fake/' folder"):
        read_folder_tree(tmp_path / "only_real")


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
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.layouts"):
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


@pytest.fixture
def kaggle_tree(tmp_path: Path, real_video: Path) -> Path:
    for name in "abcdef":
        place(real_video, tmp_path / f"{name}.mp4")
    (tmp_path / "metadata.csv").write_text(KAGGLE_CSV.lstrip())
    return tmp_path


def test_kaggle_groups_fakes_with_their_original(
    kaggle_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.labels"):
        table = read_kaggle_csv(kaggle_tree / "metadata.csv", kaggle_tree)
    assert [(v.video_id, v.label, v.group, v.split) for v in table.videos] == [
        ("a", REAL, "a", None),
        ("b", FAKE, "a", None),
        ("c", FAKE, "a", None),
        ("d", REAL, "d", None),
        ("e", FAKE, "e", None),
    ]
    assert "every video has split 'train'" in caplog.text


def test_a_label_row_may_name_a_folder_of_frames(kaggle_tree: Path) -> None:
    frame_folder(kaggle_tree / "frames_a", count=2)
    (kaggle_tree / "empty_dir").mkdir()
    (kaggle_tree / "frames.csv").write_text("filename,label\nframes_a,FAKE\nempty_dir,REAL\n")
    table = read_kaggle_csv(kaggle_tree / "frames.csv", kaggle_tree)
    assert [(v.video_id, v.label) for v in table.videos] == [("frames_a", FAKE)]
    assert table.rejected[0][1].startswith("neither a video file nor a folder of frames")


def test_kaggle_rejects_bad_rows_with_reasons(kaggle_tree: Path) -> None:
    rejected = read_kaggle_csv(kaggle_tree / "metadata.csv", kaggle_tree).rejected
    assert [row.split(" ", 1)[0] for row, _ in rejected] == [
        f"metadata.csv:{n}" for n in (7, 8, 9, 10)
    ]
    reasons = [reason for _, reason in rejected]
    assert reasons[0].startswith("file not found") and "gone.mp4" in reasons[0]
    assert reasons[1] == "unknown label 'MAYBE' (expected REAL/FAKE or 0/1)"
    assert reasons[2] == "empty file name"
    assert reasons[3] == "duplicate file 'a.mp4'"


def test_kaggle_custom_columns_and_preset_splits(kaggle_tree: Path) -> None:
    (kaggle_tree / "renamed.csv").write_text(
        "Video,Class,Source,Split\na.mp4,REAL,,test\nb.mp4,FAKE,a.mp4,test\nd.mp4,REAL,,holdout\n"
    )
    columns = {"file_column": "Video", "label_column": "Class", "original_column": "Source"}
    table = read_kaggle_csv(
        kaggle_tree / "renamed.csv", kaggle_tree, **columns, split_column="Split"
    )
    assert [(v.video_id, v.group, v.split) for v in table.videos] == [
        ("a", "a", "test"),
        ("b", "a", "test"),
        ("d", "d", None),
    ]
    unsplit = read_kaggle_csv(
        kaggle_tree / "renamed.csv", kaggle_tree, **columns, split_column=None
    )
    assert {v.split for v in unsplit.videos} == {None}
    with pytest.raises(ValueError, match="missing column"):
        read_kaggle_csv(kaggle_tree / "renamed.csv", kaggle_tree)
