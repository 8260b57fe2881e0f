"""DFDC read from parts laid out like Kaggle's, each with its metadata.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import get_method

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.releases.dfdc import read_dfdc_metadata, read_dfdc_test
from dfd.datasets.splits import assign_splits
from helpers.release_trees import place, real_face_video


def write_parts(root: Path, parts: dict[str, dict[str, dict]]) -> None:
    for part, entries in parts.items():
        (root / part).mkdir(parents=True)
        (root / part / "metadata.json").write_text(json.dumps(entries))


def test_fakes_share_their_originals_group_even_across_parts(tmp_path: Path) -> None:
    write_parts(
        tmp_path,
        {
            "dfdc_train_part_0": {
                "orig1.mp4": {"label": "REAL", "split": "train"},
                "fake1a.mp4": {"label": "FAKE", "original": "orig1.mp4", "split": "train"},
                "broken.mp4": {"label": "UNSURE"},
            },
            "dfdc_train_part_1": {
                "fake1b.mp4": {"label": "FAKE", "original": "orig1.mp4", "split": "train"},
                "orig2.mp4": {"label": "REAL", "split": "train"},
                "fake2.mp4": {"label": "FAKE", "original": "orig2.mp4", "split": "train"},
            },
        },
    )
    table = read_dfdc_metadata(tmp_path)
    by_id = {video.video_id.split("/")[1]: video for video in table.videos}
    assert by_id["orig1"].group == by_id["fake1a"].group == by_id["fake1b"].group == "dfdc/orig1"
    assert by_id["fake2"].group == by_id["orig2"].group == "dfdc/orig2"
    assert by_id["orig1"].label == REAL and by_id["fake1b"].label == FAKE
    assert by_id["fake1b"].path == tmp_path / "dfdc_train_part_1" / "fake1b.mp4"
    assert all(video.split is None for video in table.videos)
    assert len(table.rejected) == 1 and "broken.mp4" in table.rejected[0][0]


def test_without_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        read_dfdc_metadata(tmp_path)


DFDC_TEST_LABELS = """filename,label
aalscayrfi.mp4,1
abhggqdift.mp4,0
acazlolrpz.mp4,1
notdownloaded.mp4,0
adohdulfwb.mp4,2
aalscayrfi.mp4,1
"""


def test_dfdc_test_set_is_all_test_with_labels_from_its_file(tmp_path: Path) -> None:
    root = tmp_path / "test"
    for name in ("aalscayrfi", "abhggqdift", "acazlolrpz", "adohdulfwb"):
        place(real_face_video(), root / f"{name}.mp4")
    (root / "labels.csv").write_text(DFDC_TEST_LABELS)
    table = read_dfdc_test(root)
    label_of = {video.video_id: video.label for video in table.videos}
    assert label_of == {"aalscayrfi": FAKE, "abhggqdift": REAL, "acazlolrpz": FAKE}
    assert {video.split for video in table.videos} == {"test"}
    assert len({video.group for video in table.videos}) == 3
    assert set(assign_splits(table.videos, 0.0, 0.0, seed=0).values()) == {"test"}
    reasons = [reason for _, reason in table.rejected]
    assert len(reasons) == 3
    assert "file not found" in reasons[0] and "unknown label '2'" in reasons[1]
    assert "duplicate" in reasons[2]


def test_dfdc_test_without_its_labels_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"DFDC test labels file not found: .*labels\.csv$"):
        read_dfdc_test(tmp_path)


@pytest.mark.parametrize(
    "old_path",
    [
        "dfd.datasets.labels.read_dfdc_metadata",
        "dfd.datasets.layouts.read_faceforensics",
        "dfd.datasets.layouts.read_celebdf",
    ],
)
def test_run_folders_naming_the_old_reader_paths_still_resolve(old_path: str) -> None:
    """Config snapshots of earlier runs name these readers by their old module."""
    assert get_method(old_path).__module__.startswith("dfd.datasets.releases.")
