"""Standard dataset layouts, built as tiny trees of a real video, read by their label sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfd.data.layouts import read_faceforensics, read_folder_tree
from dfd.data.splits import assert_no_group_leakage
from dfd.fakes.media import fetch_media
from dfd.prepare.runner import PrepareSettings, prepare_dataset

PAIRS = [("000", "003"), ("010", "011"), ("020", "021")]


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
            place(real_video, root / f"manipulated_sequences/{method}/c23/videos/{target}_{source}.mp4")
    place(real_video, root / "manipulated_sequences/Deepfakes/c23/videos/badname.mp4")
    splits = root / "splits"
    splits.mkdir()
    for split, pair in zip(("train", "val", "test"), PAIRS):
        (splits / f"{split}.json").write_text(json.dumps([list(pair)]))
    return root


def test_faceforensics_groups_originals_with_their_fakes(ff_tree: Path) -> None:
    table = read_faceforensics(ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"])
    assert len(table.videos) == 12 and sum(v.label for v in table.videos) == 6
    group_of = {v.video_id.rsplit("/", 1)[-1]: v.group for v in table.videos}
    for a, b in PAIRS:
        assert group_of[a] == group_of[b] == group_of[f"{a}_{b}"] == group_of[f"{b}_{a}"]
    assert len(set(group_of.values())) == 3
    reasons = dict(table.rejected)
    assert "name is not <target>_<source>" in reasons.values()
    assert any("NeuralTextures" in row for row in reasons)


def test_faceforensics_official_splits(ff_tree: Path) -> None:
    table = read_faceforensics(ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap"],
                               splits_dir=ff_tree / "splits")
    split_of = {v.video_id.rsplit("/", 1)[-1]: v.split for v in table.videos}
    for split, (a, b) in zip(("train", "val", "test"), PAIRS):
        assert split_of[a] == split_of[b] == split_of[f"{a}_{b}"] == split_of[f"{b}_{a}"] == split
    (ff_tree / "splits/test.json").write_text("[]")
    unlisted = read_faceforensics(ff_tree, methods=["FaceSwap"], splits_dir=ff_tree / "splits")
    assert sum("not in the official split files" in r for _, r in unlisted.rejected) == 4


def test_faceforensics_tree_prepares_without_leakage(ff_tree: Path, tmp_path: Path) -> None:
    table = read_faceforensics(ff_tree, methods=["Deepfakes", "Face2Face", "FaceSwap"])
    manifest = prepare_dataset(table, ff_tree, tmp_path / "prepared", PrepareSettings(num_frames=2),
                               val_fraction=0.3, test_fraction=0.3, show_progress=False)
    assert (manifest["status"] == "ok").all() and set(manifest["split"]) == {"train", "val", "test"}
    assert_no_group_leakage(manifest)


def test_folder_tree_labels_by_folder(tmp_path: Path, real_video: Path) -> None:
    place(real_video, tmp_path / "real/a.mp4")
    place(real_video, tmp_path / "real/day2/b.mp4")
    place(real_video, tmp_path / "fake/c.mp4")
    (tmp_path / "fake/notes.txt").write_text("not a video")
    table = read_folder_tree(tmp_path)
    assert {(v.video_id, v.label) for v in table.videos} == {("real/a", 0), ("real/day2/b", 0), ("fake/c", 1)}
    place(real_video, tmp_path / "only_real/real/x.mp4")
    with pytest.raises(FileNotFoundError, match="'fake/' folder"):
        read_folder_tree(tmp_path / "only_real")
