"""The command-line options of `dfd compare`, apart from the code that compares (pandas,
matplotlib, dfd.eval), so `dfd compare --help` answers at once."""

from __future__ import annotations

import argparse
from pathlib import Path

from dfd.cli.args import positive_int


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd compare`."""
    cli = argparse.ArgumentParser(
        prog="dfd compare",
        description="Compare the evaluation results of many runs. Reads <run>/eval/<dataset>/"
        "metrics.json and videos.csv of every run folder (one with .hydra/config.yaml)"
        " found under the FOLDERs and writes comparison.csv (one row per setting),"
        " comparison_runs.csv (one row per run and dataset), comparison.md and "
        "roc_overlay.png.",
        epilog="Runs on the same dataset whose overrides differ only by seed (or by the "
        "cross-validation fold, data.cv.fold) form one setting, shown as mean ± sample std "
        "(n runs). The folds of a setting are also pooled: their test videos scored as one "
        "set, with a bootstrap CI (pooled_folds.csv, pooled_folds.md). Exit status: 0 done, "
        "1 no run has results, 2 usage error.",
    )
    cli.add_argument(
        "folders",
        nargs="+",
        type=Path,
        metavar="FOLDER",
        help="run folders, multirun folders, or folders holding them",
    )
    cli.add_argument(
        "--metric",
        default="video_auroc",
        help="sort metric, e.g. video_auroc (default), video_ap, eer (= video_eer), "
        "clip_auroc; eer, log_loss, brier and ece sort lowest first",
    )
    cli.add_argument("--dataset", metavar="NAME", help="only the results on this dataset")
    cli.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: the first FOLDER)"
    )
    cli.add_argument(
        "--roc-top",
        type=positive_int,
        default=10,
        metavar="N",
        help="ROC curves of the N best settings per dataset (default 10)",
    )
    return cli
