"""dfd predict MODEL VIDEO [VIDEO ...] [--json F] [--csv F] [--frames] [--gradcam DIR]
[--device D] [--batch-size N] [--workers N]

MODEL is a checkpoint, a train run folder (its best checkpoint) or an exported model (`.pt`
TorchScript or `.onnx`, with its `<file>.json` sidecar). VIDEOs are files, folders (searched
recursively for videos) or globs. Every video is prepared with `dfd.prepare`'s code and the
settings the detector's training crops were made with, scored, and judged at the threshold
chosen on validation. Exit status: 0 all videos scored, 1 some could not be, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dfd.cli.args import positive_int

if TYPE_CHECKING:
    from dfd.inference.loading import LoadedDetector

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd predict`."""
    cli = argparse.ArgumentParser(
        prog="dfd predict",
        description="Say whether videos are real or fake with a trained detector.",
        epilog="Exit status: 0 every video scored, 1 some could not be (each has its row and "
        "reason), 2 usage error.",
    )
    cli.add_argument(
        "model",
        type=Path,
        help="checkpoint (.ckpt), train run folder, or exported model (.pt/.onnx)",
    )
    cli.add_argument(
        "videos",
        nargs="+",
        metavar="VIDEO",
        help="video files, folders (searched recursively) or glob patterns",
    )
    cli.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    cli.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="write one row per video (with --frames also FILE.clips.csv and FILE.frames.csv)",
    )
    cli.add_argument(
        "--frames",
        action="store_true",
        help="add per-clip and per-frame scores to the JSON and CSV output",
    )
    cli.add_argument(
        "--gradcam",
        type=Path,
        metavar="DIR",
        help="save a Grad-CAM overlay of each video's deciding clip (checkpoints only)",
    )
    cli.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, cuda:1 ... for face detection and the model (default: "
        "auto, a GPU when there is one)",
    )
    cli.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="clips per model call (default: the run's evaluation batch size)",
    )
    cli.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="videos prepared at once in worker processes (default: conf/prepare.yaml)",
    )
    return cli


def make_console() -> Console:
    """A console at least 110 columns wide (logs and pipes default to 80)."""
    console = Console()
    console.width = max(console.width, 110)
    return console


def stderr_console() -> Console:
    """Errors and warnings go to stderr, so piped results stay clean and a failure is seen;
    never wrapped, so a long path stays whole on its one line."""
    return Console(stderr=True, soft_wrap=True)


def describe_model(console: Console, detector: LoadedDetector) -> None:
    """Where the threshold, scoring and preparation settings come from, and any warning."""
    spec = detector.spec
    threshold, scoring = spec.threshold, spec.scoring
    console.print(
        f"model: {detector.source} ({detector.kind}); clips of {spec.clip_len} x "
        f"{spec.image_size} px"
    )
    origin = (
        "the default: none was chosen on validation"
        if threshold.source == "none"
        else f"{threshold.rule}, chosen on {threshold.chosen_on}; from {threshold.source}"
    )
    console.print(f"threshold: {threshold.value:.4f} ({origin})")
    options = f" {scoring.aggregation_options}" if scoring.aggregation_options else ""
    views = f"test-time views {', '.join(scoring.tta)}" if scoring.tta else "no test-time views"
    console.print(
        f"scoring: {views}, precision {scoring.precision or '32-true'}; aggregation "
        f"{scoring.aggregation}{options} per face, max over faces (from {spec.scoring_source})"
    )
    console.print(
        f"preparation: {spec.prepare.num_frames} frames"
        f"{f' at {spec.prepare.fps} fps' if spec.prepare.fps else ''}, "
        f"{spec.prepare.face_size} px crops, margin {spec.prepare.margin}, faces="
        f"{spec.prepare.faces} (from {spec.prepare_source})"
    )
    for note in spec.notes:
        stderr_console().print(f"[yellow]warning:[/] {note}")


def run(args: argparse.Namespace, console: Console) -> int:
    """Predict on every input; returns the exit status."""
    from dfd.errors import UsageError
    from dfd.inference.inputs import expand_inputs
    from dfd.inference.loading import load_detector
    from dfd.inference.predictor import Predictor
    from dfd.inference.results import results_table, write_csv, write_json
    from dfd.prepare.detectors import resolve_device
    from dfd.tasks.console import quiet_library_noise

    quiet_library_noise()
    try:
        device = resolve_device(args.device)
        detector = load_detector(args.model, device)
    except (UsageError, RuntimeError, ValueError) as error:
        stderr_console().print(f"[red]error:[/] cannot use the model {args.model}: {error}")
        return EXIT_USAGE
    if args.gradcam is not None and detector.module is None:
        stderr_console().print(
            "[red]error:[/] --gradcam needs a checkpoint or a run folder (an exported "
            "model has no gradients to explain)"
        )
        return EXIT_USAGE
    describe_model(console, detector)
    inputs = expand_inputs(args.videos)
    predictor = Predictor(
        detector, device=str(device), batch_size=args.batch_size, workers=args.workers
    )
    results = [None] * len(inputs)
    progress = Progress(
        TextColumn("predict"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    with progress, tempfile.TemporaryDirectory(prefix="dfd-predict-") as workdir:
        task = progress.add_task("", total=len(inputs))
        for number, result in predictor.predict(inputs, Path(workdir), args.frames, args.gradcam):
            results[number] = result
            progress.update(task, advance=1, description=Path(result.video).name)
    console.print(results_table(results, f"dfd predict: {len(results)} videos"))
    if args.json:
        model = {
            "source": str(detector.source),
            "kind": detector.kind,
            **detector.spec.to_json(),
            "notes": list(detector.spec.notes),
        }
        write_json(args.json, results, model, args.frames)
        console.print(f"wrote {args.json}")
    if args.csv:
        for path in write_csv(args.csv, results, args.frames):
            console.print(f"wrote {path}")
    failures = sum(not result.ok for result in results)
    if failures:
        stderr_console().print(f"{failures} of {len(results)} videos could not be scored")
    return EXIT_FAILED if failures else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and predict; returns the exit status."""
    args = parser().parse_args(argv)
    return run(args, make_console())


if __name__ == "__main__":
    sys.exit(main())
