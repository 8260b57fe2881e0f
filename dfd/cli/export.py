"""dfd export MODEL --format torchscript|onnx [--out PATH] [--tolerance T]

MODEL is a checkpoint or a train run folder (its best checkpoint). Writes the detector
(normalized float clips (B, T, 3, H, W) in, dynamic batch; logits (B,) out, plus frame
logits (B, T) for frame models) and a JSON sidecar `<file>.json` with everything `dfd predict`
needs: clip length, image size, normalization, crop margin, threshold, scoring settings
(test-time views, precision, batch size, aggregation), preparation settings, dfd version,
training config hash and source checkpoint. The exported model is then checked against the
checkpoint on real face clips, its logits and the scores made with those scoring settings;
when they differ by more than the tolerance, the export is removed and the command fails.
Exit status: 0 exported and checked, 1 parity check failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from dfd.cli.predict import stderr_console

EXIT_OK, EXIT_PARITY, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The command-line options of `dfd export`."""
    from dfd.inference import PARITY_TOLERANCE as TOLERANCE

    cli = argparse.ArgumentParser(
        prog="dfd export",
        description="Export a trained detector to TorchScript or ONNX with a JSON sidecar, "
        "checked against the checkpoint on real face clips.",
        epilog="Exit status: 0 exported and checked, 1 parity check failed, 2 usage error.",
    )
    cli.add_argument("model", type=Path, help="checkpoint (.ckpt) or train run folder")
    cli.add_argument("--format", required=True, choices=("torchscript", "onnx"), dest="fmt")
    cli.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the exported file (default: <run>/export/<checkpoint>.pt or .onnx)",
    )
    cli.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"largest absolute logit difference allowed (default {TOLERANCE:g})",
    )
    return cli


def default_output(checkpoint: Path, fmt: str) -> Path:
    """`<run>/export/<checkpoint stem><suffix>`, or beside a checkpoint outside a run folder."""
    from dfd.inference.loading import FORMAT_SUFFIXES
    from dfd.runs import RunDir

    run = RunDir.of_checkpoint(checkpoint)
    folder = run.export_dir if run else checkpoint.parent
    return folder / f"{checkpoint.stem}{FORMAT_SUFFIXES[fmt]}"


def sidecar(
    spec_json: dict[str, Any], fmt: str, path: Path, outputs: list[str], parity: dict[str, Any]
) -> dict[str, Any]:
    """The sidecar's content: the detector's spec, the file's interface and its parity check."""
    import torch

    from dfd.inference.exporting import ONNX_OPSET
    from dfd.inference.runtimes import INPUT_NAME

    clip_len, size = spec_json["clip_len"], spec_json["image_size"]
    return {
        "format": fmt,
        "file": path.name,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", clip_len, 3, size, size],
            "dtype": "float32",
            "normalization": "(uint8 / 255 - mean) / std, RGB",
        },
        "outputs": {
            name: ["batch"] if name == "logits" else ["batch", clip_len] for name in outputs
        },
        **({"onnx_opset": ONNX_OPSET} if fmt == "onnx" else {}),
        "torch_version": torch.__version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **spec_json,
        "parity": parity,
    }


def run(args: argparse.Namespace, console: Console) -> int:
    """Export, check parity, write the sidecar; returns the exit status."""
    if args.fmt == "onnx":  # the export extra, before any work (dfd.cli.errors names it)
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    import torch

    from dfd.errors import UsageError
    from dfd.inference.checkpoint import load_checkpoint
    from dfd.inference.exporting import export_detector
    from dfd.inference.loading import sidecar_path
    from dfd.inference.parity import max_differences, parity_clips, parity_record
    from dfd.inference.runtimes import EXPORTED_RUNTIMES, EagerRuntime
    from dfd.tasks.console import quiet_library_noise

    quiet_library_noise()
    try:
        loaded = load_checkpoint(args.model)
    except (UsageError, RuntimeError, ValueError, KeyError) as error:
        stderr_console().print(f"[red]error:[/] cannot use the checkpoint {args.model}: {error}")
        return EXIT_USAGE
    spec = loaded.spec
    for note in spec.notes:
        stderr_console().print(f"[yellow]warning:[/] {note}")
    clips, description, warning = parity_clips(loaded.data.get("manifest_path"), spec)
    if warning:
        stderr_console().print(f"[yellow]warning:[/] {warning}")
    out = args.out or default_output(loaded.path, args.fmt)
    outputs = export_detector(loaded.detector, clips[:2], args.fmt, out)
    cpu = torch.device("cpu")
    differences = max_differences(
        EagerRuntime(loaded.detector, cpu),
        EXPORTED_RUNTIMES[args.fmt](out, cpu),
        clips,
        spec.scoring,
    )
    parity = parity_record(differences, description, len(clips), args.tolerance)
    shown = ", ".join(f"{name} {value:.2e}" for name, value in differences.items())
    if not parity["passed"]:
        out.unlink(missing_ok=True)
        stderr_console().print(
            f"[red]parity check failed[/] on {description}: max |difference| {shown} "
            f"> {args.tolerance:g}; the export was removed"
        )
        return EXIT_PARITY
    document = sidecar(spec.to_json(), args.fmt, out, outputs, parity)
    sidecar_path(out).write_text(json.dumps(document, indent=2, default=str))
    console.print(f"exported {loaded.path.name} -> {out} ({args.fmt}) and {sidecar_path(out).name}")
    console.print(
        f"parity on {description}, batch {len(clips)}: max |difference| {shown} "
        f"(tolerance {args.tolerance:g})"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and export; returns the exit status."""
    from dfd.cli.predict import make_console

    return run(parser().parse_args(argv), make_console())


if __name__ == "__main__":
    sys.exit(main())
