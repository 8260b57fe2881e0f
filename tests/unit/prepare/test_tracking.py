"""Face tracks from per-frame detections: one or several faces, gaps, unsearched frames, smoothing."""

from __future__ import annotations

import numpy as np
import torch

from dfd.prepare.detectors import Detections, resolve_device, searched_frames
from dfd.prepare.tracking import find_tracks


def faces(*boxes: list[float]) -> Detections:
    """Detections of boxes ``[x1, y1, x2, y2, score]`` with landmarks at the box centres."""
    if not boxes:
        return Detections.empty()
    array = np.asarray(boxes, dtype=float)
    centres = (array[:, :2] + array[:, 2:4]) / 2
    return Detections(array[:, :4], array[:, 4], np.repeat(centres[:, None], 5, axis=1))


def big(x: float, score: float = 0.99) -> list[float]:
    return [x, 50.0, x + 60.0, 110.0, score]


SMALL = [300.0, 10.0, 330.0, 40.0, 1.0]


def test_main_face_is_followed_and_gaps_interpolated_in_time() -> None:
    detections = [faces(big(0.0), SMALL), faces(), faces(SMALL, big(20.0)), faces(SMALL)]
    (track,) = find_tracks(detections, [0, 10, 20, 30])
    np.testing.assert_allclose(track.boxes[:, 0], [0.0, 10.0, 20.0, 20.0])
    np.testing.assert_allclose(track.scores, [0.99, 0.0, 0.99, 0.0])
    np.testing.assert_allclose(
        track.points[1, 0], [40.0, 80.0]
    )  # landmarks interpolated with the box
    assert track.detected_fraction == 0.5


def test_several_faces_give_several_tracks_largest_first() -> None:
    detections = [faces(SMALL, big(0.0)), faces(big(2.0), SMALL), faces(SMALL, big(4.0))]
    tracks = find_tracks(detections, [0, 1, 2], max_tracks=4)
    assert len(tracks) == 2
    assert tracks[0].face_size == 60.0 and tracks[1].face_size == 30.0
    np.testing.assert_allclose(tracks[1].boxes[:, 0], [300.0] * 3)
    assert find_tracks(detections, [0, 1, 2], max_tracks=1)[0].face_size == 60.0


def test_a_rare_false_detection_is_not_a_track() -> None:
    detections = [faces(big(0.0)), faces(big(1.0), SMALL), faces(big(2.0)), faces(big(3.0))]
    tracks = find_tracks(detections, [0, 1, 2, 3], max_tracks=4, min_detected_fraction=0.5)
    assert len(tracks) == 1
    assert find_tracks([faces(), faces(), faces(SMALL)], [0, 1, 2], min_detected_fraction=0.5) == []
    assert find_tracks([faces(), faces()], [0, 1]) == []


def test_duplicate_detections_of_one_face_do_not_start_a_second_track() -> None:
    near_copy = [2.0, 52.0, 61.0, 111.0, 0.95]
    tracks = find_tracks(
        [faces(big(0.0), near_copy), faces(big(0.0), near_copy)], [0, 1], max_tracks=4
    )
    assert len(tracks) == 1


def test_unsearched_frames_are_interpolated_and_do_not_count_as_misses() -> None:
    positions = searched_frames(7, 3)
    assert positions.tolist() == [0, 3, 6]
    assert searched_frames(5, 3).tolist() == [0, 3, 4]
    detections = [
        faces(big(0.0))
        if i == 0
        else faces(big(30.0))
        if i == 3
        else faces(big(60.0))
        if i == 6
        else None
        for i in range(7)
    ]
    (track,) = find_tracks(detections, range(7), min_detected_fraction=1.0)
    np.testing.assert_allclose(track.boxes[:, 0], [0, 10, 20, 30, 40, 50, 60])
    assert track.detected_fraction == 1.0 and track.detected.sum() == 3


def test_smoothing_averages_jitter_and_coverage_bridges_short_gaps() -> None:
    detections = [faces(big(x)) for x in (0.0, 6.0, 0.0, 6.0, 0.0)]
    (raw,) = find_tracks(detections, range(5))
    (smooth,) = find_tracks(detections, range(5), smooth_window=3)
    assert np.ptp(smooth.boxes[1:4, 0]) < np.ptp(raw.boxes[1:4, 0])
    gappy = [
        faces(big(0.0)),
        faces(),
        faces(),
        faces(big(0.0)),
        faces(),
        faces(),
        faces(),
        faces(),
        faces(),
    ]
    (track,) = find_tracks(gappy, range(9))
    assert track.covered(3, range(9)).tolist() == [True] * 5 + [False] * 4


def test_detector_device_auto_is_the_cpu_without_a_gpu() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
