"""The job queue: a Celery app on a Redis broker. The message is only the job id; what to score
is in the database. Nothing is lost when a worker dies mid-job:

- `task_acks_late`: the message is acknowledged when the job has finished, not when it starts;
  until then the Redis transport keeps it in its "unacked" set with the time it was delivered.
- a worker killed outright (SIGKILL, out of memory, the machine gone) never acknowledges it,
  and any worker (a second one, or this one restarted) puts it back on the queue once it has
  been unacknowledged for `visibility_timeout` seconds; `task_reject_on_worker_lost` does the
  same at once when only a pool child dies under a live worker.
- so `visibility_timeout` must be longer than the longest analysis: a job still running after
  it is handed out a second time (the worker then notes that it finished already).
- each start counts an attempt in the database; a job whose attempts keep killing workers is
  failed (`worker_lost`) after `max_attempts` rather than tried forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

TASK = "dfd.analyze_job"
QUEUE = "dfd.jobs"
DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0


def celery_app(
    broker_url: str, visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S
) -> Celery:
    """A Celery app for dfd's jobs on `broker_url` (redis://HOST:PORT/N)."""
    from celery import Celery  # the serve extra: imported when a queue is used

    app = Celery("dfd", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # results go to the database
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,  # a worker holds only the job it runs
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            # look for messages of dead workers a few times per visibility timeout
            "unacked_restore_interval": max(1.0, min(60.0, visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
        },
    )
    return app


class JobQueue:
    """The API's side of the queue: send a job id to the workers."""

    def __init__(self, broker_url: str) -> None:
        self.url = broker_url
        self.app = celery_app(broker_url)

    def describe(self) -> str:
        from kombu.utils.url import maybe_sanitize_url

        return maybe_sanitize_url(self.url)

    def send(self, job_id: str) -> None:
        """Publish the job (blocking; raises when the broker cannot be reached)."""
        self.app.send_task(TASK, args=[job_id], task_id=job_id)
