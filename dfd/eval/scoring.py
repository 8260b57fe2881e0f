"""Score every clip of a dataset with a detector: the one inference loop behind evaluation
reports, robustness tests and explanations (no trainer needed, any device).

Test-time augmentation (`tta`, names of `TTA_VIEWS`) scores each clip again as each view
(`hflip`: mirrored left-right); a clip's and each frame's score is then the mean fake
probability over the original and its views (averaged in probability space, not logits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dfd.data.dataset import collate_clips
from dfd.data.workers import single_threaded_opencv, single_threaded_worker
from dfd.models import Detector

AUTOCAST_DTYPES = {
    "bf16-mixed": torch.bfloat16,
    "bf16-true": torch.bfloat16,
    "16-mixed": torch.float16,
    "16-true": torch.float16,
}


@dataclass(frozen=True)
class ClipScores:
    """Fake probabilities of clips, by dataset index; `frames` (N, T) when the detector scores
    single frames too (frame backbones), else None (3D CNNs)."""

    clip_idx: np.ndarray
    scores: np.ndarray
    frames: np.ndarray | None


def hflip(clips: torch.Tensor) -> torch.Tensor:
    """Clips (..., H, W) mirrored left-right."""
    return clips.flip(-1)


# test-time views of a normalized clip batch (B, T, C, H, W)
TTA_VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"hflip": hflip}


def check_tta(tta: Sequence[str]) -> tuple[str, ...]:
    """The test-time views by name; a clear error for names `TTA_VIEWS` lacks."""
    unknown = [name for name in tta if name not in TTA_VIEWS]
    if unknown:
        raise ValueError(
            f"unknown test-time augmentation {unknown} (known: {', '.join(TTA_VIEWS)})"
        )
    return tuple(tta)


def detector_logits(
    detector: Detector, clips: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(clip logits (B,), frame logits (B, T) or None) of any dfd detector."""
    return detector.forward_with_frames(clips)


def autocast_for(precision: str | int | None, device: torch.device):
    """The autocast context a Lightning precision setting implies for inference."""
    dtype = AUTOCAST_DTYPES.get(str(precision))
    if dtype is None:
        return nullcontext()
    if device.type == "cpu":
        dtype = torch.bfloat16  # CPU autocast runs float16 as bfloat16, as Lightning does
    return torch.autocast(device.type, dtype=dtype)


def view_probabilities(
    detector: Detector, clips: torch.Tensor, tta: Sequence[str] = ()
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fake probabilities of clips (B,) and of frames (B, T) or None, each the mean over the
    clips as given and their `tta` views."""
    clip_probs, frame_probs = [], []
    for view in [clips, *(TTA_VIEWS[name](clips) for name in tta)]:
        clip_logits, frame_logits = detector_logits(detector, view)
        clip_probs.append(torch.sigmoid(clip_logits.float()))
        if frame_logits is not None:
            frame_probs.append(torch.sigmoid(frame_logits.float()))
    return (
        torch.stack(clip_probs).mean(0),
        torch.stack(frame_probs).mean(0) if frame_probs else None,
    )


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """The module in eval mode; on exit every submodule gets back its own mode (a frozen
    backbone stays in eval mode inside a detector in train mode)."""
    modes = {sub: sub.training for sub in module.modules()}
    module.eval()
    try:
        yield module
    finally:
        for sub, training in modes.items():
            sub.training = training


@torch.inference_mode()
def score_dataset(
    detector: Detector,
    dataset: Dataset,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 16,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    precision: str | int | None = None,
    tta: Sequence[str] = (),
) -> ClipScores:
    """Score every clip of `dataset` (samples with uint8 `clip` and `clip_idx`) in eval mode,
    averaged over the `tta` views."""
    device, tta = torch.device(device), check_tta(tta)
    if num_workers > 0:
        single_threaded_opencv()  # before the workers fork (see dfd.data.workers)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        shuffle=False,
        collate_fn=collate_clips,
        worker_init_fn=single_threaded_worker,
    )
    indices, scores, frames = [], [], []
    with eval_mode(detector.to(device)):
        for batch in loader:
            clips = normalize(batch["clip"].to(device, non_blocking=True))
            with autocast_for(precision, device):
                clip_probs, frame_probs = view_probabilities(detector, clips, tta)
            indices.append(batch["clip_idx"].numpy())
            scores.append(clip_probs.cpu().numpy())
            if frame_probs is not None:
                frames.append(frame_probs.cpu().numpy())
    return ClipScores(
        clip_idx=np.concatenate(indices) if indices else np.zeros(0, np.int64),
        scores=np.concatenate(scores) if scores else np.zeros(0, np.float32),
        frames=np.concatenate(frames) if frames else None,
    )
