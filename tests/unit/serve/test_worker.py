"""dfd serve --queue and dfd worker as real processes on a real redis-server, writing into a
SQLite file and into a real PostgreSQL server: real demo videos through the queue, a video
without a face failing with its reason, and a worker killed mid-job whose job another finishes."""

from __future__ import annotations

import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from dfd.demo.encode import write_video
from dfd.serve.__main__ import parser as serve_parser
from dfd.serve.analysis import Analyzer
from dfd.serve.app import load_analyzer
from dfd.serve.database import SqlJobStore, sqlite_url
from dfd.serve.queue import QUEUE, JobQueue
from dfd.serve.settings import ServeSettings
from dfd.serve.worker import JobRunner, resend_unsent
from dfd.serve.worker import parser as worker_parser
from helpers.servers import API, Stack, deployed, free_port, redis_database

PROBABILITY_AGREEMENT = 1e-6
KILL_VISIBILITY_TIMEOUT_S = 3


# ------------------------------------------------------------------------ fast: options


def test_worker_and_queue_options() -> None:
    args = worker_parser().parse_args(
        [
            "m.ckpt",
            "--queue",
            "redis://h:6379/0",
            "--upload-dir",
            "up",
            "--visibility-timeout",
            "60",
            "--max-attempts",
            "2",
        ]
    )
    assert (args.visibility_timeout, args.max_attempts, args.database) == (60, 2, None)
    with pytest.raises(SystemExit):
        worker_parser().parse_args(["m.ckpt", "--upload-dir", "up"])  # no queue
    served = serve_parser().parse_args(
        [
            "m.ckpt",
            "--queue",
            "redis://h:6379/0",
            "--database",
            "sqlite:///jobs.db",
            "--upload-dir",
            "up",
        ]
    )
    assert (served.queue, served.database) == ("redis://h:6379/0", "sqlite:///jobs.db")


def test_a_queue_needs_an_upload_folder(capsys: pytest.CaptureFixture[str]) -> None:
    from dfd.serve.__main__ import main

    with pytest.raises(SystemExit):
        main(["m.ckpt", "--queue", "redis://127.0.0.1:1/0"])
    assert "--queue needs --upload-dir" in capsys.readouterr().err


# ------------------------------------------------------------------------ slow: real processes


@pytest.fixture(scope="module")
def analyzer(tiny_run: Path) -> Analyzer:
    """The inline API's Analyzer, in this process."""
    return load_analyzer(tiny_run, ServeSettings(device="cpu"))


@pytest.fixture(scope="module")
def inline_probability(
    analyzer: Analyzer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path], float]:
    """What the inline API answers for a file."""
    workdir = tmp_path_factory.mktemp("inline")
    cache: dict[Path, float] = {}

    def probability(video: Path) -> float:
        if video not in cache:
            cache[video] = analyzer.analyze(video, workdir, False)["fake_probability"]
            shutil.rmtree(workdir / "crops", ignore_errors=True)
        return cache[video]

    return probability


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest,
    tiny_run: Path,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """API + one worker, jobs in a SQLite file or in PostgreSQL."""
    folder = tmp_path_factory.mktemp(f"queue_{request.param}")
    database = (
        f"sqlite:///{folder / 'jobs.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    queue = redis_database(redis_url, {"sqlite": 1, "postgresql": 2}[request.param])
    with deployed(tiny_run, folder, queue, database) as deployment:
        yield deployment


def test_jobs_recorded_but_never_sent_are_sent_once(redis_url: str, tmp_path: Path) -> None:
    """What a worker's Resender does each round, on a real Redis: every unsent job's message
    goes out once, and a send that fails leaves the job to the next round."""
    store = SqlJobStore(sqlite_url(tmp_path))
    queue = JobQueue(redis_database(redis_url, 4))
    jobs = [uuid.uuid4().hex for _ in range(2)]
    for job_id in jobs:
        store.enqueue(job_id, f"{job_id}/upload.video", {})
    time.sleep(0.01)
    assert resend_unsent(store, queue, older_than_s=3600) == [], "inside the grace period"
    assert resend_unsent(store, queue, older_than_s=0) == jobs
    assert resend_unsent(store, queue, older_than_s=0) == [], "sent once"
    assert redis.Redis.from_url(queue.url).llen(QUEUE) == len(jobs)

    late = uuid.uuid4().hex
    store.enqueue(late, f"{late}/upload.video", {})
    time.sleep(0.01)
    with pytest.raises(Exception):  # noqa: B017 (kombu's connection errors have no common base)
        resend_unsent(store, JobQueue(f"redis://127.0.0.1:{free_port()}/0"), older_than_s=0)
    assert store.unsent(older_than_s=0) == [late], "tried again at the next round"
    store.close()


@pytest.mark.slow
def test_jobs_go_through_the_worker_into_the_database(
    stack: Stack, demo_videos: list[Path], inline_probability: Callable[[Path], float]
) -> None:
    health = httpx.get(f"{stack.url}{API}/health").json()
    assert (health["mode"], health["queue"]) == ("queue", stack.queue)
    assert health["database"].split(":")[0] == stack.database.split(":")[0]
    jobs = {stack.submit(video.read_bytes()): video for video in demo_videos}
    for job_id, video in jobs.items():
        record = stack.finished(job_id)
        assert record["status"] == "done", record
        assert record["attempts"] == 1 and record["error"] is None
        assert record["updated_at"] > record["created_at"]
        result = record["result"]
        assert result["video_id"] == job_id and result["prediction"] in ("REAL", "FAKE")
        assert abs(result["fake_probability"] - inline_probability(video)) <= PROBABILITY_AGREEMENT
        assert result["frames"] and result["duration_s"] > 0 and result["processing_time_s"] > 0
        print(
            f"{video.name}: {result['prediction']} {result['fake_probability']:.6f}, "
            f"{result['processing_time_s']:.2f} s in the worker"
        )
    assert stack.job_folders_left() == [], "the worker removes each upload"


@pytest.mark.slow
def test_a_job_the_api_recorded_but_never_sent_is_sent_by_the_worker(
    stack: Stack, demo_videos: list[Path]
) -> None:
    """The API stopped between recording a job and sending it (here: the job written straight
    into the database, the upload into its folder): the worker sends it and scores it."""
    job_id = uuid.uuid4().hex
    (stack.uploads / job_id).mkdir()
    shutil.copy(demo_videos[0], stack.uploads / job_id / "upload.video")
    store = SqlJobStore(stack.database)
    store.enqueue(job_id, f"{job_id}/upload.video", {"enable_gradcam": False, "duration_s": 0.6})
    store.close()
    record = stack.finished(job_id)
    assert (record["status"], record["attempts"]) == ("done", 1), record
    assert "was recorded but never sent: sent now" in stack.processes.logs()
    assert stack.job_folders_left() == []


@pytest.mark.slow
def test_a_video_without_a_face_fails_with_its_reason(stack: Stack, tmp_path: Path) -> None:
    flat = write_video(tmp_path / "flat.mp4", np.full((12, 96, 128, 3), (40, 120, 40), np.uint8))
    record = stack.finished(stack.submit(flat.read_bytes()))
    assert record["status"] == "failed" and record["result"] is None, record
    assert record["error"]["code"] == "no_face" and record["error"]["message"]
    assert stack.job_folders_left() == []


@pytest.mark.slow
def test_bad_uploads_are_refused_before_the_queue(stack: Stack) -> None:
    for content, status, code in (
        (b"", 400, "empty_upload"),
        (b"not a video\n", 415, "not_a_video"),
    ):
        response = httpx.post(
            f"{stack.url}{API}/analyze-video",
            timeout=60,
            files={"file": ("clip.mp4", content, "video/mp4")},
        )
        assert response.status_code == status and response.json()["error"] == code
    assert stack.job_folders_left() == []


@pytest.mark.slow
def test_a_job_of_a_killed_worker_is_finished_by_another(
    tiny_run: Path,
    redis_url: str,
    tmp_path: Path,
    demo_videos: list[Path],
    inline_probability: Callable[[Path], float],
) -> None:
    """SIGKILL leaves the job's message unacknowledged in Redis; after the visibility timeout
    the next worker takes it again and the database counts a second attempt."""
    deployment = Stack(
        tiny_run, tmp_path, redis_database(redis_url, 3), f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    )
    timeout = ("--visibility-timeout", str(KILL_VISIBILITY_TIMEOUT_S))
    try:
        first = deployment.start_worker("first", *timeout)
        deployment.wait_until_up()
        job_id = deployment.submit(demo_videos[1].read_bytes())
        deployment.wait_for(job_id, lambda record: record["status"] != "queued", poll_s=0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed = deployment.job(job_id)
        assert (killed["status"], killed["attempts"]) == ("running", 1), (
            "the job must still be running when its worker is killed"
        )
        assert deployment.job_folders(), "the upload stays for the next attempt"

        deployment.start_worker("second", *timeout)
        record = deployment.finished(job_id)
        assert (record["status"], record["attempts"]) == ("done", 2), record
        assert (
            abs(record["result"]["fake_probability"] - inline_probability(demo_videos[1]))
            <= PROBABILITY_AGREEMENT
        )
        assert deployment.job_folders_left() == []
    finally:
        deployment.processes.stop_all()


@pytest.mark.slow
def test_the_runner_records_why_a_job_cannot_run(
    analyzer: Analyzer, tmp_path: Path, demo_videos: list[Path]
) -> None:
    """The worker's job runner in this process: uploads that are missing or outside the upload
    folder fail with the reason, unknown jobs are left alone, finished ones are not run again."""
    store = SqlJobStore(sqlite_url(tmp_path))
    uploads = tmp_path / "uploads"
    runner = JobRunner(analyzer, store, uploads, max_attempts=2)
    store.enqueue("outside", "../../etc/passwd", {})
    store.enqueue("missing", "missing/upload.video", {})
    (uploads / "scored").mkdir(parents=True)
    shutil.copy(demo_videos[0], uploads / "scored" / "upload.video")
    store.enqueue("scored", "scored/upload.video", {"duration_s": 0.6})
    for job_id in ("outside", "missing", "scored", "scored", "unknown"):
        runner.run(job_id)
    assert store.get("outside")["error"]["code"] == "bad_upload_path"
    assert store.get("missing")["error"]["code"] == "missing_file"
    scored = store.get("scored")
    assert (scored["status"], scored["attempts"]) == ("done", 1), "run once, not twice"
    assert scored["result"]["duration_s"] == 0.6 and store.get("unknown") is None
    assert list(uploads.iterdir()) == []
    store.close()
