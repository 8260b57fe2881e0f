"""Manifest schema, round trip and helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfd.datasets.manifest import (
    MANIFEST_COLUMNS,
    ManifestError,
    cell_paths,
    det_scores,
    empty_manifest,
    face_boxes,
    frame_indices,
    frame_paths,
    frame_stride,
    ok_rows,
    read_manifest,
    write_manifest,
)


def sample_manifest() -> pd.DataFrame:
    rows = [
        {
            "clip_id": "a",
            "video_id": "a",
            "face": 0,
            "label": 0,
            "group": "a",
            "split": "train",
            "source": "a.mp4",
            "status": "ok",
            "reason": "",
            "num_frames": 2,
            "frame_paths": "faces/a/000001.jpg;faces/a/000009.jpg",
            "frame_indices": "1;9",
            "det_scores": "0.9990;0.0",
            "boxes": "10.0 20.0 110.5 130.0;12.0 20.0 112.0 131.0",
            "fps": 25.0,
            "width": 640,
            "height": 360,
            "identity": "anna",
            "method": "real",
        },
        {
            "clip_id": "b",
            "video_id": "b",
            "face": 0,
            "label": 1,
            "group": "a",
            "split": "train",
            "source": "b.mp4",
            "status": "skipped",
            "reason": "no_face",
            "num_frames": 0,
            "frame_paths": "",
            "frame_indices": "",
            "det_scores": "",
            "boxes": "",
            "fps": 30.0,
            "width": 960,
            "height": 540,
            "identity": "anna;bob",
            "method": "swap",
        },
    ]
    return pd.DataFrame(rows)


def test_round_trip_keeps_values_and_column_order(tmp_path: Path) -> None:
    path = tmp_path / "prepared" / "manifest.csv"
    write_manifest(sample_manifest()[list(reversed(MANIFEST_COLUMNS))], path)
    assert path.read_text().splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    df = read_manifest(path)
    assert tuple(df.columns) == MANIFEST_COLUMNS
    assert df.loc[1, "reason"] == "no_face" and df.loc[0, "reason"] == ""
    assert df.loc[1, "frame_paths"] == ""
    assert df["label"].tolist() == [0, 1] and df["width"].dtype.kind == "i"
    assert not list(path.parent.glob(".*tmp"))


def test_manifest_without_identity_and_method_reads_them_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    sample_manifest().drop(columns=["identity", "method"]).to_csv(path, index=False)
    df = read_manifest(path)
    assert tuple(df.columns) == MANIFEST_COLUMNS
    assert df["identity"].tolist() == ["", ""] and df["method"].tolist() == ["", ""]


def test_extra_columns_are_kept_as_text_after_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    write_manifest(sample_manifest().assign(quality=["07", ""], camera=["a", "b"]), path)
    df = read_manifest(path)
    assert tuple(df.columns) == (*MANIFEST_COLUMNS, "quality", "camera")
    assert df["quality"].tolist() == ["07", ""] and df["identity"].tolist() == ["anna", "anna;bob"]


def test_list_helpers(tmp_path: Path) -> None:
    row = sample_manifest().iloc[0]
    assert frame_paths(row, tmp_path) == [
        tmp_path / "faces/a/000001.jpg",
        tmp_path / "faces/a/000009.jpg",
    ]
    assert frame_indices(row) == [1, 9]
    assert det_scores(row) == [0.999, 0.0]
    np.testing.assert_allclose(
        face_boxes(row), [[10.0, 20.0, 110.5, 130.0], [12.0, 20.0, 112.0, 131.0]]
    )
    assert face_boxes(sample_manifest().iloc[1]).shape == (0, 4)
    assert frame_paths(sample_manifest().iloc[1], tmp_path) == []


def test_column_helpers_match_the_row_helpers(tmp_path: Path) -> None:
    rows = sample_manifest()
    assert [cell_paths(cell, tmp_path) for cell in rows["frame_paths"]] == [
        frame_paths(row, tmp_path) for _, row in rows.iterrows()
    ]
    # gaps 8 (frames 1, 9), none (no frames), 2 and 2 (frames 0, 2, 4); fps 25, 30, 30
    three = pd.concat([rows, rows.iloc[[0]].assign(frame_indices="0;2;4", fps=30.0)])
    assert frame_stride(three) == (2.0, 30.0)
    assert frame_stride(rows.iloc[[1]]) == (0.0, 30.0)


def test_ok_rows() -> None:
    assert ok_rows(sample_manifest())["clip_id"].tolist() == ["a"]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    sample_manifest().drop(columns=["det_scores", "fps"]).to_csv(path, index=False)
    with pytest.raises(ManifestError, match="det_scores.*fps"):
        read_manifest(path)
    with pytest.raises(ManifestError, match="det_scores"):
        write_manifest(sample_manifest().drop(columns=["det_scores"]), path)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "none.csv")


def test_empty_manifest_round_trip(tmp_path: Path) -> None:
    write_manifest(empty_manifest(), tmp_path / "manifest.csv")
    assert read_manifest(tmp_path / "manifest.csv").empty
