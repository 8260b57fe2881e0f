"""DeeperForensics-1.0 read from a tree laid out like the release, with FF++ originals beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.deeperforensics import read_deeperforensics
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from helpers.release_trees import place, real_face_video

# the lists split by source actor: M101 train, W006 val, M004 test
SPLIT_LISTS = {
    "train": ["000_M101.mp4", "001_M101.mp4"],
    "val": ["010_W006.mp4"],
    "test": ["020_M004.mp4"],
}
FAKES = ["000_M101", "001_M101", "010_W006", "020_M004", "030_M005", "badname"]
SOURCES = [
    "M101/light_up/M101_light_up_happy_camera_front",
    "W006/BlendShape/W006_BlendShape_camera_left",
    "M004/M004_light_down_sad_camera_up",
]


@pytest.fixture
def df1_tree(tmp_path: Path) -> Path:
    root = tmp_path / "DeeperForensics-1.0"
    for variant in ("end_to_end", "end_to_end_level_3"):
        for name in FAKES:
            place(real_face_video(), root / f"manipulated_videos/{variant}/{name}.mp4")
    for name in SOURCES:
        place(real_face_video(), root / f"source_videos/{name}.mp4")
    place(real_face_video(), root / "source_videos/loose.mp4")
    (root / "lists/splits").mkdir(parents=True)
    for split, names in SPLIT_LISTS.items():
        (root / f"lists/splits/{split}.txt").write_text("\n".join(names) + "\n")
    for original in ("000", "001", "010", "020", "999", "extra"):
        place(
            real_face_video(), tmp_path / f"ff/original_sequences/youtube/c23/videos/{original}.mp4"
        )
    return root


def ff_reals(root: Path) -> Path:
    return root.parent / "ff/original_sequences/youtube/c23/videos"


def test_df1_fakes_follow_the_lists_and_ff_reals_their_fakes(df1_tree: Path) -> None:
    table = read_deeperforensics(df1_tree, reals_dir=ff_reals(df1_tree))
    by_id = {v.video_id: v for v in table.videos}
    assert set(by_id) == {
        *(
            f"manipulated_videos/end_to_end/{n}"
            for n in ("000_M101", "001_M101", "010_W006", "020_M004")
        ),
        *(f"ff_originals/{n}" for n in ("000", "001", "010", "020", "999")),
    }
    fake = by_id["manipulated_videos/end_to_end/000_M101"]
    assert (fake.label, fake.split, fake.method, fake.identity) == (
        FAKE,
        "train",
        "DF-VAE",
        "000;M101",
    )
    assert by_id["ff_originals/000"].label == REAL and by_id["ff_originals/000"].method == "real"
    # one actor's fakes tie their targets together
    assert fake.group == by_id["ff_originals/000"].group == by_id["ff_originals/001"].group
    assert by_id["ff_originals/020"].group == by_id["manipulated_videos/end_to_end/020_M004"].group
    splits = assign_splits(table.videos, val_fraction=0.0, test_fraction=0.0, seed=0)
    assert splits["ff_originals/010"] == "val" and splits["ff_originals/020"] == "test"
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in table.videos)
    reasons = dict(table.rejected)
    assert reasons["manipulated_videos/end_to_end/badname.mp4"] == "name is not <FF++ id>_<actor>"
    assert (
        reasons["manipulated_videos/end_to_end/030_M005.mp4"] == "not in the official split lists"
    )
    assert any(
        row.endswith("extra.mp4") and "FaceForensics++ id" in r for row, r in reasons.items()
    )


def test_df1_perturbed_variant_and_source_video_reals(df1_tree: Path) -> None:
    table = read_deeperforensics(df1_tree, variant="end_to_end_level_3", reals="source_videos")
    by_id = {v.video_id: v for v in table.videos}
    assert "manipulated_videos/end_to_end_level_3/010_W006" in by_id
    real = by_id["source_videos/W006/BlendShape/W006_BlendShape_camera_left"]
    assert (real.label, real.identity, real.split) == (REAL, "W006", None)
    assert real.group == by_id["manipulated_videos/end_to_end_level_3/010_W006"].group
    assert dict(table.rejected)["source_videos/loose.mp4"] == "not in an actor folder"


def test_df1_configuration_errors_are_clear(df1_tree: Path) -> None:
    with pytest.raises(ValueError, match="set data.labels.reals_dir"):
        read_deeperforensics(df1_tree)
    with pytest.raises(ValueError, match="unknown DeeperForensics-1.0 variant 'level_3'"):
        read_deeperforensics(df1_tree, variant="level_3", reals="source_videos")
    with pytest.raises(FileNotFoundError, match="'end_to_end_level_5' fakes folder not found"):
        read_deeperforensics(df1_tree, variant="end_to_end_level_5", reals="source_videos")
    (df1_tree / "lists/splits/val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"split list not found: .*val\.txt$"):
        read_deeperforensics(df1_tree, reals="source_videos")


def test_a_fake_in_two_split_lists_is_rejected_not_guessed(df1_tree: Path) -> None:
    train = df1_tree / "lists/splits/train.txt"
    first = train.read_text().split()[0]
    test = df1_tree / "lists/splits/test.txt"
    test.write_text(test.read_text() + first + "\n")
    table = read_deeperforensics(df1_tree, reals_dir=ff_reals(df1_tree))
    reasons = dict(table.rejected)
    assert reasons[f"manipulated_videos/end_to_end/{Path(first).stem}.mp4"] == (
        "listed in train.txt and test.txt"
    )
    assert Path(first).stem not in {Path(v.video_id).name for v in table.videos}
