"""Jobs and their results in a database through SQLAlchemy: SQLite by default (a file, safe for an
API and workers at once: WAL journal, busy timeout), PostgreSQL by URL (`postgresql+psycopg://`).

Every change of a job is one UPDATE with the states it may come from in its WHERE clause, so
an API and any number of workers can share the table without locks held across statements.
`sent_at` says whether a queued job's message went out; `unsent` finds those that never did.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from dfd.serve.jobs import DONE, FAILED, QUEUED, RUNNING, job_record

SQLITE_BUSY_TIMEOUT_S = 30
WORKER_LOST = "worker_lost"

metadata = MetaData()
jobs_table = Table(
    "dfd_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("upload", Text),  # the upload's path relative to the upload folder
    Column("options", JSON, nullable=False, default=dict),  # enable_gradcam, duration_s
    Column("result", JSON),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("sent_at", DateTime(timezone=True)),  # the message went to the queue (None: not yet)
)
UNFINISHED = (QUEUED, RUNNING)


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker has just marked running: what it needs to score it."""

    job_id: str
    upload: str
    options: dict[str, Any]
    attempts: int


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC (SQLite gives the stored moment back without its zone)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def sqlite_url(folder: Path) -> str:
    """The default database: a SQLite file in the upload folder that the API and workers share."""
    return f"sqlite:///{(folder / 'jobs.sqlite3').resolve()}"


def redacted(url: str) -> str:
    """The URL without its password, for logs and /health."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout so that readers never wait
    for the writer and writers wait for each other instead of failing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def wal(connection: Any, _: Any) -> None:
        use_wal(connection)

    return engine


def use_wal(connection: sqlite3.Connection) -> None:
    """Switch a SQLite file to WAL (it stays so). The switch needs the file to itself and SQLite
    answers "database is locked" at once instead of waiting out the busy timeout, so processes
    opening a new file together retry until the timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_table(engine: Engine) -> None:
    """The job table, made when missing. An API and its workers starting together may all try;
    the ones that lose the race find it made (PostgreSQL creates table and index in one
    transaction, so a table that exists is complete)."""
    try:
        metadata.create_all(engine)
    except DBAPIError:
        if not inspect(engine).has_table(jobs_table.name):
            raise
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> None:
    """Add the (nullable) columns a table made by an older dfd lacks; a process that loses the
    race to add one finds it added."""
    for column in missing_columns(engine):
        kind = column.type.compile(dialect=engine.dialect)
        try:
            with engine.begin() as db:
                db.execute(text(f"ALTER TABLE {jobs_table.name} ADD COLUMN {column.name} {kind}"))
        except DBAPIError:
            if column in missing_columns(engine):
                raise


def missing_columns(engine: Engine) -> list[Column]:
    present = {column["name"] for column in inspect(engine).get_columns(jobs_table.name)}
    return [column for column in jobs_table.columns if column.name not in present]


class SqlJobStore:
    """The job table: the JobStore protocol (put/get) for the inline API, and the transitions of
    a queued job (enqueue -> claim -> finish | fail) for the API and the worker."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        create_table(self.engine)

    def describe(self) -> str:
        return redacted(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def put(self, job_id: str, record: dict[str, Any]) -> None:
        """Record a job answered inline (its status, result or error)."""
        moment = now()
        error = record.get("error") or {}
        row = {
            "status": record["status"],
            "updated_at": moment,
            "attempts": record.get("attempts", 1),
            "result": record.get("result"),
            "error_code": error.get("code"),
            "error_message": error.get("message"),
        }
        with self.engine.begin() as db:
            changed = db.execute(
                update(jobs_table).where(jobs_table.c.id == job_id).values(**row)
            ).rowcount
            if not changed:
                db.execute(
                    insert(jobs_table).values(id=job_id, created_at=moment, options={}, **row)
                )

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job as GET /api/v1/jobs/{id} answers it, or None."""
        with self.engine.connect() as db:
            row = db.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            return None
        error = (
            {"code": row.error_code, "message": row.error_message}
            if row.error_code is not None
            else None
        )
        return job_record(
            row.id,
            row.status,
            created_at=iso(row.created_at),
            updated_at=iso(row.updated_at),
            attempts=row.attempts,
            result=row.result,
            error=error,
        )

    def enqueue(self, job_id: str, upload: str, options: dict[str, Any]) -> None:
        """A new queued job for the upload at `upload` (relative to the upload folder)."""
        moment = now()
        with self.engine.begin() as db:
            db.execute(
                insert(jobs_table).values(
                    id=job_id,
                    status=QUEUED,
                    created_at=moment,
                    updated_at=moment,
                    attempts=0,
                    upload=upload,
                    options=options,
                )
            )

    def mark_sent(self, job_id: str) -> bool:
        """Note that the job's message went to the queue; False when that was noted already."""
        with self.engine.begin() as db:
            return bool(
                db.execute(
                    update(jobs_table)
                    .where(jobs_table.c.id == job_id, jobs_table.c.sent_at.is_(None))
                    .values(sent_at=now())
                ).rowcount
            )

    def mark_unsent(self, job_id: str) -> None:
        """Undo mark_sent after a send that failed, so that the job is sent again later."""
        with self.engine.begin() as db:
            db.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(sent_at=None))

    def unsent(self, older_than_s: float) -> list[str]:
        """Queued jobs recorded over `older_than_s` seconds ago whose message never went out,
        oldest first: their API stopped (or lost the broker) between recording and sending."""
        before = now() - timedelta(seconds=older_than_s)
        with self.engine.connect() as db:
            return list(
                db.execute(
                    select(jobs_table.c.id)
                    .where(
                        jobs_table.c.status == QUEUED,
                        jobs_table.c.sent_at.is_(None),
                        jobs_table.c.created_at < before,
                    )
                    .order_by(jobs_table.c.created_at)
                ).scalars()
            )

    def claim(self, job_id: str, max_attempts: int) -> ClaimedJob | None:
        """Mark the job running and count the attempt; None when there is nothing to run (unknown
        or finished job). The attempt after `max_attempts` fails the job instead: each earlier
        one was lost with its worker, so this job is not tried again."""
        with self.engine.begin() as db:
            started = db.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.status.in_(UNFINISHED))
                .values(status=RUNNING, attempts=jobs_table.c.attempts + 1, updated_at=now())
            ).rowcount
            if not started:
                return None
            row = db.execute(select(jobs_table).where(jobs_table.c.id == job_id)).one()
            if row.attempts <= max_attempts:
                return ClaimedJob(row.id, row.upload, dict(row.options), row.attempts)
            db.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id)
                .values(
                    status=FAILED,
                    error_code=WORKER_LOST,
                    updated_at=now(),
                    error_message=f"{max_attempts} attempts started and none finished: the worker "
                    "running it stopped each time (killed, out of memory, crashed)",
                )
            )
            return None

    def finish(self, job_id: str, result: dict[str, Any]) -> bool:
        """Store the result of an unfinished job; False when it was already finished."""
        return self._close(job_id, status=DONE, result=result, error_code=None, error_message=None)

    def fail(self, job_id: str, code: str, message: str) -> bool:
        """Record why an unfinished job failed; False when it was already finished."""
        return self._close(job_id, status=FAILED, error_code=code, error_message=message)

    def _close(self, job_id: str, **values: Any) -> bool:
        with self.engine.begin() as db:
            return bool(
                db.execute(
                    update(jobs_table)
                    .where(jobs_table.c.id == job_id, jobs_table.c.status.in_(UNFINISHED))
                    .values(updated_at=now(), **values)
                ).rowcount
            )
