"""The generic layouts: real/ and fake/ folders, and Kaggle-style label CSVs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL, read_kaggle_csv
from dfd.datasets.layouts import read_folder_tree
from helpers.media import frame_folder
from helpers.release_trees import place, real_face_video


@pytest.fixture(scope="module")
def real_video() -> Path:
    return real_face_video()


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
