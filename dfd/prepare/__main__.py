"""Hydra entry point: ``python -m dfd.prepare data=demo`` (see conf/prepare.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from dfd.prepare.shards import merge_shards
from dfd.prepare.workers import start_worker_server

REPO_ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("DFD_ROOT", str(REPO_ROOT))


@hydra.main(version_base="1.3", config_path=str(REPO_ROOT / "conf"), config_name="prepare")
def main(cfg: DictConfig) -> None:
    """Prepare the configured dataset (or merge its shards); the manifest lands in ``data.prepared_dir``."""
    if cfg.merge:
        merged = merge_shards(cfg.data.prepared_dir, cfg.prepare.num_shards)
        print(
            f"merged {cfg.prepare.num_shards} shards: {len(merged)} rows -> {cfg.data.prepared_dir}/manifest.csv"
        )
        return
    if cfg.prepare.workers > 1:
        start_worker_server()  # it imports torch in the background while this process imports the runner
    from dfd.prepare.runner import (
        prepare_from_config,  # torch: imported only now, beside the server
    )

    prepare_from_config(cfg)


if __name__ == "__main__":
    main()
