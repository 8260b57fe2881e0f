"""The preparation run: labelled videos in, face clips and a manifest out.

Every video of this run's shard is prepared (or reused from its record, see
:mod:`dfd.prepare.records`), in this process or in worker processes. A bad video becomes a
``skipped`` row with a reason and the run goes on. The manifest is assembled from the
records at the end and written atomically; a summary table reports what happened.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from dfd.datasets.labels import LabeledVideo, LabelTable
from dfd.datasets.manifest import (
    MANIFEST_COLUMNS,
    STATUS_OK,
    STATUS_SKIPPED,
    det_scores,
    empty_manifest,
    frame_paths,
    write_manifest,
)
from dfd.datasets.splits import assign_splits
from dfd.prepare.pool import run_videos
from dfd.prepare.records import RECORDS_DIR, read_record, record_path, source_stamp
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.shards import in_shard, manifest_name

log = logging.getLogger(__name__)
NAMED_REJECTS = 5  # rejected label rows the summary names


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
    """Prepare this shard's labelled videos into ``prepared_dir`` and return the manifest written.

    ``show_progress`` turns on the progress bar and the summary table printed at the end.
    """
    settings = settings or PrepareSettings()
    raw_dir, prepared_dir = Path(raw_dir), Path(prepared_dir)
    for row, reason in labels.rejected:
        log.warning("rejected label row %s: %s", row, reason)
    splits = assign_splits(
        labels.videos, val_fraction, test_fraction, seed
    )  # over all shards alike
    videos = [
        video
        for video in labels.videos
        if in_shard(video.video_id, settings.shard, settings.num_shards)
    ]
    results: dict[str, list[dict[str, object]]] = {}
    pending = []
    for video in videos:
        clips = None if settings.force else reusable_clips(video, prepared_dir, settings)
        if clips is None:
            pending.append((video.path, video.video_id))
        else:
            results[video.video_id] = clips
    reused = len(results)
    prepared = run_videos(pending, prepared_dir, settings)  # fails here if a package is missing
    progress = tqdm(
        total=len(videos), initial=reused, desc="prepare", unit="video", disable=not show_progress
    )
    started = time.perf_counter()
    with progress:
        for video_id, clips in prepared:
            results[video_id] = clips
            progress.update()
    manifest = _assemble(videos, results, splits, raw_dir)
    write_manifest(manifest, prepared_dir / manifest_name(settings.shard, settings.num_shards))
    if show_progress:
        seconds = time.perf_counter() - started
        Console().print(
            summary_table(
                manifest,
                prepared_dir,
                labels.rejected,
                reused,
                len(pending),
                seconds,
                noted=sum(bool(clip.get("notes")) for clips in results.values() for clip in clips),
            )
        )
    return manifest


def prepare_from_config(cfg: DictConfig) -> pd.DataFrame:
    """Run :func:`prepare_dataset` from a composed Hydra config (``data`` and ``prepare`` blocks)."""
    labels = instantiate(cfg.data.labels)
    settings = PrepareSettings(**OmegaConf.to_container(cfg.prepare, resolve=True))
    return prepare_dataset(
        labels,
        cfg.data.raw_dir,
        cfg.data.prepared_dir,
        settings,
        val_fraction=cfg.data.splits.val_fraction,
        test_fraction=cfg.data.splits.test_fraction,
        seed=cfg.data.splits.seed,
    )


def reusable_clips(
    video: LabeledVideo, prepared_dir: Path, settings: PrepareSettings
) -> list[dict] | None:
    """The clip rows of an earlier run when still valid: same source file, same output settings,
    every frame on disk, and no unexpected ``error`` (which may have been passing). None means
    the video must be prepared (again)."""
    record = read_record(record_path(prepared_dir, video.video_id))
    if record is None or recorded_settings(record) != settings.output_fingerprint():
        return None
    if record.get("source_stamp") != source_stamp(video.path):
        return None
    clips = record.get("clips") or []
    for clip in clips:
        if str(clip["reason"]).startswith("error"):
            return None
        if clip["status"] == STATUS_OK and not all(
            path.is_file() for path in frame_paths(clip, prepared_dir)
        ):
            return None
    return clips or None


def summary_table(
    manifest: pd.DataFrame,
    prepared_dir: Path,
    rejected: list[tuple[str, str]],
    reused: int,
    prepared: int,
    seconds: float,
    noted: int = 0,
) -> Table:
    """What the run produced: videos (``reused`` from records, ``prepared`` in ``seconds`` now), clips,
    faces found, clips ``noted`` as made of part of the sampled frames (a face in part of the
    video, frames that did not decode: the note is in the video's record), skips per reason,
    and the label rows ``rejected`` as (row, reason), the first few named so they can be fixed."""
    table = Table(title=f"prepare summary ({prepared_dir})")
    table.add_column("item")
    table.add_column("count", justify="right")
    videos = manifest.drop_duplicates("video_id")
    ok = manifest[manifest["status"] == STATUS_OK]
    with_face = ok["video_id"].nunique()
    table.add_row("videos", str(len(videos)))
    table.add_row("  with a face", f"{with_face} ({_percent(with_face, len(videos))})")
    table.add_row("  reused from an earlier run", str(reused))
    rate = f", {60 * prepared / seconds:.1f} videos/min" if prepared and seconds > 0 else ""
    table.add_row("  prepared in this run", f"{prepared} in {seconds:.1f} s{rate}")
    table.add_row("face clips", str(len(ok)))
    table.add_row(f"  of part of the frames (notes in {RECORDS_DIR}/)", str(noted))
    for split, count in ok["split"].value_counts().sort_index().items():
        table.add_row(f"  in {split}", str(count))
    scores = [score for cell in ok.to_dict("records") for score in det_scores(cell)]
    detected = sum(score > 0 for score in scores)
    table.add_row(
        "clip frames with a detected face",
        f"{detected} of {len(scores)} ({_percent(detected, len(scores))})",
    )
    skipped = manifest[manifest["status"] == STATUS_SKIPPED]["reason"].map(
        lambda reason: reason.split(":", 1)[0]
    )
    for code, count in sorted(Counter(skipped).items()):
        table.add_row(f"skipped: {code}", str(count))
    table.add_row("rejected label rows", str(len(rejected)))
    for row, reason in rejected[:NAMED_REJECTS]:
        table.add_row(f"  {row}: {reason}", "")
    if len(rejected) > NAMED_REJECTS:
        table.add_row(f"  ... and {len(rejected) - NAMED_REJECTS} more (logged above)", "")
    return table


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _source(path: Path, raw_dir: Path) -> str:
    try:
        return path.relative_to(raw_dir).as_posix()
    except ValueError:
        return str(path)


def _assemble(
    videos: list[LabeledVideo],
    results: dict[str, list[dict[str, object]]],
    splits: dict[str, str],
    raw_dir: Path,
) -> pd.DataFrame:
    """Manifest rows in label order, each clip with its video's label, group, split, source,
    identity, method and extra label columns."""
    records = []
    for video in videos:
        base = {
            "video_id": video.video_id,
            "label": video.label,
            "group": video.group,
            "split": splits[video.video_id],
            "source": _source(video.path, raw_dir),
            "identity": video.identity,
            "method": video.method,
            **dict(video.extra),
        }
        records.extend({**clip, **base} for clip in results.get(video.video_id, []))
    if not records:
        return empty_manifest()
    extra = list(dict.fromkeys(name for video in videos for name, _ in video.extra))
    return pd.DataFrame.from_records(records, columns=[*MANIFEST_COLUMNS, *extra])


def recorded_settings(record: dict) -> dict:
    """A record's output settings; records made before ``detector`` existed were MTCNN's, so
    they stay reusable under the default detector."""
    return {"detector": "mtcnn", **record.get("settings", {})}
