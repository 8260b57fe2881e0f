"""dfd serve MODEL [--host H] [--port P] [--max-upload-mb N] [--max-in-flight N] [--device D]
              [--queue redis://HOST:PORT/N --upload-dir DIR] [--database URL]

Serve a checkpoint, train run folder or exported model behind the REST API of dfd.serve.app
(docs at http://HOST:PORT/docs). With --queue, uploads are enqueued for `dfd worker`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dfd.cli.args import positive_int
from dfd.serve.settings import ServeSettings


def positive_float(text: str) -> float:
    """A number > 0, or argparse's usage error."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd serve`."""
    defaults = ServeSettings()
    cli = argparse.ArgumentParser(
        prog="dfd serve", description="Serve a trained detector behind a REST API."
    )
    cli.add_argument(
        "model",
        type=Path,
        help="checkpoint (.ckpt), train run folder, or exported model (.pt/.onnx)",
    )
    cli.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    cli.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    cli.add_argument(
        "--device",
        default=defaults.device,
        help="cpu, cuda, cuda:1 ... (default: auto, a GPU when there is one)",
    )
    cli.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=defaults.max_upload_mb,
        metavar="N",
        help=f"largest upload in MiB (default {defaults.max_upload_mb})",
    )
    cli.add_argument(
        "--max-duration",
        type=positive_float,
        default=defaults.max_duration_s,
        metavar="S",
        help=f"longest video in seconds (default {defaults.max_duration_s:g})",
    )
    cli.add_argument(
        "--max-in-flight",
        type=positive_int,
        default=defaults.max_in_flight,
        metavar="N",
        help=f"analyses at once; more get 503 + Retry-After (default {defaults.max_in_flight})",
    )
    cli.add_argument(
        "--batch-size",
        type=positive_int,
        default=defaults.batch_size,
        metavar="N",
        help="clips per model call (default: the run's evaluation batch size)",
    )
    cli.add_argument(
        "--upload-dir",
        type=Path,
        metavar="DIR",
        help="where uploads and crops stay while analysed (default: a temporary folder)",
    )
    cli.add_argument(
        "--queue",
        metavar="URL",
        help="enqueue uploads on this Redis broker (redis://HOST:PORT/N) for `dfd "
        "worker` instead of scoring them here; needs --upload-dir",
    )
    cli.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL of the job database, e.g. sqlite:///jobs.sqlite3 or "
        "postgresql+psycopg://USER:PASSWORD@HOST/DB (default: with --queue "
        "sqlite:///DIR/jobs.sqlite3 in the upload folder, else jobs in memory)",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, load the model, run uvicorn until interrupted."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.queue and args.upload_dir is None:
        cli.error("--queue needs --upload-dir: the folder the workers read the uploads from")
    import uvicorn  # the serve extra and the model's libraries: once the arguments are right

    from dfd.serve.app import create_app, load_analyzer
    from dfd.serve.database import sqlite_url

    database = args.database or (sqlite_url(args.upload_dir) if args.queue else None)
    settings = ServeSettings(
        device=args.device,
        batch_size=args.batch_size,
        max_upload_mb=args.max_upload_mb,
        max_duration_s=args.max_duration,
        max_in_flight=args.max_in_flight,
        upload_dir=args.upload_dir,
        database_url=database,
        queue_url=args.queue,
    )
    app = create_app(load_analyzer(args.model, settings), settings)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
