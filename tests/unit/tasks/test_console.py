"""The console: Lightning's tips are dropped, and a run ends with one line of what it produced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfd.tasks.console import closing_line, quiet_library_noise


def test_closing_line_names_the_folder_and_the_headline_metrics() -> None:
    line = closing_line(
        Path("logs/train/runs/x"),
        {"test/video_auroc": 0.8581, "test/clip_auroc": 0.8519, "test/num_videos": 36.0},
        ("val/video_auroc", 1.0),
    )
    assert line == (
        "dfd: logs/train/runs/x | best val/video_auroc 1.000 | test: 36 videos, "
        "video-level AUC 0.858 (clip 0.852)"
    )
    assert "\n" not in line
    assert closing_line(Path("run"), {}) == "dfd: run"
    with_interval = closing_line(
        Path("run"),
        {
            "test/video_auroc": 0.8581,
            "test/clip_auroc": 0.85,
            "test/num_videos": 36.0,
            "test/video_auroc_ci_low": 0.71,
            "test/video_auroc_ci_high": 0.962,
        },
    )
    assert "video-level AUC 0.858 [95% CI 0.710-0.962] (clip 0.850)" in with_interval


def test_lightning_tips_are_dropped_and_other_messages_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from lightning.pytorch.utilities import rank_zero_info

    quiet_library_noise()
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        rank_zero_info("💡 Tip: try a product")
        rank_zero_info("GPU available: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False"]


def test_lightning_messages_appear_once_under_a_configured_root(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Lightning imported before Hydra configured logging keeps a console handler of its own;
    once the job's root handler exists, its messages are printed by that one alone."""
    import logging
    import sys

    from dfd.tasks.console import LIGHTNING_LOGGERS, quiet_library_noise

    root, lightning = logging.getLogger(), logging.getLogger("lightning")
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in LIGHTNING_LOGGERS
    }
    saved_root = root.handlers[:]
    job_handler = logging.StreamHandler(sys.stdout)
    job_handler.setFormatter(logging.Formatter("[job] %(message)s"))
    try:
        lightning.addHandler(logging.StreamHandler(sys.stdout))  # what Lightning's import does
        lightning.setLevel(logging.INFO)
        root.handlers = [job_handler]
        quiet_library_noise()
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("config identical")
        assert capsys.readouterr().out.count("config identical") == 1
    finally:
        root.handlers = saved_root
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers, logging.getLogger(name).propagate = (
                handlers,
                propagate,
            )
