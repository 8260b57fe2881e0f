"""The web page of dfd serve: its files (fast), and a real headless Chromium driven by Playwright
against a real server with the checkpoint trained here (slow)."""

from __future__ import annotations

import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page, sync_playwright

from dfd.demo.encode import write_video
from dfd.serve.app import create_app
from helpers.servers import API, Stack, analyze, deployed, redis_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
ANALYSIS_MS = 300_000
WATCH_STATUS = """() => {  // every text the status line shows, in window.statuses
    window.statuses = [];
    const line = document.getElementById("status");
    new MutationObserver(() => window.statuses.push(line.textContent))
        .observe(line, {childList: true, characterData: true, subtree: true});
}"""
CHART_FITS = """() => {  // the chart is redrawn at the page's width, not scaled down
    const chart = document.querySelector("#chart svg");
    return !chart || chart.getBoundingClientRect().width >= chart.width.baseVal.value - 1;
}"""


# ------------------------------------------------------------------------ fast: the files


def test_the_page_and_its_files_are_served_from_the_app() -> None:
    """No model is loaded (no lifespan): only the static side is asked for."""
    client = TestClient(create_app("never-loaded.ckpt"))
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/static/page.css", "/static/page.js", "/docs"} <= set(linked)
    assert not [link for link in linked if re.match(r"(https?:)?//", link)], "nothing remote"
    for path, kind in (("/static/page.js", "javascript"), ("/static/page.css", "text/css")):
        response = client.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "http://" not in response.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in response.text
    missing = client.get("/static/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "/" not in client.get("/openapi.json").json()["paths"]


# ------------------------------------------------------------------------ slow: a real browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Chromium from the system packages, with a fresh profile."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install the Debian package `chromium`")
    profile = tmp_path_factory.mktemp("chromium_profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, viewport=DESKTOP
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A fresh tab at a desktop size."""
    tab = browser.new_page()
    tab.set_viewport_size(DESKTOP)
    yield tab
    tab.close()


def open_page(page: Page, url: str) -> None:
    """Load the page of the server at `url`; it must name the model that /health names."""
    page.goto(f"{url}/")
    page.evaluate(WATCH_STATUS)
    model = httpx.get(f"{url}{API}/health").json()["model_version"]["name"]
    page.wait_for_function("document.getElementById('model').textContent.startsWith('Model ')")
    assert model in page.inner_text("#model")


def upload(page: Page, video: Path, gradcam: bool) -> None:
    """Pick a file with the file chooser and press Analyse."""
    page.set_input_files("#file", video)
    assert video.name in page.inner_text("#file-name")
    page.set_checked("#gradcam", gradcam)
    page.click("#analyse")


def assert_shows(page: Page, answer: dict) -> None:
    """The result on the page is `answer` (an analyze-video answer): verdict, probability and
    threshold to the decimals shown, counts, a chart point per scored frame, Grad-CAM images."""
    assert page.inner_text("#verdict") == answer["prediction"]
    probability, threshold = page.inner_text("#probability"), page.inner_text("#threshold")
    assert shown_as(probability, answer["fake_probability"]), probability
    assert shown_as(threshold, answer["threshold"]) and threshold != probability
    assert page.inner_text("#faces") == str(answer["faces"])
    assert page.inner_text("#frames-used") == str(answer["frames_used"])
    assert page.inner_text("#video-id") == answer["video_id"]
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    assert answer["prediction"] in page.inner_text("#status")
    assert page.locator("#error").is_hidden()
    scored = [frame for frame in answer["frames"] if frame["score"] is not None]
    assert scored and page.locator("#chart svg circle.point").count() == len(scored)
    assert page.locator("#chart svg line.threshold").count() == 1
    images = page.locator("#gradcam-frames img")
    assert images.count() == len(answer["gradcam"])
    for index in range(images.count()):
        assert images.nth(index).evaluate("image => image.complete && image.naturalWidth") > 0


def screenshots(page: Page, folder: Path, name: str) -> list[Path]:
    """Full-page PNGs at a desktop and a phone width; each must be a real, sizeable picture."""
    shots = []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.wait_for_function(CHART_FITS)
        shot = folder / f"{name}_{label}.png"
        page.screenshot(path=shot, full_page=True)
        data = shot.read_bytes()
        width, height = struct.unpack(">II", data[16:24])
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
        assert width == viewport["width"] and height >= viewport["height"]
        shots.append(shot)
    page.set_viewport_size(DESKTOP)
    return shots


def shown_as(text: str, probability: float) -> bool:
    """Whether a percentage on the page is `probability` to the decimals it shows."""
    decimals = len(text.removesuffix(" %").partition(".")[2])
    return text == f"{probability * 100:.{decimals}f} %" and decimals >= 1


# the inline server (dfd serve): the answer comes with the upload's response


@pytest.mark.slow
def test_a_demo_video_uploaded_in_chromium_shows_the_apis_verdict(
    page: Page, server: dict, demo_videos: list[Path], tmp_path: Path
) -> None:
    video = demo_videos[1]
    expected = analyze(server, video.read_bytes(), enable_gradcam="true").json()
    open_page(page, server["url"])
    upload(page, video, gradcam=True)
    page.wait_for_selector("#result", state="visible", timeout=ANALYSIS_MS)
    assert_shows(page, {**expected, "video_id": page.inner_text("#video-id")})
    assert len(expected["gradcam"]) == 1
    print("screenshots:", *screenshots(page, tmp_path, "result"))


@pytest.mark.slow
def test_a_dropped_file_that_is_no_video_shows_the_apis_error(
    page: Page, server: dict, tmp_path: Path
) -> None:
    content = "not a video at all\n"
    expected = analyze(server, content.encode()).json()
    open_page(page, server["url"])
    page.evaluate(
        """content => {
        const files = new DataTransfer();
        files.items.add(new File([content], "notes.txt", {type: "text/plain"}));
        const drop = document.getElementById("drop");
        drop.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true}));
    }""",
        content,
    )
    assert "notes.txt" in page.inner_text("#file-name")
    page.click("#analyse")
    page.wait_for_selector("#error", state="visible", timeout=ANALYSIS_MS)

    message = page.inner_text("#error-message")
    assert message == expected["detail"] and str(server["uploads"]) not in message
    assert page.inner_text("#error-code") == f"HTTP 415 · {expected['error']}"
    assert page.locator("#result").is_hidden() and page.is_enabled("#analyse")
    print("screenshots:", *screenshots(page, tmp_path, "error"))


# the queue (dfd serve --queue + dfd worker): 202 with a job, which the page polls


@pytest.fixture(scope="module")
def queued(
    tiny_run: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The API in queue mode and one worker, jobs in SQLite."""
    folder = tmp_path_factory.mktemp("page_queue")
    with deployed(
        tiny_run, folder, redis_database(redis_url, 3), f"sqlite:///{folder / 'jobs.sqlite3'}"
    ) as deployment:
        yield deployment


@pytest.mark.slow
def test_a_queued_job_is_followed_until_the_worker_has_scored_it(
    page: Page, queued: Stack, demo_videos: list[Path]
) -> None:
    open_page(page, queued.url)
    upload(page, demo_videos[0], gradcam=True)
    page.wait_for_selector("#result", state="visible", timeout=ANALYSIS_MS)
    job_id = page.inner_text("#video-id")
    record = queued.job(job_id)
    assert record["status"] == "done" and len(record["result"]["gradcam"]) == 1
    assert_shows(page, record["result"])
    statuses = page.evaluate("window.statuses")
    assert any(text.startswith(f"Queued as job {job_id}") for text in statuses), statuses


@pytest.mark.slow
def test_a_failed_job_shows_its_reason(page: Page, queued: Stack, tmp_path: Path) -> None:
    flat = write_video(tmp_path / "flat.mp4", np.full((12, 96, 128, 3), (40, 120, 40), np.uint8))
    open_page(page, queued.url)
    upload(page, flat, gradcam=False)
    page.wait_for_selector("#error", state="visible", timeout=ANALYSIS_MS)
    code = page.inner_text("#error-code")
    job_id = re.fullmatch(r"job (\w+) failed · no_face", code)[1]
    assert page.inner_text("#error-message") == queued.job(job_id)["error"]["message"]
    assert page.locator("#result").is_hidden()
