"""A training DataLoader that Lightning can resume mid-epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader

from dfd.data.sampling import SeededClipSampler

# (epoch, batches of it trained, world size) as the trainer counts them
Progress = Callable[[], tuple[int, int, int]]


class ResumableLoader(DataLoader):
    """A DataLoader with Lightning's `state_dict`/`load_state_dict` (`_Stateful`) protocol.

    Lightning stores a stateful training loader's state in every checkpoint and hands it back
    when a run resumes. The state is the trainer's own count of the batches trained in the
    current epoch (not the loader's count of batches handed out, which runs ahead by what
    Lightning prefetches); on resume the clip sampler starts that epoch after those batches'
    draws, so the run continues without repeating or skipping a clip."""

    def __init__(
        self, *args: Any, clip_sampler: SeededClipSampler, progress: Progress, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clip_sampler = clip_sampler
        self.progress = progress

    def state_dict(self) -> dict[str, int]:
        epoch, batches, world_size = self.progress()
        return {
            "epoch": epoch,
            "batches": batches,
            "batch_size": int(self.batch_size or 1),
            "world_size": world_size,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        draws = state["batches"] * state["batch_size"] * state["world_size"]
        self.clip_sampler.resume_at(state["epoch"], draws)
