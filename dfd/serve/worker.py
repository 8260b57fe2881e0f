"""`dfd worker MODEL --queue redis://HOST:PORT/N --upload-dir DIR [--database URL] [--device D]`

Takes the jobs `dfd serve --queue` enqueues, scores each upload with the same Analyzer as the
API's inline mode (the model is loaded once, at start), writes the result or the reason it
failed to the database and removes the upload. One job at a time per worker process; run more
workers for more at once. See dfd.serve.queue for why no job is lost when a worker dies; a job
whose message never reached the queue (its API stopped between recording and sending it) is
sent by a worker's Resender.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dfd.cli.args import positive_int
from dfd.serve.errors import ApiError
from dfd.serve.queue import DEFAULT_VISIBILITY_TIMEOUT_S, TASK, JobQueue, celery_app
from dfd.serve.settings import ServeSettings

if TYPE_CHECKING:  # the model and the serve extra are imported when the worker starts
    from dfd.serve.analysis import Analyzer
    from dfd.serve.database import SqlJobStore

log = logging.getLogger("dfd.worker")
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RESEND_AFTER_S = 60


class JobRunner:
    """Scores queued jobs: claim in the database, analyse, record, remove the upload."""

    def __init__(
        self, analyzer: Analyzer, store: SqlJobStore, upload_dir: Path, max_attempts: int
    ) -> None:
        self.analyzer, self.store = analyzer, store
        self.upload_dir, self.max_attempts = upload_dir.resolve(), max_attempts

    def run(self, job_id: str) -> None:
        """One delivery of a job's message (a first one, or a retry after a lost worker)."""
        job = self.store.claim(job_id, self.max_attempts)
        if job is None:
            record = self.store.get(job_id)
            if record is None:  # the API writes another database: leave its upload alone
                log.error("job %s is not in %s", job_id, self.store.describe())
                return
            log.info("job %s is %s already", job_id, record["status"])
            self.remove_upload(job_id)
            return
        log.info("job %s: attempt %d", job_id, job.attempts)
        started = time.perf_counter()
        try:
            answer = self.analyzer.analyze(
                self.upload_path(job.upload),
                self.upload_dir / job_id,
                bool(job.options.get("enable_gradcam")),
            )
        except ApiError as error:
            self.store.fail(job_id, error.code, error.detail)
            log.info("job %s failed: %s (%s)", job_id, error.code, error.detail)
        except Exception as error:  # recorded, never lost: the worker goes on with the next job
            log.exception("job %s crashed", job_id)
            self.store.fail(job_id, "error", f"{type(error).__name__}: {error}")
        else:
            self.store.finish(
                job_id,
                {
                    "video_id": job_id,
                    **answer,
                    "duration_s": job.options.get("duration_s"),
                    "processing_time_s": round(time.perf_counter() - started, 3),
                },
            )
            log.info(
                "job %s done: %s %.4f", job_id, answer["prediction"], answer["fake_probability"]
            )
        finally:
            self.remove_upload(job_id)

    def upload_path(self, relative: str) -> Path:
        """The stored upload inside the upload folder; never a path that leaves it."""
        path = (self.upload_dir / relative).resolve()
        if not path.is_relative_to(self.upload_dir):
            raise ApiError(400, "bad_upload_path", f"{relative!r} is outside the upload folder")
        return path

    def remove_upload(self, job_id: str) -> None:
        shutil.rmtree(self.upload_dir / job_id, ignore_errors=True)


def resend_unsent(store: SqlJobStore, queue: JobQueue, older_than_s: float) -> list[str]:
    """Send the queued jobs whose message never went out; the ids sent. Each is marked sent
    before it is sent, so that workers sweeping together send it once; a failed send is undone
    and raises."""
    sent = []
    for job_id in store.unsent(older_than_s):
        if not store.mark_sent(job_id):
            continue  # another worker sends it
        try:
            queue.send(job_id)
        except Exception:
            store.mark_unsent(job_id)
            raise
        log.warning("job %s was recorded but never sent: sent now", job_id)
        sent.append(job_id)
    return sent


class Resender(threading.Thread):
    """Calls resend_unsent every `interval_s` seconds until stopped; errors (the broker or the
    database away for a while) are logged and tried again at the next round."""

    def __init__(self, store: SqlJobStore, queue: JobQueue, older_than_s: float) -> None:
        super().__init__(name="dfd-resender", daemon=True)
        self.store, self.queue, self.older_than_s = store, queue, older_than_s
        self.interval_s = max(0.5, min(30.0, older_than_s / 2))
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                resend_unsent(self.store, self.queue, self.older_than_s)
            except Exception as error:
                log.warning("could not send the unsent jobs (will try again): %s", error)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd worker`."""
    cli = argparse.ArgumentParser(
        prog="dfd worker", description="Score the jobs `dfd serve --queue` enqueues."
    )
    cli.add_argument(
        "model", type=Path, help="the model the API serves: checkpoint, train run folder or export"
    )
    cli.add_argument(
        "--queue",
        required=True,
        metavar="URL",
        help="the Redis broker, redis://HOST:PORT/N (the same as the API's)",
    )
    cli.add_argument(
        "--upload-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="the API's upload folder (shared with it)",
    )
    cli.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL of the job database (default: sqlite:///DIR/jobs.sqlite3, "
        "as the API's default)",
    )
    cli.add_argument(
        "--device",
        default=ServeSettings().device,
        help=f"cpu, cuda, cuda:1 ... (default: {ServeSettings().device})",
    )
    cli.add_argument(
        "--batch-size",
        type=positive_int,
        default=ServeSettings().batch_size,
        metavar="N",
        help="clips per model call (default: the run's evaluation batch size)",
    )
    cli.add_argument(
        "--visibility-timeout",
        type=positive_int,
        default=int(DEFAULT_VISIBILITY_TIMEOUT_S),
        metavar="S",
        help="a job whose worker died is handed out again after S seconds; must be "
        f"longer than any analysis (default {int(DEFAULT_VISIBILITY_TIMEOUT_S)})",
    )
    cli.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"a job started N times without finishing is failed (default {DEFAULT_MAX_ATTEMPTS})",
    )
    cli.add_argument(
        "--resend-after",
        type=positive_int,
        default=DEFAULT_RESEND_AFTER_S,
        metavar="S",
        help="send a queued job whose message never went out (its API "
        "stopped before sending it) once it is S seconds old "
        f"(default {DEFAULT_RESEND_AFTER_S})",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model, then take jobs until SIGTERM / Ctrl-C (the job in hand is finished)."""
    args = parser().parse_args(argv)
    from dfd.serve.app import load_analyzer
    from dfd.serve.database import SqlJobStore, sqlite_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = SqlJobStore(args.database or sqlite_url(args.upload_dir))
    analyzer = load_analyzer(
        args.model, ServeSettings(device=args.device, batch_size=args.batch_size)
    )
    runner = JobRunner(analyzer, store, args.upload_dir, args.max_attempts)
    app = celery_app(args.queue, float(args.visibility_timeout))

    @app.task(name=TASK)
    def analyze_job(job_id: str) -> None:
        runner.run(job_id)

    log.info(
        "model %s on %s; jobs in %s", analyzer.version["name"], analyzer.device, store.describe()
    )
    # solo pool: jobs run in this process, with the model loaded above
    worker = app.Worker(
        pool_cls="solo",
        concurrency=1,
        loglevel="INFO",
        hostname=f"dfd-{os.getpid()}@{socket.gethostname()}",
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    resender = Resender(store, JobQueue(args.queue), float(args.resend_after))
    resender.start()
    worker.start()
    resender.stop()
    store.close()
    return worker.exitcode or 0


if __name__ == "__main__":
    sys.exit(main())
