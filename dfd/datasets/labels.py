"""Label sources: turn a label file into a list of labelled videos.

Every source returns a :class:`LabelTable`: the videos it could read and the rows it
rejected, each with a reason. Sources never open the videos themselves; a missing video
file is recorded later by the preparation runner, except in Kaggle-style CSVs, which often
list far more videos than were downloaded, so there a missing file is a rejected row.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from dfd.datasets.manifest import MANIFEST_COLUMNS
from dfd.datasets.media import is_named_video
from dfd.moved import moved_name

log = logging.getLogger(__name__)
REAL, FAKE = 0, 1
SPLITS = ("train", "val", "test")
_LABEL_WORDS = {"real": REAL, "fake": FAKE, "0": REAL, "1": FAKE}
REAL_METHOD = "real"
IDENTITY_SEP = ";"
# label CSV columns with a meaning of their own; any other column is carried to the manifest as is
LABEL_COLUMNS = ("file", "label", "group", "split", "identity", "method")


@dataclass(frozen=True)
class LabeledVideo:
    """One video with its label (0 real, 1 fake), its leakage group and an optional fixed split.

    ``identity`` names the people the video shows, ``;``-separated: the person filmed first,
    then any face swapped in (a face swap shows two people). ``method`` is the manipulation
    (empty or ``real`` for a real video). ``extra`` holds any other label columns as
    (name, value) pairs; all three go to the manifest unchanged.
    """

    path: Path
    video_id: str
    label: int
    group: str
    split: str | None = None
    identity: str = ""
    method: str = ""
    extra: tuple[tuple[str, str], ...] = ()


def identities(cell: object) -> list[str]:
    """The people of an ``identity`` cell (``"anna;bob"`` -> ``["anna", "bob"]``); [] when empty."""
    return [part.strip() for part in str(cell or "").split(IDENTITY_SEP) if part.strip()]


@dataclass
class LabelTable:
    """The videos a label source accepted, and the rows it rejected as (row, reason)."""

    videos: list[LabeledVideo] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def parse_label(value: object) -> int | None:
    """Map REAL/FAKE (any case) or 0/1 to 0/1; None when the value is not a label."""
    return _LABEL_WORDS.get(str(value).strip().lower())


def video_id_for(path: Path, video_root: Path) -> str:
    """The id of a video: its path relative to the root, without suffix, posix style."""
    try:
        relative = path.relative_to(video_root)
    except ValueError:
        relative = Path(path.name)
    return PurePosixPath(*relative.with_suffix("").parts).as_posix()


def read_label_csv(
    csv_path: str | Path, video_root: str | Path, methods: Sequence[str] | None = None
) -> LabelTable:
    """Read a CSV with columns ``file,label[,group,split,identity,method,...]`` into a :class:`LabelTable`.

    Columns other than :data:`LABEL_COLUMNS` are kept as each video's ``extra`` values, except
    those named like a manifest column, which are left out with a warning. With `methods`,
    only the fakes of those methods are kept (real videos always are), and how many were left
    out is logged: one label file then gives datasets of different manipulations.
    """
    csv_path, video_root = Path(csv_path), Path(video_root)
    table = _read_label_rows(csv_path, video_root)
    if methods is not None:
        wanted = {str(method).lower() for method in methods}
        kept = [v for v in table.videos if v.label == REAL or v.method.lower() in wanted]
        log.info(
            "%s: %d fake videos of other methods than %s left out",
            csv_path.name,
            len(table.videos) - len(kept),
            sorted(wanted),
        )
        table.videos = kept
    return table


def _read_label_rows(csv_path: Path, video_root: Path) -> LabelTable:
    table = LabelTable()
    seen: set[Path] = set()
    clashing: set[str] = set()
    for description, row in _csv_rows(csv_path, ("file", "label")):
        clashing |= {key for key in row if key in MANIFEST_COLUMNS and key not in LABEL_COLUMNS}
        video, reason = _video_from_row(row, video_root, seen)
        if video is None:
            table.rejected.append((description, reason))
        else:
            table.videos.append(replace(video, extra=_extra_values(row)))
    if clashing:
        log.warning(
            "%s: column(s) %s are named like manifest columns and are not carried to the "
            "manifest; rename them to keep them",
            csv_path.name,
            sorted(clashing),
        )
    return table


def _extra_values(row: dict[str | None, object]) -> tuple[tuple[str, str], ...]:
    """The row's other columns, those named like a manifest column left out."""
    return tuple(
        (key, _cell(row, key))
        for key in row
        if key and key not in LABEL_COLUMNS and key not in MANIFEST_COLUMNS
    )


def _csv_rows(
    csv_path: Path, required: tuple[str, ...]
) -> Iterator[tuple[str, dict[str | None, object]]]:
    """Each data row (column names stripped and lower-cased) with a ``file:line row`` description."""
    if not csv_path.is_file():
        raise FileNotFoundError(f"label CSV not found: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip().lower() for name in reader.fieldnames or []]
        missing = set(required) - set(columns)
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {sorted(missing)}; found {columns}")
        reader.fieldnames = columns
        for line, row in enumerate(reader, start=2):
            yield f"{csv_path.name}:{line} {_row_text(row)}", row


def _row_text(row: dict[str | None, object]) -> str:
    return ",".join(str(value or "") for key, value in row.items() if key is not None)


def _cell(row: dict[str | None, object], name: str) -> str:
    return str(row.get(name) or "").strip()


def _video_from_row(
    row: dict[str | None, object], video_root: Path, seen: set[Path]
) -> tuple[LabeledVideo | None, str]:
    file = _cell(row, "file")
    if not file:
        return None, "empty file"
    label = parse_label(_cell(row, "label"))
    if label is None:
        return None, f"unknown label {_cell(row, 'label')!r} (expected REAL/FAKE or 0/1)"
    split = _cell(row, "split").lower() or None
    if split is not None and split not in SPLITS:
        return None, f"unknown split {split!r} (expected one of {', '.join(SPLITS)})"
    path = Path(file) if Path(file).is_absolute() else video_root / file
    if path in seen:
        return None, f"duplicate file {file!r}"
    seen.add(path)
    method, reason = _method(_cell(row, "method"), label)
    if reason:
        return None, reason
    video_id = video_id_for(path, video_root)
    group = _cell(row, "group") or video_id
    return LabeledVideo(
        path=path,
        video_id=video_id,
        label=label,
        group=group,
        split=split,
        identity=IDENTITY_SEP.join(identities(_cell(row, "identity"))),
        method=method,
    ), ""


def _method(method: str, label: int) -> tuple[str, str]:
    """The method as written, or a reason to reject the row when it contradicts the label."""
    is_real_method = method.lower() in ("", REAL_METHOD)
    if label == REAL and not is_real_method:
        return "", f"real video with method {method!r} (a real video's method is empty or 'real')"
    if label == FAKE and method.lower() == REAL_METHOD:
        return "", "fake video with method 'real'"
    return method, ""


_NO_VALUE = frozenset({"", "nan", "none", "null"})


@dataclass(frozen=True)
class _KaggleColumns:
    file: str
    label: str
    original: str
    split: str


def read_kaggle_csv(
    csv_path: str | Path,
    video_root: str | Path,
    file_column: str = "filename",
    label_column: str = "label",
    original_column: str = "original",
    split_column: str | None = "split",
) -> LabelTable:
    """Read a Kaggle-style DFDC ``metadata.csv`` (``filename,label,original[,split]``).

    Labels are REAL/FAKE (or 0/1); a fake shares the group of its ``original`` (a file name
    resolved like ``filename``; empty or NaN for reals). Other columns are ignored. Rows with
    an empty file name, an unknown label, a duplicate or a file missing under ``video_root``
    are rejected. ``split`` values train/val/test fix a video's split and other values are
    ignored; a split column that puts every video in one split (often all ``train``) says
    nothing and is ignored as a whole. Column names match case-insensitively.
    """
    csv_path, video_root = Path(csv_path), Path(video_root)
    columns = _KaggleColumns(
        *(
            str(name or "").strip().lower()
            for name in (file_column, label_column, original_column, split_column)
        )
    )
    table = LabelTable()
    seen: set[Path] = set()
    for description, row in _csv_rows(csv_path, (columns.file, columns.label)):
        video, reason = _kaggle_video(row, columns, video_root, seen)
        if video is None:
            table.rejected.append((description, reason))
        else:
            table.videos.append(video)
    table.videos = _without_single_split(table.videos, csv_path)
    return table


def _kaggle_video(
    row: dict[str | None, object], columns: _KaggleColumns, video_root: Path, seen: set[Path]
) -> tuple[LabeledVideo | None, str]:
    file = _cell(row, columns.file)
    if not file:
        return None, "empty file name"
    label = parse_label(_cell(row, columns.label))
    if label is None:
        return None, f"unknown label {_cell(row, columns.label)!r} (expected REAL/FAKE or 0/1)"
    path = video_root / file
    if path in seen:
        return None, f"duplicate file {file!r}"
    seen.add(path)
    if not is_named_video(path):
        problem = (
            "neither a video file nor a folder of frames" if path.exists() else "file not found"
        )
        return None, f"{problem}: {path}"
    video_id = video_id_for(path, video_root)
    original = _cell(row, columns.original) if label == FAKE else ""
    group = (
        video_id_for(video_root / original, video_root)
        if original.lower() not in _NO_VALUE
        else video_id
    )
    split = _cell(row, columns.split).lower() if columns.split else ""
    return LabeledVideo(path, video_id, label, group, split if split in SPLITS else None), ""


def _without_single_split(videos: list[LabeledVideo], csv_path: Path) -> list[LabeledVideo]:
    """Drop the splits of a column that puts every video in the same split."""
    splits = {video.split for video in videos}
    if len(splits) != 1 or None in splits:
        return videos
    log.warning(
        "%s: every video has split %r; ignoring the split column", csv_path.name, splits.pop()
    )
    return [replace(video, split=None) for video in videos]


def __getattr__(name: str) -> object:
    """Readers that moved to dfd.datasets.releases, for run folders that name them here."""
    return moved_name(__name__, name)
