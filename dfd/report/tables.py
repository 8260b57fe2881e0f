"""Per-clip and per-frame score tables: every score traced back to its video, face track and
face-crop files (what exports, figures and reports are made from)."""

from __future__ import annotations

import pandas as pd

from dfd.data.dataset import FaceClipDataset
from dfd.eval.scoring import ClipScores

OPTIONAL_COLUMNS = ("group", "method", "identity")


def clip_table(dataset: FaceClipDataset, scored: ClipScores) -> pd.DataFrame:
    """One row per scored clip: video_id, face, clip_start, num_frames, label, score, frames
    (";"-joined absolute crop paths), clip_idx, plus group/method/identity when the manifest has them."""
    rows = []
    for index, score in zip(scored.clip_idx.tolist(), scored.scores.tolist()):
        window = dataset.windows[index]
        manifest_row = dataset.rows.iloc[window.row]
        paths = dataset.row_frames[window.row][window.start : window.start + dataset.clip_len]
        rows.append(
            {
                "video_id": manifest_row["video_id"],
                "face": int(manifest_row["face"]),
                "clip_start": window.start,
                "num_frames": len(paths),
                "label": int(manifest_row["label"]),
                "score": score,
                "frames": ";".join(str(path.resolve()) for path in paths),
                "clip_idx": index,
                **{
                    column: manifest_row[column]
                    for column in OPTIONAL_COLUMNS
                    if column in dataset.rows
                },
            }
        )
    table = pd.DataFrame(rows)
    return table.drop_duplicates("clip_idx").sort_values(
        ["video_id", "face", "clip_start"], ignore_index=True
    )


def frame_table(dataset: FaceClipDataset, scored: ClipScores) -> pd.DataFrame | None:
    """One row per frame scored alone (frame backbones only, else None): video_id, face, frame
    (its index in the source video), path, label, score. Frames repeated to pad a short clip
    are left out."""
    if scored.frames is None:
        return None
    rows = []
    for index, frame_scores in zip(scored.clip_idx.tolist(), scored.frames):
        window = dataset.windows[index]
        manifest_row = dataset.rows.iloc[window.row]
        paths = dataset.row_frames[window.row][window.start : window.start + dataset.clip_len]
        numbers = _frame_numbers(manifest_row, len(dataset.row_frames[window.row]))
        for offset, (path, score) in enumerate(zip(paths, frame_scores.tolist())):
            rows.append(
                {
                    "video_id": manifest_row["video_id"],
                    "face": int(manifest_row["face"]),
                    "frame": numbers[window.start + offset],
                    "path": str(path.resolve()),
                    "label": int(manifest_row["label"]),
                    "score": score,
                }
            )
    table = pd.DataFrame(rows)
    return table.drop_duplicates(["video_id", "face", "frame"]).sort_values(
        ["video_id", "face", "frame"], ignore_index=True
    )


def _frame_numbers(manifest_row: pd.Series, count: int) -> list[int]:
    """The source-video frame numbers of a track's crops (their order when not recorded)."""
    recorded = str(manifest_row.get("frame_indices", "") or "")
    numbers = [int(n) for n in recorded.split(";") if n != ""]
    return numbers if len(numbers) == count else list(range(count))
