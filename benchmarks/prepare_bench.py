"""Time dfd's face preparation against a naive baseline, check its crops and its memory use.

    python benchmarks/prepare_bench.py [--root DIR] [--videos N] [--quick] [--rebuild]
        [--skip-memory | --memory-only]

The benchmark set is made once into ``--root`` (reused until ``--rebuild``): real face videos
from :func:`dfd.demo.media.fetch_media`, letterboxed to 1280x720, looped or cut to 10 s at
25 fps and encoded to H.264 (libx264 defaults otherwise, so a keyframe every 250 frames) by a
streaming writer. Each video starts at a different point of its source.

* naive baseline: one process; OpenCV reads every frame, MTCNN runs on each sampled frame
  (the same evenly spaced frames as dfd) at full resolution, the largest face is cropped and
  saved like dfd does.
* dfd: ``prepare_dataset`` with the settings of conf/prepare.yaml, with 1 and 2 workers, and
  with 2 workers and ``decoder=decord``; then with the fast face detector
  (``detector=blazeface``: BlazeFace picks the levels MTCNN searches) with 1 and 2 workers. Each run is a fresh process started the way ``python
  -m dfd.prepare`` starts (the worker server first, then the imports), timed from after its
  imports as the naive run is.
* agreement: per sampled frame, the IoU of dfd's face box (and of its square crop) with the naive
  full-resolution one, for either detector; and of the fast detector's box with dfd's MTCNN one.
* stages: where the time of one video goes (open, decode, detect, crop) in each, timed in
  this process, and how long dfd's worker pool takes to start (once per run).
* memory: peak RSS of ``python -m dfd.prepare`` (1 worker) on one 10 s and one 60 s 720p video,
  sampling ``num_frames`` evenly and densely (``fps``), with either detector, next to the same
  command with no video;
  and on a 4K video with 32 sampled frames, held in one read and read in chunks
  (``prepare.frame_memory_mb``), with glibc's malloc as it is and with a fixed mmap threshold
  (``MALLOC_MMAP_THRESHOLD_``). ``--memory-only`` runs this part alone.

The throughput and memory tables are printed and written to results/prepare_throughput.csv and
results/prepare_memory.csv (with what they ran on in the .note.md beside each), which the docs'
benchmarks page includes.

Targets from the issues: with 2 workers on 2 CPU cores at least 3x the naive baseline with MTCNN
and 8x with the fast detector; box IoU >= 0.9 on >= 95% of frames; peak RSS that does not grow
with video length.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf
from results_table import write_table

from dfd.datasets.manifest import face_boxes, frame_indices, ok_rows, read_manifest
from dfd.demo.encode import CODEC, CRF, PIX_FMT, PRESET, x264_params
from dfd.demo.media import fetch_media
from dfd.prepare.crops import crop_square, save_rgb_jpeg, square_region
from dfd.prepare.detectors import DETECTORS, Detections, FaceDetector
from dfd.prepare.detectors.mtcnn import MtcnnDetector
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.tracking import box_iou, find_tracks
from dfd.prepare.video import open_video, sample_indices

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, FPS = 1280, 720, 25
OFFSET_STEP = 6.1  # seconds: how much later each further pass over the sources starts
DENSE = {"fps": 5.0, "max_frames": 48}  # dense sampling; both lengths reach max_frames
UHD = (3840, 2160)
UHD_SAMPLING = {"fps": 8.0, "max_frames": 32}  # 32 frames of 4K: 760 MiB decoded
UHD_BUDGET_MB = 256  # prepare.frame_memory_mb for the chunked 4K run
# glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB), so freed 4K
# frames (24 MiB) may stay in the heap; a fixed threshold hands every frame back to the system
ALLOCATORS = {
    "glibc default": {},
    "MALLOC_MMAP_THRESHOLD_=1048576": {"MALLOC_MMAP_THRESHOLD_": "1048576"},
}
TARGET_IOU, TARGET_FRACTION = 0.9, 0.95
TARGET_SPEEDUP = {"mtcnn": 3.0, "blazeface": 8.0}  # with 2 workers, per face detector
FAST = "blazeface"
MAX_GROWTH = 0.10  # the 60 s video's peak RSS may exceed the 10 s one's by this fraction
STAGES = ("open", "decode", "detect", "crop")
DFD_RUNS = (
    (1, "pyav", "mtcnn"),
    (2, "pyav", "mtcnn"),
    (2, "decord", "mtcnn"),
    (1, "pyav", FAST),
    (2, "pyav", FAST),
)  # (workers, decoder, detector); the configured ones are pyav and mtcnn
# exit statuses of dfd prepare on the all-real memory runs: 1 says "one class only" (or, with no
# video, "no usable clip"); that each video gave its clip is checked on the manifest
ONE_CLASS_ONLY = (0, 1)
NO_VIDEO = "-"  # the sampling column of the memory run without a video


@dataclass(frozen=True)
class Source:
    """A real video and the part of it that shows a face (``stop`` None: to the end)."""

    name: str
    start: float = 0.0
    stop: float | None = None


SOURCES = (
    Source("woman_pexels"),
    Source("man_webcam"),
    Source("carphone"),
    Source("man_face_noface", 0.0, 2.4),
    Source("man_noface_face", 4.0),
)
MEMORY_SOURCE = SOURCES[0]


@dataclass(frozen=True)
class BenchVideo:
    """``seconds`` of a source at ``size`` (720p unless said)/25 fps, from ``offset`` seconds into its face part."""

    source: Source
    offset: float
    seconds: float
    size: tuple[int, int] = (WIDTH, HEIGHT)

    @property
    def file_name(self) -> str:
        resolution = "" if self.size == (WIDTH, HEIGHT) else f"_{self.size[1]}p"
        return f"{self.source.name}_from{self.offset:g}s_{self.seconds:g}s{resolution}.mp4"


@dataclass(frozen=True)
class Mode:
    """Sizes of one benchmark run: the full one or ``--quick``."""

    videos: int
    seconds: float
    memory_seconds: tuple[float, float]


FULL, QUICK = Mode(24, 10.0, (10.0, 60.0)), Mode(3, 4.0, (4.0, 12.0))


class Stages:
    """Seconds spent per named stage, summed over all calls."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


# --- the benchmark set ---------------------------------------------------------------------


def bench_videos(count: int, seconds: float) -> list[BenchVideo]:
    """``count`` videos cycling through the sources, each later pass starting further in."""
    return [
        BenchVideo(SOURCES[k % len(SOURCES)], (k // len(SOURCES)) * OFFSET_STEP, seconds)
        for k in range(count)
    ]


def looped_frames(path: Path, source: Source) -> Iterator[tuple[float, np.ndarray]]:
    """The face part of a video as (time, RGB frame), looped forever on a continuous clock."""
    clock = 0.0
    while True:
        last = None
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            step = 1.0 / float(stream.average_rate or FPS)
            for frame in container.decode(stream):
                moment = float(frame.time)
                if moment < source.start:
                    continue
                if source.stop is not None and moment >= source.stop:
                    break
                last = moment - source.start
                yield clock + last, frame.to_ndarray(format="rgb24")
        if last is None:
            raise ValueError(f"{path}: no frames between {source.start} s and {source.stop} s")
        clock += last + step


def resampled(
    frames: Iterator[tuple[float, np.ndarray]], offset: float, count: int
) -> Iterator[np.ndarray]:
    """``count`` frames at ``FPS``, from ``offset`` seconds on: the frame on screen at each tick."""
    _, current = next(frames)
    upcoming = next(frames)
    for tick in range(count):
        moment = offset + tick / FPS
        while upcoming[0] <= moment + 1e-6:
            current, upcoming = upcoming[1], next(frames)
        yield current


def letterbox(frame: np.ndarray, canvas_size: tuple[int, int]) -> np.ndarray:
    """Scale a frame to fit ``canvas_size`` (width, height) and pad it with black, centred."""
    height, width = frame.shape[:2]
    canvas_width, canvas_height = canvas_size
    scale = min(canvas_width / width, canvas_height / height)
    size = (min(canvas_width, round(width * scale)), min(canvas_height, round(height * scale)))
    resized = cv2.resize(
        frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    canvas = np.zeros((canvas_height, canvas_width, 3), np.uint8)
    left, top = (canvas_width - size[0]) // 2, (canvas_height - size[1]) // 2
    canvas[top : top + size[1], left : left + size[0]] = resized
    return canvas


def encode(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int]) -> None:
    """Encode RGB frames of ``size`` (width, height) to H.264 one at a time; the file appears when complete."""
    partial = path.with_name(path.stem + ".part" + path.suffix)
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream(CODEC, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *size, PIX_FMT
        stream.time_base = Fraction(1, FPS)
        extra = {"x264-params": x264_params()} if x264_params() else {}
        stream.options = {"crf": str(CRF), "preset": PRESET, **extra}
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    partial.replace(path)


def build(videos: list[BenchVideo], folder: Path, rebuild: bool) -> list[Path]:
    """Make the videos that are missing (or all of them with ``rebuild``); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    media = fetch_media(sorted({video.source.name for video in videos}))
    paths = []
    for video in videos:
        path = folder / video.file_name
        if rebuild or not path.is_file():
            print(f"  encoding {path.name}", flush=True)
            frames = resampled(
                looped_frames(media[video.source.name], video.source),
                video.offset,
                round(video.seconds * FPS),
            )
            encode(path, (letterbox(frame, video.size) for frame in frames), video.size)
        paths.append(path)
    return paths


def write_labels(paths: list[Path], folder: Path) -> Path:
    """A ``file,label`` CSV naming the videos (all real) by absolute path."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = folder / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows([str(path), "REAL"] for path in paths)
    return labels


# --- the naive baseline --------------------------------------------------------------------


def largest(found: Detections) -> np.ndarray:
    """The box of the largest face."""
    areas = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
    return found.boxes[int(np.argmax(areas))]


def naive_video(
    path: Path, detector: FaceDetector, out_dir: Path, settings: PrepareSettings, clock: Stages
) -> tuple[int, dict[int, np.ndarray]]:
    """Read every frame with OpenCV, detect and crop the sampled ones; (sampled count, box per frame)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with clock("open"):
        capture = cv2.VideoCapture(str(path))
        wanted = set(
            sample_indices(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), settings.num_frames)
        )
    boxes: dict[int, np.ndarray] = {}
    index = 0
    while True:
        with clock("decode"):
            ok, bgr = capture.read()
        if not ok:
            break
        if index in wanted:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            with clock("detect"):
                found = detector.detect([rgb])[0]
            if len(found):
                boxes[index] = largest(found)
                with clock("crop"):
                    crop = crop_square(rgb, boxes[index], settings.margin, settings.face_size)
                    save_rgb_jpeg(crop, out_dir / f"{index:06d}.jpg")
        index += 1
    capture.release()
    return len(wanted), boxes


def run_naive(
    paths: list[Path], out_dir: Path, settings: PrepareSettings
) -> tuple[float, int, dict[str, dict[int, np.ndarray]], Stages]:
    """The baseline over all videos: (seconds, sampled frames, boxes per video id, stage times)."""
    clock = Stages()
    started = time.perf_counter()
    detector = MtcnnDetector(
        settings.device,
        batch_size=1,
        min_prob=settings.min_face_prob,
        min_face_size=settings.min_face_size,
        max_side=None,
    )
    sampled, boxes = 0, {}
    for path in paths:
        count, boxes[path.stem] = naive_video(path, detector, out_dir / path.stem, settings, clock)
        sampled += count
    return time.perf_counter() - started, sampled, boxes, clock


# --- dfd -----------------------------------------------------------------------------------


def conf_settings(**overrides: object) -> PrepareSettings:
    """The ``prepare:`` block of conf/prepare.yaml, with overrides."""
    values = OmegaConf.to_container(
        OmegaConf.load(REPO / "conf" / "prepare.yaml").prepare, resolve=True
    )
    return PrepareSettings(**{**values, **overrides})


DFD_RUN = """
import json, sys, time
from dfd.prepare.workers import start_worker_server
job = json.loads(sys.argv[1])
if job["settings"]["workers"] > 1:
    start_worker_server()  # as python -m dfd.prepare does: the server imports torch beside this process
from dfd.datasets.labels import read_label_csv
from dfd.prepare.runner import prepare_dataset
from dfd.prepare.settings import PrepareSettings
table = read_label_csv(job["labels"], job["raw_dir"])
started = time.perf_counter()
prepare_dataset(table, job["raw_dir"], job["out_dir"], PrepareSettings(**job["settings"]), show_progress=False)
print(time.perf_counter() - started)
"""


def run_dfd(labels: Path, out_dir: Path, **overrides: object) -> tuple[float, pd.DataFrame]:
    """``prepare_dataset`` into a fresh folder, in a fresh process that starts like ``python -m
    dfd.prepare`` (the worker server first, then the imports): (wall seconds after the imports,
    as for the naive run, and the manifest)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    settings = dataclasses.asdict(conf_settings(force=True, **overrides))
    job = {
        "labels": str(labels),
        "raw_dir": str(labels.parent),
        "out_dir": str(out_dir),
        "settings": settings,
    }
    result = subprocess.run(
        [sys.executable, "-c", DFD_RUN, json.dumps(job)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"},
    )
    if result.returncode:
        raise RuntimeError(f"the dfd run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1]), read_manifest(out_dir / "manifest.csv")


def dfd_stages(paths: list[Path], out_dir: Path, settings: PrepareSettings) -> Stages:
    """dfd's steps, timed one by one in this process: open (probe, index), decode the sampled frames,
    detect (on every sampled frame, as with ``detect_every: 1``), crop (tracking and JPEGs)."""
    clock = Stages()
    detector = DETECTORS[settings.detector](
        settings.device,
        settings.detect_batch,
        settings.min_face_prob,
        settings.min_face_size,
        settings.detect_size,
    )
    for path in paths:
        with clock("open"):
            video = open_video(path)
            indices = video.sample(settings.num_frames, settings.fps, settings.max_frames)
        with clock("decode"):
            frames = video.read(indices)
        with clock("detect"):
            found = detector.detect(frames)
        with clock("crop"):
            tracks = find_tracks(
                found,
                indices,
                max_tracks=settings.max_faces,
                min_detected_fraction=settings.min_track_fraction,
                smooth_window=settings.smooth_window,
            )
            folder = out_dir / path.stem
            folder.mkdir(parents=True, exist_ok=True)
            for index, frame, box in zip(indices, frames, tracks[0].boxes if tracks else []):
                save_rgb_jpeg(
                    crop_square(frame, box, settings.margin, settings.face_size),
                    folder / f"{index:06d}.jpg",
                )
    return clock


POOL_START = """
import os, time
from concurrent.futures import ProcessPoolExecutor
from dfd.prepare.workers import pool_context
started = time.perf_counter()
with ProcessPoolExecutor(2, mp_context=pool_context()) as pool:
    [future.result() for future in [pool.submit(os.getpid) for _ in range(2)]]
print(time.perf_counter() - started)
"""


def worker_startup() -> float:
    """Seconds until dfd's worker pool answers, in a fresh process that does nothing else: the
    one-off cost of a run with workers (its server imports torch and MTCNN once; workers fork
    from it). ``python -m dfd.prepare`` starts the server before its own imports, so the two
    import side by side."""
    result = subprocess.run(
        [sys.executable, "-c", POOL_START], cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def agreement(
    manifest: pd.DataFrame, naive: dict[str, dict[int, np.ndarray]], margin: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """IoU of dfd's face box with the naive one, and of the square crops cut around them (with
    ``margin``), on every frame where the naive run found a face (0 where dfd has no box there);
    and the number of frames with a box in only one of the two runs."""
    dfd_boxes = manifest_boxes(manifest)
    box_ious, crop_ious = [], []
    for video_id, boxes in naive.items():
        ours = dfd_boxes.get(video_id, {})
        for index, box in boxes.items():
            found = index in ours
            box_ious.append(float(box_iou(box, ours[index][None])[0]) if found else 0.0)
            crop_ious.append(
                float(box_iou(crop_box(box, margin), crop_box(ours[index], margin)[None])[0])
                if found
                else 0.0
            )
    unmatched = sum(
        len(set(boxes) ^ set(dfd_boxes.get(video_id, {}))) for video_id, boxes in naive.items()
    )
    return np.array(box_ious), np.array(crop_ious), unmatched


def manifest_boxes(manifest: pd.DataFrame) -> dict[str, dict[int, np.ndarray]]:
    """The face box of every prepared frame, by video id and frame index (as the naive run's)."""
    return {
        row["video_id"]: dict(zip(frame_indices(row), face_boxes(row)))
        for _, row in ok_rows(manifest).iterrows()
    }


def crop_box(box: np.ndarray, margin: float) -> np.ndarray:
    """The square region ``x1, y1, x2, y2`` that dfd crops around a face box."""
    left, top, side = square_region(box, margin)
    return np.array([left, top, left + side, top + side], dtype=float)


def agreement_row(
    detector: str, reference: str, boxes: np.ndarray, crops: np.ndarray, unmatched: int
) -> tuple[str, ...]:
    """One row of results/prepare_agreement.csv."""
    return (
        detector,
        reference,
        str(len(boxes)),
        f"{100 * np.mean(boxes >= TARGET_IOU):.1f}%" if len(boxes) else "",
        f"{np.median(boxes):.3f}" if len(boxes) else "",
        f"{100 * np.mean(crops >= TARGET_IOU):.1f}%" if len(crops) else "",
        str(unmatched),
    )


AGREEMENT_HEADER = (
    "detector",
    "reference",
    "faces",
    f"face box IoU >= {TARGET_IOU}",
    "median box IoU",
    f"crop IoU >= {TARGET_IOU}",
    "a face in one run only",
)


def describe_agreement(name: str, ious: np.ndarray, unmatched: int) -> tuple[str, float]:
    """One line on how many frames reach the IoU target, and that fraction."""
    fraction = float(np.mean(ious >= TARGET_IOU)) if len(ious) else 0.0
    median = np.median(ious) if len(ious) else 0.0
    return (
        f"{name} IoU >= {TARGET_IOU} on {100 * fraction:.1f}% of {len(ious)} frames (min "
        f"{ious.min(initial=1.0):.3f}, median {median:.3f}; a face in only one of the runs: {unmatched})"
    ), fraction


# --- memory --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryRun:
    """Peak RSS of one ``python -m dfd.prepare`` run on one video (or none)."""

    video: str
    sampling: str
    frames: int
    peak_mib: float
    allocator: str = "glibc default"  # the malloc settings it ran with


# Runs `python -m <module> ...` and, as it exits, writes the high-water mark of its own
# address space (VmHWM). The child's ru_maxrss is no use here: a child started by vfork and exec
# (as subprocess starts it) also counts the peak of this process, whose imports alone are large.
PEAK_RSS_RUNNER = """
import atexit, runpy, sys
out, module = sys.argv[1], sys.argv[3]

def report():
    with open('/proc/self/status') as status:
        kib = next(line for line in status if line.startswith('VmHWM:')).split()[1]
    with open(out, 'w') as file:
        file.write(kib)

atexit.register(report)
sys.argv = [module, *sys.argv[4:]]
runpy.run_module(module, run_name='__main__', alter_sys=True)
"""


def peak_rss_mib(
    command: list[str],
    log: Path,
    allowed: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> float:
    """Run ``python -m <module> ...`` to its end (with ``env`` added to the environment) and
    return its peak resident memory in MiB; an exit status not ``allowed`` is an error."""
    python, flag, *rest = command
    if flag != "-m":
        raise ValueError(f"peak_rss_mib runs `python -m <module> ...`, not {command}")
    peak_file = log.with_suffix(".vmhwm")
    peak_file.unlink(missing_ok=True)
    with log.open("w") as output:
        returncode = subprocess.run(
            [python, "-c", PEAK_RSS_RUNNER, str(peak_file), flag, *rest],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", **(env or {})},
        ).returncode
    if returncode not in allowed or not peak_file.exists():
        raise RuntimeError(f"{' '.join(command)} failed ({returncode}):\n{log.read_text()[-2000:]}")
    return int(peak_file.read_text()) / 1024  # KiB


def prepare_command(raw_dir: Path, work: Path, overrides: dict[str, object]) -> list[str]:
    """``python -m dfd.prepare`` on the videos of ``raw_dir``/labels.csv, 1 worker, output under ``work``."""
    settings = [
        f"prepare.{key}={value}"
        for key, value in {"workers": 1, "force": "true", **overrides}.items()
    ]
    return [
        sys.executable,
        "-m",
        "dfd.prepare",
        "data=csv",
        f"data.raw_dir={raw_dir}",
        f"paths.data_dir={work / 'data'}",
        f"paths.log_dir={work / 'logs'}",
        *settings,
    ]


def memory_runs(paths: list[Path | None], work: Path, detector: str) -> list[MemoryRun]:
    """Each video (None: no video, imports only) prepared alone with ``detector``, sampled
    evenly and densely."""
    runs = []
    for path in paths:
        raw_dir = write_labels(
            [path] if path else [], work / "raw" / (path.stem if path else "none")
        ).parent
        modes = {"num_frames": {}, f"fps={DENSE['fps']:g}": DENSE} if path else {NO_VIDEO: {}}
        for sampling, overrides in modes.items():
            peak = peak_rss_mib(
                prepare_command(raw_dir, work, {**overrides, "detector": detector}),
                work / f"{raw_dir.name}_{sampling}_{detector}.log",
                allowed=ONE_CLASS_ONLY,
            )
            manifest = prepared_clips(work, bool(path))
            runs.append(
                MemoryRun(
                    path.name if path else "none (imports only)",
                    f"{sampling}, {detector}",
                    int(manifest["num_frames"].sum()),
                    peak,
                )
            )
    return runs


def prepared_clips(work: Path, expected: bool) -> pd.DataFrame:
    """The ok rows of the last memory run's manifest; an error if a video gave none."""
    manifest = ok_rows(read_manifest(work / "data" / "csv" / "prepared" / "manifest.csv"))
    if expected and manifest.empty:
        raise RuntimeError(f"the memory run in {work} prepared no clip")
    return manifest


def budget_runs(path: Path, work: Path) -> list[MemoryRun]:
    """One 4K video, its sampled frames held in one read (the default budget) and read in
    chunks, with glibc's default allocator settings and with a fixed mmap threshold."""
    raw_dir = write_labels([path], work / "raw" / path.stem).parent
    runs = []
    for allocator, env in ALLOCATORS.items():
        for budget in (PrepareSettings.frame_memory_mb, UHD_BUDGET_MB):
            overrides = {**UHD_SAMPLING, "frame_memory_mb": budget}
            peak = peak_rss_mib(
                prepare_command(raw_dir, work, overrides),
                work / f"{path.stem}_{budget}_{len(runs)}.log",
                allowed=ONE_CLASS_ONLY,
                env=env,
            )
            manifest = prepared_clips(work, True)
            runs.append(
                MemoryRun(
                    path.name,
                    f"fps={UHD_SAMPLING['fps']:g}, frame_memory_mb={budget}, {allocator}",
                    int(manifest["num_frames"].sum()),
                    peak,
                    allocator,
                )
            )
    return runs


# --- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """One timed preparation of the whole set."""

    name: str
    seconds: float
    frames: int  # sampled frames prepared


def verdict(ok: bool) -> str:
    """How a figure stands against its target."""
    return "PASS" if ok else "MISS"


def print_table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """A plain text table, the first column left-aligned."""
    cells = [tuple(str(cell) for cell in row) for row in [header, *rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    for row in cells:
        print(
            "  ".join(
                cell.ljust(widths[0]) if k == 0 else cell.rjust(widths[k])
                for k, cell in enumerate(row)
            )
        )


def throughput_rows(runs: list[Throughput], videos: int) -> list[tuple[str, ...]]:
    """(run, wall s, videos/min, frames/s, speed-up over the first run) per run."""
    return [
        (
            run.name,
            f"{run.seconds:.1f}",
            f"{60 * videos / run.seconds:.1f}",
            f"{run.frames / run.seconds:.2f}",
            f"{runs[0].seconds / run.seconds:.2f}x",
        )
        for run in runs
    ]


def print_stages(
    naive: Stages, ours: dict[str, Stages], videos: int, startup: float, detect_size: int | None
) -> None:
    """Seconds per video and stage, naive against dfd with each detector, and the start-up of
    one worker process."""
    print(f"\nstages, one process, seconds per video (dfd detects at {detect_size or 'full'} px)")
    clocks = [naive, *ours.values()]
    rows = [
        (stage, *(f"{clock.seconds[stage] / videos:.2f}" for clock in clocks)) for stage in STAGES
    ]
    rows.append(("total", *(f"{sum(clock.seconds.values()) / videos:.2f}" for clock in clocks)))
    header = ("stage", "naive", *(f"dfd {name}" for name in ours))
    print_table(header, rows)
    write_table(
        "prepare_stages",
        header,
        rows,
        f"Seconds per video and stage in one process ({videos} videos; dfd detects at "
        f"{detect_size or 'full'} px; the naive loop decodes every frame and runs MTCNN at full "
        "resolution).",
    )
    print(
        f"plus, once per run with workers: {startup:.1f} s to start dfd's worker pool in a process doing "
        "nothing else (python -m dfd.prepare starts it beside its own imports)"
    )
    naive_total = sum(naive.seconds.values())
    cores = len(os.sched_getaffinity(0))
    for name, clock in ours.items():
        share = clock.seconds["decode"] / sum(clock.seconds.values())
        print(
            f"dfd {name}: {naive_total / sum(clock.seconds.values()):.2f}x naive in one process; "
            f"{cores * naive_total / sum(clock.seconds.values()):.2f}x expected with {cores} workers "
            f"on {cores} free cores once the pool runs; decoding is {100 * share:.0f}% of its time"
        )


def memory_verdicts(runs: list[MemoryRun]) -> list[str]:
    """Per sampling mode: the peak RSS of the shortest against the longest video."""
    lines = []
    for sampling in dict.fromkeys(
        run.sampling for run in runs if not run.sampling.startswith(NO_VIDEO)
    ):
        same = [run for run in runs if run.sampling == sampling]
        short, long = same[0], same[-1]
        growth = long.peak_mib / short.peak_mib - 1.0
        lines.append(
            f"{verdict(growth <= MAX_GROWTH)}  peak RSS, {sampling}: {short.video} -> {long.video} "
            f"({short.frames} -> {long.frames} frames): {short.peak_mib:.0f} -> {long.peak_mib:.0f} MiB "
            f"({100 * growth:+.1f}%, target <= +{100 * MAX_GROWTH:g}%)"
        )
    return lines


def memory_section(
    args: argparse.Namespace, mode: Mode, machine: str
) -> tuple[list[MemoryRun], list[MemoryRun]]:
    """The peak-RSS runs (by video length, then the 4K budget runs); writes prepare_memory.csv."""
    print("\n== memory: python -m dfd.prepare, workers=1, one video per run", flush=True)
    long_videos = build(
        [BenchVideo(MEMORY_SOURCE, 0.0, seconds) for seconds in mode.memory_seconds],
        args.root / "videos",
        args.rebuild,
    )
    memory = [
        run
        for detector in TARGET_SPEEDUP
        for run in memory_runs([None, *long_videos], args.root / "memory", detector)
    ]
    uhd = build(
        [BenchVideo(MEMORY_SOURCE, 0.0, mode.memory_seconds[0], UHD)],
        args.root / "videos",
        args.rebuild,
    )
    budget = budget_runs(uhd[0], args.root / "memory")
    memory_header = ("video", "sampling", "frames", "peak RSS MiB")
    memory_rows = [
        (run.video, run.sampling, run.frames, f"{run.peak_mib:.0f}") for run in [*memory, *budget]
    ]
    print_table(memory_header, memory_rows)
    write_table(
        "prepare_memory",
        memory_header,
        memory_rows,
        f"Peak RSS of `python -m dfd.prepare`, 1 worker, one video per run; {machine}.",
    )
    return memory, budget


def print_memory_summary(memory: list[MemoryRun], budget: list[MemoryRun]) -> None:
    """The memory verdicts, then the 4K peaks in one read and in chunks, per allocator setting."""
    for line in memory_verdicts(memory):
        print(line)
    for whole, chunked in zip(budget[::2], budget[1::2]):
        print(
            f"4K, {whole.frames} frames ({whole.frames * UHD[0] * UHD[1] * 3 / 2**20:.0f} MiB "
            f"decoded), {whole.allocator}: peak RSS {whole.peak_mib:.0f} MiB in one read, "
            f"{chunked.peak_mib:.0f} MiB read in chunks (frame_memory_mb={UHD_BUDGET_MB})"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dfd-prepare-bench",
        help="scratch folder: the benchmark videos (kept) and every run's output",
    )
    parser.add_argument(
        "--videos",
        type=int,
        help=f"videos in the set (default {FULL.videos}, {QUICK.videos} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK.seconds:g} s videos, memory on {QUICK.memory_seconds} s ones",
    )
    parser.add_argument("--rebuild", action="store_true", help="encode the benchmark videos again")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the peak-RSS runs")
    parser.add_argument(
        "--memory-only", action="store_true", help="only the peak-RSS runs (prepare_memory.csv)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    mode = QUICK if args.quick else FULL
    settings = conf_settings()
    machine = (
        f"cpus {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), torch threads "
        f"{torch.get_num_threads()} here and cpus // n in each of n workers; load average "
        f"{os.getloadavg()[0]:.2f} at the start (the cores may be shared with other jobs)"
    )
    print(machine)
    if args.memory_only:
        print_memory_summary(*memory_section(args, mode, machine))
        return

    print(f"\n== benchmark set in {args.root / 'videos'}", flush=True)
    videos = build(
        bench_videos(args.videos or mode.videos, mode.seconds), args.root / "videos", args.rebuild
    )
    labels = write_labels(videos, args.root / "videos")
    print(
        f"{len(videos)} videos, {WIDTH}x{HEIGHT}, {FPS} fps, {mode.seconds:g} s, "
        f"{settings.num_frames} frames sampled from each"
    )

    print(
        "\n== naive baseline: OpenCV reads every frame, MTCNN at full resolution, one process",
        flush=True,
    )
    naive_s, naive_frames, naive_boxes, naive_clock = run_naive(
        videos, args.root / "runs" / "naive", settings
    )
    runs, manifests, names = [Throughput("naive", naive_s, naive_frames)], {}, {}
    for workers, decoder, detector in DFD_RUNS:
        name = (
            f"dfd, workers={workers}"
            + ("" if decoder == settings.decoder else f", decoder={decoder}")
            + ("" if detector == settings.detector else f", detector={detector}")
        )
        names[workers, decoder, detector] = name
        print(f"== {name}", flush=True)
        seconds, manifests[name] = run_dfd(
            labels,
            args.root / "runs" / f"dfd_workers{workers}_{decoder}_{detector}",
            workers=workers,
            decoder=decoder,
            detector=detector,
        )
        runs.append(Throughput(name, seconds, int(ok_rows(manifests[name])["num_frames"].sum())))
    # the headline runs: 2 workers, the configured decoder, each detector
    headlines = {
        detector: next(run for run in runs if run.name == names[2, settings.decoder, detector])
        for detector in TARGET_SPEEDUP
    }
    print("== dfd stages, timed one by one", flush=True)
    clocks = {
        detector: dfd_stages(
            videos,
            args.root / "runs" / f"dfd_stages_{detector}",
            dataclasses.replace(settings, detector=detector),
        )
        for detector in TARGET_SPEEDUP
    }
    startup = worker_startup()

    print(f"\nthroughput, {len(videos)} videos")
    print_table(
        ("run", "wall s", "videos/min", "frames/s", "speed-up"), throughput_rows(runs, len(videos))
    )
    print_stages(naive_clock, clocks, len(videos), startup, settings.detect_size)
    agreements, agreement_rows = [], []  # (line, fraction); rows of prepare_agreement.csv
    for detector, headline in headlines.items():
        box_ious, crop_ious, unmatched = agreement(
            manifests[headline.name], naive_boxes, settings.margin
        )
        agreement_rows.append(
            agreement_row(detector, "MTCNN at full resolution", box_ious, crop_ious, unmatched)
        )
        agreements.append(describe_agreement(f"{detector}: face box", box_ious, unmatched))
        agreements.append(
            describe_agreement(
                f"{detector}: crop (margin {settings.margin:g})", crop_ious, unmatched
            )
        )
    print("\nagreement with full-resolution MTCNN (the naive run):")
    for line, _ in agreements:
        print(f"  {line}")
    mtcnn_boxes = manifest_boxes(manifests[headlines["mtcnn"].name])
    box_ious, crop_ious, unmatched = agreement(
        manifests[headlines[FAST].name], mtcnn_boxes, settings.margin
    )
    agreement_rows.append(
        agreement_row(
            FAST,
            f"dfd's MTCNN (detect_size {settings.detect_size})",
            box_ious,
            crop_ious,
            unmatched,
        )
    )
    write_table(
        "prepare_agreement",
        AGREEMENT_HEADER,
        agreement_rows,
        f"The {len(videos)} benchmark videos' sampled frames, dfd with 2 workers and the "
        f"configured settings (detect_size {settings.detect_size}, margin {settings.margin:g}); "
        "the crop is the square dfd cuts around the box.",
    )
    same_scale = [
        describe_agreement(f"{FAST} against dfd's MTCNN: face box", box_ious, unmatched),
        describe_agreement(
            f"{FAST} against dfd's MTCNN: crop (margin {settings.margin:g})", crop_ious, unmatched
        ),
    ]
    print("agreement with dfd's MTCNN run (same frames, same detect_size):")
    for line, _ in same_scale:
        print(f"  {line}")

    memory, budget = ([], []) if args.skip_memory else memory_section(args, mode, machine)

    print(f"\n== summary\n{machine}")
    throughput_header = ("run", "wall s", "videos/min", "frames/s", "speed-up")
    print_table(throughput_header, throughput_rows(runs, len(videos)))
    write_table(
        "prepare_throughput",
        throughput_header,
        throughput_rows(runs, len(videos)),
        f"{len(videos)} videos, {WIDTH}x{HEIGHT}, {FPS} fps, {mode.seconds:g} s, "
        f"{settings.num_frames} frames sampled from each; {machine}.",
    )
    print(
        "(wall clock after the imports, in a fresh process for each dfd run; with workers it includes the "
        "wait for the worker pool)"
    )
    for detector, headline in headlines.items():
        speedup = naive_s / headline.seconds
        print(
            f"{verdict(speedup >= TARGET_SPEEDUP[detector])}  speed-up of {headline.name}: "
            f"{speedup:.2f}x naive, wall clock (target >= {TARGET_SPEEDUP[detector]:g}x)"
        )
    for line, fraction in [*agreements, *same_scale]:
        print(
            f"{verdict(fraction >= TARGET_FRACTION)}  {line} (target >= {100 * TARGET_FRACTION:g}%)"
        )
    print_memory_summary(memory, budget)


if __name__ == "__main__":
    main()
