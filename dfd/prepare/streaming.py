"""Pack a prepared dataset's face crops into a stream (see :mod:`dfd.datasets.streams`)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from dfd.datasets.manifest import MANIFEST_NAME, frame_paths, ok_rows, read_manifest, write_manifest
from dfd.datasets.streams import (
    STREAM_INDEX,
    STREAM_MANIFEST,
    is_remote,
    object_key,
    object_store_client,
    track_sample,
)
from dfd.prepare.extract import FACES_DIR

log = logging.getLogger(__name__)


def pack_prepared(
    prepared_dir: str | Path, stream_url: str | None, chunk_bytes: str, keep_folders: bool
) -> str:
    """Pack a finished preparation into its stream (``stream_url``, by default
    ``<prepared_dir>/stream``) and, unless ``keep_folders``, remove the crop files it holds
    (a later ``dfd prepare`` then prepares those videos again)."""
    prepared_dir = Path(prepared_dir)
    location = str(stream_url or prepared_dir / "stream")
    write_stream(prepared_dir / MANIFEST_NAME, location, chunk_bytes)
    if not keep_folders:
        shutil.rmtree(prepared_dir / FACES_DIR, ignore_errors=True)
    return location


def write_stream(manifest_path: str | Path, location: str, chunk_bytes: str = "64MB") -> int:
    """Pack the usable rows of a manifest into a stream at ``location`` (a folder or an
    ``s3://`` prefix, replaced if it exists); returns the number of face tracks packed.

    LitData's ``optimize`` writes the chunks (straight to the object store for a remote
    location) with one worker, so samples keep the manifest's order and ``stream_index`` can
    name them."""
    from litdata import optimize

    manifest_path = Path(manifest_path)
    rows = ok_rows(read_manifest(manifest_path)).reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"{manifest_path} has no usable clip to pack into a stream")
    tracks = [
        (str(row["clip_id"]), [str(path) for path in frame_paths(row, manifest_path.parent)])
        for _, row in rows.iterrows()
    ]
    if not is_remote(location):
        shutil.rmtree(location, ignore_errors=True)
    with private_work_folders():
        optimize(
            pack_track,
            tracks,
            output_dir=str(location),
            chunk_bytes=chunk_bytes,
            num_workers=1,
            reorder_files=False,
            mode="overwrite",
            verbose=False,
        )
    save_stream_manifest(rows.assign(**{STREAM_INDEX: range(len(rows))}), location)
    log.info("stream: %d face tracks packed into %s", len(rows), location)
    return len(rows)


@contextmanager
def private_work_folders() -> Iterator[None]:
    """Give LitData's writer folders of its own: by default every ``optimize`` on the machine
    shares /tmp/chunks, and two packing at once delete each other's chunks."""
    names = ("DATA_OPTIMIZER_CACHE_FOLDER", "DATA_OPTIMIZER_DATA_CACHE_FOLDER")
    before = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="dfd-stream-") as folder:
        for name in names:
            os.environ[name] = str(Path(folder) / name.lower())
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def pack_track(track: tuple[str, list[str]]) -> dict[str, object]:
    """The stream sample of one face track (run in LitData's worker process)."""
    clip_id, paths = track
    return track_sample(clip_id, [Path(path).read_bytes() for path in paths])


def save_stream_manifest(rows: pd.DataFrame, location: str) -> None:
    """Store the manifest beside the chunks (uploaded when the stream is remote)."""
    if not is_remote(location):
        write_manifest(rows, Path(location) / STREAM_MANIFEST)
        return
    bucket, key = object_key(location, STREAM_MANIFEST)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / STREAM_MANIFEST
        write_manifest(rows, path)
        object_store_client().upload_file(str(path), bucket, key)
