"""FaceForensics++ and DFD read from trees laid out like the download script's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dfd.datasets.releases.faceforensics import read_deepfakedetection, read_faceforensics
from dfd.datasets.splits import assert_no_group_leakage
from dfd.prepare.runner import PrepareSettings, prepare_dataset
from helpers.release_trees import place, real_face_video

PAIRS = [("000", "003"), ("010", "011"), ("020", "021")]


@pytest.fixture(scope="module")
def real_video() -> Path:
    return real_face_video()


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


def test_method_presets_and_the_c0_folder(ff_tree: Path) -> None:
    (ff_tree / "original_sequences/youtube/c23").rename(ff_tree / "original_sequences/youtube/raw")
    for method in ("Deepfakes", "Face2Face", "FaceSwap"):
        folder = ff_tree / f"manipulated_sequences/{method}"
        (folder / "c23").rename(folder / "raw")
    table = read_faceforensics(ff_tree, compression="c0", methods="face_swap")
    assert {v.method for v in table.videos} == {"real", "Deepfakes", "FaceSwap"}
    assert [row for row, _ in table.rejected if "FaceShifter" in row]  # not downloaded: said
    with pytest.raises(ValueError, match="unknown FaceForensics\\+\\+ methods preset 'most'"):
        read_faceforensics(ff_tree, compression="c0", methods="most")
    with pytest.raises(ValueError, match="compression 'c30'"):
        read_faceforensics(ff_tree, compression="c30")


def test_missing_official_split_files_are_named_with_where_to_get_them(
    ff_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (ff_tree / "splits/val.json").unlink()
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.faceforensics"):
        table = read_faceforensics(ff_tree, methods="four", splits_dir=ff_tree / "splits")
    assert "val.json not found" in caplog.text and "ondyari/FaceForensics" in caplog.text
    assert all(video.split is None for video in table.videos) and len(table.videos) == 12


DFD_ORIGINALS = ["01__exit_phone_room", "02__exit_phone_room", "03__kitchen_pan", "04__kitchen_pan"]
DFD_FAKES = ["01_02__exit_phone_room__YVGY8LOK", "03_04__kitchen_pan__ZK95PQDE"]


@pytest.fixture
def dfd_tree(tmp_path: Path, real_video: Path) -> Path:
    root = tmp_path / "ff"
    for name in DFD_ORIGINALS:
        place(real_video, root / f"original_sequences/actors/c23/videos/{name}.mp4")
    for name in [*DFD_FAKES, "01_02_exit_phone_room"]:
        place(real_video, root / f"manipulated_sequences/DeepFakeDetection/c23/videos/{name}.mp4")
    return root


def test_dfd_groups_a_fake_with_both_actors_and_is_a_test_set(dfd_tree: Path) -> None:
    table = read_deepfakedetection(dfd_tree)
    by_name = {v.video_id.rsplit("/", 1)[-1]: v for v in table.videos}
    assert set(by_name) == {*DFD_ORIGINALS, *DFD_FAKES}
    fake = by_name["01_02__exit_phone_room__YVGY8LOK"]
    assert (fake.label, fake.identity, fake.method) == (1, "01;02", "DeepFakeDetection")
    assert (
        fake.group == by_name["01__exit_phone_room"].group == by_name["02__exit_phone_room"].group
    )
    assert fake.group != by_name["03__kitchen_pan"].group
    assert {v.split for v in table.videos} == {"test"}
    assert table.rejected == [
        (
            "manipulated_sequences/DeepFakeDetection/c23/videos/01_02_exit_phone_room.mp4",
            "name is not NN_MM__<scene>__<code>",
        )
    ]
    assert {v.split for v in read_deepfakedetection(dfd_tree, split=None).videos} == {None}
