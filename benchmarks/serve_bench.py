"""Load and latency of `dfd serve`, and `dfd predict`'s per-video latency against its floor (issue 10).

    python benchmarks/serve_bench.py [--model RUN|CKPT|EXPORT] [--videos FILES/FOLDERS/GLOBS ...]
                                     [--max-videos 12] [--repeats 3] [--max-in-flight 1]
                                     [--beyond 2] [--requests 20] [--duration 120]
                                     [--device cpu] [--threads N]

* model: `--model` (a checkpoint, a train run folder or an exported model); by default the newest
  run under logs/train/runs trained on the demo data. Videos: `--videos`, by default the demo's
  test videos (data/demo/raw/labels.csv, split test), `--max-videos` of them evenly spread.
* predict vs floor, in this process, before any server starts: per video, the wall time of
  `Predictor.predict` (what `dfd predict` and the server run: preparation by dfd.prepare into a
  work folder, crops written and read back, clips, scoring, aggregation) against a floor built
  from the same primitives without the pipeline around them: open the video with the same
  decoder and read the same sampled frames, MTCNN on them (the same detector object and batch),
  the best face's square crop per frame resized as the dataset resizes it, and the model's
  forward on those clips. Both run `--repeats` times per video, interleaved (their order
  alternates), after one warm-up of each; the ratio is the median over videos and repeats.
  Target: at most 1.3x. Videos that `predict` cannot score (no face ...) are left out and named.
* load: `dfd serve MODEL` is started as a subprocess on a free 127.0.0.1 port (`--upload-dir` in
  a temporary folder), waited for on /health, sent one warm-up upload, and then, with httpx's
  async client, N clients each upload the usable videos in turn until `--requests` requests
  were sent or `--duration` seconds passed. A client that gets 503 waits its Retry-After
  (bounded by the time left). Two runs: N = `--max-in-flight` (the default concurrency: every
  answer must be 200) and N = max in flight + `--beyond` (beyond the bound: 200s and 503s, nothing
  else, and at least one 503). Reported: requests/s (answers of any status per second), p50, p95
  and max latency of the 200s, and the status counts. The server is stopped after each run.

Prints one markdown table and writes it to results/serve.csv (what it ran on to
results/serve.note.md), which the docs' benchmarks page includes.
Exits 1 when a target is missed (errors at the default concurrency, anything but 503 beyond
the bound, ratio over 1.3). Every timing shares the machine's cores with whatever else runs;
`--threads N` sets torch's threads here and in the server (OMP_NUM_THREADS), which keeps the
timings steadier on a machine other jobs are using (there, 2 threads per process made every
stage several times slower and far noisier than 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import torch
from results_table import write_table

from dfd.data.dataset import clip_windows
from dfd.data.transforms import apply_to_clip, normalize_clips
from dfd.inference.inputs import VideoInput, expand_inputs
from dfd.inference.loading import ModelLoadError, load_detector
from dfd.inference.predictor import Predictor
from dfd.prepare.crops import crop_square
from dfd.prepare.detectors import Detections, resolve_device
from dfd.prepare.video import open_video
from dfd.runs import RunDir
from dfd.tasks.console import quiet_library_noise

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"
DEMO_RAW = REPO / "data" / "demo" / "raw"
RUNS = REPO / "logs" / "train" / "runs"
MAX_RATIO = 1.3
STARTUP_S = 180


# ------------------------------------------------------------------------ inputs


def newest_demo_run(runs: Path = RUNS) -> Path:
    """The newest train run folder with checkpoints whose data was the demo set."""
    candidates = []
    for run in runs.glob("*") if runs.is_dir() else []:
        folder = RunDir(run)
        if folder.checkpoints_dir.is_dir() and folder.data_name() == "demo":
            candidates.append(run)
    if not candidates:
        raise SystemExit(
            f"no run trained on the demo data under {runs}: train one (`make demo` or "
            "`python train.py data=demo`) or pass --model CHECKPOINT|RUN|EXPORT"
        )
    return max(candidates, key=lambda run: run.stat().st_mtime)


def demo_test_videos(raw: Path = DEMO_RAW) -> list[Path]:
    """The demo's test videos, in labels.csv order."""
    labels = raw / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"no demo data at {raw}: build it (`make demo`) or pass --videos")
    table = pd.read_csv(labels, keep_default_na=False)
    return [raw / name for name in table.loc[table["split"] == "test", "file"]]


def chosen_videos(arguments: list[str] | None, limit: int) -> list[Path]:
    """The videos named (or the demo's test videos), at most `limit`, evenly spread."""
    if arguments:
        inputs = expand_inputs(arguments)
        missing = [f"{item.path} ({item.problem})" for item in inputs if item.problem]
        if missing:
            raise SystemExit("cannot use: " + "; ".join(missing))
        videos = [item.path for item in inputs]
    else:
        videos = demo_test_videos()
    if len(videos) > limit:
        videos = [videos[int(i)] for i in np.linspace(0, len(videos) - 1, limit).round()]
    return videos


# ------------------------------------------------------------------------ predict vs floor


@dataclass
class Timings:
    """Seconds per (video, repeat): the Predictor's, the floor's and the floor's stages."""

    predict: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    detect: list[float] = field(default_factory=list)
    forward: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return statistics.median(p / f for p, f in zip(self.predict, self.floor))


def best_boxes(found: list[Detections | None]) -> list[np.ndarray]:
    """The most confident face per frame; frames without one keep the nearest earlier box
    (the first found box for leading ones)."""
    boxes = [None if d is None or not len(d) else d.boxes[int(np.argmax(d.scores))] for d in found]
    first = next((box for box in boxes if box is not None), None)
    if first is None:
        raise ValueError("no face")
    out, last = [], first
    for box in boxes:
        last = box if box is not None else last
        out.append(last)
    return out


def floor_once(predictor: Predictor, path: Path) -> tuple[float, float, float]:
    """(decode, detect, forward) seconds of one video through the bare primitives."""
    settings, spec, runtime = predictor.settings, predictor.spec, predictor.detector.runtime
    started = time.perf_counter()
    video = open_video(path, decoder=settings.decoder)
    frames = video.read(video.sample(settings.num_frames, settings.fps, settings.max_frames))
    decoded = time.perf_counter()
    found = predictor.faces().detect_every(frames, settings.detect_every)
    detected = time.perf_counter()
    crops = np.stack(
        [
            crop_square(frame, box, settings.margin, settings.face_size)
            for frame, box in zip(frames, best_boxes(found))
        ]
    )
    clips = []
    for start in clip_windows(len(crops), spec.clip_len):
        clip = list(crops[start : start + spec.clip_len])
        clip += [clip[-1]] * (spec.clip_len - len(clip))
        clips.append(apply_to_clip(predictor.transform, np.stack(clip), 0))
    batch = torch.stack(clips)
    for begin in range(0, len(batch), predictor.batch_size):
        runtime(
            normalize_clips(
                batch[begin : begin + predictor.batch_size].to(runtime.device), spec.mean, spec.std
            )
        )
    return decoded - started, detected - decoded, time.perf_counter() - detected


def predict_once(predictor: Predictor, path: Path) -> tuple[float, bool]:
    """Seconds of `Predictor.predict` on one video (its work folder made and removed outside
    the timing) and whether it was scored."""
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as workdir:
        started = time.perf_counter()
        ((_, result),) = predictor.predict([VideoInput(path)], Path(workdir))
        return time.perf_counter() - started, result.ok


def predict_vs_floor(
    predictor: Predictor, videos: list[Path], repeats: int
) -> tuple[Timings, list[Path], list[str]]:
    """Interleaved timings over the usable videos; (timings, usable videos, notes)."""
    usable, notes = [], []
    for path in videos:  # also the warm-up: MTCNN and the model's first calls
        _seconds, ok = predict_once(predictor, path)
        if ok:
            usable.append(path)
        else:
            notes.append(f"{path.name}: not scored by predict, left out")
    if not usable:
        raise SystemExit("predict scored none of the videos")
    floor_once(predictor, usable[0])
    timings = Timings()
    for repeat in range(repeats):
        for number, path in enumerate(usable):
            for step in (
                ("predict", "floor") if (repeat + number) % 2 == 0 else ("floor", "predict")
            ):
                if step == "predict":
                    timings.predict.append(predict_once(predictor, path)[0])
                else:
                    decode, detect, forward = floor_once(predictor, path)
                    timings.decode.append(decode)
                    timings.detect.append(detect)
                    timings.forward.append(forward)
                    timings.floor.append(decode + detect + forward)
        print(f"  repeat {repeat + 1}/{repeats}: ratio so far {timings.ratio():.2f}x", flush=True)
    return timings, usable, notes


# ------------------------------------------------------------------------ load


@dataclass
class LoadRun:
    """One load run: who sent what, and what came back."""

    clients: int
    bound: int
    wall_s: float = 0.0
    answers: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)

    def statuses(self) -> Counter[int]:
        return Counter(status for status, _ in self.answers)

    def ok_latencies(self) -> list[float]:
        return sorted(seconds for status, seconds in self.answers if status == 200)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    model: Path, device: str, max_in_flight: int, folder: Path, threads: int
) -> Iterator[str]:
    """`dfd serve` on a free 127.0.0.1 port until the block ends; yields its URL."""
    port = free_port()
    log = folder / f"server-{max_in_flight}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "dfd.cli.main",
        "serve",
        str(model),
        "--port",
        str(port),
        "--device",
        device,
        "--max-in-flight",
        str(max_in_flight),
        "--upload-dir",
        str(folder / f"uploads-{port}"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.perf_counter() + STARTUP_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"dfd serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}{API}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                raise SystemExit(
                    f"dfd serve did not answer /health in {STARTUP_S} s:\n{log.read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def send_load(
    url: str, uploads: list[tuple[str, bytes]], run: LoadRun, requests: int, duration: float
) -> None:
    """`run.clients` clients uploading in turn until `requests` were sent or `duration` passed."""
    sent = 0
    started = time.perf_counter()
    deadline = started + duration

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() < deadline:
            name, content = uploads[sent % len(uploads)]
            sent += 1
            begun = time.perf_counter()
            answer = await http.post(
                f"{url}{API}/analyze-video", files={"file": (name, content, "video/mp4")}
            )
            run.answers.append((answer.status_code, time.perf_counter() - begun))
            if answer.status_code == 503:
                wait = float(answer.headers.get("Retry-After", "1"))
                await asyncio.sleep(max(0.0, min(wait, deadline - time.perf_counter())))

    async with httpx.AsyncClient(timeout=duration + 60) as http:
        await asyncio.gather(*(client(http) for _ in range(run.clients)))
    run.wall_s = time.perf_counter() - started


def load_run(
    model: Path,
    device: str,
    uploads: list[tuple[str, bytes]],
    clients: int,
    bound: int,
    requests: int,
    duration: float,
    folder: Path,
    threads: int,
) -> LoadRun:
    """A fresh server with `bound` analyses in flight, warmed up, then `clients` clients."""
    run = LoadRun(clients, bound)
    with serving(model, device, bound, folder, threads) as url:
        name, content = uploads[0]
        warm = httpx.post(
            f"{url}{API}/analyze-video", timeout=600, files={"file": (name, content, "video/mp4")}
        )
        if warm.status_code != 200:
            raise SystemExit(f"the warm-up upload got {warm.status_code}: {warm.text}")
        asyncio.run(send_load(url, uploads, run, requests, duration))
    return run


# ------------------------------------------------------------------------ report


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def load_row(run: LoadRun, default: bool) -> tuple[list[str], bool]:
    """A table row for a load run and whether it met its target."""
    statuses = run.statuses()
    ok = statuses[200]
    others = {s: n for s, n in statuses.items() if s not in (200, 503)}
    if default:
        passed = ok == len(run.answers) and ok > 0
        target = "every answer 200"
    else:
        passed = not others and statuses[503] > 0 and ok > 0
        target = "200s and 503s only, some 503"
    latencies = run.ok_latencies()
    counts = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
    what = (
        f"load, {run.clients} client{'s' if run.clients > 1 else ''}, "
        f"max in flight {run.bound}" + ("" if default else " (beyond the bound)")
    )
    result = (
        f"{len(run.answers)} requests in {run.wall_s:.1f} s: "
        f"{len(run.answers) / run.wall_s:.2f} requests/s; latency of the 200s "
        f"p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
        f"max {max(latencies, default=float('nan')):.2f} s; {counts}"
    )
    return [what, result, target, "met" if passed else "MISSED"], passed


def floor_row(timings: Timings, videos: int, repeats: int) -> tuple[list[str], bool]:
    ratio = timings.ratio()
    median = statistics.median
    result = (
        f"{videos} videos x {repeats} repeats: predict {median(timings.predict):.3f} s, floor "
        f"{median(timings.floor):.3f} s (decode {median(timings.decode):.3f}, detect "
        f"{median(timings.detect):.3f}, forward {median(timings.forward):.3f}) per video "
        f"(medians); ratio {ratio:.2f}x"
    )
    passed = ratio <= MAX_RATIO
    return [
        "`dfd predict` per video vs floor",
        result,
        f"at most {MAX_RATIO}x",
        "met" if passed else "MISSED",
    ], passed


HEADER = ("measurement", "result", "target", "status")


def table(rows: list[list[str]], header: str) -> str:
    lines = [header, "", "| " + " | ".join(HEADER) + " |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------ main


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above 0."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        type=Path,
        help="checkpoint, train run folder or exported model "
        "(default: the newest demo run in logs/train/runs)",
    )
    parser.add_argument(
        "--videos",
        nargs="+",
        help="video files, folders or globs (default: the demo's test videos)",
    )
    parser.add_argument("--max-videos", type=positive(int), default=12)
    parser.add_argument("--repeats", type=positive(int), default=3, help="timed runs per video")
    parser.add_argument(
        "--max-in-flight",
        type=positive(int),
        default=1,
        help="the server's bound, and the default concurrency",
    )
    parser.add_argument(
        "--beyond",
        type=positive(int),
        default=2,
        help="clients beyond the bound in the second load run",
    )
    parser.add_argument("--requests", type=positive(int), default=20, help="requests per load run")
    parser.add_argument(
        "--duration",
        type=positive(float),
        default=120.0,
        help="seconds per load run at most (no request is sent after)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda ... for the model and MTCNN")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads here and in the server (0: torch's default)",
    )
    parser.add_argument("--skip-load", action="store_true", help="only predict vs floor")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    quiet_library_noise()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or newest_demo_run()
    videos = chosen_videos(args.videos, args.max_videos)
    device = resolve_device(args.device)
    print(f"model {shown(model)}, {len(videos)} videos, device {device}", flush=True)
    try:
        predictor = Predictor(load_detector(model, device), device=str(device), workers=1)
    except ModelLoadError as error:
        raise SystemExit(f"cannot load the model: {error}") from None
    print("predict vs floor ...", flush=True)
    timings, usable, notes = predict_vs_floor(predictor, videos, args.repeats)
    row, passed = floor_row(timings, len(usable), args.repeats)
    rows, checks = [row], [passed]
    if not args.skip_load:
        uploads = [(path.name, path.read_bytes()) for path in usable]
        folder = Path(tempfile.mkdtemp(prefix="serve-bench-"))
        try:
            for clients, default in (
                (args.max_in_flight, True),
                (args.max_in_flight + args.beyond, False),
            ):
                print(
                    f"load: {clients} clients, max in flight {args.max_in_flight} ...", flush=True
                )
                run = load_run(
                    model,
                    str(device),
                    uploads,
                    clients,
                    args.max_in_flight,
                    args.requests,
                    args.duration,
                    folder,
                    args.threads,
                )
                row, passed = load_row(run, default)
                rows.append(row)
                checks.append(passed)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    header = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, device {device}, torch "
        f"{torch.__version__} with {torch.get_num_threads()} thread(s); model {shown(model)} ({predictor.detector.kind}, "
        f"{predictor.spec.image_size} px, {predictor.spec.clip_len}-frame clips, "
        f"{predictor.settings.num_frames} frames per video); videos: {len(usable)} "
        f"({', '.join(p.name for p in usable)})" + "".join(f"; {n}" for n in notes) + "."
    )
    text = table(rows, header)
    print("\n" + text)
    write_table("serve", HEADER, rows, header)
    sys.exit(0 if all(checks) else 1)


if __name__ == "__main__":
    main()
