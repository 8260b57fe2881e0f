"""OpenCV and the loaders' forked worker processes.

OpenCV runs its own thread pool. A worker forked while that pool's threads exist inherits its
locks as they were at the fork, and hangs in its first OpenCV call that touches the pool
(`cv2.setNumThreads` included): any OpenCV call on a large image in the main process before
training (a notebook's preview, an evaluation) was enough. The loaders' workers are the
parallelism, so OpenCV runs one thread in them and in the process that forks them.
"""

from __future__ import annotations

import cv2


def single_threaded_opencv() -> None:
    """Stop OpenCV's thread pool in this process: call it before forking loader workers."""
    cv2.setNumThreads(1)


def single_threaded_worker(worker_id: int) -> None:
    """A loader worker's `worker_init_fn`: one OpenCV thread (torch already gives workers one),
    so that workers do not oversubscribe the cores."""
    single_threaded_opencv()
