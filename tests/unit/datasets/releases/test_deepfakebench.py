"""DeepfakeBench's dataset JSONs read over a tiny rgb_dir of real frame folders, as its
rearrange step writes them (FF family with a compression level, Windows separators, `./`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dfd.datasets.labels import FAKE, REAL
from dfd.datasets.media import is_frame_folder
from dfd.datasets.releases.deepfakebench import deepfakebench_label, read_deepfakebench
from dfd.datasets.splits import assert_no_group_leakage, assign_splits
from helpers.media import frame_folder
from helpers.release_trees import place_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frame_folder(tmp_path_factory.mktemp("frames"), count=2)


def entries(
    rgb: Path, frames: Path, label: str, folder: str, names: list[str], style: str = ""
) -> dict:
    """{name: {label, frames}} for frame folders `<folder>/<name>` made under `rgb`; `style`
    "windows" writes `\\` separators, "dot" a leading `./`, as DeepfakeBench's JSONs do."""
    block = {}
    for name in names:
        place_frames(frames, rgb / folder / name)
        paths = [f"{folder}/{name}/{frame.name}" for frame in sorted(frames.iterdir())]
        if style == "windows":
            paths = [path.replace("/", "\\") for path in paths]
        elif style == "dot":
            paths = [f"./{path}" for path in paths]
        block[name] = {"label": label, "frames": paths}
    return block


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_ff_json_official_splits_methods_and_pair_groups(tmp_path: Path, frames: Path) -> None:
    rgb = tmp_path / "datasets/rgb"
    real = "FaceForensics++/original_sequences/youtube/c23/frames"
    ff = {
        "FF-real": {
            "train": {"c23": entries(rgb, frames, "FF-real", real, ["000", "003"], "windows")},
            "val": {"c23": entries(rgb, frames, "FF-real", real, ["010", "011"], "windows")},
            "test": {
                "c23": entries(rgb, frames, "FF-real", real, ["020", "021"], "windows"),
                "c40": {},
            },
        },
        **{
            label: {
                split: {
                    "c23": entries(
                        rgb,
                        frames,
                        label,
                        f"FaceForensics++/manipulated_sequences/{method}/c23/frames",
                        [name],
                        "dot",
                    )
                }
                for split, name in (("train", "000_003"), ("val", "011_010"), ("test", "021_020"))
            }
            for label, method in (("FF-DF", "Deepfakes"), ("FF-F2F", "Face2Face"))
        },
        "FF-NT": {"train": {"c40": {}}},
    }
    json_path = write_json(
        tmp_path / "preprocessing/dataset_json/FaceForensics++.json", {"FaceForensics++": ff}
    )
    table = read_deepfakebench(json_path, rgb)
    by_id = {v.video_id: v for v in table.videos}
    assert len(by_id) == 12 and all(is_frame_folder(v.path) for v in table.videos)
    df = by_id["FaceForensics++/manipulated_sequences/Deepfakes/c23/frames/000_003"]
    f2f = by_id["FaceForensics++/manipulated_sequences/Face2Face/c23/frames/000_003"]
    original = by_id[f"{real}/000"]
    assert (df.label, df.method, df.identity) == (FAKE, "FF-DF", "000;003")
    assert (original.label, original.method, original.identity) == (REAL, "real", "000")
    assert df.group == f2f.group == original.group == by_id[f"{real}/003"].group
    assert {v.split for v in table.videos if "000" in v.video_id or "003" in v.video_id} == {
        "train"
    }
    assert by_id[f"{real}/010"].split == "val" and by_id[f"{real}/021"].split == "test"
    assert (
        by_id[f"{real}/021"].group
        == by_id["FaceForensics++/manipulated_sequences/Face2Face/c23/frames/021_020"].group
    )
    assert dict(table.rejected) == {"FaceForensics++/FF-NT/train": "no c23 videos (found: c40)"}


def test_celebdf_json_test_list_is_test_and_the_rest_is_split_by_source(
    tmp_path: Path, frames: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rgb = tmp_path / "rgb"
    real, fake = "Celeb-DF-v2/Celeb-real/frames", "Celeb-DF-v2/Celeb-synthesis/frames"
    youtube = "Celeb-DF-v2/YouTube-real/frames"
    # as DeepfakeBench writes it: every video in train, the test list in test and val
    listed_real = entries(rgb, frames, "CelebDFv2_real", real, ["id0_0000", "id0_0001"])
    listed_youtube = entries(rgb, frames, "CelebDFv2_real", youtube, ["00170"])
    listed_fake = entries(
        rgb, frames, "CelebDFv2_fake", fake, ["id0_id1_0000", "id0_id1_0001", "id2_id1_0003"]
    )
    test_real = {"id0_0000": listed_real["id0_0000"], "00170": listed_youtube["00170"]}
    test_fake = {"id0_id1_0001": listed_fake["id0_id1_0001"]}
    data = {
        "Celeb-DF-v2": {
            "CelebDFv2_real": {
                "train": {**listed_real, **listed_youtube},
                "test": test_real,
                "val": test_real,
            },
            "CelebDFv2_fake": {"train": listed_fake, "test": test_fake, "val": test_fake},
        }
    }
    with caplog.at_level(logging.WARNING, logger="dfd.datasets.releases.deepfakebench"):
        table = read_deepfakebench(write_json(tmp_path / "Celeb-DF-v2.json", data), rgb)
    by_name = {v.path.name: v for v in table.videos}
    assert {n for n, v in by_name.items() if v.split == "test"} == {
        "id0_0000",
        "00170",
        "id0_id1_0001",
    }
    assert by_name["id0_id1_0000"].split is None and by_name["id0_0001"].split is None
    assert by_name["id0_id1_0001"].group == by_name["id0_0001"].group.replace(
        "Celeb", "test/Celeb", 1
    )
    assert by_name["id0_id1_0000"].identity == "id0;id1" and by_name["id0_0000"].identity == "id0"
    assert by_name["00170"].group == f"test/{youtube}/00170"
    assert "2 groups of linked ids have videos in more than one split" in caplog.text
    splits = assign_splits(table.videos, val_fraction=0.3, test_fraction=0.0, seed=0)
    assert {n for n, v in by_name.items() if splits[v.video_id] == "test"} == {
        "id0_0000",
        "00170",
        "id0_id1_0001",
    }
    assert_no_group_leakage((v.group, splits[v.video_id]) for v in table.videos)


def test_df40_json_per_method_labels_borrowed_reals_and_source_groups(
    tmp_path: Path, frames: Path
) -> None:
    # DF40's per-method JSONs: no compression level, <method>_Real/_Fake (roop_* in simswap_ff),
    # paths from the folder holding deepfakes_detection_datasets/, reals borrowed from FF++
    # and Celeb-DF, the evaluation videos listed in both val and test
    base = "deepfakes_detection_datasets"
    celeb_real = f"{base}/Celeb-DF-v2/Celeb-real/frames"
    reals = entries(tmp_path, frames, "blendface_Real", celeb_real, ["id0_0000", "id2_0000"])
    fake = f"{base}/DF40/blendface/cdf/frames"
    fakes = entries(tmp_path, frames, "blendface_Fake", fake, ["id0_id1_0000"])
    labels = {
        "blendface_Real": {"val": reals, "test": reals},
        "blendface_Fake": {"val": fakes, "test": fakes},
    }
    path = write_json(tmp_path / "blendface_cdf.json", {"blendface_cdf": labels})
    table = read_deepfakebench(path, tmp_path)
    by_id = {v.video_id: v for v in table.videos}
    assert not table.rejected and {v.split for v in table.videos} == {"test"}
    assert {i: (v.label, v.method) for i, v in by_id.items()} == {
        f"{celeb_real}/id0_0000": (REAL, "real"),
        f"{celeb_real}/id2_0000": (REAL, "real"),
        f"{fake}/id0_id1_0000": (FAKE, "blendface_Fake"),
    }
    assert by_id[f"{fake}/id0_id1_0000"].group == "test/blendface_cdf/id0_0000"
    assert by_id[f"{celeb_real}/id0_0000"].group == "test/blendface_cdf/id0_0000"
    assert by_id[f"{celeb_real}/id2_0000"].group == "test/blendface_cdf/id2_0000"

    ff_real = f"{base}/FaceForensics++/original_sequences/youtube/c23/frames"
    ff_reals = entries(tmp_path, frames, "roop_Real", ff_real, ["000", "003", "989"])
    ff_fakes = entries(tmp_path, frames, "roop_Fake", f"{base}/DF40/simswap/ff/frames", ["000_003"])
    train = entries(tmp_path, frames, "roop_Fake", f"{base}/DF40_train/simswap/frames", ["993_989"])
    labels = {
        "roop_Real": {"val": ff_reals, "test": ff_reals},
        "roop_Fake": {"train": train, "val": ff_fakes, "test": ff_fakes},
    }
    path = write_json(tmp_path / "simswap_ff.json", {"simswap_ff": labels})
    table = read_deepfakebench(path, tmp_path)
    by_name = {v.path.name: v for v in table.videos}
    assert not table.rejected
    assert {n for n, v in by_name.items() if v.label == FAKE} == {"000_003", "993_989"}
    assert {n for n, v in by_name.items() if v.label == REAL} == {"000", "003", "989"}
    assert {by_name[n].group for n in ("000_003", "000", "003")} == {"test/simswap_ff/000"}
    # the DF40_train fake shares FF++'s 989 with a test real, but keeps its own split's group
    assert by_name["993_989"].split is None and by_name["993_989"].group == "simswap_ff/989"
    assert by_name["989"].group == "test/simswap_ff/989"


def test_bad_entries_are_rejected_with_reasons(tmp_path: Path, frames: Path) -> None:
    rgb = tmp_path / "rgb"
    good = entries(rgb, frames, "DFDC_Real", "DFDC/test/frames", ["aaa", "bbb"])
    split_frames = [good["aaa"]["frames"][0], good["bbb"]["frames"][0]]
    data = {
        "DFDC": {
            "DFDC_Real": {
                "train": {"aaa": good["aaa"]},
                "val": good["bbb"],  # DeepfakeBench's DFDC val: one entry, not a dict of videos
                "test": {"bbb": good["bbb"]},
                "holdout": {},
            },
            "DFDC_Fake": {
                "train": {
                    "aaa": {**good["aaa"], "label": "DFDC_Fake"},
                    "ccc": {"label": "DFDC_Real", "frames": good["aaa"]["frames"]},
                    "ddd": {"label": "DFDC_Fake", "frames": []},
                    "eee": {"label": "DFDC_Fake", "frames": split_frames},
                    "fff": {"label": "DFDC_Fake", "frames": ["F:\\DFDC\\frames\\fff\\000.png"]},
                }
            },
        }
    }
    table = read_deepfakebench(write_json(tmp_path / "DFDC.json", data), rgb)
    assert {(v.path.name, v.label, v.split) for v in table.videos} == {
        ("aaa", REAL, None),
        ("bbb", REAL, "test"),
    }
    reasons = dict(table.rejected)
    assert reasons["DFDC/DFDC_Real/val"] == "one entry instead of a dict of videos"
    assert reasons["DFDC/DFDC_Real/holdout"] == "unknown split 'holdout'"
    assert reasons["DFDC/DFDC_Fake/train/aaa"] == "also listed as 'DFDC_Real'; kept that one"
    assert reasons["DFDC/DFDC_Fake/train/ccc"] == "label 'DFDC_Real' under label name 'DFDC_Fake'"
    assert reasons["DFDC/DFDC_Fake/train/ddd"] == "no frames listed"
    assert reasons["DFDC/DFDC_Fake/train/eee"] == "frames in 2 folders"
    assert reasons["DFDC/DFDC_Fake/train/fff"] == (
        "an absolute path not on this machine (F:/DFDC/frames/fff/000.png) nor under root"
    )
    assert len(reasons) == 7


def test_absolute_paths_of_another_machine_are_found_under_root(
    tmp_path: Path, frames: Path
) -> None:
    # a JSON written on its author's machine: absolute paths, rgb_dir somewhere else here
    rgb = tmp_path / "rgb"
    here = entries(rgb, frames, "e4e_Fake", "DF40/e4e/ff/frames", ["000_003", "gone", "001"])
    theirs = {
        name: {**entry, "frames": [f"/data/them/rgb/{frame}" for frame in entry["frames"]]}
        for name, entry in here.items()
    }
    # written on Windows: a drive letter and backslashes
    theirs["001"]["frames"] = [
        "D:\\them\\rgb\\" + frame.replace("/", "\\") for frame in here["001"]["frames"]
    ]
    for frame in (rgb / "DF40/e4e/ff/frames/gone").iterdir():
        frame.unlink()
    (rgb / "DF40/e4e/ff/frames/gone").rmdir()
    data = {"e4e_ff": {"e4e_Fake": {"test": theirs}}}
    table = read_deepfakebench(write_json(tmp_path / "e4e_ff.json", data), rgb)
    assert [(v.video_id, v.path) for v in table.videos] == [
        ("DF40/e4e/ff/frames/000_003", rgb / "DF40/e4e/ff/frames/000_003"),
        ("DF40/e4e/ff/frames/001", rgb / "DF40/e4e/ff/frames/001"),
    ]
    assert dict(table.rejected) == {
        "e4e_ff/e4e_Fake/test/gone": "an absolute path not on this machine "
        f"({theirs['gone']['frames'][0]}) nor under root"
    }


@pytest.mark.parametrize(
    ("label_name", "label"),
    [
        *(
            (name, REAL)
            for name in (
                "FF-real",
                "DFD_real",
                "CelebDFv1_real",
                "DFDCP_Real",
                "DFDC_Real",
                "DF_real",
                "UADFV_Real",
                "FSAll_Real",
            )
        ),
        *(
            (name, FAKE)
            for name in (
                "FF-DF",
                "FF-FH",
                "FF-SH",
                "DFD_fake",
                "CelebDFv2_fake",
                "DFDCP_FakeA",
                "DFDC_Fake",
                "DF_fake",
                "UADFV_Fake",
                "whichfaceisreal_Fake",
            )
        ),
    ],
)
def test_label_names_follow_deepfakebenchs_label_dict(label_name: str, label: int) -> None:
    assert deepfakebench_label(label_name) == label


def test_missing_json_or_ambiguous_dataset_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="DeepfakeBench dataset JSON not found"):
        read_deepfakebench(tmp_path / "FaceForensics++.json", tmp_path)
    two = write_json(tmp_path / "two.json", {"UADFV": {}, "DFDCP": {}})
    with pytest.raises(ValueError, match=r"set data.labels.dataset to one of \['DFDCP', 'UADFV'\]"):
        read_deepfakebench(two, tmp_path)
    assert read_deepfakebench(two, tmp_path, dataset="UADFV").videos == []
