"""A folder of frames is a video: read in natural order, prepared, stamped for resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.datasets.media import is_frame_folder, is_named_video, media_under
from dfd.prepare.extract import prepare_video
from dfd.prepare.pool import LazyDetector
from dfd.prepare.records import source_stamp
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.video import NO_FRAMES, VideoReadError, open_video
from helpers import media

SETTINGS = PrepareSettings(num_frames=4, face_size=64, device="cpu")


def test_frames_are_read_in_natural_order_at_the_first_frames_size(tmp_path: Path) -> None:
    video = open_video(media.frame_folder(tmp_path / "v", count=12), folder_fps=30)
    assert video.info.num_frames == 12 and video.info.fps == 30
    frames = video.read(list(range(12)))  # the last, larger frame is resized to stack
    assert frames.shape[1:3] == (video.info.height, video.info.width)
    assert [media.read_marker(frame) for frame in frames[:11]] == list(range(11))
    assert video.timestamps()[3] == pytest.approx(0.1)


def test_a_frame_that_does_not_decode_is_left_out(tmp_path: Path) -> None:
    folder = media.frame_folder(tmp_path / "v", count=6, suffix=".jpg")
    (folder / "3.jpg").write_bytes(b"not a jpeg")
    frames, kept = open_video(folder).read_decodable([0, 2, 4])
    assert kept == [0, 4] and [media.read_marker(f) for f in frames] == [0, 4]


def test_a_folder_without_images_is_no_video(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert not is_named_video(tmp_path)
    with pytest.raises(VideoReadError) as error:
        open_video(tmp_path)
    assert error.value.code == NO_FRAMES


def test_videos_and_frame_folders_are_found_in_a_tree(tmp_path: Path) -> None:
    media.frame_folder(tmp_path / "fake" / "clip_b", count=2)
    (tmp_path / "real" / "clip_c").mkdir(parents=True)  # empty: not a video
    media.write_h264(tmp_path / "real" / "a.mp4", media.face_frames(2))
    media.frame_folder(tmp_path / "real" / "clip_d", count=2)
    found = [p.relative_to(tmp_path).as_posix() for p in media_under(tmp_path)]
    assert found == ["fake/clip_b", "real/a.mp4", "real/clip_d"]
    assert is_frame_folder(tmp_path / "fake" / "clip_b") and not is_frame_folder(tmp_path)


def test_a_frame_folder_is_prepared_and_its_stamp_follows_its_frames(tmp_path: Path) -> None:
    folder = media.frame_folder(tmp_path / "frames", count=8)
    (clip,) = prepare_video(
        folder, "frames", tmp_path / "prepared", SETTINGS, LazyDetector(SETTINGS)
    )
    assert clip["status"] == "ok", clip["reason"]
    assert clip["num_frames"] == 4 and clip["faces_in"] == "4 of 4 frames"
    stamp = source_stamp(folder)
    (folder / "2.png").write_bytes((folder / "3.png").read_bytes() + b"\0")
    assert source_stamp(folder) != stamp
