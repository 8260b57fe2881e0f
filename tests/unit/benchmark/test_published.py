"""Published figures matched to leaderboard cells through a plan's names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfd.benchmark.leaderboard import (
    DONE,
    Leaderboard,
    cell_text,
    with_published,
    write_leaderboard,
)
from dfd.benchmark.plan import BenchmarkPlan
from dfd.benchmark.published import read_published
from helpers.runs import REPO

PLAN = BenchmarkPlan(
    name="ffpp",
    detectors=("xception", "resnet18"),
    train_sets=("faceforensics",),
    test_sets=("celebdf", "dfdcp"),
    published_detectors={"xception": "Xception", "sbi": "SBI"},
    published_datasets={"faceforensics": "FF++ c23", "celebdf": "CDF-v2", "dfdcp": "DFDCP"},
)


def board(*cells: tuple[str, str]) -> Leaderboard:
    rows = [
        {
            "detector": detector,
            "train_set": "faceforensics",
            "test_set": test,
            "status": DONE,
            "video_auroc": 0.8,
            "video_auroc_ci_lo": 0.7,
            "video_auroc_ci_hi": 0.9,
        }
        for detector, test in cells
    ]
    return Leaderboard(pd.DataFrame(rows))


def test_the_repositorys_published_numbers_are_read_and_matched() -> None:
    published = read_published(REPO / "results" / "published.csv")
    cited = {source.split(",")[0].split(" figure")[0] for source in published.source}
    assert {"DeepfakeBench README", "SBI README", "Effort README"} <= cited
    matched = with_published(
        board(("xception", "celebdf"), ("resnet18", "celebdf")), published, PLAN
    ).cells
    assert matched.published.tolist() == ["frame 0.737", ""]
    assert "DeepfakeBench" in matched.published_source[0]
    assert cell_text(matched.iloc[0]) == "0.800 [0.70, 0.90] (published: frame 0.737)"
    assert cell_text(matched.iloc[1]) == "0.800 [0.70, 0.90]"


def test_no_published_file_means_no_published_column_values(tmp_path: Path) -> None:
    empty = read_published(tmp_path / "none.csv")
    assert with_published(board(("xception", "dfdcp")), empty, PLAN).cells.published[0] == ""


def test_the_html_table_has_one_header_row(tmp_path: Path) -> None:
    cells = board(("xception", "celebdf"), ("resnet18", "dfdcp")).cells.assign(
        videos_csv=str(tmp_path / "none.csv")
    )
    page = write_leaderboard(Leaderboard(cells), tmp_path, "t")["html"].read_text()
    assert page.count("<tr", 0, page.index("</thead>")) == 1
    assert "<th>detector (train set) / test set</th>" in page
