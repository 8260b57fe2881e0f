"""The zoo table of the docs: what `dfd models` prints, for every model config.

    python benchmarks/zoo_table.py [--threads 1] [--repeats 3]

Composes and builds every conf/model/*.yaml (pretrained off), counts its parameters and GFLOPs
on one input of its native shape and times that input on the CPU; writes results/zoo_models.csv
and its note, which docs/zoo.md includes.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import date

import torch
from results_table import write_table

from dfd.cli.args import positive_int
from dfd.cli.models import HEADERS, cells, table_columns
from dfd.models.catalog import zoo_rows


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    cli.add_argument("--repeats", type=positive_int, default=3, help="timed passes per input")
    args = cli.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    rows = zoo_rows(timing=True, repeats=args.repeats)
    columns = table_columns(rows, timing=True)
    note = (
        f"Every model config on {date.today().isoformat()}, torch {torch.__version__}: GFLOPs "
        f"and CPU ms per input (a batch of one), CPU ms the median of {args.repeats} passes "
        f"after a warm-up on {args.threads} thread(s) of a {os.cpu_count()}-core "
        f"{platform.machine()} machine whose load average was {load:.1f} (a busy machine's "
        "times are slower than an idle one's)."
    )
    write_table(
        "zoo_models",
        [HEADERS[column] for column in columns],
        [cells(row, columns, plain=False) for row in rows],
        note,
    )


if __name__ == "__main__":
    main()
