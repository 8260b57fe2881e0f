"""The one video writer for every demo clip, real and fake alike.

Real clips and their fake twins all go through `write_video` with the same codec, pixel
format, quality and frame rate, so compression cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

FPS = 25
CODEC = "libx264"
PIX_FMT = "yuv420p"
CRF = 23
PRESET = "veryfast"


def even_size(height: int, width: int) -> tuple[int, int]:
    """The largest even (height, width) not above the given one (yuv420p needs even sizes)."""
    return height - height % 2, width - width % 2


@lru_cache(maxsize=1)
def x264_params() -> str:
    """Extra libx264 settings: on CPUs with AVX-512, stop at AVX2.

    With its AVX-512 code the libx264 bundled in PyAV 18.1 gave slightly different output
    for the same frames from one process to the next; up to AVX2 it is reproducible.
    """
    try:
        cpu = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return "asm=AVX2" if "avx512" in cpu else ""


def write_video(path: Path, frames: np.ndarray | Sequence[np.ndarray]) -> Path:
    """Encode RGB uint8 frames (T, H, W, 3) to H.264 MP4; odd sizes lose their last row/column.

    Files are the same byte for byte on every run (see `x264_params`).
    """
    if len(frames) == 0:
        raise ValueError("no frames to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = even_size(*frames[0].shape[:2])
    partial = path.with_name(path.stem + ".part" + path.suffix)
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream(CODEC, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
        stream.time_base = Fraction(1, FPS)
        stream.options = {"crf": str(CRF), "preset": PRESET}
        if x264_params():
            stream.options = {**stream.options, "x264-params": x264_params()}
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[:height, :width]), format="rgb24"
            )
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    partial.replace(path)
    return path
