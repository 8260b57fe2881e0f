"""Hydra entry point: `python evaluate.py [overrides]` (see conf/eval.yaml). Logic lives in dfd.tasks.evaluate."""

import os
from pathlib import Path

os.environ.setdefault("DFD_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from dfd.tasks.evaluate import evaluate  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig):
    return evaluate(cfg)


if __name__ == "__main__":
    main()
