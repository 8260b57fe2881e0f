"""Hydra entry point: ``dfd prepare data=demo`` or ``python -m dfd.prepare data=demo`` (see
conf/prepare.yaml).

Exit status: 0 when the run (or the merge) gives clips of both classes; 1 when it gives no
usable clip or one class only (a shard of several is not judged alone: its merge is); 2 when
the labels cannot be read at all or a setting is missing. Each failure is one line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import pandas as pd
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from dfd.config import config_search_path, default_root_dir, require_values
from dfd.datasets.check import class_problem
from dfd.datasets.manifest import MANIFEST_NAME
from dfd.errors import user_errors_past_hydra
from dfd.prepare.shards import merge_shards
from dfd.prepare.workers import start_worker_server

default_root_dir()


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="prepare")
@user_errors_past_hydra
def main(cfg: DictConfig) -> None:
    """Prepare the configured dataset (or merge its shards); the manifest lands in ``data.prepared_dir``."""
    require_values(cfg)
    if cfg.merge:
        merged = merge_shards(cfg.data.prepared_dir, cfg.prepare.num_shards)
        print(
            f"merged {cfg.prepare.num_shards} shards: {len(merged)} rows -> {cfg.data.prepared_dir}/manifest.csv"
        )
        fail_unless_usable(merged, Path(cfg.data.prepared_dir) / MANIFEST_NAME)
        pack_if_asked(cfg)
        return
    if cfg.prepare.workers > 1:
        start_worker_server()  # it imports torch in the background while this process imports the runner
    from dfd.prepare.runner import (
        prepare_from_config,  # torch: imported only now, beside the server
    )

    try:
        manifest = prepare_from_config(cfg)
    except InstantiationException as error:  # the label source refused its files or columns
        cause = error.__cause__ or error
        print(f"dfd prepare: cannot read the labels: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
    if cfg.prepare.num_shards == 1:
        fail_unless_usable(manifest, Path(cfg.data.prepared_dir) / MANIFEST_NAME)
        pack_if_asked(cfg)


def pack_if_asked(cfg: DictConfig) -> None:
    """With ``prepare.output`` stream or both, pack the finished manifest's crops into a stream
    (a job shard of several waits for its merge)."""
    if cfg.prepare.output == "folders":
        return
    from dfd.prepare.streaming import pack_prepared

    location = pack_prepared(
        cfg.data.prepared_dir,
        cfg.prepare.stream_url,
        cfg.prepare.stream_chunk,
        keep_folders=cfg.prepare.output == "both",
    )
    print(f"stream written: {location} (train from it with datamodule.stream_url={location})")


def fail_unless_usable(manifest: pd.DataFrame, path: Path) -> None:
    """Exit 1 with one line when the manifest has no ok clip of one of the classes."""
    problem = class_problem(manifest)
    if problem:
        print(
            f"dfd prepare: {problem}; every skipped video and its reason is in {path} "
            "(status, reason columns), rejected label rows in the summary above",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
