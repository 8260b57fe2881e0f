"""`dfd models`: the zoo as a table (dfd.models.catalog), printed for a terminal, as CSV or as
Markdown. Nothing heavy is imported until the table is made, so `--help` answers at once."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dfd.cli.args import positive_int

HEADERS = {
    "name": "name",
    "input": "input",
    "parameters": "parameters",
    "gflops": "GFLOPs",
    "cpu_ms": "CPU ms",
    "pretrained": "pretrained",
    "paper": "paper",
    "error": "error",
}
TIMED = {"cpu_ms"}


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd models`."""
    cli = argparse.ArgumentParser(
        prog="dfd models",
        description="List the detectors of the zoo (every model/*.yaml config, composed as "
        "`dfd train` composes it, built with pretrained weights off): the input each takes, "
        "its parameters, GFLOPs and CPU milliseconds per input (one frame of a frame detector, "
        "one clip of a clip detector, at its paper's size where it names one), where its "
        "pretrained weights come from online, and its paper.",
        epilog="GFLOPs are counted by torch.utils.flop_counter (a multiply-add counts 2); CPU "
        "ms is the median of --repeats forward passes on this machine. A config that fails to "
        "build is a row with its error. Generic configs (timm, torchvision) are listed with "
        "their default backbone.",
    )
    cli.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    cli.add_argument(
        "--only", metavar="NAME,...", help="only these model configs, in this order (file stems)"
    )
    cli.add_argument("--no-timing", action="store_true", help="skip the measured CPU time")
    cli.add_argument(
        "--repeats", type=positive_int, default=3, metavar="N", help="timed passes (default 3)"
    )
    cli.add_argument(
        "--config-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also list DIR/model/*.yaml (a folder of your own configs; repeatable)",
    )
    return cli


def cells(row: object, columns: Sequence[str], plain: bool) -> list[str]:
    """A row's values as text: raw numbers for CSV (`plain`), readable ones otherwise."""
    values = []
    for column in columns:
        value = getattr(row, column)
        if value is None:
            values.append("")
        elif column == "parameters":
            values.append(str(value) if plain else f"{value:,}")
        elif column == "gflops":
            values.append(f"{value:.4g}" if plain else f"{value:.3g}")
        elif column == "cpu_ms":
            values.append(f"{value:.2f}" if plain else f"{value:.1f}")
        else:
            values.append(str(value))
    return values


def to_csv(rows: Sequence[object], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(cells(row, columns, plain=True) for row in rows)
    return out.getvalue()


def to_markdown(rows: Sequence[object], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(HEADERS[c] for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        text = [value.replace("|", "\\|") for value in cells(row, columns, plain=False)]
        lines.append("| " + " | ".join(text) + " |")
    return "\n".join(lines) + "\n"


def print_table(rows: Sequence[object], columns: Sequence[str]) -> None:
    """A rich table, as wide as the terminal (200 columns into a file or pipe)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200
    table = Table(title="dfd models")
    for column in columns:
        numeric = column in ("parameters", "gflops", "cpu_ms")
        table.add_column(HEADERS[column], justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*cells(row, columns, plain=False))
    console.print(table)


def table_columns(rows: Sequence[object], timing: bool) -> list[str]:
    """The columns to show: the measured ones only when timed, `error` only when one failed."""
    from dfd.models.catalog import COLUMNS

    columns = [c for c in COLUMNS if timing or c not in TIMED]
    return columns + (["error"] if any(row.error for row in rows) else [])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the zoo; exit status 1 when some config failed to build."""
    args = parser().parse_args(argv)
    from dfd.models.catalog import zoo_rows

    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    rows = zoo_rows(only, not args.no_timing, args.repeats, args.config_dir)
    columns = table_columns(rows, not args.no_timing)
    if args.format == "csv":
        sys.stdout.write(to_csv(rows, columns))
    elif args.format == "markdown":
        sys.stdout.write(to_markdown(rows, columns))
    else:
        print_table(rows, columns)
    return 1 if any(row.error for row in rows) else 0
