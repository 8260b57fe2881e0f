"""Two ways to decode the sampled frames of a video, chosen by ``prepare.decoder``.

Both number frames in presentation order, give the same RGB pixels (a test checks it) and
keep only the sampled frames in memory.

* ``pyav`` (the default) decodes sparsely: it jumps to the keyframe before each sampled frame
  when that keyframe lies ahead and, on the way, tells the decoder to skip frames that no
  other frame refers to (FFmpeg's ``skip_frame=NONREF``). Frames that others refer to must be
  decoded; the rest cost nothing: about half of an H.264 stream made with x264's defaults
  (127 of 250 frames are decoded in the benchmark's videos).
  Decoders that ignore the request (VP9) decode everything; when a sampled frame does not come
  back (AV1 fixes skipping when it opens; a stream without timestamps), frames are decoded in
  order from the start and counted.
* ``decord`` decodes every frame from the keyframe before each sampled one. It cannot open AV1
  or a bare H.264 stream, and returned wrong frames for an MPEG-4 AVI with B-frames.
"""

from __future__ import annotations

import bisect
from functools import partial
from pathlib import Path
from typing import Protocol

import av
import numpy as np

SKIP_UNREFERENCED = "NONREF"  # FFmpeg's AVDISCARD_NONREF
DECODE_ALL = "DEFAULT"


class FrameSource(Protocol):
    """What :class:`dfd.prepare.video.Video` needs from a decoder."""

    num_frames: int
    fps: float

    def timestamps(self) -> np.ndarray:
        """Every frame's start time in seconds after the first frame's, in presentation order."""

    def read(self, indices: list[int]) -> np.ndarray:
        """The frames at these (valid) positions, upright, as (N, H, W, 3) RGB uint8."""


class DecordFrames:
    """decord's reader; it turns frames upright by the display matrix itself (``rotation`` unused)."""

    def __init__(self, path: Path, threads: int, rotation: int) -> None:
        import decord  # only when asked for: it loads a second FFmpeg build into the process

        self._open = partial(decord.VideoReader, str(path), ctx=decord.cpu(0), num_threads=threads)
        self._reader = self._open()
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())

    def timestamps(self) -> np.ndarray:
        starts = np.asarray(self._reader.get_frame_timestamp(np.arange(self.num_frames)))[
            :, 0
        ].astype(float)
        return starts - starts[0]

    def read(self, indices: list[int]) -> np.ndarray:
        try:
            batch = self._reader.get_batch(list(indices))
        except Exception:
            # After a read near a damaged frame, decord's background decoding can fail the next
            # read of good frames too (about one read in twenty); a fresh reader does not, so
            # the read is tried once more on one before it counts as failed.
            self._reader = self._open()
            batch = self._reader.get_batch(list(indices))
        frames = (
            batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        )  # decord's torch bridge
        # decord goes on decoding the rest of the video in the background after a batch,
        # holding those frames in memory; going back to the start stops it.
        self._reader.seek(0)
        return frames


class PyAVFrames:
    """Sparse decoding with PyAV; frames are turned ``rotation`` degrees clockwise (upright)."""

    def __init__(self, path: Path, threads: int, rotation: int) -> None:
        self._path = str(path)
        self._threads = threads
        self._quarter_turns = -(rotation // 90)  # np.rot90 turns counter-clockwise
        with av.open(self._path) as container:
            stream = container.streams.video[0]
            packets = [
                (packet.pts, packet.is_keyframe)
                for packet in container.demux(stream)
                if packet.size and not packet.is_discard
            ]
            self._time_base = float(stream.time_base or 0)
            rate = stream.average_rate or stream.guessed_rate
        self._by_pts = all(pts is not None for pts, _ in packets)
        self._pts = sorted(pts for pts, _ in packets) if self._by_pts else []
        self._keys = sorted(pts for pts, key in packets if key) if self._by_pts else []
        self.num_frames = len(packets)
        self.fps = float(rate) if rate else 0.0

    def timestamps(self) -> np.ndarray:
        if self._by_pts:
            return (np.asarray(self._pts, dtype=float) - self._pts[0]) * self._time_base
        return np.arange(self.num_frames) / (self.fps or 1.0)

    def read(self, indices: list[int]) -> np.ndarray:
        wanted = sorted(set(indices))
        frames = self._read_sparse(wanted) if self._by_pts and self._keys else None
        if frames is None:  # no usable timestamps, or the decoder did not give them back
            frames = self._read_in_order(wanted)
        if wanted != indices:
            frames = frames[[wanted.index(index) for index in indices]]
        if self._quarter_turns:
            frames = np.ascontiguousarray(np.rot90(frames, self._quarter_turns, axes=(1, 2)))
        return frames

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        container = av.open(self._path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = self._threads
        return container, stream

    def _read_sparse(self, indices: list[int]) -> np.ndarray | None:
        """The frames at these sorted, distinct positions, or None if one did not come back.

        Seeks to the keyframe before each sampled frame unless already past it; decodes the
        sampled frames fully and of the others only those that later frames refer to.
        """
        targets = [self._pts[index] for index in indices]
        wanted = set(targets)
        frames = _FrameArray(
            len(targets)
        )  # decoders give frames in presentation order: targets arrive in order
        container, stream = self._open()
        with container:
            codec = stream.codec_context
            packets, last_key = None, None
            while not frames.complete:
                key = self._keys[
                    max(0, bisect.bisect_right(self._keys, targets[frames.filled]) - 1)
                ]
                if packets is None or key > last_key:
                    container.seek(key, stream=stream, backward=True)  # also empties the decoder
                    packets, last_key = container.demux(stream), key
                packet = next(packets, None)
                if (
                    packet is None or packet.size == 0
                ):  # end of the file: take what the decoder holds
                    codec.skip_frame = DECODE_ALL
                    decoded = codec.decode(None)
                else:
                    if packet.is_keyframe and packet.pts is not None:
                        last_key = max(last_key, packet.pts)
                    codec.skip_frame = DECODE_ALL if packet.pts in wanted else SKIP_UNREFERENCED
                    decoded = codec.decode(packet)
                for frame in decoded:
                    if not frames.complete and frame.pts == targets[frames.filled]:
                        frames.add(frame)
                if packet is None or packet.size == 0:
                    break
        return frames.array if frames.complete else None

    def _read_in_order(self, indices: list[int]) -> np.ndarray:
        """The frames at these sorted, distinct positions, decoding every frame from the start
        and counting them (for streams without timestamps)."""
        frames = _FrameArray(len(indices))
        container, stream = self._open()
        with container:
            for number, frame in enumerate(container.decode(stream)):
                if number == indices[frames.filled]:
                    frames.add(frame)
                    if frames.complete:
                        break
        if not frames.complete:
            raise RuntimeError(f"frames {indices[frames.filled :][:5]} could not be decoded")
        return frames.array


class _FrameArray:
    """Decoded frames as RGB in one array, made when the first arrives (never a list and a stacked copy)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.filled = 0
        self.array = np.empty((0, 0, 0, 3), np.uint8)

    @property
    def complete(self) -> bool:
        return self.filled == self.count

    def add(self, frame: av.VideoFrame) -> None:
        rgb = frame.to_ndarray(format="rgb24")
        if self.filled == 0:
            self.array = np.empty((self.count, *rgb.shape), np.uint8)
        self.array[self.filled] = rgb
        self.filled += 1


# name -> class, each made with (path, decoder threads (0: one per core), rotation (clockwise degrees))
DECODERS: dict[str, type[PyAVFrames] | type[DecordFrames]] = {
    "pyav": PyAVFrames,
    "decord": DecordFrames,
}
