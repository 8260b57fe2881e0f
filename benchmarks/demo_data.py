"""Build and prepare the demo once in a scratch folder, for benchmarks that train on it.

Your data/ and logs/ are untouched: everything lands under the folder given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "offline"}
# what `make demo` adds to the default training recipe (the Makefile's demo target; a test
# keeps the two alike): six views a clip at test, and the robustness curves
DEMO_RECIPE = ["evaluation=multiview"]
DEMO_ROBUSTNESS = "evaluation.robustness.enabled=true"


def run(command: list[str]) -> float:
    """Run one stage from the repository root, failing loudly; the seconds it took."""
    print(f"\n== {' '.join(command)}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, env=ENV)
    return time.perf_counter() - started


def prepared_demo(root: Path, dense: bool = False, num_frames: int | None = None) -> list[str]:
    """The demo built and prepared under `root` (kept between runs); the overrides that point
    training at it. `dense`: prepared a second time as consecutive frames (25 fps, the first
    16 of each clip), for video detectors that model motion between neighbouring frames.
    `num_frames`: frames spread over each video, when a benchmark's recipe pins them (null:
    prepare's default); each count gets its own folder, so recipes never share one by mistake."""
    raw = root / "demo" / "raw"
    if dense:
        folder, sampling = "prepared_dense", ["prepare.fps=25", "prepare.max_frames=16"]
    elif num_frames:
        folder, sampling = f"prepared_{num_frames}f", [f"prepare.num_frames={num_frames}"]
    else:
        folder, sampling = "prepared", []
    prepared = root / "demo" / folder
    if not (raw / "labels.csv").exists():
        run([sys.executable, "-m", "dfd.demo.build", "--force", "--out", str(raw)])
    if not (prepared / "manifest.csv").exists():
        run(
            [
                sys.executable,
                "-m",
                "dfd.prepare",
                "data=demo",
                f"data.raw_dir={raw}",
                f"data.prepared_dir={prepared}",
                *sampling,
            ]
        )
    return [f"data.raw_dir={raw}", f"data.prepared_dir={prepared}"]


def newest_run(log_dir: Path, task: str = "train") -> Path:
    """The run folder `task` (train, or eval for evaluate.py) just wrote under `log_dir`."""
    return max((log_dir / task / "runs").iterdir(), key=lambda path: path.stat().st_mtime)
