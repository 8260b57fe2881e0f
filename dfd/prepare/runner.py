"""The preparation run: labelled videos in, face crops and a manifest out.

For every video: sample frames, detect faces, follow one face, save square crops, and
record one manifest row. A bad video becomes a ``skipped`` row with a reason; the run goes
on. Finished clips are reused on the next run, and every write is atomic (frames go to a
temporary folder that is renamed into place; the manifest is replaced, never edited).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import decord
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from dfd.data.labels import LabeledVideo, LabelTable
from dfd.data.manifest import (
    MANIFEST_COLUMNS, MANIFEST_NAME, STATUS_OK, STATUS_SKIPPED, empty_manifest, frame_paths, join_list,
    read_manifest, write_manifest,
)
from dfd.data.splits import assign_splits
from dfd.prepare.crops import crop_square, save_rgb_jpeg
from dfd.prepare.faces import FaceDetector
from dfd.prepare.tracking import follow_face
from dfd.prepare.video import VideoInfo, VideoReadError, open_video, read_frames, sample_indices

log = logging.getLogger(__name__)
FACES_DIR = "faces"
SAVE_EVERY = 5  # rewrite the manifest after this many processed videos


@dataclass(frozen=True)
class PrepareSettings:
    """The ``prepare:`` block of the config."""

    num_frames: int = 8
    fps: float | None = None
    max_frames: int = 64
    face_size: int = 224
    margin: float = 0.3
    min_face_prob: float = 0.9
    min_face_size: int = 40
    detect_batch: int = 16
    device: str = "cpu"
    force: bool = False


class SkipVideo(Exception):
    """A video that cannot give a clip; ``reason`` is the manifest's reason text."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.reason = f"{code}: {detail}" if detail else code
        super().__init__(self.reason)


def prepare_dataset(
    labels: LabelTable,
    raw_dir: str | Path,
    prepared_dir: str | Path,
    settings: PrepareSettings | None = None,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Prepare every labelled video into ``prepared_dir`` and return the manifest it wrote.

    ``show_progress`` turns on the progress bar and the summary table printed at the end.
    """
    settings = settings or PrepareSettings()
    raw_dir, prepared_dir = Path(raw_dir), Path(prepared_dir)
    manifest_path = prepared_dir / MANIFEST_NAME
    for row, reason in labels.rejected:
        log.warning("rejected label row %s: %s", row, reason)
    splits = assign_splits(labels.videos, val_fraction, test_fraction, seed)
    previous = _previous_rows(manifest_path)
    detector = _LazyDetector(settings)
    rows: dict[str, dict[str, object]] = {}
    reused = 0
    processed_since_save = 0
    try:
        for video in tqdm(labels.videos, desc="prepare", unit="video", disable=not show_progress):
            base = _base_row(video, splits[video.video_id], raw_dir)
            old = previous.get(video.video_id)
            if not settings.force and _reusable(old, base, prepared_dir):
                rows[video.video_id] = {**old, **base}
                reused += 1
                continue
            rows[video.video_id] = {**base, **_prepare_one(video, detector, settings, prepared_dir)}
            processed_since_save += 1
            if processed_since_save >= SAVE_EVERY:
                write_manifest(_assemble(labels.videos, rows, previous, splits, raw_dir), manifest_path)
                processed_since_save = 0
    finally:
        manifest = _assemble(labels.videos, rows, previous, splits, raw_dir)
        write_manifest(manifest, manifest_path)
    if show_progress:
        Console().print(summary_table(manifest, len(labels.rejected), reused))
    return manifest


def prepare_from_config(cfg: DictConfig) -> pd.DataFrame:
    """Run :func:`prepare_dataset` from a composed Hydra config (``data`` and ``prepare`` blocks)."""
    labels = instantiate(cfg.data.labels)
    settings = PrepareSettings(**OmegaConf.to_container(cfg.prepare, resolve=True))
    return prepare_dataset(
        labels, cfg.data.raw_dir, cfg.data.prepared_dir, settings,
        val_fraction=cfg.data.splits.val_fraction, test_fraction=cfg.data.splits.test_fraction,
        seed=cfg.data.splits.seed,
    )


def summary_table(manifest: pd.DataFrame, rejected: int, reused: int) -> Table:
    """A table of what the run produced: clips per split, skips per reason, rejected label rows."""
    table = Table(title="prepare summary")
    table.add_column("item")
    table.add_column("count", justify="right")
    ok = manifest[manifest["status"] == STATUS_OK]
    table.add_row("videos", str(len(manifest)))
    table.add_row("ok clips", str(len(ok)))
    for split, count in ok["split"].value_counts().sort_index().items():
        table.add_row(f"  ok in {split}", str(count))
    table.add_row("  reused from an earlier run", str(reused))
    skipped = manifest[manifest["status"] == STATUS_SKIPPED]["reason"].map(lambda r: r.split(":", 1)[0])
    for code, count in sorted(Counter(skipped).items()):
        table.add_row(f"skipped: {code}", str(count))
    table.add_row("rejected label rows", str(rejected))
    return table


class _LazyDetector:
    """Loads MTCNN on first use, so a fully resumed run never loads it."""

    def __init__(self, settings: PrepareSettings) -> None:
        self._settings = settings
        self._detector: FaceDetector | None = None

    def get(self) -> FaceDetector:
        if self._detector is None:
            s = self._settings
            self._detector = FaceDetector(device=s.device, batch_size=s.detect_batch, min_prob=s.min_face_prob,
                                          min_face_size=s.min_face_size)
        return self._detector


def _previous_rows(manifest_path: Path) -> dict[str, dict[str, object]]:
    if not manifest_path.is_file():
        return {}
    return {row["video_id"]: row for row in read_manifest(manifest_path).to_dict("records")}


def _source(path: Path, raw_dir: Path) -> str:
    try:
        return path.relative_to(raw_dir).as_posix()
    except ValueError:
        return str(path)


def _base_row(video: LabeledVideo, split: str, raw_dir: Path) -> dict[str, object]:
    return {
        "clip_id": video.video_id, "video_id": video.video_id, "label": video.label,
        "group": video.group, "split": split, "source": _source(video.path, raw_dir),
    }


def _reusable(old: dict[str, object] | None, base: dict[str, object], prepared_dir: Path) -> bool:
    if old is None or old["status"] != STATUS_OK or old["source"] != base["source"]:
        return False
    paths = frame_paths(old, prepared_dir)
    return bool(paths) and all(path.is_file() for path in paths)


def _assemble(
    videos: list[LabeledVideo], rows: dict[str, dict[str, object]], previous: dict[str, dict[str, object]],
    splits: dict[str, str], raw_dir: Path,
) -> pd.DataFrame:
    """Rows in label order: this run's rows, else an earlier run's (with today's labels and split)."""
    records = []
    for video in videos:
        if video.video_id in rows:
            records.append(rows[video.video_id])
        elif video.video_id in previous:
            records.append({**previous[video.video_id], **_base_row(video, splits[video.video_id], raw_dir)})
    if not records:
        return empty_manifest()
    return pd.DataFrame.from_records(records, columns=list(MANIFEST_COLUMNS))


def _prepare_one(
    video: LabeledVideo, detector: _LazyDetector, settings: PrepareSettings, prepared_dir: Path
) -> dict[str, object]:
    """The result columns of one video's row; any failure becomes a skip with its reason."""
    info: VideoInfo | None = None
    clip_dir = prepared_dir / FACES_DIR / video.video_id
    try:
        if not video.path.is_file():
            raise SkipVideo("missing_file")
        reader, info = open_video(video.path)
        return _extract_clip(reader, info, detector, settings, clip_dir, prepared_dir)
    except VideoReadError as error:
        reason = f"unreadable: {error}"
    except SkipVideo as skip:
        reason = skip.reason
    except Exception as error:  # one broken video must never stop the run
        log.exception("error while preparing %s", video.path)
        reason = f"error: {type(error).__name__}: {_one_line(str(error))}"
    shutil.rmtree(clip_dir, ignore_errors=True)
    return _skipped(reason, info)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""


def _skipped(reason: str, info: VideoInfo | None) -> dict[str, object]:
    return {
        "status": STATUS_SKIPPED, "reason": reason, "num_frames": 0, "frame_paths": "", "frame_indices": "",
        "det_scores": "", "fps": info.fps if info else 0.0, "width": info.width if info else 0,
        "height": info.height if info else 0,
    }


def _extract_clip(
    reader: decord.VideoReader, info: VideoInfo, detector: _LazyDetector, settings: PrepareSettings, clip_dir: Path,
    prepared_dir: Path,
) -> dict[str, object]:
    indices = sample_indices(info.num_frames, settings.num_frames, info.fps, settings.fps, settings.max_frames)
    if not indices:
        raise SkipVideo("no_frames")
    frames = read_frames(reader, indices)
    track = follow_face(detector.get().detect(frames), indices)
    if track is None:
        raise SkipVideo("no_face")
    partial = clip_dir.with_name(clip_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    names = [f"{index:06d}.jpg" for index in indices]
    for frame, box, name in zip(frames, track.boxes, names):
        save_rgb_jpeg(crop_square(frame, box, settings.margin, settings.face_size), partial / name)
    shutil.rmtree(clip_dir, ignore_errors=True)
    partial.rename(clip_dir)
    relative = clip_dir.relative_to(prepared_dir).as_posix()
    return {
        "status": STATUS_OK, "reason": "", "num_frames": len(indices),
        "frame_paths": join_list(f"{relative}/{name}" for name in names),
        "frame_indices": join_list(indices), "det_scores": join_list(f"{score:.4f}" for score in track.scores),
        "fps": info.fps, "width": info.width, "height": info.height,
    }
