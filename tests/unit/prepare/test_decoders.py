"""The two decoders give the same frames; PyAV's sparse path is checked where it skips and seeks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from dfd.prepare.video import VideoReadError, open_video, sample_indices
from helpers import media as cases

FRAMES = 100
KEYFRAME_EVERY = 20


@pytest.fixture(scope="module")
def b_frame_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 as FaceForensics++ and DFDC store it: B-frames (some of them unreferenced) and
    a keyframe every 20 frames, so sparse reads both skip and seek."""
    frames = cases.face_frames(FRAMES, canvas=(240, 320), scale=0.3)
    frames[:, 200:, :] = (
        np.arange(FRAMES, dtype=np.uint8)[:, None, None, None] * 2
    )  # motion: real P/B work
    options = {
        "preset": "medium",
        "bframes": "3",
        "b-pyramid": "normal",
        "g": str(KEYFRAME_EVERY),
        "keyint_min": str(KEYFRAME_EVERY),
        "sc_threshold": "0",
    }
    return cases.write_h264(
        tmp_path_factory.mktemp("decoders") / "b_frames.mp4", frames, x264=options
    )


def count_decoded(path: Path, skip: str) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = skip
        return sum(1 for _ in container.decode(stream))


def test_the_video_has_frames_nothing_refers_to(b_frame_video: Path) -> None:
    """Otherwise the sparse path would never skip anything here and the next test proves little."""
    assert count_decoded(b_frame_video, "DEFAULT") == FRAMES
    assert count_decoded(b_frame_video, "NONREF") < FRAMES * 0.8
    with av.open(str(b_frame_video)) as container:
        keyframes = sum(packet.is_keyframe for packet in container.demux(video=0))
    assert keyframes == FRAMES // KEYFRAME_EVERY


@pytest.mark.parametrize(
    "indices",
    [
        sample_indices(FRAMES, 8),  # evenly spaced, one per keyframe interval or so
        list(range(0, FRAMES, 3)),  # dense
        [FRAMES - 1],
        [0],
        [41, 42, 43],  # the last, the first, a run across reference and non-reference frames
        [19, 20, 21, 59, 60],  # either side of keyframes
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_sparse_pyav_gives_decords_pixels(
    b_frame_video: Path, indices: list[int], threads: int
) -> None:
    pyav = open_video(b_frame_video, threads=threads, decoder="pyav")
    decord = open_video(b_frame_video, threads=threads, decoder="decord")
    assert pyav.info == decord.info
    np.testing.assert_allclose(pyav.timestamps(), decord.timestamps(), atol=1e-3)
    frames = pyav.read(indices)
    assert np.array_equal(frames, decord.read(indices))
    assert [cases.read_marker(frame) for frame in frames] == [
        i % cases.MARKER_PERIOD for i in indices
    ]


def test_a_video_read_twice_gives_the_same_frames_in_the_order_asked(b_frame_video: Path) -> None:
    video = open_video(b_frame_video, decoder="pyav")
    first = video.read([5, 77])
    assert np.array_equal(first, video.read([5, 77]))
    assert np.array_equal(video.read([77, 5, 5]), first[[1, 0, 0]])


def test_raw_h264_without_timestamps_is_read_in_order(tmp_path: Path) -> None:
    """A bare H.264 stream has no container timestamps: PyAV counts frames as they are decoded;
    decord cannot open it at all, and says so."""
    path = cases.write_h264(
        tmp_path / "raw.h264",
        cases.face_frames(30, canvas=(120, 160), scale=0.15),
        container_format="h264",
    )
    video = open_video(path, decoder="pyav")
    assert video.info.num_frames == 30
    indices = [3, 14, 29]
    frames = video.read(indices)
    assert frames.shape == (3, 120, 160, 3)
    assert [cases.read_marker(frame) for frame in frames] == [
        i % cases.MARKER_PERIOD for i in indices
    ]
    with pytest.raises(VideoReadError, match="decord cannot open it") as caught:
        open_video(path, decoder="decord")
    assert caught.value.code == "unreadable"


def test_unknown_decoder_is_refused(b_frame_video: Path) -> None:
    with pytest.raises(ValueError, match="unknown decoder 'opencv'"):
        open_video(b_frame_video, decoder="opencv")


ENCODE = """
import json, sys
import av, numpy as np
path, codec, options, frames_file = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
frames = np.load(frames_file)
with av.open(path, mode="w") as container:
    stream = container.add_stream(codec, rate=25)
    stream.height, stream.width = frames.shape[1:3]
    stream.pix_fmt = "yuv420p"
    stream.options = options
    for index, pixels in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
"""


def encode(path: Path, codec: str, options: dict[str, str], frames: np.ndarray) -> Path:
    """Encode in a fresh process: once decord's own FFmpeg libraries are loaded (the test
    session imports decord), PyAV's libvpx encoder no longer opens."""
    np.save(path.with_suffix(".npy"), frames)
    subprocess.run(
        [
            sys.executable,
            "-c",
            ENCODE,
            str(path),
            codec,
            json.dumps(options),
            str(path.with_suffix(".npy")),
        ],
        check=True,
        capture_output=True,
    )
    return path


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("hevc.mp4", "libx265", {"x265-params": "bframes=3:b-pyramid=1:keyint=20:log-level=none"}),
        ("vp9.webm", "libvpx-vp9", {"g": "20", "deadline": "realtime", "cpu-used": "8"}),
        ("mpeg4.avi", "mpeg4", {"bf": "2", "g": "20"}),
        ("av1.mp4", "libsvtav1", {"g": "20", "preset": "12"}),
    ],
)
def test_other_codecs_give_the_right_frames(
    tmp_path: Path, name: str, codec: str, options: dict[str, str]
) -> None:
    """HEVC, VP9, MPEG-4 Part 2 and AV1 each treat frame skipping their own way: the frames
    must be the sampled ones either way (VP9 ignores skipping; the AV1 decoder fixes it when it
    opens, so the reader falls back to decoding in order). decord cannot open this AV1 file and
    gives wrong frames for this MPEG-4 AVI (B-frames), so PyAV alone is checked here."""
    frames = cases.face_frames(60, canvas=(240, 320), scale=0.3)
    frames[:, 200:, :] = np.arange(60, dtype=np.uint8)[:, None, None, None] * 3
    path = encode(tmp_path / name, codec, options, frames)
    video = open_video(path, decoder="pyav")
    assert video.info.num_frames == 60
    indices = [*sample_indices(60, 6), 59]
    read = video.read(indices)
    assert [cases.read_marker(frame) for frame in read] == [
        i % cases.MARKER_PERIOD for i in indices
    ]
    assert np.abs(read.astype(int) - frames[indices]).mean() < 8  # only compression noise
