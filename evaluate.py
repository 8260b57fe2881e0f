"""Hydra entry point: `python evaluate.py [overrides]`, the same as `dfd evaluate [overrides]`
(see conf/eval.yaml and dfd.cli.jobs); the job itself is dfd.tasks.evaluate."""

import sys

from dfd.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
