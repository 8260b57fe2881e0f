"""DFDC Preview read from a tree laid out like `fb_dfd_release_0.1_final/` with its dataset.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.dfdcp import read_dfdc_preview
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from helpers.release_trees import place, real_face_video

ENTRIES = {
    "original_videos/1795659/1795659_A_001.mp4": {"label": "real", "set": "train"},
    "original_videos/2059066/2059066_A_001.mp4": {"label": "real", "set": "train"},
    "original_videos/643049/643049_A_001.mp4": {"label": "real", "set": "test"},
    "original_videos/700001/700001_A_001.mp4": {"label": "real", "set": "train"},
    "original_videos/700002/700002_A_001.mp4": {"label": "real", "set": "train"},
    "method_A/1795659/1795659_B/2059066_1795659_B_001.mp4": {"label": "fake", "set": "train"},
    "method_A/643049/643049_A/1003254_643049_A_001.mp4": {"label": "fake", "set": "test"},
    "method_B/1224068/1224068_C/643049_1224068_C_002.mp4": {"label": "fake", "set": "test"},
    "method_B/700001/700001_C/700002_700001_C_001.mp4": {"label": "fake", "set": "train"},
    "method_B/2059066/2059066_A/643049_2059066_A_001.mp4": {"label": "fake", "set": "test"},
    "method_B/1224068/1224068_C/1224068_1224068_C_003.mp4": {"label": "real", "set": "test"},
    "method_C/1/1_A/2_1_A_001.mp4": {"label": "fake", "set": "train"},
    "method_A/5/5_A/6_5_A_001.mp4": {"label": "fake", "set": "val"},
    "original_videos/7/7_A_001.mp4": {"label": "unsure", "set": "train"},
}


@pytest.fixture
def dfdcp_tree(tmp_path: Path) -> Path:
    root = tmp_path / "fb_dfd_release_0.1_final"
    for name in ENTRIES:
        place(real_face_video(), root / name)
    (root / "dataset.json").write_text(json.dumps(ENTRIES))
    return root


def test_dfdcp_labels_methods_and_official_test_set(
    dfdcp_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.dfdcp"):
        table = read_dfdc_preview(dfdcp_tree)
    by_name = {v.path.stem: v for v in table.videos}
    assert len(by_name) == 10
    assert {n for n, v in by_name.items() if v.label == FAKE} == {
        "2059066_1795659_B_001",
        "643049_2059066_A_001",
        "1003254_643049_A_001",
        "643049_1224068_C_002",
        "700002_700001_C_001",
    }
    assert by_name["1795659_A_001"].label == REAL and by_name["1795659_A_001"].method == "real"
    assert by_name["2059066_1795659_B_001"].method == "method_A"
    assert by_name["700002_700001_C_001"].method == "method_B"
    test = {n for n, v in by_name.items() if v.split == "test"}
    assert test == {
        "643049_A_001",
        "1003254_643049_A_001",
        "643049_1224068_C_002",
        "643049_2059066_A_001",
    }
    assert all(v.split is None for n, v in by_name.items() if n not in test)
    assert "1 identity ids are in both the official test set and the train set" in caplog.text


def test_dfdcp_groups_link_the_identity_ids_in_the_path(dfdcp_tree: Path) -> None:
    videos = read_dfdc_preview(dfdcp_tree).videos
    by_name = {v.path.stem: v for v in videos}
    fake = by_name["2059066_1795659_B_001"]
    assert fake.identity == "1795659;2059066"
    assert fake.group == by_name["1795659_A_001"].group == by_name["2059066_A_001"].group
    assert by_name["700001_A_001"].group == by_name["700002_700001_C_001"].group
    assert by_name["700001_A_001"].group != fake.group
    assert by_name["643049_A_001"].group == by_name["643049_1224068_C_002"].group
    assert by_name["643049_A_001"].group.startswith("test/")
    splits = assign_splits(videos, val_fraction=0.3, test_fraction=0.0, seed=0)
    assert {i for i, s in splits.items() if s == "test"} == {
        v.video_id for v in videos if v.split == "test"
    }
    assert {"train", "val"} <= set(splits.values())
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in videos)


def test_dfdcp_rejects_bad_rows_with_reasons(dfdcp_tree: Path) -> None:
    reasons = {
        row.split(": ", 1)[1]: reason for row, reason in read_dfdc_preview(dfdcp_tree).rejected
    }
    assert len(reasons) == 4
    assert "contradicts" in reasons["method_B/1224068/1224068_C/1224068_1224068_C_003.mp4"]
    assert "first folder 'method_C'" in reasons["method_C/1/1_A/2_1_A_001.mp4"]
    assert "unknown set 'val'" in reasons["method_A/5/5_A/6_5_A_001.mp4"]
    assert "unknown label 'unsure'" in reasons["original_videos/7/7_A_001.mp4"]


def test_dfdcp_without_dataset_json_is_a_one_line_error(dfdcp_tree: Path) -> None:
    (dfdcp_tree / "dataset.json").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"DFDC Preview metadata not found: .*dataset\.json$"
    ):
        read_dfdc_preview(dfdcp_tree)
