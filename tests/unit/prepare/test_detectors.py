"""The face detector backends: chosen by name, interchangeable, and the fast one (BlazeFace
choosing MTCNN's pyramid levels) finding the faces MTCNN finds, where MTCNN draws them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dfd.datasets.labels import read_label_csv
from dfd.datasets.manifest import face_boxes, frame_indices, ok_rows, read_manifest
from dfd.demo.media import fetch_media
from dfd.prepare.detectors import DETECTORS, box_iou
from dfd.prepare.detectors.blazeface import BlazeFaceDetector
from dfd.prepare.detectors.cascade import Cascade, pyramid
from dfd.prepare.extract import prepare_video
from dfd.prepare.pool import LazyDetector
from dfd.prepare.runner import prepare_dataset
from dfd.prepare.settings import OUTPUT_FIELDS, PrepareSettings
from dfd.prepare.video import open_video
from helpers import media
from helpers.runs import CONF

FACE_VIDEOS = ("woman_pexels", "man_webcam", "carphone")


def video_frames(name: str, count: int = 4) -> np.ndarray:
    """``count`` evenly spaced frames of a real video."""
    video = open_video(fetch_media([name])[name])
    return video.read(video.sample(count, None, count))


@pytest.fixture(scope="module")
def detectors() -> dict[str, object]:
    """Both backends with the configured settings, on the CPU."""
    settings = PrepareSettings(device="cpu")
    return {
        name: LazyDetector(PrepareSettings(**{**asdict(settings), "detector": name}))()
        for name in DETECTORS
    }


@pytest.fixture(scope="module")
def face_frames() -> list[np.ndarray]:
    """Stacks of same-sized real frames with one face each: the portrait photo on a 16:9 canvas,
    and frames of three videos."""
    return [media.face_frames(1, canvas=(720, 1280))] + [video_frames(n) for n in FACE_VIDEOS]


def test_the_registry_makes_each_backend_by_its_name(detectors: dict[str, object]) -> None:
    assert set(DETECTORS) == {"mtcnn", "blazeface"}
    for name, detector in detectors.items():
        assert type(detector) is DETECTORS[name]
    assert isinstance(detectors["blazeface"], BlazeFaceDetector)


def test_blazeface_finds_the_face_mtcnn_finds_with_its_box_landmarks_and_score(
    detectors: dict[str, object], face_frames: list[np.ndarray]
) -> None:
    fast = [found for frames in face_frames for found in detectors["blazeface"].detect(frames)]
    slow = [found for frames in face_frames for found in detectors["mtcnn"].detect(frames)]
    ious = []
    for ours, theirs in zip(fast, slow, strict=True):
        assert len(ours) == len(theirs) == 1
        ious.append(float(box_iou(theirs.boxes[0], ours.boxes)[0]))
        side = theirs.boxes[0, 2] - theirs.boxes[0, 0]
        assert np.linalg.norm(ours.points[0] - theirs.points[0], axis=1).max() < 0.1 * side
        assert ours.scores[0] >= 0.9  # O-Net's face probability, as MTCNN's
    assert min(ious) >= 0.9 and np.median(ious) >= 0.99, ious


def test_the_batched_cascade_gives_facenet_pytorch_s_mtcnn_answer(
    detectors: dict[str, object], face_frames: list[np.ndarray]
) -> None:
    """Over MTCNN's whole pyramid the cascade is MTCNN: same boxes, scores and landmarks."""
    cascade, mtcnn = Cascade(torch.device("cpu")), detectors["mtcnn"]
    for frames in face_frames:
        scales = pyramid(frames.shape[1:3], mtcnn.min_face_size, 0.0)
        owners, boxes, scores, points = cascade(frames, scales)
        for position, theirs in enumerate(mtcnn.find(frames)):
            mine = owners == position
            assert mine.sum() == len(theirs)
            assert np.allclose(boxes[mine], theirs.boxes, atol=0.05)
            assert np.allclose(scores[mine], theirs.scores, atol=1e-4)
            assert np.allclose(points[mine], theirs.points, atol=0.05)


def test_the_pyramid_leaves_out_only_the_levels_for_smaller_faces() -> None:
    whole = pyramid((360, 640), 40, 0.0)
    assert whole[0] == pytest.approx(12 / 40) and 360 * whole[-1] >= 12 > 360 * whole[-1] * 0.709
    part = pyramid((360, 640), 40, 100.0)
    assert part == [scale for scale in whole if 12 / scale >= 100.0]
    assert pyramid((360, 640), 40, 10_000.0) == whole[-1:], "the coarsest level is always kept"


def test_no_face_gives_no_detection(detectors: dict[str, object]) -> None:
    cartoon, grey = video_frames("cartoon_no_face", 3), np.full((1, 360, 640, 3), 128, np.uint8)
    for detector in detectors.values():
        for frames in (cartoon, grey):
            assert [len(found) for found in detector.detect(frames)] == [0] * len(frames)


def test_faces_smaller_than_min_face_size_are_left_out(face_frames: list[np.ndarray]) -> None:
    frame = face_frames[0][0]
    big = DETECTORS["blazeface"](min_face_size=40, max_side=640).detect([frame])[0]
    side = float(np.max(big.boxes[0, 2:] - big.boxes[0, :2])) * 640 / max(frame.shape[:2])
    small = DETECTORS["blazeface"](min_face_size=int(side) + 10, max_side=640)
    assert len(big) == 1 and len(small.detect([frame])[0]) == 0


def test_the_detector_is_chosen_in_the_config_and_shapes_the_output() -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("prepare", overrides=["prepare.detector=blazeface"])
    settings = PrepareSettings(**OmegaConf.to_container(cfg.prepare, resolve=True))
    assert settings.detector == "blazeface"
    assert "detector" in OUTPUT_FIELDS
    assert settings.output_fingerprint() != PrepareSettings().output_fingerprint()


def test_an_unknown_detector_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"prepare.detector must be one of \['blazeface', 'mtcnn'\]"
    ):
        PrepareSettings(detector="retinaface")


def test_a_run_with_blazeface_prepares_the_tiny_dataset_like_mtcnn(
    tiny_raw: Path, tiny_prepared: Path, tmp_path: Path
) -> None:
    manifest = prepare_dataset(
        read_label_csv(tiny_raw / "labels.csv", tiny_raw),
        tiny_raw,
        tmp_path / "prepared",
        PrepareSettings(num_frames=4, face_size=64, detector="blazeface"),
        val_fraction=0.3,
        test_fraction=0.3,
        seed=0,
        show_progress=False,
    )
    assert manifest.equals(read_manifest(tmp_path / "prepared" / "manifest.csv"))
    ours, theirs = ok_rows(manifest), ok_rows(read_manifest(tiny_prepared))
    assert sorted(ours["clip_id"]) == sorted(theirs["clip_id"]) and len(ours) > 0
    theirs = theirs.set_index("clip_id")
    ious = []
    for _, row in ours.iterrows():
        other = theirs.loc[row["clip_id"]]
        assert frame_indices(row) == frame_indices(other)
        ious.extend(
            float(box_iou(mine, their[None])[0])
            for mine, their in zip(face_boxes(row), face_boxes(other))
        )
    assert np.median(ious) >= 0.9 and np.mean(np.array(ious) >= 0.8) >= 0.9, ious


def test_blazeface_finds_the_same_faces_batched_and_one_frame_at_a_time(
    face_frames: list[np.ndarray],
) -> None:
    frames = face_frames[1]
    batched = DETECTORS["blazeface"](batch_size=len(frames)).detect(frames)
    alone = DETECTORS["blazeface"](batch_size=1).detect(frames)
    for together, single in zip(batched, alone, strict=True):
        np.testing.assert_allclose(together.boxes, single.boxes, atol=1e-3)
        np.testing.assert_allclose(together.scores, single.scores, atol=1e-5)


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_tracking_keeps_a_face_in_part_of_the_video_with_either_detector(
    tmp_path: Path, detector: str
) -> None:
    """A face that leaves: both backends give the clip of the frames showing it, and a video
    that shows no face at all is skipped with its reason."""
    settings = PrepareSettings(num_frames=8, face_size=64, device="cpu", detector=detector)
    faces = LazyDetector(settings)
    (clip,) = prepare_video(
        media.partial_face_video(tmp_path), "partial", tmp_path / "out", settings, faces
    )
    assert clip["status"] == "ok" and clip["frame_indices"] == "2;7;12", clip
    cartoon = fetch_media(["cartoon_no_face"])["cartoon_no_face"]
    (skip,) = prepare_video(cartoon, "cartoon", tmp_path / "out", settings, faces)
    assert skip["status"] == "skipped" and skip["reason"] == "no_face", skip
