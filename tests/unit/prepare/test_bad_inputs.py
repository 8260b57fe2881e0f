"""Video reading on every kind of bad or unusual input, with real files written by `media_cases`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import decord
import numpy as np
import pytest

from dfd.prepare.decoders import DECODERS
from dfd.prepare.video import Video, VideoReadError, open_video, sample_indices, sample_times
from helpers import media as cases


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media_cases")


@pytest.fixture(params=sorted(DECODERS))
def decoder(request: pytest.FixtureRequest) -> str:
    """Every reading test runs with each decoder."""
    return request.param


def assert_fails(path: Path, code: str, *details: str) -> None:
    with pytest.raises(VideoReadError) as caught:
        open_video(path)
    assert caught.value.code == code
    for detail in details:
        assert detail in str(caught.value)


def markers(frames: np.ndarray) -> list[int]:
    return [cases.read_marker(frame) for frame in frames]


# --- files that give no frames -------------------------------------------------------------


def test_zero_byte_file_is_empty(folder: Path) -> None:
    assert_fails(cases.empty_file(folder), "empty_file", "0 bytes")


def test_text_named_mp4_is_unreadable(folder: Path) -> None:
    assert_fails(cases.text_file(folder), "unreadable", "not a readable media file", "Invalid data")


def test_missing_file_is_unreadable(folder: Path) -> None:
    assert_fails(folder / "nowhere.mp4", "unreadable", "cannot access the file")


def test_truncated_file_with_its_index_first_names_the_lost_frames(folder: Path) -> None:
    assert_fails(
        cases.truncated_video(folder, index_first=True), "unreadable", "truncated:", "of 50 frames"
    )


def test_truncated_file_with_its_index_last_has_no_index_left(folder: Path) -> None:
    assert_fails(
        cases.truncated_video(folder, index_first=False), "unreadable", "not a readable media file"
    )


def test_audio_only_file_has_no_video_stream(folder: Path) -> None:
    assert_fails(cases.audio_only(folder), "no_video_stream", "streams: audio")


def test_video_stream_without_frames(folder: Path) -> None:
    assert_fails(cases.zero_frame_video(folder), "no_frames")


def test_decoding_failure_after_opening_is_unreadable(folder: Path, decoder: str) -> None:
    path = shutil.copy(cases.short_video(folder), folder / "cut_after_open.mp4")
    video = open_video(path, decoder=decoder)
    os.truncate(path, 2000)  # the file is damaged while it is open
    with pytest.raises(VideoReadError) as caught:
        video.read([0, 1])
    assert caught.value.code == "unreadable" and str(caught.value).startswith(
        "decoding frames failed"
    )


# --- unusual files that read -----------------------------------------------------------------


def test_two_frame_video_gives_both_frames(folder: Path, decoder: str) -> None:
    video = open_video(cases.short_video(folder), decoder=decoder)
    assert video.info.num_frames == 2 and video.info.fps == pytest.approx(25.0)
    assert video.sample(8) == [0, 1]
    frames = video.read(video.sample(8))
    assert frames.shape == (2, video.info.height, video.info.width, 3) and frames.dtype == np.uint8
    assert markers(frames) == [0, 1]


def test_4k_video_reads_at_full_size(folder: Path, decoder: str) -> None:
    video = open_video(cases.video_4k(folder), decoder=decoder)
    assert (video.info.width, video.info.height, video.info.num_frames) == (3840, 2160, 3)
    frames = video.read([0, 2])
    assert frames.shape == (2, 2160, 3840, 3)
    assert markers(frames) == [0, 2]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_phone_video_comes_out_upright(folder: Path, rotation: int, decoder: str) -> None:
    path = cases.rotated_video(folder, rotation)
    upright = cases.portrait_frames()
    ok, player_bgr = cv2.VideoCapture(str(path)).read()  # OpenCV applies the display matrix too
    assert ok and np.abs(player_bgr[..., ::-1].astype(int) - upright[0]).mean() < 4
    video = open_video(path, decoder=decoder)
    assert video.info.rotation == rotation
    assert (video.info.height, video.info.width) == upright.shape[1:3] == (640, 360)
    frames = video.read([0, 1, 2])
    assert frames.shape == upright.shape
    assert np.abs(frames.astype(int) - upright).mean() < 4  # only compression noise
    assert np.abs(frames.astype(int) - upright[:, ::-1, ::-1]).mean() > 20  # not upside down
    assert markers(frames) == [0, 1, 2]


def test_variable_frame_rate_video_is_sampled_by_time(folder: Path, decoder: str) -> None:
    video = open_video(cases.vfr_video(folder), decoder=decoder)
    np.testing.assert_allclose(video.timestamps(), np.array(cases.VFR_PTS_MS) / 1000, atol=1e-3)
    # one frame every 0.2 s: the frame on screen at 0, 0.2, 0.4, ... 3.0 s
    assert video.sample(4, fps=5.0) == [0, 2, 4, 7, 8]
    assert video.sample(4, fps=5.0, max_frames=2) == [0, 2]
    assert video.sample(4) == [1, 3, 6, 8]  # even mode spaces frame numbers
    indices = video.sample(4, fps=5.0)
    assert markers(video.read(indices)) == indices


def test_grayscale_video_gives_three_equal_channels(folder: Path, decoder: str) -> None:
    video = open_video(cases.grayscale_video(folder), decoder=decoder)
    frames = video.read(video.sample(3))
    assert frames.shape[-1] == 3
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(
        frames[..., 1], frames[..., 2]
    )
    assert markers(frames) == video.sample(3)


def test_read_gives_numpy_under_decords_torch_bridge(folder: Path) -> None:
    pytest.importorskip("torch")
    video = open_video(cases.short_video(folder), decoder="decord")
    decord.bridge.set_bridge("torch")
    try:
        frames = video.read([1])
    finally:
        decord.bridge.set_bridge("native")
    assert isinstance(frames, np.ndarray) and markers(frames) == [1]


def test_read_refuses_frames_outside_the_video(folder: Path, decoder: str) -> None:
    video = open_video(cases.short_video(folder), decoder=decoder)
    with pytest.raises(IndexError):
        video.read([0, 2])


# --- sampling -------------------------------------------------------------------------------


def test_even_sampling_takes_segment_centres() -> None:
    assert sample_indices(100, 4) == [12, 37, 62, 87]
    assert sample_indices(10, 1) == [5]
    assert sample_indices(3, 8) == [0, 1, 2]
    assert sample_indices(0, 8) == [] and sample_indices(5, 0) == []


def test_time_sampling_of_a_constant_rate_video() -> None:
    at_30fps = np.arange(100, dtype=np.float32) / 30  # decord's timestamps are float32
    assert sample_times(at_30fps, fps=10.0, max_frames=64)[:4] == [0, 3, 6, 9]
    assert len(sample_times(at_30fps, fps=10.0, max_frames=64)) == 34  # 0 to 3.3 s
    assert sample_times(at_30fps, fps=10.0, max_frames=5) == [0, 3, 6, 9, 12]
    assert sample_times(at_30fps, fps=30.0, max_frames=200) == list(range(100))  # float32 jitter
    assert sample_times(np.arange(5) / 10, fps=30.0, max_frames=64) == [0, 1, 2, 3, 4]


def test_time_sampling_follows_timestamps_not_frame_numbers() -> None:
    bursts = np.array([0.0, 0.01, 0.02, 2.0, 2.01, 2.02, 4.0])  # three frames at each whole 2 s
    assert sample_times(bursts, fps=1.0, max_frames=64) == [
        0,
        2,
        3,
        5,
        6,
    ]  # on screen at 0, 1, ... 4 s
    assert sample_times(np.array([], dtype=float), fps=1.0, max_frames=64) == []
    assert sample_times(bursts + 10.0, fps=1.0, max_frames=64) == [0, 2, 3, 5, 6]  # a late start


def test_video_sample_picks_the_mode(folder: Path) -> None:
    video = open_video(cases.short_video(folder))
    assert isinstance(video, Video)
    assert video.sample(1) == [1] and video.sample(1, fps=25.0) == [0, 1]
    assert video.sample(1, fps=25.0, max_frames=1) == [0]


# --- end to end -----------------------------------------------------------------------------


@pytest.mark.slow
def test_preparation_records_every_case(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Every case gets a manifest row (ok, or skipped with its reason code) and a line in the summary."""
    from rich.console import Console

    from dfd.datasets.labels import read_label_csv
    from dfd.prepare.runner import PrepareSettings, prepare_dataset, summary_table

    raw = tmp_path / "raw"
    paths = cases.write_cases(raw)
    rows = [f"{path.name},{'REAL' if i % 2 else 'FAKE'}" for i, path in enumerate(paths.values())]
    (raw / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    labels = read_label_csv(raw / "labels.csv", raw)
    manifest = prepare_dataset(
        labels,
        raw,
        tmp_path / "prepared",
        PrepareSettings(num_frames=8, face_size=64),
    ).set_index("source")
    printed = " ".join(capsys.readouterr().out.split())
    assert "of part of the frames (notes in records/) │ 2" in printed, printed
    for name, (_, status, code) in cases.CASES.items():
        row = manifest.loc[paths[name].name]
        assert row["status"] == status, (name, row["reason"])
        assert row["reason"].split(":", 1)[0] == code, (name, row["reason"])
    assert manifest.loc[paths["rotated"].name, ["width", "height"]].tolist() == [360, 640]
    console = Console(record=True, width=120)
    console.print(
        summary_table(
            manifest.reset_index(), tmp_path, rejected=[], reused=0, prepared=10, seconds=4.0
        )
    )
    summary = " ".join(console.export_text().split())
    assert f"videos │ {len(cases.CASES)}" in summary
    assert "prepared in this run │ 10 in 4.0 s, 150.0 videos/min" in summary
    for code in ("empty_file", "unreadable", "no_video_stream", "no_frames"):
        expected = sum(1 for _, status, case_code in cases.CASES.values() if case_code == code)
        assert f"skipped: {code} │ {expected}" in summary, summary
