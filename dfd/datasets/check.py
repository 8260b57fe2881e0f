"""Validate a prepared dataset: frames on disk, readable images, both classes, group leakage.

    python -m dfd.datasets.check data=demo          (or: dfd check data=demo)

Prints a report and exits with status 1 when a problem is found, so it can gate a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig
from PIL import Image
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from dfd.config import config_search_path, default_root_dir
from dfd.datasets.manifest import STATUS_OK, frame_paths, read_manifest, require_prepared
from dfd.datasets.splits import leaking_groups
from dfd.errors import user_errors_past_hydra


@dataclass
class CheckReport:
    """What a check of one manifest found."""

    manifest: Path
    clips: int
    ok_clips: int
    skipped: dict[str, int]
    balance: pd.DataFrame  # ok clips per split (rows) and label (columns: real, fake)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, frame path)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # (clip_id, path, error)
    frame_count_mismatch: list[str] = field(default_factory=list)  # clip_ids
    leaking: dict[str, list[str]] = field(default_factory=dict)
    classes: str | None = None  # why the ok clips cannot train a detector (none, one class)

    @property
    def passed(self) -> bool:
        return not (
            self.missing
            or self.unreadable
            or self.frame_count_mismatch
            or self.leaking
            or self.classes
        )


def class_problem(manifest: pd.DataFrame) -> str | None:
    """Why a manifest's ok clips cannot train a detector (no clip, or one class only), or None.

    A detector learns real against fake: a set without a clip of each is no dataset."""
    ok = manifest[manifest["status"] == STATUS_OK]
    real, fake = int((ok["label"] == 0).sum()), int((ok["label"] == 1).sum())
    if real and fake:
        return None
    what = "no usable clip" if not (real or fake) else "one class only"
    videos = manifest["video_id"].nunique()
    return f"{what}: {real} real and {fake} fake ok clips from {videos} videos"


def _unreadable(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as error:  # any decoding failure is a finding, not a crash
        return f"{type(error).__name__}: {error}"
    return None


def check_prepared(
    manifest_path: str | Path, open_images: bool = True, show_progress: bool = True
) -> CheckReport:
    """Check every ok clip's frames (exist, decode, count) plus balance and leakage."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    ok = manifest[manifest["status"] == STATUS_OK]
    skipped = manifest[manifest["status"] != STATUS_OK]
    balance = (
        ok.assign(label=ok["label"].map({0: "real", 1: "fake"}))
        .groupby(["split", "label"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=["real", "fake"], fill_value=0)
    )
    report = CheckReport(
        manifest=manifest_path,
        clips=len(manifest),
        ok_clips=len(ok),
        skipped=skipped["reason"].str.split(":").str[0].value_counts().to_dict(),
        balance=balance,
        leaking=leaking_groups(ok),
        classes=class_problem(manifest),
    )
    for _, row in tqdm(
        ok.iterrows(), total=len(ok), desc="check", unit="clip", disable=not show_progress
    ):
        paths = frame_paths(row, manifest_path.parent)
        if len(paths) != row["num_frames"]:
            report.frame_count_mismatch.append(row["clip_id"])
        for path in paths:
            if not path.is_file():
                report.missing.append((row["clip_id"], str(path)))
            elif open_images and (error := _unreadable(path)):
                report.unreadable.append((row["clip_id"], str(path), error))
    return report


def print_report(report: CheckReport, console: Console | None = None) -> None:
    """Summary, class balance per split, then every problem found (first 20 of each kind)."""
    console = console or Console()
    summary = Table(title=f"check of {report.manifest}")
    summary.add_column("item")
    summary.add_column("count", justify="right")
    rows = [
        ("clips", report.clips),
        ("ok clips", report.ok_clips),
        *((f"skipped: {reason}", n) for reason, n in sorted(report.skipped.items())),
        ("missing frames", len(report.missing)),
        ("unreadable frames", len(report.unreadable)),
        ("clips whose frame count disagrees", len(report.frame_count_mismatch)),
        ("groups in more than one split", len(report.leaking)),
    ]
    for item, count in rows:
        summary.add_row(item, str(count))
    console.print(summary)
    balance = Table(title="ok clips per split")
    for column in ("split", "real", "fake", "fake share"):
        balance.add_column(column, justify="right")
    for split, counts in report.balance.iterrows():
        total = counts["real"] + counts["fake"]
        balance.add_row(
            str(split),
            str(counts["real"]),
            str(counts["fake"]),
            f"{counts['fake'] / total:.0%}" if total else "-",
        )
    console.print(balance)
    if report.classes:
        console.print(f"[red]classes[/red]: {report.classes}")
    for title, items in (
        ("missing", report.missing),
        ("unreadable", report.unreadable),
        ("frame count", report.frame_count_mismatch),
        ("leaking groups", sorted(report.leaking.items())),
    ):
        for item in list(items)[:20]:
            console.print(f"[red]{title}[/red]: {item}")
    console.print("[green]passed[/green]" if report.passed else "[red]FAILED[/red]")


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="check")
@user_errors_past_hydra
def main(cfg: DictConfig) -> None:
    """Check `<data.prepared_dir>/manifest.csv`; exit 1 when a problem is found."""
    manifest = Path(cfg.data.prepared_dir) / "manifest.csv"
    require_prepared(manifest, str(cfg.data.name))
    report = check_prepared(manifest, cfg.open_images)
    print_report(report)
    if not report.passed:
        raise SystemExit(1)


if __name__ == "__main__":
    default_root_dir()
    main()
