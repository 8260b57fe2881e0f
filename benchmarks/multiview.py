"""Multi-view testing on the demo: validation and test AUC, and scoring cost, of each view
setting against the single view a run is trained with.

    python benchmarks/multiview.py [--run RUN_FOLDER ...] [--checkpoint best last] [--settings NAME ...]
                                   [--root DIR]

Without `--run`, trains the demo's SBI-pairs recipe once (seed 42) in a scratch folder. Every
setting then evaluates each run's checkpoint with `dfd evaluate` (validation picks the
threshold, the test split is scored with the same views) and writes one row per run and
setting to results/multiview.csv: views per clip, clips per face track, the validation video
AUC (what a recipe is chosen on), the test video AUC with its 95% interval, frame AUC and the
seconds the evaluation took (model loading included, the same in every row).
`--checkpoint last` evaluates each run's last checkpoint (as well, with `best last`) instead
of the one chosen on validation: that checkpoint was picked on single-view validation scores, which favours the
single view when settings are compared on validation.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

from demo_data import newest_run, prepared_demo, run
from results_table import write_table

from dfd.runs import RunDir

SBI_PAIRS = [
    "datamodule.train_real_only=true",
    "datamodule.pair_self_blend=true",
    "datamodule.online_self_blend=0",
    "datamodule.self_blend_style=sbi",
]
# (name, evaluation overrides, views per clip)
SETTINGS = [
    ("single view", [], 1),
    ("flip", ["evaluation.tta=[hflip]"], 2),
    ("4 clips", ["evaluation.views.clips=4"], 1),
    ("3 crops", ["evaluation.views.crops=3"], 3),
    ("3 crops x flip", ["evaluation.views.crops=3", "evaluation.tta=[hflip]"], 6),
    ("4 clips x 3 crops", ["evaluation.views.clips=4", "evaluation.views.crops=3"], 3),
    (
        "4 clips x 3 crops x flip",
        ["evaluation.views.clips=4", "evaluation.views.crops=3", "evaluation.tta=[hflip]"],
        6,
    ),
    (
        "4 clips x 3 crops x flip, max of logits",
        [
            "evaluation.views.clips=4",
            "evaluation.views.crops=3",
            "evaluation.tta=[hflip]",
            "evaluation.views.reduce=max",
            "evaluation.views.space=logit",
        ],
        6,
    ),
]


def trained_run(root: Path) -> Path:
    """The demo trained once with the SBI-pairs recipe under `root` (kept between runs)."""
    log_dir = root / "train"
    if not (log_dir / "train" / "runs").is_dir():
        run(
            [
                sys.executable,
                "train.py",
                *prepared_demo(root),
                f"paths.log_dir={log_dir}",
                "seed=42",
                "trainer.enable_progress_bar=false",
                "evaluation.report=false",
                *SBI_PAIRS,
            ]
        )
    return newest_run(log_dir)


def evaluated(checkpoint: Path, overrides: list[str], log_dir: Path) -> tuple[dict, dict, float]:
    """Evaluate `checkpoint` with the view `overrides`: its test metrics, its threshold record
    (with the validation AUC) and the seconds it took."""
    seconds = run(
        [
            sys.executable,
            "evaluate.py",
            f"ckpt_path={checkpoint}",
            f"paths.log_dir={log_dir}",
            "evaluation.report=false",
            "evaluation.robustness.enabled=false",
            "evaluation=default",  # each setting from the defaults, not the run's own views
            *overrides,
        ]
    )
    folder = RunDir(newest_run(log_dir, "eval"))
    metrics = json.loads(folder.evaluation("demo").metrics.read_text())
    return metrics, json.loads(folder.threshold.read_text()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dfd-views")
    parser.add_argument("--run", type=Path, nargs="+", default=None, help="trained demo runs")
    parser.add_argument("--checkpoint", nargs="+", choices=("best", "last"), default=["best"])
    names = [name for name, _, _ in SETTINGS]
    parser.add_argument("--settings", nargs="+", choices=names, default=names)
    args = parser.parse_args()
    trained = args.run or [trained_run(args.root)]
    rows = []
    for kind, trained_folder in itertools.product(args.checkpoint, trained):
        checkpoint = trained_folder if kind == "best" else RunDir(trained_folder).last_checkpoint
        for number, (name, overrides, views) in enumerate(SETTINGS):
            if name not in args.settings:
                continue
            log_dir = args.root / "evaluate" / trained_folder.name / kind / str(number)
            metrics, threshold, seconds = evaluated(checkpoint, overrides, log_dir)
            low, high = metrics["ci"]["video_auroc"]
            clips = next((o.split("=")[1] for o in overrides if "views.clips" in o), "all (2)")
            rows.append(
                (
                    trained_folder.name,
                    kind,
                    name,
                    views,
                    clips,
                    f"{threshold['val_video_auroc']:.3f}",
                    f"{metrics['video']['auroc']:.3f}",
                    f"{low:.3f}",
                    f"{high:.3f}",
                    f"{metrics['frame']['auroc']:.3f}",
                    f"{seconds:.0f}",
                )
            )
            print("  ".join(str(value) for value in rows[-1]), flush=True)
    write_table(
        "multiview",
        (
            "run",
            "checkpoint",
            "views",
            "views per clip",
            "clips per face",
            "val video AUC",
            "test video AUC",
            "CI low",
            "CI high",
            "frame AUC",
            "evaluate seconds",
        ),
        rows,
        f"{os.cpu_count()} CPU cores; checkpoints of the runs named ('best': chosen on "
        "validation; 'last': the final epoch's); the demo prepares 8 frames per video, clips of "
        "4: 2 non-overlapping clips.",
    )


if __name__ == "__main__":
    main()
