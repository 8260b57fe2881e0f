"""Hydra entry point: `python train.py [overrides]` (see conf/train.yaml). Logic lives in dfd.tasks.train.

A DDP process of rank > 0, started by Lightning for a job, joins that job (dfd.tasks.ddp) instead
of parsing the command line again, which under `-m` would launch the whole sweep again.
"""

import os
from pathlib import Path

os.environ.setdefault("DFD_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig

from dfd.tasks.ddp import job_scope, joined_job_config
from dfd.tasks.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig):
    with job_scope():
        return train(cfg)


if __name__ == "__main__":
    job_config = joined_job_config()
    if job_config is not None:
        train(job_config)
    else:
        main()
