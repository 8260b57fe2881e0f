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

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dfd.errors import MissingFile

STREAM_MANIFEST = "manifest.csv"
STREAM_INDEX = "stream_index"  # the manifest column naming each row's sample
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


def read_stream_manifest(location: str | Path, cache_dir: str | Path) -> pd.DataFrame:
    """The manifest stored with a stream (fetched into ``cache_dir`` from an object store);
    a one-line error when there is none."""
    from dfd.datasets.manifest import read_manifest

    if not is_remote(location):
        require_stream(location)
        return read_manifest(Path(location) / STREAM_MANIFEST)
    bucket, key = object_key(str(location), STREAM_MANIFEST)
    path = Path(cache_dir) / STREAM_MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    client = object_store_client()
    try:
        client.download_file(bucket, key, str(path))
    except Exception as error:  # botocore's errors carry the reason (no such key, no access)
        raise MissingFile(
            f"no stream at {location}: cannot read {key} from bucket {bucket} ({error})"
        ) from None
    return read_manifest(path)
