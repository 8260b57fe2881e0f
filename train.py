"""Hydra entry point: `python train.py [overrides]`, the same as `dfd train [overrides]` (see
conf/train.yaml and dfd.cli.jobs); the job itself is dfd.tasks.train."""

import sys

from dfd.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
