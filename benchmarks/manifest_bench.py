"""Time and memory of dfd's manifest operations at 1k, 10k and 100k videos (issue 20, item 5).

    python benchmarks/manifest_bench.py [--sizes 1000,10000,100000] [--repeats 3]

The manifests are synthetic and shaped like FaceForensics++ prepared by dfd: groups of five
videos (an original and its Deepfakes, Face2Face, FaceSwap and NeuralTextures fakes), one person
per original, face swaps naming two people (``filmed;donor``, the donor being the partner
group's person, as FF++ swaps pairs of originals), one face track of 8 frames per video with
``frame_paths``, ``frame_indices``, ``det_scores`` and ``boxes`` written as preparation writes
them, and 1% of the videos skipped. Each operation runs on the same inputs the training path
gives it:

* ``write_manifest`` / ``read_manifest``: the CSV round trip;
* ``assign_splits``: the grouped train/val/test split preparation makes of the labelled videos;
* ``cv folds by identity`` / ``by group``: ``cross_validation_split`` with 5 folds (fold 0);
* ``protocol filter``: ``select_rows`` leaving NeuralTextures out of training, testing on it;
* ``leakage check``: ``assert_no_group_leakage`` over the ok rows;
* ``frame stride``: ``frame_stride``, the frame spacing ``train.py`` checks against the detector's;
* ``dataset index``: ``FaceClipDataset.__init__`` over the ok rows (4-frame clips), which
  builds the per-row frame paths and the clip windows; no image is read.

Time is the median wall clock of ``--repeats`` runs, each after a ``gc.collect()`` (the garbage
collector stays on during the call, as in training). Memory is the peak of the Python
allocations an operation makes (``tracemalloc``, which also sees NumPy's and so pandas' arrays),
above what was allocated before it, measured in one separate run so tracing does not slow the
timed ones. An operation grows at most linearly when its cost per video at the largest size is
at most ``LINEAR_SLACK`` times its cost per video at each smaller size (small sizes carry fixed
costs, so their per-video cost is the higher one for a linear operation).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pandas as pd
from results_table import write_table

from dfd.data.dataset import FaceClipDataset
from dfd.data.transforms import build_clip_transform
from dfd.datasets.folds import CvSettings, cross_validation_split
from dfd.datasets.labels import LabeledVideo
from dfd.datasets.manifest import (
    MANIFEST_COLUMNS,
    STATUS_OK,
    STATUS_SKIPPED,
    frame_stride,
    join_list,
    ok_rows,
    read_manifest,
    write_manifest,
)
from dfd.datasets.protocols import Protocol, select_rows
from dfd.datasets.splits import assert_no_group_leakage, assign_splits

METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
SWAPS = {"Deepfakes", "FaceSwap"}  # methods that paste the donor's face: two people
FRAMES, CLIP_LEN, SKIPPED_EVERY = 8, 4, 100
LINEAR_SLACK = 1.5
PROTOCOL = Protocol(
    "leave_out_neuraltextures",
    train_methods=[m.lower() for m in METHODS[:3]],
    test_methods=["neuraltextures"],
)


def labelled_videos(count: int) -> list[LabeledVideo]:
    """``count`` videos in FF++-shaped groups of an original and its fakes."""
    per_group = 1 + len(METHODS)
    videos = []
    for index in range(count):
        group, member = divmod(index, per_group)
        person, donor = f"p{group:06d}", f"p{group ^ 1:06d}"
        if member == 0:
            video_id, label, method, identity = f"original/{group:06d}", 0, "", person
        else:
            method = METHODS[member - 1]
            video_id, label = f"{method}/{group:06d}_{group ^ 1:06d}", 1
            identity = f"{person};{donor}" if method in SWAPS else person
        videos.append(
            LabeledVideo(
                Path(f"raw/{video_id}.mp4"),
                video_id,
                label,
                f"g{group:06d}",
                identity=identity,
                method=method,
            )
        )
    return videos


def manifest_of(videos: list[LabeledVideo], splits: dict[str, str]) -> pd.DataFrame:
    """One prepared row per video, as preparation writes them (every 100th one skipped)."""
    rows = []
    for index, video in enumerate(videos):
        skipped = index % SKIPPED_EVERY == SKIPPED_EVERY - 1
        indices = [] if skipped else [12 + 37 * k for k in range(FRAMES)]
        rows.append(
            {
                "clip_id": video.video_id,
                "video_id": video.video_id,
                "face": 0,
                "label": video.label,
                "group": video.group,
                "split": splits[video.video_id],
                "source": f"{video.video_id}.mp4",
                "status": STATUS_SKIPPED if skipped else STATUS_OK,
                "reason": "no_face: no face found in 8 sampled frames" if skipped else "",
                "num_frames": len(indices),
                "frame_paths": join_list(f"faces/{video.video_id}/{i:06d}.jpg" for i in indices),
                "frame_indices": join_list(indices),
                "det_scores": join_list(f"{0.99 - 0.001 * k:.4f}" for k in range(len(indices))),
                "boxes": join_list(
                    f"{800.0 + k:.1f} {300.0:.1f} {1100.0 + k:.1f} {700.0:.1f}"
                    for k in range(len(indices))
                ),
                "fps": 29.97,
                "width": 1920,
                "height": 1080,
                "identity": video.identity,
                "method": video.method,
            }
        )
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))


def operations(count: int, folder: Path) -> dict[str, Callable[[], object]]:
    """The operations at one size, each a call with its inputs built beforehand."""
    videos = labelled_videos(count)
    manifest = manifest_of(videos, assign_splits(videos, 0.15, 0.15, 0))
    path = folder / f"manifest_{count}.csv"
    write_manifest(manifest, path)
    rows = ok_rows(read_manifest(path))
    transform = build_clip_transform(112)
    return {
        "write_manifest": lambda: write_manifest(manifest, path),
        "read_manifest": lambda: read_manifest(path),
        "assign_splits": lambda: assign_splits(videos, 0.15, 0.15, 0),
        "cv folds by identity": lambda: cross_validation_split(
            rows, CvSettings(folds=5, by="identity")
        ),
        "cv folds by group": lambda: cross_validation_split(rows, CvSettings(folds=5, by="group")),
        "protocol filter": lambda: select_rows(rows, PROTOCOL),
        "leakage check": lambda: assert_no_group_leakage(rows),
        "frame stride": lambda: frame_stride(rows),
        "dataset index": lambda: FaceClipDataset(
            rows, folder, CLIP_LEN, transform, random_augment=True
        ),
    }


def timed(call: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        gc.collect()  # no garbage of an earlier call for this one's collections to walk
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_bytes(call: Callable[[], object]) -> int:
    """Peak traced allocation of one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="manifest", help="results/<name>.csv")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    load = os.getloadavg()[0]
    results: dict[tuple[str, int], tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            started = time.perf_counter()
            ops = operations(count, Path(tmp))
            print(f"{count} videos: inputs built in {time.perf_counter() - started:.1f} s")
            for name, call in ops.items():
                results[name, count] = (timed(call, args.repeats), peak_bytes(call))
                seconds, peak = results[name, count]
                print(f"  {name:22s} {seconds * 1e3:10.1f} ms {peak / 2**20:9.1f} MiB", flush=True)
    names = list(dict.fromkeys(name for name, _ in results))
    header = ["operation", *(f"{count} videos: ms / MiB" for count in sizes), "linear"]
    rows = []
    for name in names:
        cells = [
            f"{results[name, c][0] * 1e3:.1f} / {results[name, c][1] / 2**20:.1f}" for c in sizes
        ]
        verdict = linearity(name, sizes, results)
        rows.append([name, *cells, verdict])
    print()
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))
    note = (
        f"`--sizes {args.sizes} --repeats {args.repeats}`: median wall clock (ms) and peak "
        f"traced allocation (MiB, tracemalloc, above the memory held before the call); "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
        f"CPU cores shared with other jobs (load average {load:.1f} at the start), "
        f"run under `nice -n 15`. Linear: per-video time and memory at the largest size at most "
        f"{LINEAR_SLACK}x those at each smaller size."
    )
    write_table(args.name, header, rows, note)


def linearity(
    name: str, sizes: list[int], results: dict[tuple[str, int], tuple[float, int]]
) -> str:
    """Print and return whether time and memory per video grow at most ``LINEAR_SLACK``-fold."""
    largest = sizes[-1]
    parts, linear = [], True
    for what, pick in (("time", 0), ("memory", 1)):
        per_video = {c: max(results[name, c][pick], 1e-12) / c for c in sizes}
        ratios = [per_video[largest] / per_video[c] for c in sizes[:-1]]
        worst = max(ratios, default=1.0)
        linear &= worst <= LINEAR_SLACK
        shown = ", ".join(f"{r:.2f}x vs {c}" for r, c in zip(ratios, sizes))
        parts.append(f"{what} per video at {largest}: {shown}")
    verdict = "yes" if linear else "NO"
    print(f"{name}: {'at most linear' if linear else 'SUPERLINEAR'} ({'; '.join(parts)})")
    return verdict


if __name__ == "__main__":
    main()
