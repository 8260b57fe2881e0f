"""How well dfd's detectors generalize (issue 9): unseen people, unseen manipulations, real-only
training. Every number is a video-level AUROC of the checkpoint chosen on validation.

    python benchmarks/quality_bench.py [--data demo] [--out DIR] [--parts logo,cross,real_only]
                                       [--image-size 112] [--clip-len 4] [--epochs 4]
                                       [--max-folds N] [--recipes a,b]
                                       [extra train.py overrides ...]

* logo: leave-one-group-out cross-validation (`data.cv.folds=groups data.cv.by=group`; the
  demo's groups are identity pairs, linked by their face swaps) for the linear probe, the
  default recipe and the candidate recipe; the out-of-fold test scores of all folds are pooled
  by `dfd compare` into one AUROC with its bootstrap interval, with the per-fold values.
* cross: `protocol=cross_manipulation`, train on face swaps and test on self-blends, and the
  reverse.
* real_only: `protocol=real_only`, real videos and their self-blended pseudo-fakes only,
  tested on the face swaps.

Every run goes through `train.py` (one Hydra multirun per recipe), so the runs land in
`--out` like any others and `dfd compare <out>` reads them again. `--image-size`, `--clip-len`
and `--epochs` shrink the runs to fit 2 CPU cores; the table says what they were. The table is
printed and written to results/quality.csv (its settings to results/quality.note.md), which the
docs' benchmarks page includes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from results_table import write_table

from dfd.runs import RunDir

REPO = Path(__file__).resolve().parents[1]
RECIPES = {
    "linear probe": ["experiment=linear_probe"],
    "default": [],
    # Self-Blended Images as the paper trains: real videos only, each beside its own pseudo-fake
    "SBI pairs (real only)": [
        "datamodule.train_real_only=true",
        "datamodule.pair_self_blend=true",
        "datamodule.online_self_blend=0",
        "evaluation.tta=[hflip]",
    ],
}
CROSS = {
    "swap -> sbi": [
        "protocol=cross_manipulation",
        "protocol.train_methods=[swap]",
        "protocol.test_methods=[sbi]",
    ],
    "sbi -> swap": [
        "protocol=cross_manipulation",
        "protocol.train_methods=[sbi]",
        "protocol.test_methods=[swap]",
    ],
}
REAL_ONLY = {
    "real only (SBI pairs) -> swap": ["protocol=real_only", "protocol.test_methods=[swap]"]
}


@dataclass
class Row:
    """One line of the table."""

    part: str
    setting: str
    auroc: float
    low: float
    high: float
    detail: str
    minutes: float


def slug(name: str) -> str:
    """A folder name Hydra's override grammar accepts."""
    return "_".join("".join(c if c.isalnum() else " " for c in name).split())


def train(args: argparse.Namespace, folder: Path, overrides: list[str], multirun: bool) -> float:
    """Run train.py (a multirun when `multirun`) into `folder`; returns the minutes it took."""
    speed = [
        f"datamodule.image_size={args.image_size}",
        f"datamodule.clip_len={args.clip_len}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        "evaluation.report=false",
        f"data={args.data}",
    ]
    where = [f"hydra.sweep.dir={folder}"] if multirun else [f"hydra.run.dir={folder}"]
    command = [
        sys.executable,
        "train.py",
        *(["-m"] if multirun else []),
        *speed,
        *overrides,
        *where,
        *args.overrides,
    ]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) / 60


def unit_count(args: argparse.Namespace) -> int:
    """How many groups (leave-one-out folds) the prepared data has."""
    manifest = pd.read_csv(args.prepared / "manifest.csv", keep_default_na=False)
    return manifest.loc[manifest["status"] == "ok", "group"].nunique()


def logo(args: argparse.Namespace) -> list[Row]:
    folds = unit_count(args)
    used = min(folds, args.max_folds or folds)
    rows = []
    for name in args.recipes.split(","):
        if name not in RECIPES:
            raise SystemExit(f"unknown recipe '{name}': choose from {sorted(RECIPES)}")
        overrides = RECIPES[name]
        folder = args.out / "logo" / slug(name)
        minutes = train(
            args,
            folder,
            [
                "data.cv.folds=groups",
                "data.cv.by=group",
                f"data.cv.fold={','.join(map(str, range(used)))}",
                *overrides,
            ],
            multirun=True,
        )
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from dfd.cli.main import main; main()",
                "compare",
                str(folder),
                "--out",
                str(folder),
            ],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pooled = pd.read_csv(folder / "pooled_folds.csv").iloc[0]
        rows.append(
            Row(
                "leave one group out",
                name,
                pooled["pooled_video_auroc"],
                pooled["pooled_video_auroc_ci_lo"],
                pooled["pooled_video_auroc_ci_hi"],
                f"{used} of {folds} folds: "
                + ", ".join(f"{float(v):.2f}" for v in str(pooled["fold_video_auroc"]).split(";")),
                minutes,
            )
        )
    return rows


def single_runs(args: argparse.Namespace, part: str, settings: dict[str, list[str]]) -> list[Row]:
    rows = []
    for name, overrides in settings.items():
        folder = args.out / slug(part) / slug(name)
        minutes = train(args, folder, overrides, multirun=False)
        metrics = json.loads(RunDir(folder).evaluation(args.data).metrics.read_text())
        low, high = metrics["ci"].get("video_auroc", [float("nan")] * 2)
        rows.append(
            Row(
                part,
                name,
                metrics["video"]["auroc"],
                low,
                high,
                f"{metrics['num_videos']} test videos",
                minutes,
            )
        )
    return rows


HEADER = ("protocol", "recipe", "video AUROC [95% CI]", "details", "minutes")


def note(args: argparse.Namespace) -> str:
    """What the runs were: the data and the shortened settings."""
    return (
        f"Demo data, video AUROC with 95% bootstrap CI; {args.image_size} px, "
        f"{args.clip_len}-frame clips, {args.epochs} epochs per run, 2 CPU cores."
    )


def cells(rows: list[Row]) -> list[tuple[str, ...]]:
    """The table's rows as text, in the order of HEADER."""
    return [
        (
            r.part,
            r.setting,
            f"{r.auroc:.3f} [{r.low:.3f}, {r.high:.3f}]",
            r.detail,
            f"{r.minutes:.1f}",
        )
        for r in rows
    ]


def table(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [note(args), "", "| " + " | ".join(HEADER) + " |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells(rows)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="demo")
    parser.add_argument("--prepared", type=Path, default=REPO / "data" / "demo" / "prepared")
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "quality_bench")
    parser.add_argument("--parts", default="logo,cross,real_only")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--clip-len", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-folds", type=int, default=None)
    parser.add_argument(
        "--recipes",
        default=",".join(RECIPES),
        help="leave-one-group-out recipes, in order (names of RECIPES)",
    )
    parser.add_argument("overrides", nargs="*", help="more train.py overrides for every run")
    args = parser.parse_args()
    args.out = args.out / time.strftime("%Y-%m-%d_%H-%M-%S")
    parts = args.parts.split(",")
    rows: list[Row] = []
    if "logo" in parts:
        rows += logo(args)
    if "cross" in parts:
        rows += single_runs(args, "cross-manipulation", CROSS)
    if "real_only" in parts:
        rows += single_runs(args, "real-only", REAL_ONLY)
    text = table(rows, args)
    print("\n" + text + f"\n\nruns: {args.out}")
    write_table("quality", HEADER, cells(rows), note(args))


if __name__ == "__main__":
    main()
