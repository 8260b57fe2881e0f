"""What clip shape a detector accepts, checked once at start-up instead of deep in a forward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class InputSpec:
    """What a detector takes: frames (each frame seen by an image backbone) or whole clips (a
    video network), `channels` per frame, and the accepted clip length T and image size
    (exact values, or bounds; None = any; `image_size_multiple`: what the image size must be a
    multiple of, for networks that fuse maps of several strides by fixed factors).
    `native_clip_len` and `native_image_size` are the shape its paper used, where `dfd models`
    measures it (None: the datamodule's default).
    `max_frame_stride` is, for a video detector that models motion between consecutive frames,
    the largest gap in source frames it accepts between a clip's frames (None: any, e.g. frames
    spread over the whole video); training holds the prepared frames to it at start-up."""

    kind: Literal["frames", "clips"] = "frames"
    channels: int = 3
    clip_len: int | None = None
    image_size: int | None = None
    min_clip_len: int = 1
    min_image_size: int = 1
    image_size_multiple: int = 1
    max_clip_len: int | None = None
    native_clip_len: int | None = None
    native_image_size: int | None = None
    max_frame_stride: int | None = None

    def needs(self) -> list[str]:
        """The requirements in words, e.g. ['clip_len == 16', 'image_size == 224']."""
        words = []
        if self.clip_len is not None:
            words.append(f"clip_len == {self.clip_len}")
        if self.min_clip_len > 1:
            words.append(f"clip_len >= {self.min_clip_len}")
        if self.max_clip_len is not None:
            words.append(f"clip_len <= {self.max_clip_len}")
        if self.image_size is not None:
            words.append(f"image_size == {self.image_size}")
        if self.min_image_size > max(1, self.image_size_multiple):  # else the multiple says it
            words.append(f"image_size >= {self.min_image_size}")
        if self.image_size_multiple > 1:
            words.append(f"image_size a multiple of {self.image_size_multiple}")
        return words

    def accepts(self, clip_len: int, image_size: int) -> bool:
        """Whether a (clip_len, image_size) clip fits."""
        return (
            clip_len >= self.min_clip_len
            and image_size >= self.min_image_size
            and image_size % self.image_size_multiple == 0
            and self.clip_len in (None, clip_len)
            and self.image_size in (None, image_size)
            and (self.max_clip_len is None or clip_len <= self.max_clip_len)
        )

    def nearest(self, clip_len: int, image_size: int) -> tuple[int, int]:
        """The accepted (clip_len, image_size) closest to the given one."""
        if self.clip_len is not None:
            clip_len = self.clip_len
        else:
            clip_len = max(clip_len, self.min_clip_len)
            if self.max_clip_len is not None:
                clip_len = min(clip_len, self.max_clip_len)
        if self.image_size is not None:
            return clip_len, self.image_size
        size = max(image_size, self.min_image_size)
        return clip_len, -(-size // self.image_size_multiple) * self.image_size_multiple

    def check(self, model: str, clip_len: int, image_size: int, channels: int = 3) -> None:
        """Raise ValueError naming `model`, its needs and a fitting setting, if the clip misfits."""
        if channels != self.channels:
            raise ValueError(
                f"{model} takes {self.channels}-channel frames; the datamodule gives {channels} "
                "(RGB: 3). Pick another model."
            )
        if self.accepts(clip_len, image_size):
            return
        fit_len, fit_size = self.nearest(clip_len, image_size)
        raise ValueError(
            f"{model} needs {' and '.join(self.needs())}; got clip_len={clip_len}, "
            f"image_size={image_size}. Set datamodule.clip_len={fit_len} "
            f"datamodule.image_size={fit_size}, or pick another model."
        )

    def check_stride(
        self, model: str, stride: float, source_fps: float, data: str = "<name>"
    ) -> None:
        """Raise ValueError naming the dense preparation to run if the prepared frames lie
        `stride` source frames apart (median) and the detector wants them closer."""
        if self.max_frame_stride is None or stride <= self.max_frame_stride:
            return
        fps = f"{source_fps / self.max_frame_stride:g}" if source_fps > 0 else "<video fps>"
        raise ValueError(
            f"{model} needs clips of frames at most {self.max_frame_stride} source frame(s) "
            f"apart; the prepared frames are {stride:g} apart (spread over each video). "
            f"Prepare densely: dfd prepare data={data} prepare.fps={fps} prepare.max_frames=64 "
            "(into a new prepared_dir), or pick another model."
        )
