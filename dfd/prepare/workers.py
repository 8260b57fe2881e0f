"""The server that preparation's worker processes are forked from.

It is a fresh process that imports :mod:`dfd.prepare.pool` (torch, MTCNN, the decoders) once;
every worker is a fork of it, so a worker starts at once. Workers are not forked from the main
process, because a fork of a process that has run torch's OpenMP threads hangs. This module
imports nothing heavy, so the command line can start the server first and let it import torch
while the main process does the same.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import BaseContext

PRELOAD = ["dfd.prepare.pool"]


def pool_context() -> BaseContext:
    """The multiprocessing context for worker pools (spawn where there is no fork server)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_worker_server() -> None:
    """Start the fork server now, in the background, rather than when the first pool is made."""
    if pool_context().get_start_method() == "forkserver":
        forkserver.ensure_running()
