"""What `dfd serve` is configured with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """Server limits and where jobs go. `upload_dir` holds each request's upload and crops while
    it is analysed (None: a temporary folder made at startup and removed at shutdown).
    `queue_url` (a Redis broker) makes the API enqueue uploads for `dfd worker` instead of
    scoring them; `database_url` (SQLAlchemy) keeps the jobs, in memory when None.
    `batch_size` clips per model call (None: the model's scoring settings).

    Serving has no Hydra config: these defaults are the only ones, and the command lines of
    `dfd serve` and `dfd worker` take theirs from here."""

    device: str = "auto"
    batch_size: int | None = None
    max_upload_mb: int = 200
    max_duration_s: float = 600.0
    max_in_flight: int = 1
    retry_after_s: int = 5
    max_jobs: int = 1000
    upload_dir: Path | None = None
    database_url: str | None = None
    queue_url: str | None = None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MIB
