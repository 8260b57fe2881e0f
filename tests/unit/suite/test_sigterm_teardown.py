"""A test run stopped by SIGTERM stops the servers its session fixtures started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[2]

CONFTEST = """
import subprocess
from pathlib import Path

import pytest
from helpers.interrupts import tear_down_on_sigterm

HERE = Path(__file__).parent


def pytest_configure(config):
    if {handler}:
        tear_down_on_sigterm()


@pytest.fixture(scope="session")
def server():
    process = subprocess.Popen(["sleep", "300"])
    (HERE / "server.pid").write_text(str(process.pid))
    yield
    process.terminate()
    process.wait()
"""

SLOW_TEST = """
import time
from pathlib import Path


def test_waits(server):
    (Path(__file__).parent / "running").touch()
    time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split()[2] == "Z")


def stop_run_with_sigterm(folder: Path, handler: bool) -> tuple[int, int]:
    """Start a run whose session fixture holds a child process, SIGTERM it mid-test; return
    pytest's exit status and the child's pid."""
    (folder / "conftest.py").write_text(CONFTEST.format(handler=handler))
    (folder / "test_slow.py").write_text(SLOW_TEST)
    running = folder / "running"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR), "PYTEST_ADDOPTS": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not running.exists():  # the fixture is set up: SIGTERM lands in the test
        assert time.monotonic() < deadline and run.poll() is None, "the test never started"
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    status = run.wait(timeout=60)
    return status, int((folder / "server.pid").read_text())


def test_sigterm_tears_the_session_fixtures_down(tmp_path: Path) -> None:
    status, server = stop_run_with_sigterm(tmp_path, handler=True)
    assert status == 2  # pytest's "interrupted"
    assert not alive(server)


def test_without_the_handler_the_server_outlives_the_run(tmp_path: Path) -> None:
    """The case the handler is for: plain SIGTERM leaves the fixture's process behind."""
    status, server = stop_run_with_sigterm(tmp_path, handler=False)
    try:
        assert status == -signal.SIGTERM
        assert alive(server)
    finally:
        os.kill(server, signal.SIGKILL)
