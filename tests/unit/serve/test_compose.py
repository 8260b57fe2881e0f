"""The container recipe, exercised where no container engine runs: compose.yaml's api and worker
commands are dfd's own command lines wired to the compose services, and the slow test starts
exactly those commands (only addresses and folders swapped for the test's own) against a real
redis-server and PostgreSQL and sends a real demo video through them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis
import yaml
from sqlalchemy.engine import make_url

from dfd.serve.__main__ import parser as serve_parser
from dfd.serve.worker import parser as worker_parser
from helpers.runs import REPO
from helpers.servers import free_port, stop_process

API = "/api/v1"
MODEL_MOUNT = "/model"
REDIS_PORT, POSTGRES_PORT, API_PORT = 6379, 5432, 8000
REDIS_DB = 6  # the session's redis-server: a database number no other test uses
JOB_TIMEOUT_S = 300


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def service_command(name: str) -> list[str]:
    command = compose()["services"][name]["command"]
    assert isinstance(command, list) and all(isinstance(word, str) for word in command)
    return command


VOLUME = re.compile(r"^(?P<source>.+?):(?P<target>/[^:]*)(?::(?P<mode>\w+))?$")


def mounts(service: dict) -> dict[str, tuple[str, str | None]]:
    """Container path -> (source, mode) of a service's volumes (`source:target[:mode]`, the
    source perhaps `${VARIABLE:-default}`)."""
    found = {}
    for volume in service["volumes"]:
        match = VOLUME.match(volume)
        assert match, volume
        found[match["target"]] = (match["source"], match["mode"])
    return found


# ------------------------------------------------------------------------ fast: the wiring


def test_api_and_worker_are_dfd_commands_wired_to_the_services() -> None:
    services = compose()["services"]
    assert set(services) == {"api", "worker", "redis", "postgres"}
    api, worker = service_command("api"), service_command("worker")
    assert api[:2] == ["dfd", "serve"] and worker[:2] == ["dfd", "worker"]
    served, working = serve_parser().parse_args(api[2:]), worker_parser().parse_args(worker[2:])
    assert served.model == working.model == Path(MODEL_MOUNT)
    assert served.queue == working.queue and served.database == working.database
    assert served.upload_dir == working.upload_dir
    assert (served.host, served.port) == ("0.0.0.0", API_PORT)
    assert f"{API_PORT}:{API_PORT}" in services["api"]["ports"]

    queue = urlsplit(served.queue)
    assert (queue.scheme, queue.hostname, queue.port) == ("redis", "redis", REDIS_PORT)
    database = make_url(served.database)
    postgres = services["postgres"]["environment"]
    assert (database.host, database.port) == ("postgres", POSTGRES_PORT)
    assert (database.username, database.password, database.database) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert database.drivername == "postgresql+psycopg"

    for name in ("api", "worker"):
        mounted = mounts(services[name])
        assert mounted[MODEL_MOUNT][1] == "ro", "the model is mounted read-only"
        source, _ = mounted[str(served.upload_dir)]
        assert source in compose()["volumes"], "uploads live in a named volume both share"
    for name in ("api", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert f"127.0.0.1:{API_PORT}{API}/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_dockerfile_builds_from_the_repository() -> None:
    """What the Dockerfile copies exists and is not excluded from the build context, and the
    torch pins it installs first from TORCH_INDEX are in pyproject.toml."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "ARG BASE=python:3.11-slim" in dockerfile and "ARG TORCH_INDEX=" in dockerfile
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = [
        word
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    ]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert source not in ignored, source
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(
        d.split("==")[0] for d in dependencies if d.startswith(("torch==", "torchvision=="))
    ) == ["torch", "torchvision"]


# ------------------------------------------------------------------------ slow: the commands run


def localized(
    command: list[str], model: Path, queue: str, database: str, uploads: Path, port: int
) -> list[str]:
    """A compose command as this machine runs it: `dfd` through this Python, and the model,
    broker, database, upload folder and address replaced by the test's (127.0.0.1 only)."""
    values = {
        "--queue": queue,
        "--database": database,
        "--upload-dir": str(uploads),
        "--host": "127.0.0.1",
        "--port": str(port),
    }
    assert command[0] == "dfd"
    argv, words = [sys.executable, "-m", "dfd.cli.main"], iter(command[1:])
    for word in words:
        if word in values:
            next(words)
            argv += [word, values[word]]
        else:
            argv.append(str(model) if word == MODEL_MOUNT else word)
    return argv


@pytest.fixture
def deployment(tiny_run: Path, redis_url: str, postgres_url: str, tmp_path: Path) -> Iterator[dict]:
    """compose.yaml's api and worker, started from its commands."""
    queue = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(queue).flushdb()
    port = free_port()
    processes = []
    for name in ("api", "worker"):
        argv = localized(
            service_command(name), tiny_run, queue, postgres_url, tmp_path / "uploads", port
        )
        log = (tmp_path / f"{name}.log").open("w")
        processes.append(
            subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        )

    def logs() -> str:
        return "\n".join(
            f"--- {name}\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
            for name in ("api", "worker")
        )

    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "processes": processes,
            "logs": logs,
            "queue": queue,
        }
    finally:
        for process in reversed(processes):
            stop_process(process)


def wait_until(check, what: str, deployment: dict, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        assert all(p.poll() is None for p in deployment["processes"]), deployment["logs"]()
        try:
            answer = check()
        except httpx.TransportError:
            answer = None
        if answer:
            return answer
        assert time.monotonic() < deadline, f"{what}\n{deployment['logs']()}"
        time.sleep(0.2)


@pytest.mark.slow
def test_compose_commands_take_a_job_through_redis_into_postgres(
    deployment: dict, tiny_raw: Path
) -> None:
    url = deployment["url"]
    health = wait_until(
        lambda: (r := httpx.get(f"{url}{API}/health", timeout=2)).status_code == 200 and r.json(),
        "the API did not come up",
        deployment,
        180,
    )
    assert (health["mode"], health["queue"]) == ("queue", deployment["queue"])
    assert health["database"].startswith("postgresql")
    video = sorted((tiny_raw / "real").glob("man*.mp4"))[0]
    submitted = httpx.post(
        f"{url}{API}/analyze-video",
        timeout=60,
        files={"file": (video.name, video.read_bytes(), "video/mp4")},
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    record = wait_until(
        lambda: (
            (r := httpx.get(f"{url}{API}/jobs/{job_id}", timeout=10).json())["status"]
            in ("done", "failed")
            and r
        ),
        "the job did not finish",
        deployment,
        JOB_TIMEOUT_S,
    )
    assert record["status"] == "done", record
    result = record["result"]
    assert result["prediction"] in ("REAL", "FAKE") and 0.0 <= result["fake_probability"] <= 1.0
    assert result["frames"], "per-frame scores came back through the database"
