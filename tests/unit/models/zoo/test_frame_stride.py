"""Dense clips at a stated stride: a video detector that states `max_frame_stride` refuses, at
training start-up, frames prepared spread over each video, and names the dense preparation;
the same videos prepared at their frame rate train."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.datasets.manifest import frame_stride, ok_rows, read_manifest
from dfd.tasks.train import build_module_and_data
from helpers.runs import compose_train


@pytest.fixture(scope="module")
def dense_prepared(tiny_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny videos prepared densely: every frame (prepare.fps = the videos' 25 fps)."""
    from dfd.datasets.labels import read_label_csv
    from dfd.prepare.runner import PrepareSettings, prepare_dataset

    prepared = tmp_path_factory.mktemp("dense") / "prepared"
    prepare_dataset(
        read_label_csv(tiny_raw / "labels.csv", tiny_raw),
        tiny_raw,
        prepared,
        PrepareSettings(fps=25.0, max_frames=64, face_size=64),
        val_fraction=0.3,
        test_fraction=0.3,
        seed=0,
        show_progress=False,
    )
    return prepared / "manifest.csv"


def _compose(tmp_path: Path, manifest: Path):
    return compose_train(
        tmp_path,
        f"data.prepared_dir={manifest.parent}",
        "model=r3d_18",
        "+model.requires.max_frame_stride=1",
        "datamodule.clip_len=4",
        "datamodule.image_size=64",
        "datamodule.num_workers=0",
    )


def test_the_manifest_gives_the_frames_stride_and_fps(
    tiny_prepared: Path, dense_prepared: Path
) -> None:
    sparse, fps = frame_stride(ok_rows(read_manifest(tiny_prepared)))
    assert fps == 25.0
    assert sparse >= 3  # 4 frames spread over 15
    assert frame_stride(ok_rows(read_manifest(dense_prepared)))[0] == 1.0


def test_a_detector_of_consecutive_frames_refuses_sparse_frames_naming_the_fix(
    tmp_path: Path, tiny_prepared: Path
) -> None:
    with pytest.raises(ValueError, match=r"prepare\.fps=25 prepare\.max_frames") as error:
        build_module_and_data(_compose(tmp_path, tiny_prepared))
    assert "r3d_18 needs clips of frames at most 1 source frame(s) apart" in str(error.value)
    assert "\n" not in str(error.value)


def test_densely_prepared_frames_pass_and_any_stride_passes_without_a_stated_one(
    tmp_path: Path, tiny_prepared: Path, dense_prepared: Path
) -> None:
    module, datamodule = build_module_and_data(_compose(tmp_path, dense_prepared))
    assert module.detector.input_spec.max_frame_stride == 1
    datamodule.setup("fit")
    assert len(datamodule.datasets["train"]) > 0
    sparse = compose_train(tmp_path, f"data.prepared_dir={tiny_prepared.parent}", "model=r3d_18")
    build_module_and_data(sparse)  # no stated stride: frames spread over the video are fine
