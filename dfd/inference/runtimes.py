"""One call for every kind of trained detector: normalized float clips (B, T, 3, H, W) in,
(clip logits (B,), frame logits (B, T) or None) out, as float32 tensors on the CPU."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from dfd.eval.scoring import detector_logits

Outputs = tuple[torch.Tensor, torch.Tensor | None]
OUTPUT_NAMES = ("logits", "frame_logits")
INPUT_NAME = "clips"


class Runtime(Protocol):
    """A detector ready to score clips on `device`."""

    device: torch.device

    def __call__(self, clips: torch.Tensor) -> Outputs: ...


def _outputs(values: torch.Tensor | tuple | list) -> Outputs:
    """(logits, frame logits or None) from a tensor or a tuple of one or two."""
    if isinstance(values, torch.Tensor):
        values = (values,)
    logits = values[0].detach().float().cpu()
    frames = values[1] if len(values) > 1 else None
    frames = None if frames is None else frames.detach().float().cpu()
    return logits, frames


class EagerRuntime:
    """The detector module itself (from a checkpoint)."""

    def __init__(self, detector: nn.Module, device: torch.device) -> None:
        self.detector = detector.eval().to(device)
        self.device = device

    @torch.inference_mode()
    def __call__(self, clips: torch.Tensor) -> Outputs:
        return _outputs(detector_logits(self.detector, clips.to(self.device)))


class TorchScriptRuntime:
    """A TorchScript file written by `dfd export --format torchscript`."""

    def __init__(self, path: Path, device: torch.device) -> None:
        with warnings.catch_warnings():  # TorchScript's deprecation notice: nothing to act on
            warnings.simplefilter("ignore", FutureWarning)
            self.module = torch.jit.load(str(path), map_location=device).eval()
        self.device = device

    @torch.inference_mode()
    def __call__(self, clips: torch.Tensor) -> Outputs:
        return _outputs(self.module(clips.to(self.device)))


class OnnxRuntime:
    """An ONNX file written by `dfd export --format onnx`, run by onnxruntime (CUDA when asked
    for and available, else the CPU)."""

    def __init__(self, path: Path, device: torch.device) -> None:
        import onnxruntime

        providers = ["CPUExecutionProvider"]
        if (
            device.type == "cuda"
            and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        ):
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnxruntime.InferenceSession(str(path), providers=providers)
        self.device = torch.device("cuda" if providers[0].startswith("CUDA") else "cpu")

    def __call__(self, clips: torch.Tensor) -> Outputs:
        feed = {INPUT_NAME: np.ascontiguousarray(clips.detach().float().cpu().numpy())}
        return _outputs(tuple(torch.from_numpy(value) for value in self.session.run(None, feed)))


EXPORTED_RUNTIMES = {"torchscript": TorchScriptRuntime, "onnx": OnnxRuntime}
