"""UADFV read from a tree laid out like its zip (fake_videos/{real,fake})."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.uadfv import read_uadfv
from helpers.release_trees import place, real_face_video


@pytest.fixture
def uadfv_tree(tmp_path: Path) -> Path:
    root = tmp_path / "UADFV"
    for number in ("0000", "0017", "0048"):
        place(real_face_video(), root / f"fake_videos/real/{number}.mp4")
        place(real_face_video(), root / f"fake_videos/fake/{number}_fake.mp4")
    place(real_face_video(), root / "fake_videos/fake/clip_a.mp4")
    return root


def test_uadfv_pairs_by_number_and_keeps_odd_names(
    uadfv_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.uadfv"):
        table = read_uadfv(uadfv_tree)
    by_id = {v.video_id: v for v in table.videos}
    assert len(by_id) == 7 and not table.rejected
    real, fake = by_id["fake_videos/real/0017"], by_id["fake_videos/fake/0017_fake"]
    assert (real.label, real.method, fake.label, fake.method) == (REAL, "real", FAKE, "UADFV")
    assert real.group == fake.group == "uadfv/0017" and fake.identity == "0017"
    assert len({v.group for v in table.videos}) == 4
    odd = by_id["fake_videos/fake/clip_a"]
    assert (odd.label, odd.group, odd.identity) == (FAKE, "fake_videos/fake/clip_a", "")
    assert {v.split for v in table.videos} == {"test"}
    assert "UADFV: 1 videos are not named" in caplog.text


def test_uadfv_reads_the_folders_at_the_root_too(uadfv_tree: Path) -> None:
    (uadfv_tree / "fake_videos").rename(uadfv_tree.parent / "flat")
    table = read_uadfv(uadfv_tree.parent / "flat", split=None)
    assert len(table.videos) == 7 and {v.split for v in table.videos} == {None}
    assert {v.video_id for v in table.videos if v.group == "uadfv/0000"} == {
        "real/0000",
        "fake/0000_fake",
    }


def test_uadfv_without_its_fake_folder_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    with pytest.raises(FileNotFoundError, match="UADFV 'fake/' folder not found"):
        read_uadfv(tmp_path)
