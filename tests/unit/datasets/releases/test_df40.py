"""DF40 read from tiny trees laid out as DF40's preprocessing writes them and its dataset JSONs
list them: `<method>/{ff,cdf}/frames/<video>/`, synthesis images in folders named after reals,
`<method>/{fake,real}/`, and DF40_train's `<method>/frames/<video>/` with no ff/ level."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.df40 import read_df40
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from helpers.media import frame_folder
from helpers.release_trees import place_frames

FOLDERS = [
    "simswap/ff/frames/000_003",
    "simswap/ff/frames/003_000",
    "simswap/cdf/frames/id0_id1_0000",
    "MRAA/ff/frames/010_011",
    "MRAA/cdf/frames/id1_id16_0004",
    "danet/cdf/frames/id2_0000",
    "StyleGAN2/ff/003",
    "DiT/cdf/YouTube-real/00043",
    "heygen/fake/frames/a1",
    "heygen/real/r1",
]
TRAIN_FOLDERS = [
    "inswap/frames/993_989",
    "blendface/frames/993_989",
    "blendface/frames/001_870",
    "StyleGAN2/001",
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frame_folder(tmp_path_factory.mktemp("frames"), count=3)


def tree(root: Path, frames: Path, folders: list[str], landmarks: str) -> Path:
    """`folders` as frame folders under `root`, with DF40's landmarks (`.npy`, not a video)."""
    for folder in folders:
        place_frames(frames, root / folder)
    (root / landmarks).mkdir(parents=True)
    (root / landmarks / "000.npy").write_bytes(b"\0")
    return root


@pytest.fixture
def df40_tree(tmp_path: Path, frames: Path) -> Path:
    root = tree(tmp_path / "DF40", frames, FOLDERS, "simswap/ff/landmarks/000_003")
    place_frames(frames, root / "simswap/ff/masks/000_003")
    (root / "stray").mkdir()
    (root / "stray/notes.txt").write_text("no videos here")
    return root


def test_df40_frame_folders_labelled_by_method_and_grouped_by_source_ids(
    df40_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.df40"):
        table = read_df40(df40_tree)
    by_id = {v.video_id: v for v in table.videos}
    assert set(by_id) == set(FOLDERS)
    tags = {i: (v.label, v.method) for i, v in by_id.items()}
    assert tags["simswap/ff/frames/000_003"] == (FAKE, "simswap")
    assert tags["DiT/cdf/YouTube-real/00043"] == (FAKE, "DiT")
    assert tags["heygen/fake/frames/a1"] == (FAKE, "heygen")
    assert tags["heygen/real/r1"] == (REAL, "real")
    group = {i: v.group for i, v in by_id.items()}
    assert {group[f] for f in FOLDERS if "/ff/" in f and "MRAA" not in f} == {"df40/ff/000"}
    assert group["MRAA/ff/frames/010_011"] == "df40/ff/010"
    assert group["simswap/cdf/frames/id0_id1_0000"] == group["MRAA/cdf/frames/id1_id16_0004"]
    assert group["simswap/cdf/frames/id0_id1_0000"] == "df40/cdf/id0"
    assert group["danet/cdf/frames/id2_0000"] == "df40/cdf/id2"
    assert by_id["MRAA/cdf/frames/id1_id16_0004"].identity == "id1;id16"
    assert by_id["simswap/ff/frames/000_003"].identity == "000;003"
    alone = ["DiT/cdf/YouTube-real/00043", "heygen/fake/frames/a1", "heygen/real/r1"]
    assert all(group[i] == i for i in alone)
    assert {v.split for v in table.videos} == {"test"}
    assert "DF40: 3 of 10 videos are not named like" in caplog.text
    assert dict(table.rejected) == {
        "stray": f"no videos under ff/, cdf/, fake/, real/ or frames/ in {df40_tree / 'stray'}"
    }


def test_df40_chosen_methods_and_domains(df40_tree: Path) -> None:
    table = read_df40(df40_tree, methods=["simswap", "blendface"], domains=["cdf"], split=None)
    assert [v.video_id for v in table.videos] == ["simswap/cdf/frames/id0_id1_0000"]
    assert table.videos[0].split is None
    assert "method folder missing" in dict(table.rejected)["blendface"]
    assert {v.method for v in read_df40(df40_tree, methods="MRAA").videos} == {"MRAA"}
    with pytest.raises(ValueError, match="unknown DF40 domains"):
        read_df40(df40_tree, domains=["celebdf"])
    with pytest.raises(FileNotFoundError, match="DF40 folder not found"):
        read_df40(df40_tree / "missing")


def test_df40_train_method_folders_without_ff_are_ff_fakes_split_by_group(
    tmp_path: Path, frames: Path
) -> None:
    root = tree(tmp_path / "DF40_train", frames, TRAIN_FOLDERS, "inswap/landmarks/993_989")
    table = read_df40(root, split=None)
    by_id = {v.video_id: v for v in table.videos}
    assert set(by_id) == set(TRAIN_FOLDERS) and not table.rejected
    assert {(v.label, v.split) for v in table.videos} == {(FAKE, None)}
    assert by_id["inswap/frames/993_989"].group == by_id["blendface/frames/993_989"].group
    assert by_id["blendface/frames/001_870"].group == by_id["StyleGAN2/001"].group == "df40/ff/001"
    splits = assign_splits(table.videos, val_fraction=0.5, test_fraction=0.0, seed=0)
    assert set(splits.values()) == {"train", "val"}
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in table.videos)
    assert dict(read_df40(root, methods="inswap", domains=["cdf"]).rejected) == {
        "inswap": f"no videos under cdf/, fake/, real/ or frames/ in {root / 'inswap'}"
    }


def test_a_self_preprocessed_df40_tree_counts_each_video_once(tmp_path: Path, frames: Path) -> None:
    """Videos, cropped `frames/` and uncropped `frames_wocropface/` of the same fake: the
    cropped frames alone are the video (a domain without frames/ is still read whole)."""
    root = tree(tmp_path / "DF40", frames, FOLDERS[:1], "simswap/ff/landmarks/000_003")
    place_frames(frames, root / "simswap/ff/frames_wocropface/000_003")
    (root / "simswap/ff/mp4").mkdir()
    (root / "simswap/ff/mp4/000_003.mp4").write_bytes(b"\0")
    (root / "simswap/cdf/mp4").mkdir(parents=True)
    (root / "simswap/cdf/mp4/id0_id1_0000.mp4").write_bytes(b"\0")
    table = read_df40(root)
    assert sorted(v.video_id for v in table.videos) == [
        "simswap/cdf/mp4/id0_id1_0000",
        "simswap/ff/frames/000_003",
    ]
