"""Run :func:`~dfd.prepare.extract.prepare_video` over many videos, in this process or in workers.

Each worker process loads its own face detector once and shares the CPU cores with the
others. If a worker dies (a decoder crash on a hostile file), the videos it may have been
working on are retried one at a time in a fresh worker; one that kills its worker again is
recorded as ``crashed``, and the run goes on.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import torch

from dfd.prepare.detectors import DETECTORS, FaceDetector
from dfd.prepare.extract import prepare_video, save_record, skipped_clip
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.workers import pool_context

Task = tuple[Path, str]  # (source path, video id)
Result = tuple[str, list[dict[str, object]]]  # (video id, clip rows)


class LazyDetector:
    """Builds the face detector of ``settings.detector`` on first use, so a run with nothing to
    do never loads it."""

    def __init__(self, settings: PrepareSettings) -> None:
        self._settings = settings
        self._detector: FaceDetector | None = None

    def __call__(self) -> FaceDetector:
        if self._detector is None:
            s = self._settings
            self._detector = DETECTORS[s.detector](
                device=s.device,
                batch_size=s.detect_batch,
                min_prob=s.min_face_prob,
                min_face_size=s.min_face_size,
                max_side=s.detect_size,
            )
        return self._detector


def run_videos(
    tasks: list[Task],
    prepared_dir: Path,
    settings: PrepareSettings,
    detector: LazyDetector | None = None,
) -> Iterator[Result]:
    """Prepare every task, yielding each video's rows as soon as it is done (in any order).

    With one worker, or one video to do, the work runs in this process (no start-up cost),
    with `detector` when given (a caller that prepares again and again keeps one detector).
    A package the face detector needs that is missing fails the call itself (UsageError), not
    each video.
    """
    if tasks:
        DETECTORS[settings.detector].require()
    return _run_videos(tasks, prepared_dir, settings, detector)


def _run_videos(
    tasks: list[Task],
    prepared_dir: Path,
    settings: PrepareSettings,
    detector: LazyDetector | None,
) -> Iterator[Result]:
    workers = min(settings.workers, len(tasks))
    if workers <= 1:
        detector = detector or LazyDetector(settings)
        for path, video_id in tasks:
            yield video_id, prepare_video(path, video_id, prepared_dir, settings, detector)
        return
    queue = deque(tasks)
    while queue:
        suspects = yield from _pooled(queue, prepared_dir, settings, workers)
        for (
            task
        ) in suspects:  # alone in a fresh worker, so a crash is pinned on the video that caused it
            if (yield from _pooled(deque([task]), prepared_dir, settings, 1)):
                yield _crashed(task, prepared_dir, settings)


def _pooled(
    queue: deque[Task], prepared_dir: Path, settings: PrepareSettings, workers: int
) -> Iterator[Result]:
    """Yield results from a process pool, taking tasks off ``queue`` as workers free up.

    Only ``workers`` tasks are in flight at a time, so when a worker dies the pool's loss is
    those tasks: they are returned as suspects, and the rest of the queue is left for a new pool.
    """
    threads = max(1, (os.cpu_count() or 1) // workers)
    running: dict[Future, Task] = {}
    suspects: list[Task] = []
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=pool_context(),
        initializer=_start_worker,
        initargs=(settings, threads),
    ) as pool:
        while queue or running:
            while queue and len(running) < workers and not suspects:
                task = queue.popleft()
                running[pool.submit(_work, task[0], task[1], prepared_dir)] = task
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    yield task[1], future.result()
                except BrokenProcessPool:
                    suspects.append(task)
    return suspects


def _crashed(task: Task, prepared_dir: Path, settings: PrepareSettings) -> Result:
    path, video_id = task
    clips = [skipped_clip(video_id, "crashed: the worker process died while reading this video")]
    save_record(prepared_dir, path, video_id, settings, clips)
    return video_id, clips


_worker_settings: PrepareSettings | None = None
_worker_detector: LazyDetector | None = None
_worker_threads = 0


def _start_worker(settings: PrepareSettings, threads: int) -> None:
    """Each worker gets its share of the cores, for the face detector and the video decoder."""
    global _worker_settings, _worker_detector, _worker_threads
    torch.set_num_threads(threads)
    _worker_settings, _worker_detector, _worker_threads = settings, LazyDetector(settings), threads


def _work(path: Path, video_id: str, prepared_dir: Path) -> list[dict[str, object]]:
    assert _worker_settings is not None and _worker_detector is not None, "worker not initialised"
    return prepare_video(
        path, video_id, prepared_dir, _worker_settings, _worker_detector, _worker_threads
    )
