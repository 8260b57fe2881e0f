"""Label sources: the label CSV and DFDC metadata folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import (
    FAKE,
    REAL,
    LabeledVideo,
    identities,
    read_label_csv,
)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_csv_parses_labels_groups_and_splits(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "labels.csv",
        """
file,label,group,split
a.mp4,REAL,person1,
b.mp4,fake,person1,train
sub/c.mp4,0,,test
d.mp4,1,,
""",
    )
    table = read_label_csv(csv_path, tmp_path)
    assert table.rejected == []
    assert table.videos == [
        LabeledVideo(tmp_path / "a.mp4", "a", REAL, "person1", None),
        LabeledVideo(tmp_path / "b.mp4", "b", FAKE, "person1", "train"),
        LabeledVideo(tmp_path / "sub/c.mp4", "sub/c", REAL, "sub/c", "test"),
        LabeledVideo(tmp_path / "d.mp4", "d", FAKE, "d", None),
    ]


def test_csv_without_optional_columns_and_absolute_paths(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    csv_path = write_csv(
        tmp_path / "labels.csv",
        f"""
file,label
{root / "x" / "clip.mp4"},Real
""",
    )
    (video,) = read_label_csv(csv_path, root).videos
    assert (video.path, video.video_id, video.group, video.split) == (
        root / "x/clip.mp4",
        "x/clip",
        "x/clip",
        None,
    )


def test_csv_rejects_bad_rows_with_reasons(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "labels.csv",
        """
file,label,group,split
good.mp4,REAL,,
bad_label.mp4,maybe,,
,FAKE,,
bad_split.mp4,FAKE,,holdout
good.mp4,FAKE,,
""",
    )
    table = read_label_csv(csv_path, tmp_path)
    assert [video.video_id for video in table.videos] == ["good"]
    reasons = [reason for _, reason in table.rejected]
    assert len(reasons) == 4
    assert "unknown label 'maybe'" in reasons[0]
    assert reasons[1] == "empty file"
    assert "unknown split 'holdout'" in reasons[2]
    assert "duplicate file" in reasons[3]
    assert "labels.csv:3" in table.rejected[0][0]


def test_csv_identity_method_and_extra_columns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csv_path = write_csv(
        tmp_path / "labels.csv",
        """
file,label,group,Identity,method,quality,status
a.mp4,REAL,pair1, anna ,,hq,x
b.mp4,FAKE,pair1,anna; bob,swap,lq,x
c.mp4,REAL,pair1,bob,real,,x
""",
    )
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.labels"):
        table = read_label_csv(csv_path, tmp_path)
    assert [(v.identity, v.method, v.extra) for v in table.videos] == [
        ("anna", "", (("quality", "hq"),)),
        ("anna;bob", "swap", (("quality", "lq"),)),
        ("bob", "real", (("quality", ""),)),
    ]
    assert identities(table.videos[1].identity) == ["anna", "bob"] and identities("") == []
    assert "['status'] are named like manifest columns" in caplog.text


def test_csv_rejects_methods_that_contradict_the_label(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "labels.csv",
        """
file,label,method
a.mp4,REAL,swap
b.mp4,FAKE,Real
c.mp4,FAKE,
""",
    )
    table = read_label_csv(csv_path, tmp_path)
    assert [v.video_id for v in table.videos] == ["c"]
    assert [reason.split(" with")[0] for _, reason in table.rejected] == [
        "real video",
        "fake video",
    ]


def test_csv_does_not_check_that_videos_exist(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "labels.csv", "file,label\nnot_there.mp4,FAKE")
    assert len(read_label_csv(csv_path, tmp_path).videos) == 1


def test_missing_csv_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="label CSV not found"):
        read_label_csv(tmp_path / "nope.csv", tmp_path)


def test_csv_without_label_column_is_an_error(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "labels.csv", "file,kind\na.mp4,REAL")
    with pytest.raises(ValueError, match="label"):
        read_label_csv(csv_path, tmp_path)
