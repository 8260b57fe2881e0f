"""Write a detector as TorchScript or ONNX: normalized float clips (B, T, 3, H, W) in, with a
dynamic batch axis; clip logits (B,) out, plus frame logits (B, T) for frame models."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from dfd.eval.scoring import detector_logits
from dfd.inference.runtimes import INPUT_NAME, OUTPUT_NAMES
from dfd.models import Detector

FORMATS = ("torchscript", "onnx")
ONNX_OPSET = 17


class ExportedDetector(nn.Module):
    """The detector as it is exported: a tuple of its outputs (clip logits, frame logits)."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, frames = detector_logits(self.detector, clips)
        return (logits,) if frames is None else (logits, frames)


def output_names(detector: Detector) -> list[str]:
    """The outputs an export of this detector has."""
    return list(OUTPUT_NAMES if detector.frame_scores else OUTPUT_NAMES[:1])


def export_detector(detector: Detector, example: torch.Tensor, fmt: str, path: Path) -> list[str]:
    """Trace `detector` (eval mode, CPU) on `example` clips and write it in `fmt` to `path`.
    Returns the output names.

    The clip length and image size are fixed by the example (the sidecar records them); only
    the batch axis is dynamic. Tracing fixes Python branches on shapes, such as the frame
    models' `T == 1` case, which is right for one clip length; the tracer's warnings about
    them, the ONNX exporter's caution about LSTMs and other batch sizes (the parity check
    runs another batch size than the example's) and torch's deprecation notices of
    TorchScript and of the TorchScript-based ONNX exporter (the one that needs no
    onnxscript) are silenced.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    wrapper = ExportedDetector(detector.eval().cpu()).eval()
    names = output_names(detector)
    path.parent.mkdir(parents=True, exist_ok=True)
    # traced with autograd on: under no_grad, PyTorch's transformer layers take a fused fast
    # path whose operator ONNX does not have
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings(
            "ignore", message="Exporting a model to ONNX with a batch_size other than 1"
        )
        if fmt == "torchscript":
            torch.jit.trace(wrapper, example.cpu(), check_trace=False).save(str(path))
        else:
            torch.onnx.export(
                wrapper,
                (example.cpu(),),
                str(path),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=names,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *names]},
                opset_version=ONNX_OPSET,
            )
    return names
