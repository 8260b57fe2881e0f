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

Time is the least CPU time of this process over ``--repeats`` calls (more for quick calls), each
after a ``gc.collect()`` (the collector stays on during the call, as in training): on cores shared
with other jobs the CPU time moves far less than the wall clock. Memory is the peak of the Python
allocations an operation makes (``tracemalloc``, which also sees NumPy's and so pandas' arrays),
above what was allocated before it, measured in one separate call so tracing does not slow the
timed ones.

An operation grows at most linearly when its cost per video at the largest size is at most
``LINEAR_SLACK`` times its cost per video at each smaller size (small sizes carry fixed costs, so
their per-video cost is the higher one for a linear operation). Python's dicts and objects slow
down per item once 100k of them no longer fit in the CPU caches, so the ``reference`` row, plain
dict work on the same videos (linear by construction), is timed too: a time ratio above
``LINEAR_SLACK`` still passes when it is at most ``LINEAR_SLACK`` times the reference's ratio.
A quadratic operation grows about 10x per decade.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import tempfile
import time
import tracemalloc
from collections import defaultdict
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
MIN_TIMED_S, MAX_CALLS = 0.3, 50
REFERENCE = "reference: dicts by id"
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
        REFERENCE: lambda: reference(videos),
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


def reference(videos: list[LabeledVideo]) -> None:
    """Linear by construction: a dict by video id and a dict of sets by group, the kind of work
    most operations do; its cost per video shows what the CPU caches alone add at a size."""
    group_of = {video.video_id: video.group for video in videos}
    splits_of: dict[str, set[str]] = defaultdict(set)
    for video in videos:
        splits_of[video.group].add(group_of[video.video_id])


def timed(call: Callable[[], object], repeats: int) -> float:
    """The least CPU seconds of this process over at least ``repeats`` calls (more, up to
    ``MIN_TIMED_S`` in all, for quick calls): the least is the run other jobs disturbed least."""
    times: list[float] = []
    while len(times) < repeats or (sum(times) < MIN_TIMED_S and len(times) < MAX_CALLS):
        gc.collect()  # no garbage of an earlier call for this one's collections to walk
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return min(times)


def peak_bytes(call: Callable[[], object]) -> int:
    """Peak traced allocation of one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before


Results = dict[tuple[str, int], tuple[float, int]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="manifest", help="results/<name>.csv")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    load = os.getloadavg()[0]
    results: Results = {}
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
    header = [
        "operation",
        *(f"{count} videos: ms / MiB" for count in sizes),
        f"per video at {sizes[-1]}: time / vs reference / memory",
        "linear",
    ]
    rows = []
    for name in names:
        cells = [
            f"{results[name, c][0] * 1e3:.1f} / {results[name, c][1] / 2**20:.1f}" for c in sizes
        ]
        rows.append([name, *cells, *linearity(name, sizes, results)])
    print()
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))
    note = (
        f"`--sizes {args.sizes} --repeats {args.repeats}`: least CPU time of the process over "
        f"the repeats (ms) and peak traced allocation (MiB, tracemalloc, above the memory held "
        f"before the call); {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores shared with other jobs (load average {load:.1f} at the "
        f"start), run under `nice -n 15`. Per video at the largest size: the worst ratio of its "
        f"cost per video to that at a smaller size, for time also divided by the reference's "
        f"ratio. Linear: memory ratio at most {LINEAR_SLACK}x and time ratio at most "
        f"{LINEAR_SLACK}x (`yes`), or at most {LINEAR_SLACK}x once divided by the reference's "
        f"(`yes, as the reference`); a quadratic operation shows about 10x a decade."
    )
    write_table(args.name, header, rows, note)


def linearity(name: str, sizes: list[int], results: Results) -> tuple[str, str]:
    """Print whether time and memory per video grow at most ``LINEAR_SLACK``-fold from each
    smaller size to the largest; return the worst ratios and the verdict for the table."""

    def worst(operation: str, pick: int) -> float:
        per_video = {c: max(results[operation, c][pick], 1e-9) / c for c in sizes}
        return max((per_video[sizes[-1]] / per_video[c] for c in sizes[:-1]), default=1.0)

    time_ratio, memory_ratio = worst(name, 0), worst(name, 1)
    relative = time_ratio / worst(REFERENCE, 0)
    if memory_ratio > LINEAR_SLACK or min(time_ratio, relative) > LINEAR_SLACK:
        verdict = "NO"
    else:
        verdict = "yes" if time_ratio <= LINEAR_SLACK else "yes, as the reference"
    ratios = f"{time_ratio:.2f}x / {relative:.2f}x / {memory_ratio:.2f}x"
    print(
        f"{name}: {'SUPERLINEAR' if verdict == 'NO' else 'at most linear'}: per video at "
        f"{sizes[-1]}, worst against a smaller size: time {time_ratio:.2f}x ({relative:.2f}x "
        f"the reference's), memory {memory_ratio:.2f}x ({verdict})"
    )
    return ratios, verdict


if __name__ == "__main__":
    main()
