"""Training draws that follow a stream's chunks: each chunk read once an epoch even when the
stream does not fit in the node's chunk cache (a full shuffle would fetch most draws anew)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.sampling import SeededClipSampler
from dfd.data.stream_frames import chunks_per_window
from dfd.datasets.manifest import read_manifest
from dfd.datasets.streams import STREAM_MANIFEST, StreamChunks, parse_size, read_stream_chunks
from dfd.prepare.streaming import write_stream

# 40 chunks of 25 clips each, shuffled into the clip order a manifest might have
CHUNKS = np.random.default_rng(0).permutation(np.repeat(np.arange(40), 25))


def chunk_fetches(order: list[int], chunks: np.ndarray, cache_chunks: int) -> int:
    """How many chunk fetches a least-recently-used cache of `cache_chunks` chunks makes over
    the clips of `order` (LitData's cache evicts the oldest chunks first)."""
    cache: OrderedDict[int, None] = OrderedDict()
    fetches = 0
    for index in order:
        chunk = int(chunks[index])
        if chunk in cache:
            cache.move_to_end(chunk)
            continue
        fetches += 1
        cache[chunk] = None
        if len(cache) > cache_chunks:
            cache.popitem(last=False)
    return fetches


def drawn(sampler: SeededClipSampler, epoch: int = 0) -> list[int]:
    sampler.set_epoch(epoch)
    return [index for index, _ in sampler]


def test_draws_following_chunks_fetch_each_chunk_once_where_a_full_shuffle_thrashes() -> None:
    full = drawn(SeededClipSampler(len(CHUNKS), seed=1))
    windows = drawn(SeededClipSampler(len(CHUNKS), seed=1, chunks=CHUNKS, chunks_per_window=4))
    assert sorted(windows) == sorted(full) == list(range(len(CHUNKS))), "every clip once"
    assert chunk_fetches(windows, CHUNKS, cache_chunks=8) == 40
    assert chunk_fetches(full, CHUNKS, cache_chunks=8) > 600  # of 1,000 draws


def test_each_window_holds_whole_chunks_in_a_shuffled_order() -> None:
    sampler = SeededClipSampler(len(CHUNKS), seed=1, chunks=CHUNKS, chunks_per_window=4)
    order = drawn(sampler)
    windows = [set(CHUNKS[order[i : i + 100]]) for i in range(0, len(order), 100)]
    assert all(len(window) == 4 for window in windows)
    assert set().union(*windows) == set(range(40))
    first = CHUNKS[order[:100]]
    assert (np.diff(first) != 0).sum() > 50, "the clips of a window are interleaved, not sorted"
    assert order == drawn(sampler), "a function of (seed, epoch)"
    assert drawn(sampler, epoch=1) != order
    assert windows[0] != {int(c) for c in CHUNKS[drawn(sampler, epoch=1)[:100]]}


def test_balanced_draws_and_resumption_follow_chunks_too() -> None:
    weights = np.where(np.arange(len(CHUNKS)) % 5 == 0, 4.0, 1.0)
    sampler = SeededClipSampler(
        len(CHUNKS), seed=2, weights=weights, chunks=CHUNKS, chunks_per_window=2
    )
    order = drawn(sampler)
    assert chunk_fetches(order, CHUNKS, cache_chunks=4) == len(set(CHUNKS[order]))
    sampler.resume_at(epoch=0, draws=300)
    assert drawn(sampler)[:-300] == order[300:]


def test_chunk_numbers_must_match_the_clips() -> None:
    with pytest.raises(ValueError, match="3 chunk numbers for 4 clips"):
        SeededClipSampler(4, seed=0, chunks=[0, 0, 1])
    with pytest.raises(ValueError, match="at least 1"):
        SeededClipSampler(4, seed=0, chunks=[0, 0, 1, 1], chunks_per_window=0)


def test_auto_follows_chunks_only_for_a_remote_stream_larger_than_its_cache() -> None:
    chunks = StreamChunks(samples=np.full(10, 25), bytes=np.full(10, 64 * 10**6))  # 640 MB
    assert chunks_per_window("auto", chunks, "1GB", remote=True) is None, "fits"
    assert chunks_per_window("auto", chunks, "400MB", remote=True) == 3  # 200 MB: 3 chunks
    assert chunks_per_window("auto", chunks, "50MB", remote=True) == 1
    assert chunks_per_window("auto", chunks, "400MB", remote=False) is None, "read in place"
    assert chunks_per_window(5, chunks, "1GB", remote=False) == 5
    assert chunks_per_window(None, chunks, "1MB", remote=True) is None
    with pytest.raises(ValueError, match="number of chunks .1 or more., null or auto"):
        chunks_per_window("chunks", chunks, "1GB", remote=True)
    with pytest.raises(ValueError, match="got 0"):
        FaceClipDataModule("unused.csv", stream_shuffle_window=0)
    with pytest.raises(ValueError, match="'lots' is not a number of B"):
        FaceClipDataModule("unused.csv", stream_cache_size="lots")
    assert chunks.chunk_of([0, 24, 25, 249]).tolist() == [0, 0, 1, 9]


def test_sizes_read_as_litdata_writes_them() -> None:
    assert parse_size("50GB") == 50 * 10**9
    assert parse_size("200 kb") == 200_000
    assert parse_size("1.5MB") == 1_500_000
    assert parse_size(123) == 123
    with pytest.raises(ValueError, match="'fifty' is not a number of B, KB"):
        parse_size("fifty")
    with pytest.raises(ValueError, match="not a number"):
        parse_size("3 parsecs")


def test_a_datamodule_over_a_chunked_stream_draws_chunk_by_chunk(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    stream = tmp_path / "stream"
    write_stream(tiny_prepared, str(stream), chunk_bytes="100KB")
    chunks = read_stream_chunks(stream, tmp_path / "cache")
    assert len(chunks.samples) > 2, "small chunks: several"
    assert chunks.samples.sum() == len(read_manifest(stream / STREAM_MANIFEST))
    settings = {"clip_len": 2, "image_size": 48, "batch_size": 4, "num_workers": 0, "seed": 3}
    data = FaceClipDataModule(
        str(tiny_prepared), **settings, stream_url=str(stream), stream_shuffle_window=1
    )
    loader = data.train_dataloader()
    clip_chunks = chunks.chunk_of(data.dataset("train").stream_samples())
    order = [index for index, _ in loader.sampler]
    visits = clip_chunks[order]
    assert (np.diff(visits) != 0).sum() == len(set(visits)) - 1, "each chunk's clips together"
    assert next(iter(loader))["clip"].shape == (4, 2, 3, 48, 48)
    full = FaceClipDataModule(str(tiny_prepared), **settings, stream_url=str(stream))
    full_sampler = full.train_dataloader().sampler
    assert full_sampler.chunks is None, "auto: a local stream is read in place, fully shuffled"
    assert sorted(order) == sorted(index for index, _ in full_sampler)
