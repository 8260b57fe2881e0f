"""Score clips with a detector: the one scoring path behind evaluation, robustness tests,
`dfd predict`, the API, the worker and export parity (no trainer needed, any device).

`ScoringSettings` is the one record of how: test-time views, precision, batch size and the
clip -> face -> video aggregation. Clips are the dataset's non-overlapping windows of the
detector's clip length, or `clips` windows spread over each face track
(`dfd.data.dataset.clip_windows`; the dataset is built with them). Multi-view testing, as
MMAction2 and PySlowFast test: test-time augmentation (`tta`, names of `TTA_VIEWS`, e.g.
`hflip`: mirrored left-right) scores each clip again as each view, and `crops=3` replaces each
view by three crops (left, centre, right, each `crop_scale` of the face crop, resized back);
a clip's and each frame's score is then the mean (or max, `view_reduce`) over its views, of
fake probabilities or of logits (`view_space`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dfd.data.dataset import collate_clips
from dfd.data.workers import single_threaded_opencv, single_threaded_worker
from dfd.eval.aggregate import bind_strategy, face_table, video_table
from dfd.models import Detector

AUTOCAST_DTYPES = {
    "bf16-mixed": torch.bfloat16,
    "bf16-true": torch.bfloat16,
    "16-mixed": torch.float16,
    "16-true": torch.float16,
}
# (clip logits (B,), frame logits (B, T) or None) of normalized clips: a detector or a runtime
Forward = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


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


VIEW_REDUCTIONS = ("mean", "max")
VIEW_SPACES = ("prob", "logit")


def three_crops(clips: torch.Tensor, scale: float) -> list[torch.Tensor]:
    """The left, centre and right crops of clips (B, T, C, H, W), each `scale` of the frame's
    side (vertically centred), resized back to (H, W): the frame is enlarged by 1/`scale`
    and cut at three places along its width."""
    batch, frames, channels, height, width = clips.shape
    big = nn.functional.interpolate(
        clips.reshape(batch * frames, channels, height, width).float(),
        size=(round(height / scale), round(width / scale)),
        mode="bilinear",
        align_corners=False,
    ).to(clips.dtype)
    top = (big.shape[-2] - height) // 2
    lefts = (0, (big.shape[-1] - width) // 2, big.shape[-1] - width)
    return [
        big[..., top : top + height, left : left + width].reshape(clips.shape) for left in lefts
    ]


def check_tta(tta: Sequence[str]) -> tuple[str, ...]:
    """The test-time views by name; a clear error for names `TTA_VIEWS` lacks."""
    unknown = [name for name in tta if name not in TTA_VIEWS]
    if unknown:
        raise ValueError(
            f"unknown test-time augmentation {unknown} (known: {', '.join(TTA_VIEWS)})"
        )
    return tuple(tta)


@dataclass(frozen=True)
class ScoringSettings:
    """How a detector's clips are scored and reduced to video scores, the same wherever it
    scores: `tta` views averaged with each clip, the Lightning `precision` it runs in
    (None: float32), clips per model call, and the `aggregation` strategy (with its `options`)
    that reduces a face track's clips to one score (faces -> video by max). Bad names fail
    here, before anything is scored."""

    tta: tuple[str, ...] = ()
    precision: str | None = None
    batch_size: int = 16
    aggregation: str = "mean"
    aggregation_options: Mapping[str, Any] = field(default_factory=dict)
    clips: int | None = None
    crops: int = 1
    crop_scale: float = 0.875
    view_reduce: str = "mean"
    view_space: str = "prob"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tta", check_tta(self.tta))
        if self.clips is not None and self.clips < 1:
            raise ValueError(f"evaluation.views.clips must be at least 1 or null, got {self.clips}")
        if self.crops not in (1, 3):
            raise ValueError(f"evaluation.views.crops must be 1 or 3, got {self.crops}")
        if not 0 < self.crop_scale <= 1:
            raise ValueError(
                f"evaluation.views.crop_scale must be in (0, 1], got {self.crop_scale}"
            )
        if self.view_reduce not in VIEW_REDUCTIONS:
            raise ValueError(
                f"evaluation.views.reduce must be one of {VIEW_REDUCTIONS}, got {self.view_reduce!r}"
            )
        if self.view_space not in VIEW_SPACES:
            raise ValueError(
                f"evaluation.views.space must be one of {VIEW_SPACES}, got {self.view_space!r}"
            )
        if self.precision is not None:
            object.__setattr__(self, "precision", str(self.precision))
        object.__setattr__(self, "aggregation_options", dict(self.aggregation_options))
        if self.batch_size < 1:
            raise ValueError(f"the scoring batch size must be at least 1, got {self.batch_size}")
        bind_strategy(self.aggregation, **self.aggregation_options)

    @classmethod
    def from_evaluation(
        cls, evaluation: Mapping[str, Any], precision: str | int | None, batch_size: int
    ) -> ScoringSettings:
        """The settings of an `evaluation` config block (conf/evaluation), the run's precision
        and its datamodule's batch size (used when `evaluation.batch_size` is null). A block
        without `views` (runs made before multi-view testing) scores one view, as they did."""
        views = evaluation.get("views") or {}
        return cls(
            tta=tuple(evaluation.get("tta") or ()),
            precision=None if precision is None else str(precision),
            batch_size=int(evaluation.get("batch_size") or batch_size),
            aggregation=str(evaluation.get("aggregation") or "mean"),
            aggregation_options=dict(evaluation.get("aggregation_options") or {}),
            **_view_fields(views),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain values (a sidecar keeps them)."""
        return {**asdict(self), "tta": list(self.tta)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoringSettings:
        """The settings `to_json` wrote."""
        views = {name: data[name] for name in VIEW_FIELDS if name in data}
        return cls(
            tta=tuple(data.get("tta") or ()),
            precision=data.get("precision"),
            batch_size=int(data.get("batch_size") or cls.batch_size),
            aggregation=str(data["aggregation"]),
            aggregation_options=dict(data.get("aggregation_options") or {}),
            **views,
        )

    def faces(self, clips: pd.DataFrame) -> pd.DataFrame:
        """One row per face track of a clips table (`dfd.eval.aggregate.face_table`)."""
        return face_table(clips, self.aggregation, **self.aggregation_options)

    def videos(self, clips: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """One row per video of a clips table (`dfd.eval.aggregate.video_table`)."""
        return video_table(clips, self.aggregation, threshold, **self.aggregation_options)


# ScoringSettings field <- key of the `evaluation.views` block
VIEW_FIELDS = {
    "clips": "clips",
    "crops": "crops",
    "crop_scale": "crop_scale",
    "view_reduce": "reduce",
    "view_space": "space",
}


def _view_fields(views: Mapping[str, Any]) -> dict[str, Any]:
    return {name: views[key] for name, key in VIEW_FIELDS.items() if key in views}


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
    forward: Forward, clips: torch.Tensor, settings: ScoringSettings
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fake probabilities of clips (B,) and of frames (B, T) or None, each reduced over the
    clips as given and their views (`tta`, then `crops`)."""
    views = [clips, *(TTA_VIEWS[name](clips) for name in settings.tta)]
    if settings.crops == 3:
        views = [crop for view in views for crop in three_crops(view, settings.crop_scale)]
    clip_logits, frame_logits = [], []
    for view in views:
        clip, frames = forward(view)
        clip_logits.append(clip.float())
        if frames is not None:
            frame_logits.append(frames.float())
    return (
        _reduce_views(torch.stack(clip_logits), settings),
        _reduce_views(torch.stack(frame_logits), settings) if frame_logits else None,
    )


def _reduce_views(logits: torch.Tensor, settings: ScoringSettings) -> torch.Tensor:
    """Probabilities from per-view logits (V, ...): reduced as probabilities or as logits."""
    reduce = torch.amax if settings.view_reduce == "max" else torch.mean
    if settings.view_space == "logit":
        return torch.sigmoid(reduce(logits, dim=0))
    return reduce(torch.sigmoid(logits), dim=0)


@torch.inference_mode()
def score_clips(
    forward: Forward,
    clips: torch.Tensor,
    settings: ScoringSettings,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fake probabilities of one batch of normalized clips (B,) and of their frames (B, T) or
    None, in the settings' precision and averaged over their test-time views. `forward` is a
    detector's (`detector_logits`) or an exported model's (a runtime; ONNX runs float32
    whatever the precision)."""
    with autocast_for(settings.precision, torch.device(device)):
        return view_probabilities(forward, clips, settings)


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


def score_dataset(
    detector: Detector | Forward,
    dataset: Dataset,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    settings: ScoringSettings | None = None,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
) -> ClipScores:
    """Score every clip of `dataset` (samples with uint8 `clip` and `clip_idx`) by
    `score_clips` (default settings: no views, float32, batches of 16). A detector module is moved to `device` and scored in eval mode; any other
    `forward` (an exported model's runtime) is called as it is."""
    device, settings = torch.device(device), settings or ScoringSettings()
    if not isinstance(detector, nn.Module):
        return _score_loader(detector, dataset, normalize, settings, device, num_workers)
    with eval_mode(detector.to(device)):
        return _score_loader(
            lambda clips: detector_logits(detector, clips),
            dataset,
            normalize,
            settings,
            device,
            num_workers,
        )


def _score_loader(
    forward: Forward,
    dataset: Dataset,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    settings: ScoringSettings,
    device: torch.device,
    num_workers: int,
) -> ClipScores:
    if num_workers > 0:
        single_threaded_opencv()  # before the workers fork (see dfd.data.workers)
    loader = DataLoader(
        dataset,
        batch_size=settings.batch_size,
        num_workers=num_workers,
        shuffle=False,
        collate_fn=collate_clips,
        worker_init_fn=single_threaded_worker,
    )
    indices, scores, frames = [], [], []
    for batch in loader:
        clips = normalize(batch["clip"].to(device, non_blocking=True))
        clip_probs, frame_probs = score_clips(forward, clips, settings, device)
        indices.append(batch["clip_idx"].numpy())
        scores.append(clip_probs.cpu().numpy())
        if frame_probs is not None:
            frames.append(frame_probs.cpu().numpy())
    return ClipScores(
        clip_idx=np.concatenate(indices) if indices else np.zeros(0, np.int64),
        scores=np.concatenate(scores) if scores else np.zeros(0, np.float32),
        frames=np.concatenate(frames) if frames else None,
    )
