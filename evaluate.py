"""Hydra entry point: `python evaluate.py [overrides]` (see conf/eval.yaml). Logic lives in dfd.tasks.evaluate."""

import os
from pathlib import Path

os.environ.setdefault("DFD_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig

from dfd.tasks.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig):
    return evaluate(cfg)


if __name__ == "__main__":
    main()
