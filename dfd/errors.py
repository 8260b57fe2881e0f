"""Errors a user can act on: a missing setting, a missing or wrong file, a step not yet run.

The `dfd` command prints their message as one line and exits with status 2 (dfd.cli.errors);
anything else is a bug and keeps its traceback (with `--debug`).
"""

from __future__ import annotations


class UsageError(Exception):
    """Something the user can fix; the message says what to do."""


class MissingFile(UsageError, FileNotFoundError):
    """A file or folder the command was pointed at is not there (still a FileNotFoundError)."""
