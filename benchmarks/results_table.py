"""Write a benchmark's table to results/<name>.csv, the file the docs show as it is.

Figures are never retyped: a benchmark rewrites its CSV (and the one-line note of what it ran
on, results/<name>.note.md) every time it runs, and the docs' benchmarks page includes both.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def write_table(
    name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    note: str | None = None,
    results: Path = RESULTS,
) -> Path:
    """Write `results/<name>.csv` (and `<name>.note.md` when there is a note); return the CSV."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    if note is not None:
        (results / f"{name}.note.md").write_text(note.strip() + "\n")
    print(f"table written to {path}", flush=True)
    return path
