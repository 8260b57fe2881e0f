"""The FastAPI application: analyse an uploaded video (inline, or enqueued for `dfd worker`),
health, jobs, docs at /docs."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dfd.serve.analysis import Analyzer
from dfd.serve.database import SqlJobStore
from dfd.serve.errors import ApiError, install_error_handlers
from dfd.serve.jobs import DONE, QUEUED, JobStore, MemoryJobStore, job_record
from dfd.serve.limits import MULTIPART_SLACK, BodyLimit, InFlight
from dfd.serve.page import install_page
from dfd.serve.queue import JobQueue
from dfd.serve.settings import ServeSettings
from dfd.serve.uploads import check_video, save_upload

API = "/api/v1"


def load_analyzer(model_path: Path, settings: ServeSettings) -> Analyzer:
    """The detector loaded once, on the configured device."""
    from dfd.inference.loading import load_detector
    from dfd.prepare.detectors import resolve_device
    from dfd.tasks.console import quiet_library_noise

    quiet_library_noise()
    device = resolve_device(settings.device)
    return Analyzer(load_detector(model_path, device), str(device), settings.batch_size)


def open_store(settings: ServeSettings) -> JobStore:
    """The configured database, or the newest jobs in memory when there is none."""
    if settings.database_url is None:
        return MemoryJobStore(settings.max_jobs)
    return SqlJobStore(settings.database_url)


def create_app(
    model: str | Path | Analyzer,
    settings: ServeSettings | None = None,
    jobs: JobStore | None = None,
) -> FastAPI:
    """The API for one model: a path is loaded when the server starts (lifespan), not here; an
    Analyzer (what `dfd serve` loads first, so a bad model stops it with one line) is used.
    With `settings.queue_url`, uploads are enqueued: that needs a database and an upload
    folder the workers share."""
    settings = settings or ServeSettings()
    store = jobs if jobs is not None else open_store(settings)
    queue = JobQueue(settings.queue_url) if settings.queue_url else None
    if queue is not None and not (isinstance(store, SqlJobStore) and settings.upload_dir):
        raise ValueError("a queue needs a database and an upload folder shared with the workers")
    gate = InFlight(settings.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.analyzer = (
            model
            if isinstance(model, Analyzer)
            else await run_in_threadpool(load_analyzer, Path(model), settings)
        )
        if settings.upload_dir is not None:
            settings.upload_dir.mkdir(parents=True, exist_ok=True)
            app.state.upload_root = settings.upload_dir
            yield
        else:
            with tempfile.TemporaryDirectory(prefix="dfd-serve-") as root:
                app.state.upload_root = Path(root)
                yield

    app = FastAPI(
        title="dfd",
        summary="Is the face in this video real or fake?",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + MULTIPART_SLACK)
    install_error_handlers(app)
    install_page(app)

    @app.post(f"{API}/analyze-video")
    async def analyze_video(
        request: Request,
        file: Annotated[UploadFile, File(description="the video")],
        num_frames: Annotated[
            int | None,
            Form(
                description="frames sampled per video: only the "
                "model's own value (see /health) is accepted"
            ),
        ] = None,
        enable_gradcam: Annotated[
            bool,
            Form(
                description="add Grad-CAM overlays of the clip "
                "that decided the verdict (base64 PNG)"
            ),
        ] = False,
    ) -> dict[str, Any]:
        """Score one uploaded video: verdict, fake probability, per-frame scores, faces. A server
        with a queue answers 202 with the job to poll instead (GET /api/v1/jobs/{job_id})."""
        analyzer: Analyzer = request.app.state.analyzer
        if num_frames is not None and num_frames != analyzer.num_frames:
            raise ApiError(
                422,
                "unsupported_num_frames",
                f"this model samples {analyzer.num_frames} frames per video, as it "
                f"was trained; num_frames={num_frames} cannot be served",
            )
        if enable_gradcam and analyzer.detector.module is None:
            raise ApiError(
                422,
                "gradcam_unavailable",
                "Grad-CAM needs a checkpoint; this server runs an exported model",
            )
        if queue is not None:
            return await enqueue(request.app.state.upload_root, file, enable_gradcam)
        if not gate.try_enter():
            raise ApiError(
                503,
                "busy",
                f"{gate.limit} analyses are running; try again later",
                {"Retry-After": str(settings.retry_after_s)},
            )
        video_id = uuid.uuid4().hex
        workdir = request.app.state.upload_root / video_id
        started = time.perf_counter()
        try:
            workdir.mkdir()
            video = await save_upload(file, workdir, settings.max_upload_bytes)
            duration = await run_in_threadpool(check_video, video, settings.max_duration_s)
            answer = await run_in_threadpool(analyzer.analyze, video, workdir, enable_gradcam)
        finally:
            gate.leave()
            await file.close()
            shutil.rmtree(workdir, ignore_errors=True)
        record = {
            "video_id": video_id,
            **answer,
            "duration_s": duration,
            "processing_time_s": round(time.perf_counter() - started, 3),
        }
        await run_in_threadpool(store.put, video_id, job_record(video_id, DONE, result=record))
        return record

    async def enqueue(root: Path, file: UploadFile, gradcam: bool) -> JSONResponse:
        """Save and check the upload as inline, record the job, send it to the workers."""
        assert queue is not None and isinstance(store, SqlJobStore)
        job_id = uuid.uuid4().hex
        workdir = root / job_id
        queued = False
        try:
            workdir.mkdir()
            video = await save_upload(file, workdir, settings.max_upload_bytes)
            duration = await run_in_threadpool(check_video, video, settings.max_duration_s)
            await run_in_threadpool(
                store.enqueue,
                job_id,
                f"{job_id}/{video.name}",
                {"enable_gradcam": gradcam, "duration_s": duration},
            )
            try:
                await run_in_threadpool(queue.send, job_id)
            except Exception as error:
                await run_in_threadpool(store.fail, job_id, "queue_unavailable", str(error))
                raise ApiError(
                    503,
                    "queue_unavailable",
                    f"the job queue cannot be reached: {error}",
                    {"Retry-After": str(settings.retry_after_s)},
                ) from error
            await run_in_threadpool(store.mark_sent, job_id)
            queued = True
        finally:
            await file.close()
            if not queued:
                shutil.rmtree(workdir, ignore_errors=True)
        return JSONResponse(
            {"job_id": job_id, "status": QUEUED, "status_url": f"{API}/jobs/{job_id}"},
            status_code=202,
        )

    @app.get(f"{API}/health")
    async def health(request: Request) -> dict[str, Any]:
        """Whether the model is loaded, which one, on which device, and the load; no file path
        (the database by its kind only: a SQLite URL is one)."""
        analyzer: Analyzer = request.app.state.analyzer
        return {
            "status": "ok",
            "model_loaded": True,
            "model_version": analyzer.version,
            "device": analyzer.device,
            "num_frames": analyzer.num_frames,
            "threshold": analyzer.detector.spec.threshold.value,
            "in_flight": gate.running,
            "max_in_flight": gate.limit,
            "mode": "inline" if queue is None else "queue",
            "queue": None if queue is None else queue.describe(),
            "database": store.describe().split(":", 1)[0],
        }

    @app.get(f"{API}/jobs/{{job_id}}")
    async def job(job_id: str) -> dict[str, Any]:
        """A job by its id (the video_id of an inline analysis): status, attempts, and its
        result or error once finished."""
        record = await run_in_threadpool(store.get, job_id)
        if record is None:
            raise ApiError(404, "unknown_job", f"no job {job_id!r} is known to this server")
        return record

    return app
