"""The `dfd` command: `dfd COMMAND [ARGS]`, one command per job (`dfd --help` lists them).

prepare, check, train and evaluate compose their Hydra config (conf/, or the copy the wheel
ships) from `GROUP=OPTION KEY=VALUE` arguments; the others take options (`dfd COMMAND --help`).
Nothing heavy is imported before a command runs, so every `--help` answers at once. Errors a
user can act on are one line and exit status 2 (dfd.cli.errors); `--debug` shows tracebacks.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Command:
    """`target` is "module:function"; `config` names the Hydra config a command composes
    (its function reads sys.argv), None for an argparse command (its function takes argv);
    `parser` ("module:function") answers `--help` where `target`'s module is slow to import."""

    target: str
    summary: str
    config: str | None = None
    parser: str | None = None


COMMANDS = {
    "prepare": Command(
        "dfd.prepare.__main__:main",
        "detect, track and crop faces of a dataset's videos; write its manifest",
        "prepare",
    ),
    "check": Command(
        "dfd.datasets.check:main",
        "validate a prepared dataset: frames, balance, group leakage",
        "check",
    ),
    "train": Command(
        "dfd.cli.jobs:train_command",
        "train a detector, choose its checkpoint on validation, test it",
        "train",
    ),
    "evaluate": Command(
        "dfd.cli.jobs:evaluate_command",
        "score a checkpoint (ckpt_path=) on the test split of one or more datasets",
        "eval",
    ),
    "predict": Command(
        "dfd.cli.predict:main", "real or fake: score videos with a checkpoint or an export"
    ),
    "export": Command(
        "dfd.cli.export:main", "export a checkpoint to TorchScript or ONNX with a JSON sidecar"
    ),
    "serve": Command("dfd.serve.__main__:main", "serve a detector behind a REST API (/docs)"),
    "worker": Command("dfd.serve.worker:main", "score the jobs `dfd serve --queue` enqueues"),
    "compare": Command(
        "dfd.compare.__main__:main",
        "one table of many runs' results",
        parser="dfd.compare.options:parser",
    ),
    "benchmark": Command(
        "dfd.benchmark.__main__:main",
        "detectors x training sets x test sets as one sweep, then its leaderboard",
        parser="dfd.benchmark.options:parser",
    ),
    "demo": Command(
        "dfd.demo.build:main",
        "build the demo dataset of real faces and their fakes",
        parser="dfd.demo.options:parser",
    ),
    "models": Command(
        "dfd.cli.models:main", "the detectors of the zoo: input, size, cost, weights, paper"
    ),
}
HELP_FLAGS = ("-h", "--help")
DEBUG_FLAG = "--debug"


def version() -> str:
    try:
        return metadata.version("dfd")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def usage() -> str:
    lines = ["usage: dfd COMMAND [ARGS] [--debug]", "       dfd --version", "", "commands:"]
    lines += [f"  {name:<9} {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", "`dfd COMMAND --help` for a command's arguments."]
    return "\n".join(lines)


def load(target: str) -> Callable:
    """The function a "module:function" target names."""
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def runner(name: str, command: Command, args: list[str]) -> Callable[[], int | None]:
    """The call that runs a command with its arguments."""

    def run() -> int | None:
        if command.parser is not None and any(arg in HELP_FLAGS for arg in args):
            load(command.parser)().parse_args(args)  # prints the help and exits
        function = load(command.target)
        if command.config is None:
            sys.argv[0] = f"dfd {name}"  # argparse's prog
            return function(args)
        # what hydra.main parses; argv[0] stays the script, which Lightning's DDP runs again
        sys.argv = [sys.argv[0], *args]
        return function()

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dfd COMMAND ARGS`; returns the exit status."""
    from dfd.cli.errors import EXIT_USAGE, run_reporting_errors
    from dfd.config import is_joined_ddp_rank

    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get("HYDRA_FULL_ERROR") == "1"
    args = [arg for arg in args if arg != DEBUG_FLAG]
    if is_joined_ddp_rank() and args[:1] != ["train"]:
        args = ["train", *args]  # Lightning started this process again for a `dfd train` job
    if args[:1] == ["--version"]:
        print(f"dfd {version()}")
        return 0
    if not args or args[0] in HELP_FLAGS or args[0] not in COMMANDS:
        if args and args[0] not in HELP_FLAGS:
            print(f"dfd: unknown command {args[0]!r}", file=sys.stderr)
        asked = bool(args) and args[0] in HELP_FLAGS
        print(usage(), file=sys.stdout if asked else sys.stderr)
        return 0 if asked else EXIT_USAGE
    name, rest = args[0], args[1:]
    command = COMMANDS[name]
    if command.config is not None:
        if any(arg in HELP_FLAGS for arg in rest):
            from dfd.cli.config_help import config_help

            print(config_help(name, command.config, command.summary))
            return 0
        from dfd.config import default_root_dir
        from dfd.errors import carry_user_errors_past_hydra

        default_root_dir()
        carry_user_errors_past_hydra()
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises, so the error layer reports
    return run_reporting_errors(runner(name, command, rest), debug)


if __name__ == "__main__":
    sys.exit(main())
