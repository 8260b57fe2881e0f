"""The `dfd` command: `dfd prepare [hydra overrides]`, `dfd demo [--out DIR ...]`,
`dfd compare FOLDER ... [--metric M]`, `dfd predict MODEL VIDEO ...`, `dfd export MODEL --format F`,
`dfd serve MODEL [--port P ...]`, `dfd worker MODEL --queue URL --upload-dir DIR`.

Training and evaluation are the repository's `train.py` / `evaluate.py` Hydra entry points.
"""

from __future__ import annotations

import runpy
import sys

COMMANDS = {
    "prepare": (
        "dfd.prepare",
        "detect, track and crop faces; write the manifest (Hydra overrides)",
    ),
    "check": ("dfd.datasets.check", "validate a prepared dataset (Hydra overrides)"),
    "demo": ("dfd.demo.build", "build the demo dataset of real faces and their fakes"),
    "compare": ("dfd.compare", "one table of many runs' results, seeds as mean ± std (--help)"),
    "predict": (
        "dfd.cli.predict",
        "real or fake: score videos with a checkpoint or an exported model (--help)",
    ),
    "export": (
        "dfd.cli.export",
        "export a checkpoint to TorchScript or ONNX with a JSON sidecar (--help)",
    ),
    "serve": ("dfd.serve", "serve a detector behind a REST API, docs at /docs (--help)"),
    "worker": ("dfd.serve.worker", "score the jobs `dfd serve --queue` enqueues (--help)"),
}


def usage() -> str:
    lines = ["usage: dfd COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<9} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main() -> None:
    """Run one of COMMANDS as if it were `python -m <module> ARGS`."""
    asked_for_help = sys.argv[1:2] in (["-h"], ["--help"])
    if asked_for_help or sys.argv[1:2] == [] or sys.argv[1] not in COMMANDS:
        print(usage(), file=sys.stdout if asked_for_help else sys.stderr)
        raise SystemExit(0 if asked_for_help else 2)
    command = sys.argv.pop(1)
    sys.argv[0] = f"dfd {command}"
    runpy.run_module(COMMANDS[command][0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
