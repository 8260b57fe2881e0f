"""Face crops read from a stream (see :mod:`dfd.datasets.streams`) instead of image files."""

from __future__ import annotations

import cv2
import numpy as np

from dfd.datasets.streams import StreamChunks, parse_size, sample_jpegs
from dfd.errors import SettingError

# the chunk cache's size when none is set (also for runs saved before it could be set)
DEFAULT_CACHE_SIZE = "50GB"


class StreamFrames:
    """Random access to the face tracks of a stream, through LitData's ``StreamingDataset``.

    LitData's random access fetches one sample's byte range by default; here it fetches the
    whole chunk the first time one of its samples is asked for and keeps it in ``cache_dir``
    (up to ``max_cache_size``, the oldest chunks evicted past it), so each chunk is read from
    the object store about once while the stream fits; the order clips are drawn in stays
    dfd's (reproducible from the seed and the epoch, split across DDP ranks by Lightning, and
    following the chunks when the stream does not fit: `chunks_per_window`). The LitData
    dataset is opened lazily, in each process that reads (every DataLoader worker opens its
    own).
    """

    def __init__(
        self, location: str, cache_dir: str, max_cache_size: str = DEFAULT_CACHE_SIZE
    ) -> None:
        self.location = location
        self.cache_dir = cache_dir
        self.max_cache_size = max_cache_size
        self._dataset = None

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_dataset": None}  # workers open their own

    def _open(self):
        if self._dataset is None:
            from litdata import StreamingDataset

            self._dataset = StreamingDataset(
                self.location, cache_dir=self.cache_dir, max_cache_size=self.max_cache_size
            )
        return self._dataset

    def __len__(self) -> int:
        return len(self._open())

    def read(self, index: int, clip_id: str, start: int, length: int) -> np.ndarray:
        """Frames ``[start, start + length)`` of sample ``index`` as (T, H, W, 3) uint8 RGB,
        checked to be the track ``clip_id`` (a stream out of step with its manifest fails)."""
        dataset = self._open()
        sample = dataset[int(index)]
        if dataset.on_demand_bytes:  # settable once the first read has opened LitData's cache
            dataset.on_demand_bytes = False  # whole chunks from now on, kept in the cache
        if sample["clip_id"] != clip_id:
            raise ValueError(
                f"stream {self.location} sample {index} is {sample['clip_id']!r}, its manifest "
                f"says {clip_id!r}: write the stream again"
            )
        jpegs = sample_jpegs(sample, start, start + length)
        return np.stack([decode_rgb(jpeg) for jpeg in jpegs])


def decode_rgb(jpeg: bytes) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image from encoded bytes (OpenCV, as for the files)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        raise OSError("cannot decode a face crop of the stream")
    return image


def chunks_per_window(
    setting: int | str | None, chunks: StreamChunks, cache_size: str | int, remote: bool
) -> int | None:
    """How many chunks a shuffle window of training draws spans (None: a full shuffle).

    `setting` is a number of chunks, None for a full shuffle, or "auto": a full shuffle when
    the stream is read in place (a folder) or fits in the cache, else as many of its largest
    chunks as fit in half the cache (the other half holds the window being left behind, since
    the DataLoader's workers read ahead).
    """
    check_stream_settings(setting, cache_size)
    if setting is None or isinstance(setting, int):
        return setting
    cache = parse_size(cache_size)
    if not remote or int(chunks.bytes.sum()) <= cache:
        return None
    return max(1, cache // 2 // int(chunks.bytes.max()))


def check_stream_settings(window: int | str | None, cache_size: str | int) -> None:
    """Refuse a shuffle window or a cache size that `chunks_per_window` cannot read, before
    any training starts."""
    parse_size(cache_size)
    if window is None or window == "auto":
        return
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise SettingError(
            f"stream_shuffle_window must be a number of chunks (1 or more), null or auto, "
            f"got {window!r}"
        )
