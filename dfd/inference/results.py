"""What `dfd predict` reports: one result per video, as a console table, JSON and CSV."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich import box
from rich.table import Table

STATUS_OK, STATUS_FAILED = "ok", "failed"
FAKE, REAL = "FAKE", "REAL"
CSV_COLUMNS = (
    "video",
    "status",
    "reason",
    "verdict",
    "fake_probability",
    "threshold",
    "faces",
    "frames_used",
    "clips",
    "seconds",
    "notes",
)


@dataclass
class VideoResult:
    """One video's outcome: the verdict and its probability, or why it could not be scored.

    `face_scores` has one entry per face track; `clip_scores` and `frame_scores` (every sampled
    frame: its number, time, face box, detection score and, for frame models, its own score)
    are filled only when details are asked for.
    """

    video: str
    status: str
    reason: str = ""
    verdict: str | None = None
    fake_probability: float | None = None
    threshold: float | None = None
    faces: int = 0
    frames_used: int = 0
    clips: int = 0
    seconds: float = 0.0
    face_scores: list[dict[str, Any]] = field(default_factory=list)
    clip_scores: list[dict[str, Any]] = field(default_factory=list)
    frame_scores: list[dict[str, Any]] = field(default_factory=list)
    gradcam: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def failed(video: str, reason: str, seconds: float = 0.0) -> VideoResult:
    """The result of a video that could not be scored."""
    return VideoResult(video=video, status=STATUS_FAILED, reason=reason, seconds=seconds)


def verdict(score: float, threshold: float) -> str:
    """FAKE when the score reaches the threshold (as evaluation predicts), else REAL."""
    return FAKE if score >= threshold else REAL


def common_folder(results: list[VideoResult]) -> Path | None:
    """The folder all videos lie under (None for one video or none in common)."""
    if len(results) < 2:
        return None
    folder = Path(os.path.commonpath([Path(r.video).absolute().parent for r in results]))
    return None if folder == Path(folder.anchor) else folder


def results_table(results: list[VideoResult], title: str) -> Table:
    """The console table: video, verdict, fake probability, faces, frames used, seconds, and a
    note (why a video failed); video paths relative to the folder they share, named in the title."""
    base = common_folder(results)
    names = [os.path.relpath(Path(r.video).absolute(), base) if base else r.video for r in results]
    table = Table(
        title=f"{title} in {base}" if base else title, title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("video", overflow="fold")
    for column in ("verdict", "fake prob.", "faces", "frames", "seconds"):
        table.add_column(column, justify="left" if column == "verdict" else "right", no_wrap=True)
    table.add_column("note", overflow="fold")
    for name, result in zip(names, results):
        if result.ok:
            colour = "red" if result.verdict == FAKE else "green"
            table.add_row(
                name,
                f"[bold {colour}]{result.verdict}[/]",
                f"{result.fake_probability:.3f}",
                str(result.faces),
                str(result.frames_used),
                f"{result.seconds:.1f}",
                "; ".join(result.notes),
            )
        else:
            table.add_row(
                name, "[yellow]failed[/]", "-", "-", "-", f"{result.seconds:.1f}", result.reason
            )
    return table


def _finite(value: Any) -> Any:
    """JSON has no NaN: None instead."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _clean(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _clean(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_clean(value) for value in data]
    return _finite(data)


def write_json(
    path: Path, results: list[VideoResult], model: dict[str, Any], details: bool
) -> None:
    """Every result (with clip and frame scores when `details`) and the model's settings."""
    videos = []
    for result in results:
        entry = asdict(result)
        if not details:
            entry.pop("clip_scores")
            entry.pop("frame_scores")
        videos.append(entry)
    summary = {
        "videos": len(results),
        "ok": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "fake": sum(r.verdict == FAKE for r in results),
    }
    document = {"model": model, "summary": summary, "videos": videos}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(document), indent=2, default=str))


def _cell(value: Any) -> Any:
    """Lists (frame numbers, a face box) as one `;`-joined CSV cell, as the manifest keeps them."""
    return ";".join(str(item) for item in value) if isinstance(value, list) else value


def detail_paths(path: Path) -> tuple[Path, Path]:
    """Where the per-clip and per-frame CSVs go beside the per-video one."""
    return path.with_name(f"{path.stem}.clips.csv"), path.with_name(f"{path.stem}.frames.csv")


def write_csv(path: Path, results: list[VideoResult], details: bool) -> list[Path]:
    """One row per video; with `details` also `<stem>.clips.csv` and `<stem>.frames.csv`.
    Returns the files written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{column: _cell(getattr(r, column)) for column in CSV_COLUMNS} for r in results]
    pd.DataFrame(rows, columns=list(CSV_COLUMNS)).to_csv(path, index=False)
    written = [path]
    if details:
        for target, attribute in zip(detail_paths(path), ("clip_scores", "frame_scores")):
            table = pd.DataFrame(
                [
                    {"video": r.video, **{k: _cell(v) for k, v in row.items()}}
                    for r in results
                    for row in getattr(r, attribute)
                ]
            )
            table.to_csv(target, index=False)
            written.append(target)
    return written
