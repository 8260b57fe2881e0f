"""The manifest: one CSV row per prepared face clip, the only link from preparation to training.

A video gives one clip per kept face track (``face`` 0 is the largest face). Lists (frame paths, frame indices, detection scores) are stored ``;``-joined; frame paths
are relative to the manifest's folder so a prepared dataset can be moved as a whole.
``identity`` and ``method`` come from the labels (empty when they give none; manifests written
before these columns existed read them as empty). Any other column, such as an extra column of
a label CSV, is kept after the schema's columns, as text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from dfd.errors import MissingFile

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "clip_id",
    "video_id",
    "face",
    "label",
    "group",
    "split",
    "source",
    "status",
    "reason",
    "num_frames",
    "frame_paths",
    "frame_indices",
    "det_scores",
    "boxes",
    "fps",
    "width",
    "height",
    "identity",
    "method",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("identity", "method")  # read as empty when absent
_DTYPES: dict[str, type] = {
    "face": int,
    "label": int,
    "num_frames": int,
    "fps": float,
    "width": int,
    "height": int,
}
STATUS_OK, STATUS_SKIPPED = "ok", "skipped"
LIST_SEP = ";"


class ManifestError(ValueError):
    """A manifest file is missing columns or cannot be parsed."""


def empty_manifest() -> pd.DataFrame:
    """A manifest with the right columns and no rows."""
    return pd.DataFrame(
        {column: pd.Series(dtype=_DTYPES.get(column, object)) for column in MANIFEST_COLUMNS}
    )


def require_prepared(manifest: Path, data_name: str) -> None:
    """Stop with what to run when a dataset has not been prepared yet."""
    if not manifest.is_file():
        raise MissingFile(
            f"dataset '{data_name}' is not prepared (no {manifest}): "
            f"run `dfd prepare data={data_name}` first"
        )


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest CSV; text columns come back as str (empty, never NaN)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    header = pd.read_csv(path, nrows=0).columns
    frame = pd.read_csv(
        path,
        dtype={column: str for column in header if column not in _DTYPES},
        keep_default_na=False,
    )
    frame = _with_optional_columns(frame)
    missing = [column for column in MANIFEST_COLUMNS if column not in frame.columns]
    if missing:
        raise ManifestError(f"{path}: missing manifest column(s) {missing}")
    try:
        frame = frame.astype(_DTYPES)
    except ValueError as error:
        raise ManifestError(f"{path}: bad numeric value: {error}") from error
    return frame[_ordered_columns(frame)]


def write_manifest(df: pd.DataFrame, path: str | Path) -> None:
    """Write the manifest atomically (temporary file, then rename): schema columns in order, then any others."""
    path = Path(path)
    df = _with_optional_columns(df)
    missing = [column for column in MANIFEST_COLUMNS if column not in df.columns]
    if missing:
        raise ManifestError(f"cannot write manifest: missing column(s) {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df[_ordered_columns(df)].to_csv(partial, index=False)
    os.replace(partial, path)


def _with_optional_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with every optional column it lacks added, empty."""
    absent = [column for column in OPTIONAL_COLUMNS if column not in df.columns]
    return df.assign(**dict.fromkeys(absent, "")) if absent else df


def _ordered_columns(df: pd.DataFrame) -> list[str]:
    """The schema's columns in order, then any other column in its own order."""
    return [*MANIFEST_COLUMNS, *(column for column in df.columns if column not in MANIFEST_COLUMNS)]


def join_list(values: Iterable[object]) -> str:
    """Join values into one manifest cell."""
    return LIST_SEP.join(str(value) for value in values)


def split_list(cell: object) -> list[str]:
    """Split one manifest cell into its items (an empty cell gives an empty list)."""
    text = "" if cell is None or (isinstance(cell, float) and pd.isna(cell)) else str(cell)
    return [item for item in text.split(LIST_SEP) if item]


def frame_paths(row: Mapping[str, object] | pd.Series, manifest_dir: str | Path) -> list[Path]:
    """Absolute paths of a clip's face crops, in frame order."""
    return cell_paths(row["frame_paths"], manifest_dir)


def cell_paths(cell: object, manifest_dir: str | Path) -> list[Path]:
    """Absolute paths of the crops one ``frame_paths`` cell lists: :func:`frame_paths` for a
    whole column without building a row per clip."""
    folder = Path(manifest_dir)
    return [folder / item for item in split_list(cell)]


def frame_indices(row: Mapping[str, object] | pd.Series) -> list[int]:
    """Source frame numbers of a clip's crops."""
    return [int(item) for item in split_list(row["frame_indices"])]


def frame_stride(rows: pd.DataFrame) -> tuple[float, float]:
    """(stride, fps): the median gap in source frames between consecutive kept frames of these
    clips (0.0 with no clip of two frames) and their median source frame rate."""
    gaps = [
        gap
        for cell in rows["frame_indices"]
        for gap in np.diff([int(item) for item in split_list(cell)])
    ]
    fps = rows["fps"][rows["fps"] > 0]
    return (
        float(np.median(gaps)) if gaps else 0.0,
        float(fps.median()) if len(fps) else 0.0,
    )


def det_scores(row: Mapping[str, object] | pd.Series) -> list[float]:
    """Detection probability per crop (0.0 where the box was interpolated)."""
    return [float(item) for item in split_list(row["det_scores"])]


def face_boxes(row: Mapping[str, object] | pd.Series) -> np.ndarray:
    """The face box ``x1, y1, x2, y2`` (source-frame pixels, upright) of each crop, as (N, 4)."""
    return np.array(
        [[float(value) for value in item.split()] for item in split_list(row["boxes"])]
    ).reshape(-1, 4)


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Only the clips whose preparation succeeded."""
    return df[df["status"] == STATUS_OK].reset_index(drop=True)
