"""The command-line options of `dfd demo` (python -m dfd.demo.build), apart from the code that
builds (torch, OpenCV, PyAV), so `dfd demo --help` answers at once."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd demo`."""
    cli = argparse.ArgumentParser(
        prog="dfd demo",
        description="Build the demo dataset: real clips of real people and their "
        "self-blended and face-swapped twins.",
    )
    cli.add_argument("--out", type=Path, default=Path("data/demo/raw"))
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--cache-dir", type=Path, default=None)
    cli.add_argument("--clip-seconds", type=float, default=2.0)
    cli.add_argument("--force", action="store_true", help="rebuild even if labels.csv exists")
    return cli
