"""DF40 read from a tree of frame folders laid out like its README's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.df40 import read_df40
from helpers.media import frame_folder
from helpers.release_trees import place_frames

FOLDERS = [
    "simswap/ff/000_003",
    "simswap/ff/003_000",
    "simswap/cdf/id0_id1_0000",
    "fomm/ff/010_011",
    "fomm/ff/frames/003",
    "fomm/cdf/clip_x",
    "heygen/fake/a1",
    "heygen/real/r1",
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frame_folder(tmp_path_factory.mktemp("frames"), count=3)


@pytest.fixture
def df40_tree(tmp_path: Path, frames: Path) -> Path:
    root = tmp_path / "DF40"
    for folder in FOLDERS:
        place_frames(frames, root / folder)
    place_frames(frames, root / "simswap/ff/masks/000_003")
    place_frames(frames, root / "stray/images/x")
    return root


def test_df40_frame_folders_labelled_by_method_and_grouped_by_source_ids(
    df40_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.df40"):
        table = read_df40(df40_tree)
    by_id = {v.video_id: v for v in table.videos}
    assert set(by_id) == set(FOLDERS)
    tags = {i: (v.label, v.method) for i, v in by_id.items()}
    assert tags["simswap/ff/000_003"] == (FAKE, "simswap")
    assert tags["fomm/cdf/clip_x"] == (FAKE, "fomm")
    assert tags["heygen/fake/a1"] == (FAKE, "heygen") and tags["heygen/real/r1"] == (REAL, "real")
    group = {i: v.group for i, v in by_id.items()}
    assert group["simswap/ff/000_003"] == group["simswap/ff/003_000"] == group["fomm/ff/frames/003"]
    assert group["simswap/ff/000_003"] == "df40/ff/000"
    assert group["fomm/ff/010_011"] == "df40/ff/010"
    assert group["simswap/cdf/id0_id1_0000"] == "df40/cdf/id0"
    assert by_id["simswap/cdf/id0_id1_0000"].identity == "id0;id1"
    assert (
        group["fomm/cdf/clip_x"] == "fomm/cdf/clip_x"
        and group["heygen/real/r1"] == "heygen/real/r1"
    )
    assert {v.split for v in table.videos} == {"test"}
    assert "DF40: 3 of 8 videos are not named like" in caplog.text
    assert dict(table.rejected) == {
        "stray": f"no ff/, cdf/, fake/, real/ folder in {df40_tree / 'stray'}"
    }


def test_df40_chosen_methods_and_domains(df40_tree: Path) -> None:
    table = read_df40(df40_tree, methods=["simswap", "blendface"], domains=["cdf"], split=None)
    assert [v.video_id for v in table.videos] == ["simswap/cdf/id0_id1_0000"]
    assert table.videos[0].split is None
    assert "method folder missing" in dict(table.rejected)["blendface"]
    assert {v.method for v in read_df40(df40_tree, methods="fomm").videos} == {"fomm"}
    with pytest.raises(ValueError, match="unknown DF40 domains"):
        read_df40(df40_tree, domains=["celebdf"])
    with pytest.raises(FileNotFoundError, match="DF40 folder not found"):
        read_df40(df40_tree / "missing")
