"""The wheel carries conf/ (as dfd/conf, the package dfd.conf), so an installed dfd composes its configs
from any folder: built, installed apart from the checkout, and run from a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.runs import CONF, REPO

SOURCES = ("pyproject.toml", "setup.py", "README.md", "dfd", "conf", "hydra_plugins")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed in), built from a copy of the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    source, wheels, site = root / "source", root / "wheels", root / "site"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("dfd-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    return wheel, site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`dfd ARGS` from the installed copy only (not the checkout), in `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("DFD_ROOT", None)
    return subprocess.run(
        [sys.executable, "-m", "dfd.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wheel_holds_every_config(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(CONF.rglob("*.yaml"))
    assert configs
    for config in configs:
        assert f"dfd/conf/{config.relative_to(CONF).as_posix()}" in names, config


def test_installed_dfd_composes_train_from_any_folder(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = installed
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dfd, dfd.config as c; print(dfd.__file__, c.checkout_root())",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert probe.stdout.split() == [str(site / "dfd" / "__init__.py"), "None"], probe.stderr
    result = run_installed(site, tmp_path, "train", "--cfg", "job", "data=csv", "data.raw_dir=x")
    assert result.returncode == 0, result.stderr
    assert "model:" in result.stdout and "datamodule:" in result.stdout
    assert "root_dir: ${oc.env:DFD_ROOT,.}" in result.stdout, "data and logs go under the cwd"
    help_text = run_installed(site, tmp_path, "prepare", "--help")
    assert help_text.returncode == 0 and "num_frames" in help_text.stdout, help_text.stderr
