"""Time the whole demo as `make demo` runs it, stage by stage, and print the test AUC.

    python benchmarks/demo_pipeline.py [--root DIR] [train overrides ...]

Stages run as subprocesses in a scratch data/log folder (your data/ and logs/ are untouched):
demo build, face preparation, training with `make demo`'s recipe (the test split scored by
the checkpoint chosen on validation, with six views a clip, and its robustness curves). Targets from the issue: training within about 15 minutes on 2 CPU cores and a
test video-level AUC clearly above chance (0.5). The stage table is printed and written to
results/demo_pipeline.csv (the cores and the test AUC to results/demo_pipeline.note.md), which
the docs' benchmarks page includes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo_data import DEMO_RECIPE, DEMO_ROBUSTNESS
from results_table import write_table

from dfd.runs import RunDir

REPO = Path(__file__).resolve().parents[1]


def timed(name: str, command: list[str]) -> float:
    print(f"\n== {name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=REPO,
        check=True,
        env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "offline"},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dfd-bench",
        help="scratch folder for the demo data and logs",
    )
    args, train_overrides = parser.parse_known_args()
    data_dir, log_dir = args.root / "data", args.root / "logs"
    paths = [f"paths.data_dir={data_dir}", f"paths.log_dir={log_dir}"]
    seconds = {
        "demo build": timed(
            "build",
            [
                sys.executable,
                "-m",
                "dfd.demo.build",
                "--force",
                "--out",
                str(data_dir / "demo" / "raw"),
            ],
        ),
        "preparation": timed(
            "prepare",
            [sys.executable, "-m", "dfd.prepare", "data=demo", "prepare.force=true", *paths],
        ),
        "training, test and robustness": timed(
            "train",
            [
                sys.executable,
                "train.py",
                *paths,
                "trainer.enable_progress_bar=false",
                *DEMO_RECIPE,
                DEMO_ROBUSTNESS,
                *train_overrides,
            ],
        ),
    }
    run = max((log_dir / "train" / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    metrics = json.loads(RunDir(run).evaluation("demo").metrics.read_text())
    video, low_high = metrics["video"], metrics["ci"].get("video_auroc", [float("nan")] * 2)
    print(f"\n{'stage':<18}{'seconds':>9}")
    for stage, value in seconds.items():
        print(f"{stage:<18}{value:>9.0f}")
    print(f"\ncores: {os.cpu_count()}  run: {run}")
    outcome = (
        f"test video-level AUC {video['auroc']:.3f} (95% CI {low_high[0]:.3f}-{low_high[1]:.3f})"
        f"  AP {video['ap']:.3f}  EER {video['eer']:.3f}  (clip-level AUC {metrics['clip']['auroc']:.3f})"
    )
    print(f"{outcome}\nreport: {run / 'eval' / 'demo' / 'report.html'}")
    write_table(
        "demo_pipeline",
        ("stage", "seconds"),
        [(stage, f"{value:.0f}") for stage, value in seconds.items()],
        f"{os.cpu_count()} CPU cores; {outcome}.",
    )


if __name__ == "__main__":
    main()
