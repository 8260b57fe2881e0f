"""Score every clip of a dataset with a detector: the one inference loop behind evaluation
reports, robustness tests and explanations (no trainer needed, any device)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16,
                   "16-mixed": torch.float16, "16-true": torch.float16}


@dataclass(frozen=True)
class ClipScores:
    """Fake probabilities of clips, by dataset index; `frames` (N, T) when the detector scores
    single frames too (frame backbones), else None (3D CNNs)."""

    clip_idx: np.ndarray
    scores: np.ndarray
    frames: np.ndarray | None


def detector_logits(detector: nn.Module, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(clip logits (B,), frame logits (B, T) or None) of any dfd detector."""
    with_frames = getattr(detector, "forward_with_frames", None)
    if with_frames is not None:
        return with_frames(clips)
    return detector(clips), None


def autocast_for(precision: str | int | None, device: torch.device):
    """The autocast context a Lightning precision setting implies for inference."""
    dtype = AUTOCAST_DTYPES.get(str(precision))
    if dtype is None:
        return nullcontext()
    if device.type == "cpu":
        dtype = torch.bfloat16  # CPU autocast runs float16 as bfloat16, as Lightning does
    return torch.autocast(device.type, dtype=dtype)


@torch.inference_mode()
def score_dataset(detector: nn.Module, dataset: Dataset,
                  normalize: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 16,
                  num_workers: int = 0, device: str | torch.device = "cpu",
                  precision: str | int | None = None) -> ClipScores:
    """Score every clip of `dataset` (samples with uint8 `clip` and `clip_idx`) in eval mode."""
    device = torch.device(device)
    was_training = detector.training
    detector.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    indices, scores, frames = [], [], []
    try:
        for batch in loader:
            clips = normalize(batch["clip"].to(device, non_blocking=True))
            with autocast_for(precision, device):
                clip_logits, frame_logits = detector_logits(detector, clips)
            indices.append(batch["clip_idx"].numpy())
            scores.append(torch.sigmoid(clip_logits.float()).cpu().numpy())
            if frame_logits is not None:
                frames.append(torch.sigmoid(frame_logits.float()).cpu().numpy())
    finally:
        detector.train(was_training)
    return ClipScores(clip_idx=np.concatenate(indices) if indices else np.zeros(0, np.int64),
                      scores=np.concatenate(scores) if scores else np.zeros(0, np.float32),
                      frames=np.concatenate(frames) if frames else None)
