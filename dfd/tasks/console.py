"""A quiet console: library adverts and deprecation notices no user can act on are dropped,
and each run ends with one line that names its folder and its headline metrics."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

# (logger, message fragment) of Lightning's advertising tips, shown at every run
_TIPS = ("lightning.pytorch.utilities.rank_zero", "💡 Tip:")


def _not_a_tip(record: logging.LogRecord) -> bool:
    return _TIPS[1] not in record.getMessage()


# loggers to which Lightning gives a console handler of its own when it is imported before
# logging is configured (Hydra configures it only when the job starts)
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


def one_handler_for_lightning() -> None:
    """Under a configured root logger (a Hydra job), Lightning's messages go through it alone:
    once on the console in the job's format, and into the job's log file; not a second time
    through the handler Lightning attached when it was imported first."""
    if not logging.getLogger().handlers:
        return
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True


def quiet_library_noise() -> None:
    """Drop Lightning's product tips and the LeafSpec deprecation it triggers in torch; one
    console line per Lightning message."""
    one_handler_for_lightning()
    logger = logging.getLogger(_TIPS[0])
    if _not_a_tip not in logger.filters:
        logger.addFilter(_not_a_tip)
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
    )


def closing_line(
    output_dir: Path, metrics: Mapping[str, float], best: tuple[str, float] | None = None
) -> str:
    """`dfd: <folder> | best <monitor> .. | test: N videos, video-level AUC .. (clip ..)`."""
    parts = [f"dfd: {output_dir}"]
    if best is not None:
        parts.append(f"best {best[0]} {best[1]:.3f}")
    if "test/video_auroc" in metrics:
        interval = ""
        if "test/video_auroc_ci_low" in metrics:
            interval = (
                f" [95% CI {metrics['test/video_auroc_ci_low']:.3f}-"
                f"{metrics['test/video_auroc_ci_high']:.3f}]"
            )
        parts.append(
            f"test: {int(metrics.get('test/num_videos', 0))} videos, video-level AUC "
            f"{metrics['test/video_auroc']:.3f}{interval} (clip {metrics['test/clip_auroc']:.3f})"
        )
    return " | ".join(parts)
