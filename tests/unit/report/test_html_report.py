"""The self-contained HTML evaluation report, built from a real dashboard of synthetic results."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from dfd.report import figures
from dfd.report.html import data_uri, write_html_report
from helpers import evals

CONFIG = """experiment_name: demo <b>
data:
  name: celebdf & co
model:
  backbone:
    name: mobilenet_v2
"""


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report")
    case = evals.make_case(root / "crops", num_videos=10)
    hostile = "<script>alert(1)</script>"
    case.clips.loc[case.clips["video_id"] == case.videos.loc[0, "video_id"], "video_id"] = hostile
    case.videos.loc[0, "video_id"] = hostile
    written = figures.write_dashboard(
        root / "figures", case.videos, case.clips, case.frames, case.metrics, case.history
    )
    return case, written, root


@pytest.fixture(scope="module")
def report(dashboard) -> str:
    case, written, root = dashboard
    gradcam = [written["false_positives"], written["false_negatives"]]
    path = write_html_report(
        root / "out" / "report.html",
        "Run <one> & two",
        case.metrics,
        written,
        CONFIG,
        extra_images={
            "gradcam": gradcam,
            "robustness": written["roc"],
            "missing": [root / "nope.png"],
        },
        videos=case.videos,
    )
    assert path == root / "out" / "report.html"
    return path.read_text(encoding="utf-8")


def test_every_figure_is_embedded_as_a_data_uri(dashboard, report: str) -> None:
    _, written, _ = dashboard
    for path in written.values():
        assert data_uri(path) in report
    sources = re.findall(r'src="([^"]*)"', report)
    assert len(sources) == len(written) + 3  # two Grad-CAM images and the robustness plot
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1])[:4] == b"\x89PNG"


def test_no_external_requests(report: str) -> None:
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', report))
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", report)
    assert "<link" not in report and "@import" not in report and "url(" not in report


def test_figures_in_dashboard_order_with_captions(report: str) -> None:
    assert (
        report.index("ROC curve at video")
        < report.index("Precision-recall curve")
        < report.index("Video confusion matrix")
        < report.index("Loss and validation AUROC")
    )
    assert (
        report.index("<h2>Grad-CAM</h2>")
        < report.index("<h2>Robustness</h2>")
        < report.index("<h2>Misclassified videos</h2>")
    )
    assert "missing" not in re.findall(r"<h2>([^<]*)</h2>", report)


def test_header_and_metrics(dashboard, report: str) -> None:
    case, _, _ = dashboard
    metrics = case.metrics
    assert "<title>Run &lt;one&gt; &amp; two</title>" in report
    assert "demo &lt;b&gt;" in report and "celebdf &amp; co" in report
    assert "mobilenet_v2" in report and "/runs/x/epoch003.ckpt" in report
    assert "0.4300, rule eer, chosen on val" in report
    for level in ("video", "clip", "frame"):
        for value in metrics[level].values():
            assert f"<td>{value:.3f}</td>" in report
    low, high = metrics["ci"]["video_auroc"]
    assert f"[{low:.3f}, {high:.3f}]" in report


def test_misclassified_table_and_escaping(dashboard, report: str) -> None:
    case, _, _ = dashboard
    wrong = case.videos[case.videos["label"] != case.videos["prediction"]]
    assert f"{len(wrong)} of {len(case.videos)} videos misclassified" in report
    for video_id in wrong["video_id"]:
        if not video_id.startswith("<"):
            assert f'<td class="id">{video_id}</td>' in report
    assert "<script>" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "false positive" in report and "false negative" in report


def test_config_is_collapsible_and_escaped(report: str) -> None:
    block = re.search(r"<details>.*?</details>", report, re.S).group(0)
    assert "experiment_name: demo &lt;b&gt;" in block and "celebdf &amp; co" in block


def test_minimal_report(tmp_path: Path) -> None:
    path = write_html_report(
        tmp_path / "r.html", "t", {"video": {"auroc": float("nan")}}, {}, "not: [valid yaml"
    )
    text = path.read_text()
    assert "<td>n/a</td>" in text and "Misclassified" not in text and "<img" not in text
    assert 'class="warning"' not in text


def test_evaluation_warnings_stand_above_the_metrics(tmp_path: Path) -> None:
    warning = "all 105 videos scored 0.4941: the output does not depend on its input"
    metrics = {"video": {"auroc": 0.5}, "warnings": [warning + " <b>"]}
    text = write_html_report(tmp_path / "r.html", "t", metrics, {}, "").read_text()
    summary = re.search(r'<section id="summary">.*?</section>', text, re.S).group(0)
    assert summary.index('class="warning"') < summary.index("<table>")
    assert f"{warning} &lt;b&gt;" in summary
