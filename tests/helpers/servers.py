"""Real Redis and PostgreSQL servers for the tests, from the system packages (redis-server,
postgresql): started on 127.0.0.1 on a free port with their data in a temporary folder, stopped
and removed afterwards. A test needing one is skipped, with the reason, when it is not installed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM and wait; SIGKILL when it has not exited after `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(port: int, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process is None or process.poll() is None, f"{what} exited"
            assert time.monotonic() < deadline, f"{what} did not listen on {port}"
            time.sleep(0.1)


@contextmanager
def redis_server() -> Iterator[str]:
    """redis-server in memory (no persistence); yields its URL redis://127.0.0.1:PORT/0."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dfd-redis-") as folder:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
                "--logfile",
                f"{folder}/redis.log",
            ]
        )
        try:
            wait_for_port(port, "redis-server", process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop_process(process)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (trust authentication, 127.0.0.1 only); yields its
    SQLAlchemy URL. PostgreSQL refuses to run as root, so as root it runs as `postgres`."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian/Ubuntu: apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: PostgreSQL cannot be started")
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="dfd-postgres-"))
    if as_user:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port = folder / "data", free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "postgres.log"),
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        try:
            wait_for_port(port, "postgres")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One redis-server for the session; tests take a database number of their own."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One PostgreSQL server for the session."""
    with postgres_server() as url:
        yield url


API = "/api/v1"
JOB_TIMEOUT_S = 300
RESEND_AFTER_S = 1


class Processes:
    """Subprocesses of one test, each with its log; all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.running, self.logs_open = folder, [], []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "dfd.cli.main", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        process.log_path = log.name  # type: ignore[attr-defined]
        self.running.append(process)
        self.logs_open.append(log)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {Path(p.log_path).name}\n{Path(p.log_path).read_text()[-4000:]}"
            for p in self.running
        )

    def stop_all(self) -> None:
        for process in reversed(self.running):
            stop_process(process)
        for log in self.logs_open:
            log.close()


class Stack:
    """An API in queue mode with its workers, on one Redis database and one job database."""

    def __init__(self, model: Path, folder: Path, queue: str, database: str) -> None:
        self.model, self.queue, self.database = model, queue, database
        self.uploads = folder / "uploads"
        self.processes = Processes(folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.processes.start(
            "api",
            "serve",
            str(model),
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--queue",
            queue,
            "--database",
            database,
            "--upload-dir",
            str(self.uploads),
            "--max-upload-mb",
            "1",
            "--max-duration",
            "2",
        )

    def start_worker(self, name: str, *options: str) -> subprocess.Popen:
        return self.processes.start(
            name,
            "worker",
            str(self.model),
            "--device",
            "cpu",
            "--queue",
            self.queue,
            "--database",
            self.database,
            "--upload-dir",
            str(self.uploads),
            *options,
        )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 180
        while True:
            assert self.api.poll() is None, self.processes.logs()
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.processes.logs()
            time.sleep(0.2)

    def submit(self, video: bytes) -> str:
        response = httpx.post(
            f"{self.url}{API}/analyze-video",
            timeout=60,
            files={"file": ("clip.mp4", video, "video/mp4")},
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body == {
            "job_id": body["job_id"],
            "status": "queued",
            "status_url": f"{API}/jobs/{body['job_id']}",
        }
        return body["job_id"]

    def job(self, job_id: str) -> dict:
        response = httpx.get(f"{self.url}{API}/jobs/{job_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, job_id: str, done: Callable[[dict], bool], poll_s: float = 0.2) -> dict:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while not done(record := self.job(job_id)):
            assert time.monotonic() < deadline, f"{record}\n{self.processes.logs()}"
            time.sleep(poll_s)
        return record

    def finished(self, job_id: str) -> dict:
        return self.wait_for(job_id, lambda record: record["status"] in ("done", "failed"))

    def job_folders(self) -> list[Path]:
        return [path for path in self.uploads.iterdir() if path.is_dir()]

    def job_folders_left(self, timeout_s: float = 10.0) -> list[Path]:
        """The job folders still there once the worker had `timeout_s` to remove them: it
        records a job's result first and removes its upload after, so a finished job's folder
        may outlive the record by a moment."""
        deadline = time.monotonic() + timeout_s
        while (folders := self.job_folders()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return folders


def redis_database(url: str, number: int) -> str:
    """The session's redis-server, database `number`, emptied."""
    address = url.rsplit("/", 1)[0] + f"/{number}"
    redis.Redis.from_url(address).flushdb()
    return address


@contextmanager
def deployed(model: Path, folder: Path, queue: str, database: str) -> Iterator[Stack]:
    """An API in queue mode and one worker (sending unsent jobs after 1 s), up; all stopped
    at the end."""
    deployment = Stack(model, folder, queue, database)
    try:
        deployment.start_worker("worker", "--resend-after", str(RESEND_AFTER_S))
        deployment.wait_until_up()
        yield deployment
    finally:
        deployment.processes.stop_all()


def analyze(server: dict, content: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{server['url']}{API}/analyze-video",
        timeout=300,
        data=fields,
        files={"file": ("../../etc/clip.mp4", content, "video/mp4")},
    )
