"""Several "nodes" of one DDP job on this machine: each a launch of its own (its own process and
environment, as a cluster starts them), all pointed at 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack

from helpers.runs import REPO


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the rendezvous of node 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_nodes(
    launches: Sequence[tuple[list[str], dict[str, str]]],
    overrides: Sequence[str],
    per_node: Sequence[Sequence[str]] | None = None,
    expect_failure: bool = False,
    timeout: int = 600,
) -> list[str]:
    """Start every node's `(command, environment)` with the overrides (and that node's own),
    wait for all, and return each one's output (stdout and stderr); fail loudly when a node
    fails, or, with `expect_failure`, when one succeeds."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONUNBUFFERED": "1"}
    with ExitStack() as files:  # outputs to files: no pipe fills up while another node waits
        logs = [files.enter_context(tempfile.TemporaryFile("w+")) for _ in launches]
        processes = [
            subprocess.Popen(
                [*command, *overrides, *(per_node[i] if per_node else [])],
                cwd=REPO,
                env={**env, **node_env},
                stdout=logs[i],
                stderr=subprocess.STDOUT,
            )
            for i, (command, node_env) in enumerate(launches)
        ]
        try:
            for process in processes:
                process.wait(timeout=timeout)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
    failed = [i for i, p in enumerate(processes) if (p.returncode != 0) != expect_failure]
    if failed:
        said = "\n".join(
            f"--- node {i} ({processes[i].returncode}):\n{outputs[i][-4000:]}" for i in failed
        )
        raise AssertionError(
            f"nodes {failed} {'succeeded' if expect_failure else 'failed'}:\n{said}"
        )
    return outputs
