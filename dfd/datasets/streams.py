"""Streaming shards: a prepared dataset's face crops packed into LitData chunks.

A cluster's file system or object store is slow with millions of small JPEG files; a few
hundred chunk files of tens of megabytes are what it serves well. A stream is a folder or an
object-store prefix (``s3://bucket/prefix``) holding LitData's ``index.json`` and chunks, and
beside them ``manifest.csv``: the prepared manifest's usable rows, in chunk order, with a
``stream_index`` column giving each row's sample. One sample is one manifest row (one face
track): its ``clip_id`` and its crops' JPEG bytes exactly as preparation wrote them, so a clip
read from a stream is the same pixels as one read from the folders.

The splits, folds and protocols are chosen from that manifest as from a folder's, so every
leakage guarantee carries over. Object stores are reached with boto3's own settings
(``AWS_ENDPOINT_URL`` for an S3-compatible server, the usual ``AWS_*`` credentials).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dfd.errors import MissingFile, SettingError

STREAM_MANIFEST = "manifest.csv"
STREAM_INDEX = "stream_index"  # the manifest column naming each row's sample
STREAM_CHUNKS = "index.json"  # LitData's list of chunks: samples and bytes of each
REMOTE_SCHEMES = ("s3://",)
# LitData asks PyPI for a newer version when imported: offline (clusters, CI) that is a warning
# at every import and a wait; dfd pins the versions it supports instead
os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")


def is_remote(location: str | Path) -> bool:
    """Whether a stream lives in an object store rather than on a file system."""
    return str(location).startswith(REMOTE_SCHEMES)


def track_sample(clip_id: str, jpegs: Sequence[bytes]) -> dict[str, object]:
    """One stream sample: a face track's id and its crops' encoded bytes, back to back.

    LitData wants every sample to have the same structure, so the crops are one ``bytes`` field
    with their lengths beside it rather than a list of variable length."""
    return {
        "clip_id": clip_id,
        "jpegs": b"".join(jpegs),
        "sizes": np.array([len(jpeg) for jpeg in jpegs], dtype=np.int64),
    }


def sample_jpegs(sample: dict[str, object], first: int = 0, stop: int | None = None) -> list[bytes]:
    """The encoded crops ``[first, stop)`` of a stream sample, in frame order (only those are
    copied out of the chunk)."""
    data = memoryview(sample["jpegs"])  # bytes, or LitData's memoryview of a mapped chunk
    ends = np.cumsum(np.asarray(sample["sizes"], dtype=np.int64))
    starts = np.concatenate([[0], ends[:-1]])
    return [bytes(data[start:end]) for start, end in zip(starts[first:stop], ends[first:stop])]


def object_key(url: str, name: str) -> tuple[str, str]:
    """The bucket and key of file ``name`` of the stream at ``s3://bucket/prefix``."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/{name}" if prefix else name


def object_store_client():
    """A boto3 S3 client configured from the environment (``AWS_ENDPOINT_URL`` and all)."""
    import boto3

    return boto3.client("s3")


def require_stream(location: str | Path) -> None:
    """Stop with what to run when a local stream has not been written; a remote one is checked
    when the datamodule reads its manifest (that needs the object store's credentials)."""
    if not is_remote(location) and not (Path(location) / STREAM_MANIFEST).is_file():
        raise MissingFile(
            f"no stream at {location} (no {STREAM_MANIFEST}): write one with "
            "`dfd prepare data=<name> prepare.output=stream` (or both)"
        )


def stream_file(location: str | Path, name: str, cache_dir: str | Path) -> Path:
    """A local path to file ``name`` of a stream: in its folder, or fetched into ``cache_dir``
    from an object store; a one-line error when there is none."""
    if not is_remote(location):
        require_stream(location)
        return Path(location) / name
    bucket, key = object_key(str(location), name)
    path = Path(cache_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    client = object_store_client()
    try:
        client.download_file(bucket, key, str(path))
    except Exception as error:  # botocore's errors carry the reason (no such key, no access)
        raise MissingFile(
            f"no stream at {location}: cannot read {key} from bucket {bucket} ({error})"
        ) from None
    return path


def read_stream_manifest(location: str | Path, cache_dir: str | Path) -> pd.DataFrame:
    """The manifest stored with a stream (fetched into ``cache_dir`` from an object store)."""
    from dfd.datasets.manifest import read_manifest

    return read_manifest(stream_file(location, STREAM_MANIFEST, cache_dir))


@dataclass(frozen=True)
class StreamChunks:
    """How a stream's samples lie in its chunk files: samples and bytes of each chunk, in
    sample order (sample i is in the first chunk whose running sample count exceeds i)."""

    samples: np.ndarray
    bytes: np.ndarray

    def chunk_of(self, samples: Sequence[int] | np.ndarray) -> np.ndarray:
        """The chunk number of each of ``samples``."""
        return np.searchsorted(np.cumsum(self.samples), np.asarray(samples), side="right")


def read_stream_chunks(location: str | Path, cache_dir: str | Path) -> StreamChunks:
    """The chunks of a stream, from LitData's ``index.json`` beside them."""
    chunks = json.loads(stream_file(location, STREAM_CHUNKS, cache_dir).read_text())["chunks"]
    return StreamChunks(
        samples=np.array([chunk["chunk_size"] for chunk in chunks], dtype=np.int64),
        bytes=np.array([chunk["chunk_bytes"] for chunk in chunks], dtype=np.int64),
    )


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_size(size: str | int) -> int:
    """Bytes from a size such as ``"50GB"``, ``"200 MB"`` or an int (LitData's units, powers
    of 1000)."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(size))
    unit = match.group(2).lower() if match else None
    if unit not in _SIZE_UNITS:
        raise SettingError(f"size {size!r} is not a number of B, KB, MB, GB or TB (e.g. '50GB')")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])
