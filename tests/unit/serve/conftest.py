"""Fixtures of the serving tests: `dfd serve` on the tiny run, and demo videos with a face."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.servers import API, free_port, stop_process

MAX_UPLOAD_MB, MAX_DURATION_S = 1, 2.0


@pytest.fixture(scope="module")
def server(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`dfd serve` on the tiny run: 1 MiB uploads, 2 s videos, one analysis at a time."""
    uploads = tmp_path_factory.mktemp("serve") / "uploads"
    log = uploads.parent / "server.log"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "dfd.cli.main",
        "serve",
        str(tiny_run),
        "--port",
        str(port),
        "--device",
        "cpu",
        "--max-upload-mb",
        str(MAX_UPLOAD_MB),
        "--max-duration",
        str(MAX_DURATION_S),
        "--max-in-flight",
        "1",
        "--upload-dir",
        str(uploads),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}{API}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.perf_counter() - started < 180, log.read_text()
            time.sleep(0.2)
        print(f"server up in {time.perf_counter() - started:.1f} s")
        yield {"url": url, "uploads": uploads, "log": log}
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def demo_videos(tiny_raw: Path) -> list[Path]:
    """One real and one fake demo video, both with a face."""
    return [
        tiny_raw / "real" / sorted(p.name for p in (tiny_raw / "real").glob("man*.mp4"))[0],
        sorted((tiny_raw / "fake").glob("*.mp4"))[0],
    ]
