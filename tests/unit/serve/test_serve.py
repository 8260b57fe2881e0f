"""dfd serve: the REST API run by a real uvicorn server on 127.0.0.1 with a checkpoint trained
here, on the demo's real videos and on bad uploads (slow where the trained run is needed)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from dfd.demo.encode import write_video
from dfd.serve.__main__ import parser
from dfd.serve.jobs import MemoryJobStore
from dfd.serve.limits import InFlight
from dfd.serve.settings import MIB
from helpers import media
from helpers.servers import API, analyze

MAX_UPLOAD_MB, MAX_DURATION_S = 1, 2.0
PROBABILITY_AGREEMENT = 1e-6


# ------------------------------------------------------------------------ fast: no model needed


def test_job_store_keeps_the_newest() -> None:
    store = MemoryJobStore(capacity=2)
    for name in ("a", "b", "c"):
        store.put(name, {"job_id": name})
    assert store.get("a") is None and store.get("c") == {"job_id": "c"}


def test_in_flight_refuses_beyond_the_limit() -> None:
    gate = InFlight(1)
    assert gate.try_enter() and not gate.try_enter()
    gate.leave()
    assert gate.try_enter()


def test_serve_options() -> None:
    args = parser().parse_args(
        ["run", "--port", "9000", "--max-upload-mb", "3", "--max-in-flight", "2", "--device", "cpu"]
    )
    assert (args.port, args.max_upload_mb, args.max_in_flight, args.host) == (
        9000,
        3,
        2,
        "127.0.0.1",
    )
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "--max-in-flight", "0"])


# ------------------------------------------------------------------------ slow: a real server


def leftovers(server: dict) -> list[Path]:
    return list(server["uploads"].iterdir())


@pytest.fixture(scope="module")
def predicted(
    tiny_run: Path, demo_videos: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    """`dfd predict` on the same videos: the reference the API must match."""
    out = tmp_path_factory.mktemp("serve_predict") / "out.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dfd.cli.predict",
            str(tiny_run),
            *map(str, demo_videos),
            "--json",
            str(out),
            "--frames",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {Path(v["video"]).name: v for v in json.loads(out.read_text())["videos"]}


@pytest.mark.slow
def test_analyze_gives_what_predict_gives(
    server: dict, demo_videos: list[Path], predicted: dict[str, dict]
) -> None:
    for video in demo_videos:
        response = analyze(server, video.read_bytes(), enable_gradcam="false")
        assert response.status_code == 200, response.text
        body = response.json()
        want = predicted[video.name]
        assert abs(body["fake_probability"] - want["fake_probability"]) <= PROBABILITY_AGREEMENT
        assert body["prediction"] == want["verdict"] and body["threshold"] == want["threshold"]
        assert body["faces"] == want["faces"] and body["gradcam"] == []
        assert [(f["face"], f["frame"], f["time"]) for f in body["frames"]] == [
            (f["face"], f["frame"], f["time"]) for f in want["frame_scores"]
        ]
        assert np.allclose(
            [f["score"] for f in body["frames"]],
            [f["score"] for f in want["frame_scores"]],
            atol=PROBABILITY_AGREEMENT,
        )
        assert body["model_version"]["name"].endswith(".ckpt")
        assert len(body["model_version"]["sha256"]) == 64 and body["processing_time_s"] > 0
        print(
            f"{video.name}: {body['prediction']} {body['fake_probability']:.6f}, "
            f"{body['processing_time_s']:.2f} s"
        )
        job = httpx.get(f"{server['url']}{API}/jobs/{body['video_id']}").json()
        assert {key: job[key] for key in ("job_id", "status", "attempts", "result", "error")} == {
            "job_id": body["video_id"],
            "status": "done",
            "attempts": 1,
            "result": body,
            "error": None,
        }
    assert leftovers(server) == []


@pytest.mark.slow
def test_a_damaged_middle_is_scored_on_the_frames_that_decode_and_says_so(
    server: dict, tmp_path: Path
) -> None:
    video = media.broken_middle_video(tmp_path)  # the model samples 4: frame 15 is damaged
    response = analyze(server, video.read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["notes"] == ["1 of 4 sampled frames did not decode"]
    assert body["frames_used"] == 3 and [f["frame"] for f in body["frames"]] == [5, 25, 35]
    assert body["face_scores"][0]["faces_in"] == "3 of 3 frames"


@pytest.mark.slow
def test_gradcam_frames_come_inline(server: dict, demo_videos: list[Path]) -> None:
    response = analyze(server, demo_videos[1].read_bytes(), enable_gradcam="true", num_frames="4")
    assert response.status_code == 200, response.text
    (cam,) = response.json()["gradcam"]
    assert base64.b64decode(cam["png_base64"]).startswith(b"\x89PNG")
    assert leftovers(server) == []


@pytest.mark.slow
def test_health_docs_and_unknown_jobs(server: dict, tiny_run: Path) -> None:
    health = httpx.get(f"{server['url']}{API}/health").json()
    text = json.dumps(health)
    for folder in (tiny_run.resolve(), server["uploads"].resolve(), Path.cwd()):
        assert str(folder) not in text, f"/health shows {folder}: {text}"
    assert health["model_version"]["source_checkpoint"].endswith(".ckpt")
    assert health["model_loaded"] is True and health["device"] == "cpu"
    assert health["num_frames"] == 4 and health["model_version"]["kind"] == "checkpoint"
    assert (health["mode"], health["queue"], health["database"]) == ("inline", None, "memory")
    assert httpx.get(f"{server['url']}/docs").status_code == 200
    paths = httpx.get(f"{server['url']}/openapi.json").json()["paths"]
    assert {f"{API}/analyze-video", f"{API}/health", f"{API}/jobs/{{job_id}}"} <= set(paths)
    missing = httpx.get(f"{server['url']}{API}/jobs/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_job"


@pytest.fixture(scope="module")
def bad_uploads(tmp_path_factory: pytest.TempPathFactory, tiny_raw: Path) -> dict[str, bytes]:
    """Uploads the API must refuse, by name."""
    folder = tmp_path_factory.mktemp("bad_uploads")
    real = sorted((tiny_raw / "real").glob("man*.mp4"))[0].read_bytes()
    long_clip = write_video(folder / "long.mp4", np.full((75, 48, 64, 3), 90, np.uint8))  # 3 s
    flat = write_video(folder / "flat.mp4", np.full((12, 96, 128, 3), (40, 120, 40), np.uint8))
    return {
        "empty": b"",
        "text": b"not a video at all\n",
        "truncated": real[: len(real) // 3],
        "long": long_clip.read_bytes(),
        "no_face": flat.read_bytes(),
        "just_over": b"\0" * (MAX_UPLOAD_MB * MIB + 1),
        "far_over": b"\0" * (3 * MAX_UPLOAD_MB * MIB),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("empty", 400, "empty_upload"),
        ("text", 415, "not_a_video"),
        ("truncated", 415, "not_a_video"),
        ("long", 422, "too_long"),
        ("no_face", 422, "no_face"),
        ("just_over", 413, "too_large"),
        ("far_over", 413, "too_large"),
    ],
)
def test_bad_uploads_get_a_json_error_and_leave_nothing(
    server: dict, bad_uploads: dict[str, bytes], name: str, status: int, code: str
) -> None:
    response = analyze(server, bad_uploads[name])
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and response.json()["detail"]
    assert leftovers(server) == []


@pytest.mark.slow
def test_bad_fields_are_refused(server: dict, demo_videos: list[Path]) -> None:
    frames = analyze(server, demo_videos[0].read_bytes(), num_frames="7")
    assert frames.status_code == 422 and frames.json()["error"] == "unsupported_num_frames"
    no_file = httpx.post(f"{server['url']}{API}/analyze-video", data={"enable_gradcam": "true"})
    assert no_file.status_code == 422 and no_file.json()["error"] == "invalid_request"
    assert leftovers(server) == []


@pytest.mark.slow
def test_beyond_the_in_flight_bound_is_503_at_once(server: dict, demo_videos: list[Path]) -> None:
    content = demo_videos[0].read_bytes()
    first: dict[str, httpx.Response] = {}
    worker = threading.Thread(target=lambda: first.update(response=analyze(server, content)))
    worker.start()
    deadline = time.perf_counter() + 60
    while httpx.get(f"{server['url']}{API}/health").json()["in_flight"] < 1:
        assert time.perf_counter() < deadline and worker.is_alive()
        time.sleep(0.01)
    asked = time.perf_counter()
    second = analyze(server, content)
    waited = time.perf_counter() - asked
    worker.join(timeout=300)
    assert second.status_code == 503 and second.json()["error"] == "busy"
    assert int(second.headers["Retry-After"]) > 0 and waited < 2
    assert first["response"].status_code == 200
    assert leftovers(server) == []


@pytest.mark.slow
def test_a_chunked_upload_is_stopped_at_the_limit(server: dict) -> None:
    """No Content-Length to trust: the server counts the bytes as they arrive."""
    boundary = "dfdboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n'
        f"Content-Type: video/mp4\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(4 * MAX_UPLOAD_MB):
            yield b"\0" * MIB
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(
        f"{server['url']}{API}/analyze-video",
        content=body(),
        timeout=60,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert leftovers(server) == []
