"""Streaming shards: crops packed into LitData chunks, read locally and from a real
S3-compatible server, give the same clips as the image files, with the same splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfd.data.datamodule import FaceClipDataModule
from dfd.datasets.manifest import read_manifest, write_manifest
from dfd.datasets.streams import STREAM_INDEX, STREAM_MANIFEST
from dfd.prepare.streaming import pack_prepared, write_stream

SETTINGS = {"clip_len": 2, "image_size": 48, "batch_size": 4, "num_workers": 0, "seed": 3}


def datamodule(manifest: Path, **extra: object) -> FaceClipDataModule:
    return FaceClipDataModule(str(manifest), **SETTINGS, **extra)


def assert_same_clips(folders: FaceClipDataModule, stream: FaceClipDataModule) -> None:
    """Every split: the same clips, windows and labels, pixel for pixel (one augmentation draw)."""
    for split in ("train", "val", "test"):
        expected, served = folders.dataset(split), stream.dataset(split)
        assert served.video_ids == expected.video_ids
        assert len(served) == len(expected) > 0
        for index in range(len(expected)):
            a, b = expected[(index, 11)], served[(index, 11)]
            assert a.keys() == b.keys()
            for key in a:
                assert np.array_equal(a[key].numpy(), b[key].numpy()), (split, index, key)


def test_a_local_stream_serves_the_clips_the_folders_serve(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    stream = tmp_path / "stream"
    packed = write_stream(tiny_prepared, str(stream), chunk_bytes="200KB")
    rows = read_manifest(stream / STREAM_MANIFEST)
    assert packed == len(rows) > 0
    assert rows[STREAM_INDEX].astype(int).tolist() == list(range(len(rows)))
    assert len(list(stream.glob("chunk-*.bin"))) > 1, "small chunks: several files"
    assert_same_clips(datamodule(tiny_prepared), datamodule(tiny_prepared, stream_url=str(stream)))


def test_a_stream_keeps_folds_and_protocols(tiny_prepared: Path, tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    write_stream(tiny_prepared, str(stream))
    cv = {"folds": 3, "fold": 1, "by": "group"}
    folders = datamodule(tiny_prepared, cv=cv)
    served = datamodule(tiny_prepared, cv=cv, stream_url=str(stream))
    assert_same_clips(folders, served)


def test_stream_only_output_removes_the_crop_files_and_still_trains(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    prepared = tmp_path / "prepared"
    shutil.copytree(tiny_prepared.parent, prepared)
    location = pack_prepared(prepared, None, "1MB", keep_folders=False)
    assert location == str(prepared / "stream")
    assert not (prepared / "faces").exists()
    served = datamodule(prepared / "manifest.csv", stream_url=location)
    batch = next(iter(served.train_dataloader()))
    assert batch["clip"].shape == (4, 2, 3, 48, 48)


def test_a_stream_out_of_step_with_its_manifest_fails(tiny_prepared: Path, tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    write_stream(tiny_prepared, str(stream))
    rows = read_manifest(stream / STREAM_MANIFEST)
    rows[STREAM_INDEX] = rows[STREAM_INDEX].astype(int).to_numpy()[::-1]
    write_manifest(rows, stream / STREAM_MANIFEST)
    served = datamodule(tiny_prepared, stream_url=str(stream))
    with pytest.raises(ValueError, match="write the stream again"):
        served.dataset("train")[(0, 0)]


def test_a_missing_stream_says_how_to_write_one(tiny_prepared: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="prepare.output=stream"):
        datamodule(tiny_prepared, stream_url=str(tmp_path / "nowhere")).setup()


def test_an_empty_manifest_is_not_packed(tmp_path: Path, tiny_prepared: Path) -> None:
    rows = read_manifest(tiny_prepared)
    write_manifest(rows.assign(status="skipped"), tmp_path / "manifest.csv")
    with pytest.raises(ValueError, match="no usable clip"):
        write_stream(tmp_path / "manifest.csv", str(tmp_path / "stream"))


@pytest.mark.slow
def test_a_stream_in_an_object_store_serves_the_same_clips(
    tiny_prepared: Path,
    tmp_path: Path,
    object_store: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in object_store.items():
        monkeypatch.setenv(name, value)
    import boto3

    boto3.client("s3").create_bucket(Bucket="streams")
    url = "s3://streams/tiny/v1"
    write_stream(tiny_prepared, url, chunk_bytes="200KB")
    listed = boto3.client("s3").list_objects_v2(Bucket="streams", Prefix="tiny/v1/")
    names = {Path(item["Key"]).name for item in listed["Contents"]}
    assert {"index.json", STREAM_MANIFEST} <= names and any(n.startswith("chunk-") for n in names)
    cache = tmp_path / "cache"
    served = datamodule(tiny_prepared, stream_url=url, stream_cache_dir=str(cache))
    assert_same_clips(datamodule(tiny_prepared), served)
    assert any(cache.rglob("chunk-*.bin")), "whole chunks fetched into the cache"
    assert pd.notna(read_manifest(cache / STREAM_MANIFEST)[STREAM_INDEX]).all()
    # a cache smaller than the stream: the draws follow its chunks, and a whole epoch reads
    small = datamodule(
        tiny_prepared,
        stream_url=url,
        stream_cache_dir=str(tmp_path / "small"),
        stream_cache_size="250KB",
    )
    loader = small.train_dataloader()
    assert loader.sampler.chunks is not None and loader.sampler.chunks_per_window == 1
    assert sum(len(batch["label"]) for batch in loader) == len(small.dataset("train")) // 4 * 4
