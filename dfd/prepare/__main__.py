"""Hydra entry point: ``dfd prepare data=demo`` or ``python -m dfd.prepare data=demo`` (see
conf/prepare.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dfd.config import config_search_path, default_root_dir, require_values
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
        return
    if cfg.prepare.workers > 1:
        start_worker_server()  # it imports torch in the background while this process imports the runner
    from dfd.prepare.runner import (
        prepare_from_config,  # torch: imported only now, beside the server
    )

    prepare_from_config(cfg)


if __name__ == "__main__":
    main()
