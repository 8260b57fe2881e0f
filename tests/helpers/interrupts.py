"""A test run stopped by SIGTERM (a CI time limit, `timeout`) tears its fixtures down.

Without this, SIGTERM ends pytest at once: the session fixtures' servers (PostgreSQL, Redis,
SeaweedFS) outlive the run and keep their ports and temporary folders. Turned into the
KeyboardInterrupt of Ctrl-C, it lets pytest finish the session as it does then: fixtures
torn down, the summary printed, exit status 2.
"""

from __future__ import annotations

import signal
from types import FrameType


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def tear_down_on_sigterm() -> None:
    """Call from ``pytest_configure`` (the main thread, where handlers can be set)."""
    signal.signal(signal.SIGTERM, interrupt)
