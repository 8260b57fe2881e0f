"""Train every detector of the zoo with one shared small recipe and compare them on the demo.

    python benchmarks/zoo_bench.py [--root DIR] [--models xception f3net ...] [--epochs 6]
        [--frames 8] [--image-size 112] [--clip-len 4] [train overrides ...]

Video detectors that model motion between neighbouring frames train on the demo prepared a
second time as consecutive frames (the first 16 of each clip at 25 fps); the others on
`--frames` frames spread over each video. The protocol is the demo's own split: train on the
real clips, self-blends and face swaps of some people, pick the checkpoint on other people
(validation), test on people neither saw.
Every detector gets the same recipe (epochs, image size, clip length, optimiser, seed);
where a detector cannot take that clip (a fixed length or a minimum size), it gets the nearest
it accepts, and the row says so. Weights are what each config loads offline: random unless
they ship in a registry package (mobilenet_v2, efficientnet_lite0); the `weights` column names
where each detector's weights come from for users online.

Writes results/zoo.csv: detector, test video AUC with its 95% interval, frame AUC (none for a
detector that scores clips only), clip shape, parameters, training minutes. At this scale (a
few hundred training videos of a few dozen people, CPU, minutes per detector) a ranking shows
which detectors learn the demo's cues from little data, not which generalises best on real
deepfakes; run the same script with a real dataset's overrides (`data=ffpp ...`) and more
epochs on a GPU for that.

Before training, a few timed training steps estimate each detector's training time on this
machine (`dfd.tasks.estimate`); a detector above `--max-hours` is not trained, and its row says
so with the estimate (on 2 CPU cores the video transformers that only take 16 or 8 frames of
224 px are such).

Resumable: each detector's row is written as soon as it finishes, and a later run with the same
recipe keeps the rows already there (rerun one with `--redo NAME`) and tries again those of the
`--models` it is given that were not trained; a new recipe starts over.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from demo_data import newest_run, prepared_demo, run
from results_table import RESULTS, write_table

from dfd.models.catalog import build, compose_train, model_names
from dfd.runs import RunDir
from dfd.tasks.estimate import TrainingEstimate, estimate_training

HEADER = (
    "detector",
    "test video AUC",
    "CI low",
    "CI high",
    "frame AUC",
    "clip",
    "parameters",
    "train minutes",
    "weights",
    "error",
)


def train_one(name: str, args: argparse.Namespace, extra: list[str]) -> tuple:
    """Train and test one detector; its row (the error in the last column if it failed)."""
    # built as training builds it, so configs that read the recipe's shape (F3Net's
    # image-sized filters) take it
    recipe_shape = [
        f"datamodule.clip_len={args.clip_len}",
        f"datamodule.image_size={args.image_size}",
    ]
    detector, _ = build(name, overrides=recipe_shape)
    if detector.method_groups:  # one teacher per method: the demo's methods, not the default
        recipe_shape.append(f"model.methods=[{','.join(demo_methods(args.root))}]")
        detector, _ = build(name, overrides=recipe_shape)
    dense = detector.input_spec.max_frame_stride is not None
    clip_len, image_size = detector.input_spec.nearest(args.clip_len, args.image_size)
    # a clip longer than the recipe's frames per video would repeat its last frame: such a
    # detector (s3d takes 13 at least) gets as many frames spread over each video as its clip
    data = prepared_demo(args.root, dense=dense, num_frames=max(args.frames, clip_len))
    parameters = sum(p.numel() for p in detector.parameters())
    shape = f"{clip_len}x{image_size}px"
    log_dir = args.root / "logs" / name
    recipe = [
        *data,
        f"seed={args.seed}",
        f"trainer.max_epochs={args.epochs}",
        f"datamodule.clip_len={clip_len}",
        f"datamodule.image_size={image_size}",
        "trainer.enable_progress_bar=false",
        *recipe_shape[2:],
        *extra,
    ]
    untrained = (name, "", "", "", "", shape, parameters, "", detector.weights_source())
    estimate = estimate_apart(name, recipe)
    if isinstance(estimate, str):
        return (*untrained, f"not trained: {estimate}")
    print(f"{name}: {estimate.describe()} on this machine", flush=True)
    if estimate.hours > args.max_hours:
        return (
            *untrained,
            f"not trained: {estimate.hours:.1f} h estimated ({estimate.seconds_per_step:.0f} s "
            f"a step) on {os.cpu_count()} CPU cores",
        )
    command = [sys.executable, "train.py", f"model={name}", f"paths.log_dir={log_dir}"]
    try:
        seconds = run([*command, "evaluation.report=false", *recipe])
    except subprocess.CalledProcessError as error:
        return (*untrained, f"training exited with status {error.returncode}")
    metrics = json.loads(RunDir(newest_run(log_dir)).evaluation("demo").metrics.read_text())
    low, high = metrics["ci"]["video_auroc"]
    # kept with its numbers, so that the row says what went wrong rather than rank at 0.5
    constant = "every test video scored the same" if metrics["constant_video_scores"] else ""
    return (
        name,
        f"{metrics['video']['auroc']:.3f}",
        f"{low:.3f}",
        f"{high:.3f}",
        f"{metrics['frame']['auroc']:.3f}" if "frame" in metrics else "",  # no frame scores
        shape,
        parameters,
        f"{seconds / 60:.1f}",
        detector.weights_source(),
        constant,
    )


def estimate_apart(name: str, recipe: list[str]) -> TrainingEstimate | str:
    """The recipe's training time for this detector, timed in a child process so that a step
    the machine's memory cannot hold costs the row, not the run; or why it could not be timed."""
    command = [sys.executable, __file__, "--estimate", name, *recipe]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return TrainingEstimate(**json.loads(result.stdout.splitlines()[-1]))
    if result.returncode == -signal.SIGKILL:
        batch = compose_train(name, overrides=recipe).datamodule.batch_size
        return f"a step of {batch} clips needs over {memory_gib():.1f} GiB"
    lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
    return f"a training step failed: {lines[-1]}"


def memory_gib() -> float:
    """This machine's memory, the limit a killed training step ran into."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def finished_rows(recipe: str) -> dict[str, tuple]:
    """Rows of an earlier run with this recipe, by detector (none if the recipe changed),
    those that were not trained included."""
    table, note = RESULTS / "zoo.csv", RESULTS / "zoo.note.md"
    if not table.exists() or not note.exists() or recipe not in note.read_text():
        return {}
    with table.open(newline="") as rows:
        return {row[0]: tuple(row) for row in list(csv.reader(rows))[1:]}


def demo_methods(root: Path) -> list[str]:
    """The demo's classes, real first, for detectors that train on method groups."""
    labels = pd.read_csv(root / "demo" / "raw" / "labels.csv")
    return ["real", *sorted(set(labels.loc[labels["method"] != "real", "method"]))]


def demo_size(root: Path, frames: int) -> str:
    """Which demo the rows come from (it has grown between versions), so that a table never
    mixes rows of two demos: its people and test videos, from the built demo's labels."""
    prepared_demo(root, num_frames=frames)
    labels = pd.read_csv(root / "demo" / "raw" / "labels.csv")
    people = labels.loc[labels["method"] == "real", "identity"].nunique()
    return f"the {people}-person demo ({(labels['split'] == 'test').sum()} test videos)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dfd-zoo")
    parser.add_argument("--models", nargs="+", default=None, help="default: every model config")
    parser.add_argument("--redo", nargs="+", default=[], help="train these again")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--frames", type=int, default=8, help="frames spread over each video")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--clip-len", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-hours",
        type=float,
        default=2.0,
        help="leave out a detector whose training a few timed steps put above this",
    )
    parser.add_argument("--estimate", metavar="NAME", help=argparse.SUPPRESS)  # estimate_apart
    args, extra = parser.parse_known_args()
    if args.estimate:
        estimate = estimate_training(compose_train(args.estimate, overrides=extra), steps=1)
        print(json.dumps(dataclasses.asdict(estimate)))
        return
    demo = demo_size(args.root, args.frames)
    recipe = (
        f"{demo}, {args.epochs} epochs, {args.frames} frames a video, clip {args.clip_len} x "
        f"{args.image_size} px, seed {args.seed}" + (f", {' '.join(extra)}" if extra else "")
    )
    note = f"{os.cpu_count()} CPU cores; shared recipe: {recipe}."
    rows = {name: row for name, row in finished_rows(recipe).items() if name not in args.redo}
    for name in args.models or model_names():
        if name in rows and not rows[name][-1]:  # a row left untrained is tried again
            print(f"{name}: kept from the last run with this recipe", flush=True)
            continue
        rows[name] = train_one(name, args, extra)
        print("  ".join(str(value) for value in rows[name][:8]), flush=True)
        write_table("zoo", HEADER, sorted(rows.values()), note)


if __name__ == "__main__":
    main()
