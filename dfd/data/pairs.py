"""Real clips paired with their own self-blended fakes, as the Self-Blended Images paper trains.

Each draw gives a real clip and a fake made from that very clip, so a batch holds every real
beside its fake: the only difference the detector can use is the blending. Both get the same
augmentation draw, and the blend's randomness comes from the draw's seed too, so a pair is a
function of `(index, seed)` as `SeededClipSampler` hands them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from dfd.data.dataset import FaceClipDataset, collate_clips
from dfd.data.selfblend.online import OnlineSelfBlend


class SelfBlendPairs(Dataset):
    """Serves {clip: (2, T, 3, H, W), label: [0, 1], video_idx: (2,)}: a real clip, then its fake
    (and the entries of `clips.targets`: the fake's blend mask, the real's zeros).

    `clips` must hold real clips only; `blend` must always blend (`prob` 1).
    """

    def __init__(self, clips: FaceClipDataset, blend: OnlineSelfBlend) -> None:
        if (clips.labels() != 0).any():
            raise ValueError("self-blend pairs are made from real clips only")
        if blend.prob < 1:
            raise ValueError(f"a paired self-blend must always blend (prob 1, got {blend.prob})")
        self.clips = clips
        self.blend = blend

    def __len__(self) -> int:
        return len(self.clips)

    def labels(self) -> np.ndarray:
        """The label of every source clip (all real), in index order."""
        return self.clips.labels()

    def stream_samples(self) -> np.ndarray:
        """The stream sample of every source clip, in index order (streams only)."""
        return self.clips.stream_samples()

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = self.clips.draw(item)
        frames, _ = self.clips.raw(index)
        fake, mask = self.blend(frames, np.random.default_rng(seed))
        real = self.clips.sample(index, frames, 0.0, seed)
        fake = self.clips.sample(index, fake, 1.0, seed, mask)
        return {key: torch.stack([real[key], fake[key]]) for key in real}


def collate_pairs(pairs: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch pairs (or any groups of G clips) as plain clips: (B, G, ...) -> (G B, ...), group i
    at rows G i to G i + G - 1, in its order (a pair: the real at 2i, its fake at 2i + 1)."""
    return {key: value.flatten(0, 1) for key, value in collate_clips(pairs).items()}
