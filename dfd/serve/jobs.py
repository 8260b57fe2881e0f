"""Jobs by id, as GET /api/v1/jobs/{id} answers them. Kept in memory when no database is
configured; dfd.serve.database.SqlJobStore keeps them in one (and runs the queue's transitions)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Protocol

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def job_record(
    job_id: str,
    status: str,
    *,
    created_at: str | None = None,
    updated_at: str | None = None,
    attempts: int = 1,
    result: dict[str, Any] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One job as the API shows it; times are ISO 8601 (now when not given)."""
    moment = datetime.now(UTC).isoformat()
    return {
        "job_id": job_id,
        "status": status,
        "created_at": created_at or moment,
        "updated_at": updated_at or created_at or moment,
        "attempts": attempts,
        "result": result,
        "error": error,
    }


class JobStore(Protocol):
    """Keeps job records (as job_record makes them) by id."""

    def describe(self) -> str: ...

    def put(self, job_id: str, record: dict[str, Any]) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...


class MemoryJobStore:
    """The newest `capacity` records in this process; the oldest are dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def describe(self) -> str:
        return "memory"

    def put(self, job_id: str, record: dict[str, Any]) -> None:
        self._records[job_id] = record
        self._records.move_to_end(job_id)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self._records.get(job_id)
