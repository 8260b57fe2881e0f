"""WildDeepfake read from unpacked archives laid out like the release's, real frames in each."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.wilddeepfake import read_wilddeepfake
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from dfd.prepare.runner import PrepareSettings, prepare_dataset
from helpers.media import frame_folder
from helpers.release_trees import place_frames

SEQUENCES = [
    "fake_train/1/fake/131",
    "fake_train/1/fake/132",
    "fake_train/2/fake/7",
    "real_train/1/real/5",
    "real_train/3/real/9",
    "real_train/4/real/2",
    "fake_test/5/fake/40",
    "real_test/6/real/41",
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frame_folder(tmp_path_factory.mktemp("frames"), count=3)


@pytest.fixture
def wdf_tree(tmp_path: Path, frames: Path) -> Path:
    root = tmp_path / "deepfake_in_the_wild"
    for sequence in SEQUENCES:
        place_frames(frames, root / sequence)
    place_frames(frames, root / "fake_train/2/real/8")  # a real sequence in a fake archive
    place_frames(frames, root / "real_train/3/loose")  # not <N>/<label>/<seq>
    for archive in ("fake_train/1", "fake_train/2", "fake_train/9"):
        (root / f"{archive}.tar.gz").write_bytes(b"")
    return root


def test_wilddeepfake_sequences_are_videos_labelled_and_split_by_folder(wdf_tree: Path) -> None:
    table = read_wilddeepfake(wdf_tree)
    by_id = {v.video_id: v for v in table.videos}
    assert set(by_id) == set(SEQUENCES)
    assert (
        by_id["fake_train/1/fake/131"].label == FAKE and by_id["real_test/6/real/41"].label == REAL
    )
    assert by_id["fake_train/1/fake/131"].method == "WildDeepfake"
    assert {i for i, v in by_id.items() if v.split == "test"} == {
        "fake_test/5/fake/40",
        "real_test/6/real/41",
    }
    assert all(v.split is None for i, v in by_id.items() if "_train/" in i)
    assert (
        by_id["fake_train/1/fake/131"].group
        == by_id["fake_train/1/fake/132"].group
        == "wdf/train/1"
    )
    assert by_id["real_train/1/real/5"].group == "wdf/train/1"
    assert by_id["fake_test/5/fake/40"].group == "wdf/test/5"
    splits = assign_splits(table.videos, val_fraction=0.3, test_fraction=0.0, seed=0)
    assert {i for i, s in splits.items() if s == "test"} == {
        "fake_test/5/fake/40",
        "real_test/6/real/41",
    }
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in table.videos)
    reasons = dict(table.rejected)
    assert reasons["fake_train/2/real/8"] == "a real sequence in a fake folder"
    assert reasons["real_train/3/loose"] == "not <archive>/<real|fake>/<sequence>/ frames"
    assert reasons["fake_train/9.tar.gz"].startswith("not unpacked; run: cd ")
    assert len(reasons) == 3


def test_wilddeepfake_reads_the_readmes_spaced_names_and_only_test(wdf_tree: Path) -> None:
    for name in ("fake_test", "real_test"):
        (wdf_tree / name).rename(wdf_tree / name.replace("_", " "))
    table = read_wilddeepfake(wdf_tree, splits=["test"])
    assert {v.video_id for v in table.videos} == {"fake test/5/fake/40", "real test/6/real/41"}


def test_wilddeepfake_archives_alone_are_a_one_line_error_with_the_command(tmp_path: Path) -> None:
    for name in ("real_test", "fake_test"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "1.tar.gz").write_bytes(b"")
    with pytest.raises(
        FileNotFoundError, match=r"holds 1 archives and no unpacked frames.*tar -xf"
    ) as error:
        read_wilddeepfake(tmp_path, splits=["test"])
    assert "\n" not in str(error.value)
    with pytest.raises(FileNotFoundError, match="'real_train'"):
        read_wilddeepfake(tmp_path)


def test_wilddeepfake_frame_sequences_prepare_into_face_clips(
    wdf_tree: Path, tmp_path: Path
) -> None:
    """The release as it is, through preparation: every sequence is a face clip."""
    manifest = prepare_dataset(
        read_wilddeepfake(wdf_tree),
        wdf_tree,
        tmp_path / "prepared",
        PrepareSettings(num_frames=3, face_size=64, device="cpu"),
        val_fraction=0.2,
        test_fraction=0.0,
        show_progress=False,
    )
    assert (manifest["status"] == "ok").all(), manifest[["video_id", "reason"]]
    assert set(manifest["video_id"]) == set(SEQUENCES)
    assert set(manifest.loc[manifest.video_id.str.contains("_test/"), "split"]) == {"test"}
