"""How much disk a dfd install takes, and how much of it is CUDA that a CPU machine never uses.

    python benchmarks/install_size.py [--venv .venv] [--cpu-torch-wheel PATH]

Sums a venv's site-packages by part: the CUDA libraries that PyPI's torch wheel brings
(nvidia-*, cuda-*, triton), torch itself, and everything else. With `--cpu-torch-wheel` (a torch
wheel from PyTorch's CPU index), the CPU-only install is that venv without the CUDA libraries and
with the CPU torch in place of the CUDA one. Writes results/install_size.csv.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from results_table import write_table

CUDA_PARTS = ("nvidia", "cuda", "triton")  # folder-name prefixes of the CUDA runtime wheels
GIB = 1024**3


def folder_bytes(path: Path) -> int:
    """Bytes of every file under `path` (symlinks not followed)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def venv_parts(venv: Path) -> dict[str, int]:
    """Bytes of the venv as {whole, cuda, torch}."""
    packages = site_packages(venv)
    cuda = sum(
        folder_bytes(entry)
        for entry in packages.iterdir()
        if entry.is_dir() and entry.name.startswith(CUDA_PARTS) and "dist-info" not in entry.name
    )
    return {"whole": folder_bytes(venv), "cuda": cuda, "torch": folder_bytes(packages / "torch")}


def wheel_torch_bytes(wheel: Path) -> int:
    """Bytes of the `torch/` package a wheel installs."""
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(wheel) as archive:
        archive.extractall(scratch, [n for n in archive.namelist() if n.startswith("torch/")])
        return folder_bytes(Path(scratch) / "torch")


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--venv", type=Path, default=Path(".venv"))
    cli.add_argument("--cpu-torch-wheel", type=Path)
    args = cli.parse_args()
    parts = venv_parts(args.venv)
    rows = [
        (
            "default (PyPI torch, CUDA libraries)",
            f"{parts['whole'] / GIB:.2f}",
            f"{parts['cuda'] / GIB:.2f}",
            f"{parts['torch'] / GIB:.2f}",
            "measured",
        ),
    ]
    if args.cpu_torch_wheel:
        cpu_torch = wheel_torch_bytes(args.cpu_torch_wheel)
        cpu_whole = parts["whole"] - parts["cuda"] - parts["torch"] + cpu_torch
        rows.append(
            (
                "CPU only (torch from PyTorch's CPU index)",
                f"{cpu_whole / GIB:.2f}",
                "0.00",
                f"{cpu_torch / GIB:.2f}",
                f"the venv less its CUDA parts, torch from {args.cpu_torch_wheel.name}",
            )
        )
    for row in rows:
        print(f"{row[0]}: {row[1]} GiB (CUDA libraries {row[2]} GiB, torch {row[3]} GiB)")
    write_table(
        "install_size",
        ("install", "venv GiB", "CUDA libraries GiB", "torch GiB", "how"),
        rows,
        note=f"`python benchmarks/install_size.py --venv {args.venv}"
        + (f" --cpu-torch-wheel {args.cpu_torch_wheel.name}`" if args.cpu_torch_wheel else "`")
        + ", on the venv of `pip install -e '.[dev]'` (dev, docs, serve and export extras included).",
    )


if __name__ == "__main__":
    main()
