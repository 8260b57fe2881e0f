"""Where finished analyses are kept by id. In memory for now; a database-backed store with
the same two methods can take its place when a queue worker writes the results."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol


class JobStore(Protocol):
    """Keeps job records (JSON-ready dicts) by id."""

    def put(self, job_id: str, record: dict[str, Any]) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...


class MemoryJobStore:
    """The newest `capacity` records in this process; the oldest are dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def put(self, job_id: str, record: dict[str, Any]) -> None:
        self._records[job_id] = record
        self._records.move_to_end(job_id)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self._records.get(job_id)
