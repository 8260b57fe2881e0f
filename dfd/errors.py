"""Errors a user can act on: a missing setting, a missing or wrong file, a step not yet run.

The `dfd` command prints their message as one line and exits with status 2 (dfd.cli.errors);
anything else is a bug and keeps its traceback (with `--debug`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.errors import InstantiationException
from omegaconf.errors import MissingMandatoryValue

R = TypeVar("R")


class UsageError(Exception):
    """Something the user can fix; the message says what to do."""


class MissingFile(UsageError, FileNotFoundError):
    """A file or folder the command was pointed at is not there (still a FileNotFoundError)."""


class SettingError(UsageError, ValueError):
    """A setting with a value it cannot take (still a ValueError for library callers)."""


class PastHydra(BaseException):
    """A user error on its way out of a Hydra job. Hydra's job runner prints a line of its own
    for any Exception a job raises; a BaseException passes it by (to dfd.cli.errors)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _Carrier:
    """Whether user errors leave Hydra jobs as PastHydra: only in the `dfd` command, which
    reports them (`python -m dfd.prepare` keeps Hydra's own report)."""

    active = False


def carry_user_errors_past_hydra() -> None:
    """Called by the `dfd` command before it runs a Hydra command."""
    _Carrier.active = True


def user_errors_past_hydra(job: Callable[[Any], R]) -> Callable[[Any], R]:
    """Wrap a Hydra task function so that, under the `dfd` command, its user errors
    (UsageError, a `???` value left unset, either one raised inside `instantiate`) reach the
    command's error layer as they are; other exceptions stay with Hydra (a sweeper counts on
    them: a pruned Optuna trial, a failed job)."""

    @functools.wraps(job)
    def run(cfg: Any) -> R:
        try:
            return job(cfg)
        except (UsageError, MissingMandatoryValue, InstantiationException) as error:
            if isinstance(error, InstantiationException):
                error = error.__cause__
            if not _Carrier.active or not isinstance(error, UsageError | MissingMandatoryValue):
                raise
            raise PastHydra(error) from error

    return run
