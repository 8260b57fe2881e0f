"""Training order and augmentation seeds as a pure function of (seed, epoch).

A resumed run must draw the same clips with the same augmentations as an uninterrupted one.
Stateful random generators (the global one, those of DataLoader workers) cannot promise that
after a restart, so the sampler hands every draw its own augmentation seed along with the
clip index: the dataset then needs no random state of its own.

A stream larger than the node's chunk cache cannot be read in a full shuffle: nearly every
draw would fetch a chunk evicted since it was last read. Given each clip's chunk, the sampler
then follows the chunks (as LitData's own shuffle does): the chunks in a random order, cut into
windows of a few chunks, and the draws of a window shuffled among themselves, so each chunk is
fetched once an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

SEED_LIMIT = 2**31 - 1


class SeededClipSampler(Sampler[tuple[int, int]]):
    """Yields `(clip index, augmentation seed)` for one epoch, reproducible from (seed, epoch).

    Without `weights` every clip comes once in a shuffled order; with `weights` (class
    balancing) `num_clips` draws are made with replacement. With `chunks` (each clip's chunk
    of a stream) the draws follow the chunks, `chunks_per_window` at a time (`follow_chunks`).
    Lightning calls `set_epoch` before each epoch, also through its distributed wrapper under
    DDP, which deals the order out to the ranks in turn: every rank reads the same window.
    """

    def __init__(
        self,
        num_clips: int,
        seed: int,
        weights: Sequence[float] | None = None,
        chunks: Sequence[int] | None = None,
        chunks_per_window: int = 1,
    ) -> None:
        if chunks is not None and len(chunks) != num_clips:
            raise ValueError(f"{len(chunks)} chunk numbers for {num_clips} clips")
        if chunks_per_window < 1:
            raise ValueError(f"chunks_per_window must be at least 1, got {chunks_per_window}")
        self.num_clips = num_clips
        self.seed = seed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.chunks = None if chunks is None else torch.as_tensor(chunks, dtype=torch.long)
        self.chunks_per_window = chunks_per_window
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
        if self.chunks is not None and self.num_clips:
            order = follow_chunks(order, self.chunks, self.chunks_per_window, generator)
        if self.resume is not None and self.resume[0] == self.epoch and self.num_clips:
            skip = self.resume[1] % self.num_clips
            order, seeds = order.roll(-skip), seeds.roll(-skip)
            self.resume = None
        return zip(order.tolist(), seeds.tolist())


def follow_chunks(
    order: torch.Tensor, chunks: torch.Tensor, chunks_per_window: int, generator: torch.Generator
) -> torch.Tensor:
    """`order` (clip indices, already shuffled) regrouped by chunk: the chunks drawn in a random
    order and cut into windows of `chunks_per_window`, the clips of each window in the order
    they had, so every chunk's draws fall within one window."""
    count = int(chunks.max()) + 1
    position = torch.empty(count, dtype=torch.long)
    position[torch.randperm(count, generator=generator)] = torch.arange(count)
    window = position[chunks[order]] // chunks_per_window
    return order[torch.sort(window, stable=True).indices]
