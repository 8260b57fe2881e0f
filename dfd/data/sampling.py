"""Training order and augmentation seeds as a pure function of (seed, epoch).

A resumed run must draw the same clips with the same augmentations as an uninterrupted one.
Stateful random generators (the global one, those of DataLoader workers) cannot promise that
after a restart, so the sampler hands every draw its own augmentation seed along with the
clip index: the dataset then needs no random state of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

SEED_LIMIT = 2**31 - 1


class SeededClipSampler(Sampler[tuple[int, int]]):
    """Yields `(clip index, augmentation seed)` for one epoch, reproducible from (seed, epoch).

    Without `weights` every clip comes once in a shuffled order; with `weights` (class
    balancing) `num_clips` draws are made with replacement. Lightning calls `set_epoch`
    before each epoch, also through its distributed wrapper under DDP.
    """

    def __init__(self, num_clips: int, seed: int, weights: Sequence[float] | None = None) -> None:
        self.num_clips = num_clips
        self.seed = seed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.epoch = 0
        self.resume: tuple[int, int] | None = None

    def resume_at(self, epoch: int, draws: int) -> None:
        """Make epoch `epoch` start after its first `draws` draws (a run resumed mid-epoch).

        The epoch keeps its length: the draws already trained on move to its end, where the
        loop, which knows how many batches are left, never reaches them. Under DDP the ranks'
        shares are cut from this order, so every rank resumes where it stopped."""
        self.resume = (epoch, draws)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_clips

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        if self.weights is None:
            order = torch.randperm(self.num_clips, generator=generator)
        else:
            order = torch.multinomial(
                self.weights, self.num_clips, replacement=True, generator=generator
            )
        seeds = torch.randint(0, SEED_LIMIT, (self.num_clips,), generator=generator)
        if self.resume is not None and self.resume[0] == self.epoch and self.num_clips:
            skip = self.resume[1] % self.num_clips
            order, seeds = order.roll(-skip), seeds.roll(-skip)
            self.resume = None
        return zip(order.tolist(), seeds.tolist())
