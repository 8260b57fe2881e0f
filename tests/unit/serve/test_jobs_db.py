"""The job database (dfd.serve.database.SqlJobStore) on a SQLite file and on a real PostgreSQL
server started from the system packages: every transition of a job, and an API and a worker
writing one SQLite file at once."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dfd.serve.database import ClaimedJob, SqlJobStore, sqlite_url
from dfd.serve.jobs import DONE, FAILED, QUEUED, RUNNING, job_record

RESULT = {
    "video_id": "v",
    "prediction": "FAKE",
    "fake_probability": 0.8125,
    "frames": [{"frame": 0, "score": 0.5}],
    "notes": ["é ünïcode"],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJobStore]:
    url = (
        sqlite_url(tmp_path)
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    jobs = SqlJobStore(url)
    yield jobs
    jobs.close()


def new_job(store: SqlJobStore, **options: object) -> str:
    job_id = uuid.uuid4().hex
    store.enqueue(job_id, f"{job_id}/upload.video", dict(options))
    return job_id


def test_a_queued_job_is_claimed_then_done(store: SqlJobStore) -> None:
    job_id = new_job(store, enable_gradcam=True, duration_s=0.6)
    queued = store.get(job_id)
    assert queued is not None and queued["status"] == QUEUED and queued["attempts"] == 0
    assert queued["result"] is None and queued["error"] is None
    assert queued["created_at"] == queued["updated_at"]
    assert datetime.fromisoformat(queued["created_at"]).utcoffset().total_seconds() == 0

    claimed = store.claim(job_id, max_attempts=3)
    assert claimed == ClaimedJob(
        job_id, f"{job_id}/upload.video", {"enable_gradcam": True, "duration_s": 0.6}, 1
    )
    running = store.get(job_id)
    assert running["status"] == RUNNING and running["updated_at"] > running["created_at"]

    assert store.finish(job_id, RESULT)
    done = store.get(job_id)
    assert done["status"] == DONE and done["result"] == RESULT and done["error"] is None
    assert done["attempts"] == 1 and done["created_at"] == queued["created_at"]
    assert not store.finish(job_id, {"other": 1}) and not store.fail(job_id, "x", "late")
    assert store.claim(job_id, max_attempts=3) is None, "a finished job is not run again"
    assert store.get(job_id) == done


def test_a_failed_job_records_why(store: SqlJobStore) -> None:
    job_id = new_job(store)
    assert store.claim(job_id, max_attempts=3) is not None
    assert store.fail(job_id, "no_face", "no face was found in any sampled frame")
    failed = store.get(job_id)
    assert failed["status"] == FAILED and failed["result"] is None
    assert failed["error"] == {
        "code": "no_face",
        "message": "no face was found in any sampled frame",
    }
    assert not store.finish(job_id, RESULT) and store.get(job_id)["status"] == FAILED


def test_a_job_that_keeps_losing_its_worker_ends_failed(store: SqlJobStore) -> None:
    """Each claim without a finish is a worker lost mid-job; after max_attempts it stops."""
    job_id = new_job(store)
    assert [store.claim(job_id, max_attempts=2).attempts for _ in range(2)] == [1, 2]
    assert store.claim(job_id, max_attempts=2) is None
    failed = store.get(job_id)
    assert failed["status"] == FAILED and failed["attempts"] == 3
    assert failed["error"]["code"] == "worker_lost" and "2 attempts" in failed["error"]["message"]
    assert store.claim(job_id, max_attempts=5) is None


def test_inline_results_and_unknown_jobs(store: SqlJobStore) -> None:
    job_id = uuid.uuid4().hex
    assert store.get(job_id) is None and store.claim(job_id, max_attempts=1) is None
    store.put(job_id, job_record(job_id, DONE, result=RESULT))
    record = store.get(job_id)
    assert (record["status"], record["attempts"], record["result"], record["error"]) == (
        DONE,
        1,
        RESULT,
        None,
    )
    assert set(record) == {
        "job_id",
        "status",
        "created_at",
        "updated_at",
        "attempts",
        "result",
        "error",
    }


def test_a_job_whose_message_never_went_out_is_found_until_sent(store: SqlJobStore) -> None:
    """The API records a job, then sends it and marks it sent; one recorded but never sent (the
    API stopped in between) is listed by `unsent` once older than the grace period."""
    job_id, other = new_job(store), new_job(store)
    time.sleep(0.01)
    assert {job_id, other} <= set(store.unsent(older_than_s=0))
    assert job_id not in store.unsent(older_than_s=3600), "younger than the grace period"
    assert store.mark_sent(job_id) and not store.mark_sent(job_id), "sent once"
    assert job_id not in store.unsent(older_than_s=0) and other in store.unsent(older_than_s=0)
    store.mark_unsent(job_id)
    assert job_id in store.unsent(older_than_s=0), "a failed send is tried again"
    assert store.claim(job_id, max_attempts=1) is not None
    assert job_id not in store.unsent(older_than_s=0), "a job a worker took was sent"
    inline = uuid.uuid4().hex
    store.put(inline, job_record(inline, DONE, result=RESULT))
    assert inline not in store.unsent(older_than_s=0)


def empty_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    """The URL of a database of its own: a new SQLite file, or a new PostgreSQL database on
    the session's server."""
    if backend == "sqlite":
        return sqlite_url(tmp_path)
    server = request.getfixturevalue("postgres_url")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server.rsplit('/', 1)[0]}/{name}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_table_made_by_an_older_dfd_gets_the_new_column(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """A job table from before `sent_at` existed: opening it adds the column, old jobs stay
    readable, and a queued one counts as never sent."""
    url = empty_database(request, tmp_path, backend)
    old = create_engine(url)
    with old.begin() as db:
        db.execute(
            text(
                "CREATE TABLE dfd_jobs (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL, "
                "created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, attempts INTEGER "
                "NOT NULL, upload TEXT, options JSON NOT NULL, result JSON, error_code VARCHAR(64), "
                "error_message TEXT)"
            )
        )
        db.execute(
            text(
                "INSERT INTO dfd_jobs VALUES ('old', 'queued', '2026-01-02 03:04:05', "
                "'2026-01-02 03:04:05', 0, 'old/upload.video', '{}', NULL, NULL, NULL)"
            )
        )
    old.dispose()
    stores = [SqlJobStore(url), SqlJobStore(url)]  # the second finds the column there
    assert stores[0].get("old")["status"] == QUEUED
    assert stores[1].unsent(older_than_s=60) == ["old"]
    assert stores[1].get(new_job(stores[1]))["status"] == QUEUED
    for store in stores:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_starting_together_all_get_the_table(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """An API and its workers open a new database at the same moment: each may try to create
    the table, and none fails for it."""
    url = empty_database(request, tmp_path, backend)
    barrier, opened, errors = threading.Barrier(6), [], []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(SqlJobStore(url))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(barrier.parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    job_id = new_job(opened[0])
    assert all(store.get(job_id)["status"] == QUEUED for store in opened)
    for store in opened:
        store.close()


def test_a_new_sqlite_file_switches_to_wal_while_another_process_writes(tmp_path: Path) -> None:
    """SQLite answers "database is locked" at once, without its busy wait, to a switch to WAL
    while another connection holds the write lock (the race of processes opening a new file
    together, seen in CI): opening the store waits for the writer instead of failing."""
    url = sqlite_url(tmp_path)
    writer = sqlite3.connect(
        url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    writer.execute("CREATE TABLE other (value INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, writer.execute, args=("COMMIT",)).start()
    store = SqlJobStore(url)
    with store.engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert store.get(new_job(store))["status"] == QUEUED
    store.close()
    writer.close()


def test_an_api_and_a_worker_share_a_sqlite_file(tmp_path: Path) -> None:
    """Two engines (as the API and a worker process have) writing at once: WAL and the busy
    timeout make the writers wait for each other instead of failing with 'database is locked'."""
    api, worker = SqlJobStore(sqlite_url(tmp_path)), SqlJobStore(sqlite_url(tmp_path))
    with api.engine.connect() as db:
        assert db.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    ids = [f"job{number:03d}" for number in range(150)]
    errors: list[BaseException] = []

    def enqueue_all() -> None:
        try:
            for job_id in ids:
                api.enqueue(job_id, f"{job_id}/upload.video", {})
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    producer = threading.Thread(target=enqueue_all)
    producer.start()
    finished = 0
    while finished < len(ids) and not errors:
        producing = producer.is_alive()
        claimed = worker.claim(ids[finished], max_attempts=1)
        if claimed is None:
            assert producing, "an enqueued job could not be claimed"
            continue
        assert worker.finish(claimed.job_id, {"n": finished})
        assert api.get(claimed.job_id)["status"] == DONE
        finished += 1
    producer.join()
    assert not errors, errors
    assert [api.get(job_id)["result"] for job_id in ids] == [{"n": n} for n in range(len(ids))]
    api.close()
    worker.close()
