"""The exported model against the checkpoint it came from, on real face clips."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from dfd.data.dataset import FaceClipDataset
from dfd.data.transforms import build_clip_transform, normalize_clips
from dfd.datasets.manifest import ok_rows, read_manifest
from dfd.eval.scoring import ScoringSettings, score_clips
from dfd.inference import PARITY_TOLERANCE as TOLERANCE
from dfd.inference.runtimes import Runtime
from dfd.inference.spec import DetectorSpec

log = logging.getLogger(__name__)
PARITY_CLIPS = 4
SPLIT_ORDER = ("test", "val", "train")


def manifest_clips(
    manifest_path: str | Path, spec: DetectorSpec, count: int = PARITY_CLIPS
) -> torch.Tensor:
    """`count` uint8 clips (N, T, 3, H, W) of different videos of a prepared manifest (test
    split first), as evaluation serves them. Raises OSError/ValueError when unreadable."""
    manifest_path = Path(manifest_path)
    rows = ok_rows(read_manifest(manifest_path))
    if rows.empty:
        raise ValueError(f"{manifest_path} has no prepared clip")
    order = {split: rank for rank, split in enumerate(SPLIT_ORDER)}
    rows = (
        rows.sort_values(
            "split", key=lambda split: split.map(order).fillna(len(order)), kind="mergesort"
        )
        .drop_duplicates("video_id")
        .head(count)
    )
    dataset = FaceClipDataset(
        rows,
        manifest_path.parent,
        spec.clip_len,
        build_clip_transform(spec.image_size),
        random_augment=False,
    )
    firsts = {}
    for index, window in enumerate(dataset.windows):
        firsts.setdefault(window.row, index)
    return torch.stack([dataset[index]["clip"] for index in firsts.values()])


def noise_clips(spec: DetectorSpec, count: int = PARITY_CLIPS, seed: int = 0) -> torch.Tensor:
    """Random uint8 clips (N, T, 3, H, W): the fallback when no real crops are reachable."""
    generator = torch.Generator().manual_seed(seed)
    shape = (count, spec.clip_len, 3, spec.image_size, spec.image_size)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)


def parity_clips(
    manifest_path: str | Path | None, spec: DetectorSpec, count: int = PARITY_CLIPS
) -> tuple[torch.Tensor, str, str | None]:
    """(normalized clips, what they are, a warning or None): real crops of the checkpoint's
    training data when reachable, else synthetic noise."""
    try:
        clips = manifest_clips(manifest_path or "", spec, count)
        description = f"{len(clips)} face clips of {manifest_path}"
        warning = None
    except (OSError, ValueError) as error:
        clips = noise_clips(spec, count)
        description = f"{count} clips of uniform noise"
        warning = (
            f"the training data is not reachable ({error}): the parity check runs on "
            f"random noise, not on faces"
        )
    return normalize_clips(clips, spec.mean, spec.std), description, warning


def max_differences(
    reference: Runtime,
    exported: Runtime,
    clips: torch.Tensor,
    settings: ScoringSettings | None = None,
) -> dict[str, float]:
    """The largest absolute difference of each output (clip logits, frame logits) and, with
    `settings`, of the scores `dfd predict` makes of them (`score_clips`: the test-time views
    averaged; in float32, the precision an exported file runs in)."""
    differences = _differences(("logits", "frame_logits"), reference(clips), exported(clips))
    if settings is not None:
        float32 = replace(settings, precision=None)
        expected, got = (score_clips(model, clips, float32) for model in (reference, exported))
        differences |= _differences(("scores", "frame_scores"), expected, got)
    return differences


def _differences(
    names: tuple[str, str],
    expected: tuple[torch.Tensor, torch.Tensor | None],
    got: tuple[torch.Tensor, torch.Tensor | None],
) -> dict[str, float]:
    differences = {}
    for name, want, have in zip(names, expected, got):
        if (want is None) != (have is None):
            raise ValueError(f"the exported model {'lacks' if have is None else 'adds'} {name}")
        if want is not None:
            if want.shape != have.shape:
                raise ValueError(f"{name}: shape {tuple(have.shape)}, expected {tuple(want.shape)}")
            differences[name] = float((want - have).abs().max())
    return differences


def parity_record(
    differences: dict[str, float], description: str, batch: int, tolerance: float = TOLERANCE
) -> dict[str, Any]:
    """What the sidecar keeps of a parity check."""
    return {
        "max_abs_diff": differences,
        "tolerance": tolerance,
        "batch_size": batch,
        "data": description,
        "passed": all(value <= tolerance for value in differences.values()),
    }
