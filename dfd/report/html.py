"""A single self-contained HTML evaluation report: inline CSS, images as base64 data URIs."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

import pandas as pd
from omegaconf import OmegaConf

from dfd.report.figures import METRIC_LABELS

FIGURE_CAPTIONS = {
    "roc": "ROC curve at video and clip level. The legend gives each AUC; the video AUC comes "
    "with its 95% bootstrap confidence interval.",
    "pr": "Precision-recall curve with fake as the positive class. Dotted lines mark the share "
    "of fakes, which is the precision of a random ranking.",
    "confusion": "Video confusion matrix at the chosen threshold: counts and share of each "
    "true class.",
    "metrics": "Video-level metrics, with 95% confidence intervals where they were computed.",
    "score_histogram": "Fake-probability distribution of real and fake videos and clips, with "
    "the decision threshold.",
    "calibration": "Reliability diagrams: the share of fakes against the mean score in each "
    "score bin, with the bin counts below.",
    "false_positives": "Real videos the detector called fake, most confident first: the middle "
    "frame of each video's highest-scoring clip.",
    "false_negatives": "Fake videos the detector missed, most confident first: the middle frame "
    "of each video's lowest-scoring clip.",
    "score_over_time": "Scores along the face track for a few videos: real and fake, correct "
    "and wrong.",
    "training_curves": "Loss and validation AUROC per training epoch.",
}
EXTRA_SECTIONS = {
    "gradcam": ("Grad-CAM", "Where the detector looked: Grad-CAM overlays on face crops."),
    "robustness": ("Robustness", "Detector performance under perturbations of the input."),
}
LEVELS = ("video", "clip", "frame")
MIME_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
MAX_TABLE_ROWS = 200

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #f6f6f8; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
h1 { margin-bottom: 0.3rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
nav a { margin-right: 0.9rem; color: #3b2a7a; }
dl.info { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dl.info dt { font-weight: 600; color: #555; }
dl.info dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; background: #fff; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eceaf4; }
td.id { font-family: monospace; text-align: left; overflow-wrap: anywhere; }
.real { color: #2166ac; font-weight: 600; }
.fake { color: #c0392b; font-weight: 600; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
           gap: 1.2rem; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 0.6rem; }
figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9rem; color: #444; margin-top: 0.4rem; }
details { background: #fff; border: 1px solid #ddd; padding: 0.5rem 0.8rem; }
pre { overflow-x: auto; font-size: 0.85rem; }
.note { color: #666; }
.warning { background: #fdecea; border-left: 4px solid #c0392b; padding: 0.5rem 0.8rem; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<main>
<h1>$title</h1>
$header
<nav>$nav</nav>
$sections
</main>
</body>
</html>
""")

WIDE_FIGURES = {
    "metrics",
    "calibration",
    "score_histogram",
    "false_positives",
    "false_negatives",
    "score_over_time",
    "training_curves",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def data_uri(path: Path) -> str:
    """The file's bytes as a base64 `data:` URI, typed by its suffix."""
    mime = MIME_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def _figure(path: Path, caption: str, wide: bool = False) -> str:
    css = ' class="wide"' if wide else ""
    return (
        f'<figure{css}><img src="{data_uri(path)}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _format(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _e(value)
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _config_fields(config_yaml: str) -> dict[str, str]:
    """Experiment, dataset and model names from the resolved config, where it names them."""
    try:
        config = OmegaConf.to_container(OmegaConf.create(config_yaml or "{}"), resolve=False)
    except Exception:
        return {}
    if not isinstance(config, dict):
        return {}

    def field(*keys: str) -> object:
        node: object = config
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    fields = {
        "Experiment": field("experiment_name"),
        "Dataset": field("data", "name"),
        "Model": field("model", "backbone", "name"),
    }
    return {key: str(value) for key, value in fields.items() if value}


def _header(metrics: Mapping[str, object], config_yaml: str) -> str:
    threshold = metrics.get("threshold") or {}
    rows = dict(_config_fields(config_yaml))
    if metrics.get("checkpoint"):
        rows["Checkpoint"] = str(metrics["checkpoint"])
    if "value" in threshold:
        rule = f", rule {threshold['rule']}" if threshold.get("rule") else ""
        where = f", chosen on {threshold['chosen_on']}" if threshold.get("chosen_on") else ""
        rows["Threshold"] = f"{float(threshold['value']):.4f}{rule}{where}"
    if metrics.get("num_videos") is not None:
        rows["Videos scored"] = str(metrics["num_videos"])
    if metrics.get("aggregation"):
        rows["Clip-to-video aggregation"] = str(metrics["aggregation"])
    items = "".join(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in rows.items())
    return f'<dl class="info">{items}</dl>'


def metrics_table(metrics: Mapping[str, object]) -> str:
    """Metric rows against video/clip/frame columns, with the video 95% CI where given."""
    levels = [level for level in LEVELS if isinstance(metrics.get(level), Mapping)]
    ci = metrics.get("ci") or {}
    names = list(METRIC_LABELS)
    names += [n for level in levels for n in metrics[level] if n not in names]
    names = [n for n in dict.fromkeys(names) if any(n in metrics[level] for level in levels)]
    has_ci = any(f"video_{n}" in ci for n in names)
    head = "<th>metric</th>" + "".join(f"<th>{_e(level)}</th>" for level in levels)
    head += "<th>video 95% CI</th>" if has_ci else ""
    body = []
    for name in names:
        cells = [f"<td>{_e(METRIC_LABELS.get(name, name))}</td>"]
        cells += [f"<td>{_format(metrics[level].get(name, ''))}</td>" for level in levels]
        if has_ci:
            interval = ci.get(f"video_{name}")
            cells.append(
                f"<td>[{_format(float(interval[0]))}, {_format(float(interval[1]))}]</td>"
                if interval
                else "<td></td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        if body
        else '<p class="note">No metrics.</p>'
    )


def warning_banners(metrics: Mapping[str, object]) -> str:
    """Evaluation's warnings above the numbers, so nobody reads an AUC the warning voids."""
    warnings = metrics.get("warnings") or []
    return "".join(f'<p class="warning" role="alert">{_e(text)}</p>' for text in warnings)


def misclassified_table(videos: pd.DataFrame, limit: int = MAX_TABLE_ROWS) -> str:
    """The videos whose prediction differs from their label, the most confident errors first."""
    wrong = videos[videos["label"] != videos["prediction"]]
    if wrong.empty:
        return '<p class="note">No misclassified videos.</p>'
    wrong = wrong.assign(_margin=(wrong["score"] - wrong["label"]).abs())
    wrong = wrong.sort_values(["_margin", "video_id"], ascending=[False, True])
    columns = [
        c
        for c in (
            "video_id",
            "label",
            "score",
            "prediction",
            "num_clips",
            "num_faces",
            "group",
            "method",
        )
        if c in wrong
    ]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns) + "<th>error</th>"
    body = []
    for _, row in wrong.head(limit).iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if column in ("label", "prediction"):
                word = "fake" if int(value) == 1 else "real"
                cells.append(f'<td class="{word}">{word}</td>')
            elif column == "video_id":
                cells.append(f'<td class="id">{_e(value)}</td>')
            else:
                cells.append(f"<td>{_format(value) if column == 'score' else _e(value)}</td>")
        error = "false positive" if int(row["label"]) == 0 else "false negative"
        body.append(f"<tr>{''.join(cells)}<td>{error}</td></tr>")
    note = (
        f'<p class="note">Showing {limit} of {len(wrong)} misclassified videos.</p>'
        if len(wrong) > limit
        else f'<p class="note">{len(wrong)} of {len(videos)} videos misclassified.</p>'
    )
    return f"{note}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _as_paths(value: Path | str | Sequence[Path | str]) -> list[Path]:
    items = [value] if isinstance(value, (str, Path)) else list(value)
    return [Path(p) for p in items if Path(p).is_file()]


def write_html_report(
    path: Path,
    title: str,
    metrics: Mapping[str, object],
    figures: Mapping[str, Path],
    config_yaml: str,
    extra_images: Mapping[str, Path | str | Sequence[Path | str]] | None = None,
    videos: pd.DataFrame | None = None,
) -> Path:
    """Write the evaluation report as one HTML file with everything embedded; returns its path.

    `figures` maps dashboard names (see `dfd.report.figures.FIGURE_FILES`) to PNGs, shown in
    the dashboard's order with captions. `extra_images` maps a section to one image or a list:
    `"gradcam"` and `"robustness"` get their own headings, other keys are used as headings;
    files that do not exist are left out. `videos` adds the table of misclassified videos.
    """
    sections = [("summary", "Metrics", warning_banners(metrics) + metrics_table(metrics))]
    known = [name for name in FIGURE_CAPTIONS if name in figures]
    ordered = known + [name for name in figures if name not in FIGURE_CAPTIONS]
    blocks = [
        _figure(
            figures[name],
            FIGURE_CAPTIONS.get(name, name.replace("_", " ")),
            wide=name in WIDE_FIGURES,
        )
        for name in ordered
    ]
    if blocks:
        sections.append(("figures", "Figures", f'<div class="figures">{"".join(blocks)}</div>'))
    for key, images in (extra_images or {}).items():
        files = _as_paths(images)
        if files:
            heading, caption = EXTRA_SECTIONS.get(key, (key, key))
            figs = "".join(
                _figure(p, f"{caption} ({p.name})" if len(files) > 1 else caption) for p in files
            )
            anchor = key if key in EXTRA_SECTIONS else f"extra-{len(sections)}"
            sections.append((anchor, heading, f'<div class="figures">{figs}</div>'))
    if videos is not None:
        sections.append(("errors", "Misclassified videos", misclassified_table(videos)))
    sections.append(
        (
            "config",
            "Configuration",
            "<details><summary>Resolved configuration (YAML)</summary>"
            f"<pre>{_e(config_yaml)}</pre></details>",
        )
    )
    body = "\n".join(
        f'<section id="{anchor}"><h2>{_e(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    nav = "".join(f'<a href="#{anchor}">{_e(heading)}</a>' for anchor, heading, _ in sections)
    page = PAGE.substitute(
        title=_e(title), style=STYLE, header=_header(metrics, config_yaml), nav=nav, sections=body
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
