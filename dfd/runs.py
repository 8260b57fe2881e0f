"""What makes a run reproducible: package versions, git commit and seed, saved beside it."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "dfd",
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "timm",
    "torchmetrics",
    "albumentations",
    "facenet-pytorch",
    "decord",
    "numpy",
    "wandb",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit(root: Path) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def run_info(seed: int | None, root: Path) -> dict:
    """Versions of Python and the stack, the platform, the git commit and the seed."""
    return {
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": _git_commit(root),
        "command": sys.argv,
        "packages": {name: _version(name) for name in PACKAGES},
    }


def save_run_info(output_dir: Path, seed: int | None, root: Path) -> Path:
    """Write run_info.json into the run folder (Hydra already saves the config snapshot).

    A resumed run keeps the first record and adds run_info.resumed-<k>.json beside it.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "run_info.json"
    resumes = 0
    while path.exists():
        resumes += 1
        path = output_dir / f"run_info.resumed-{resumes}.json"
    path.write_text(json.dumps(run_info(seed, root), indent=2))
    return path
