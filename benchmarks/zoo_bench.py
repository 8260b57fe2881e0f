"""Train every detector of the zoo with one shared small recipe and compare them on the demo.

    python benchmarks/zoo_bench.py [--root DIR] [--models xception f3net ...] [--epochs 6]
        [--image-size 112] [--clip-len 4] [train overrides ...]

The protocol is the demo's own split: train on the real clips, self-blends and face swaps of
some people, pick the checkpoint on other people (validation), test on people neither saw.
Every detector gets the same recipe (epochs, image size, clip length, optimiser, seed);
where a detector cannot take that clip (a fixed length or a minimum size), it gets the nearest
it accepts, and the row says so. Weights are what each config loads offline (random unless
its weights ship in a registry package): the `weights` column says which.

Writes results/zoo.csv: detector, test video AUC with its 95% interval, frame AUC, clip
shape, parameters, training minutes. At this scale (a few dozen training videos of nine
people, CPU, minutes per detector) a ranking shows which detectors learn the demo's cues
from little data, not which generalises best on real deepfakes; run the same script with a
real dataset's overrides (`data=ffpp ...`) and more epochs on a GPU for that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from demo_data import newest_run, prepared_demo, run
from results_table import write_table

from dfd.models.catalog import build, model_names
from dfd.runs import RunDir

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


def train_one(name: str, args: argparse.Namespace, data: list[str], extra: list[str]) -> tuple:
    """Train and test one detector; its row (the error in the last column if it failed)."""
    detector, _ = build(name)
    clip_len, image_size = detector.input_spec.nearest(args.clip_len, args.image_size)
    parameters = sum(p.numel() for p in detector.parameters())
    shape = f"{clip_len}x{image_size}px"
    log_dir = args.root / "logs" / name
    try:
        seconds = run(
            [
                sys.executable,
                "train.py",
                *data,
                f"model={name}",
                f"paths.log_dir={log_dir}",
                f"seed={args.seed}",
                f"trainer.max_epochs={args.epochs}",
                f"datamodule.clip_len={clip_len}",
                f"datamodule.image_size={image_size}",
                "evaluation.report=false",
                "trainer.enable_progress_bar=false",
                *extra,
            ]
        )
    except subprocess.CalledProcessError as error:
        failed = f"training exited with status {error.returncode}"
        return (name, "", "", "", "", shape, parameters, "", detector.weights_source(), failed)
    metrics = json.loads(RunDir(newest_run(log_dir)).evaluation("demo").metrics.read_text())
    low, high = metrics["ci"]["video_auroc"]
    return (
        name,
        f"{metrics['video']['auroc']:.3f}",
        f"{low:.3f}",
        f"{high:.3f}",
        f"{metrics['frame']['auroc']:.3f}",
        shape,
        parameters,
        f"{seconds / 60:.1f}",
        detector.weights_source(),
        "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dfd-zoo")
    parser.add_argument("--models", nargs="+", default=None, help="default: every model config")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--clip-len", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args, extra = parser.parse_known_args()
    data = prepared_demo(args.root)
    rows = [train_one(name, args, data, extra) for name in args.models or model_names()]
    for row in rows:
        print("  ".join(str(value) for value in row[:8]))
    recipe = (
        f"{args.epochs} epochs, clip {args.clip_len} x {args.image_size} px, seed {args.seed}"
        + (f", {' '.join(extra)}" if extra else "")
    )
    write_table("zoo", HEADER, rows, f"{os.cpu_count()} CPU cores; shared recipe: {recipe}.")


if __name__ == "__main__":
    main()
