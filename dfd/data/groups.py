"""Real clips each beside one fake of every manipulation method, from the same people.

LSDA learns from what the methods' forgeries share and where they differ, so every training
step needs each method's fakes of the same faces side by side: its official batches are groups
of one real video and that video's Deepfakes, Face2Face, FaceSwap and NeuralTextures versions.
A manifest does not always say which real video a fake was made from, but it does say which
split group (the same people, kept on one side of the split) a clip belongs to; a group here is
therefore a real clip and, for each fake method of `methods`, one fake clip of that method
drawn from the real clip's split group. For FaceForensics++ that is the same people; for a
release that pairs fakes with their source, the same faces.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch.utils.data import Dataset

from dfd.data.dataset import FaceClipDataset, method_class


class MethodGroups(Dataset):
    """Serves {clip: (1 + M, T, 3, H, W), label: [0, 1, ..., 1], method: [0, 1, ..., M], ...}:
    a real clip, then one clip of each of the M fake methods of `methods` (after "real"), from
    the real clip's split group; which fakes is a function of the draw's seed.

    `clips` must give the "method" target. Real clips whose group lacks a method are left out
    (`left_out` counts them); fakes of unlisted methods are not drawn.
    """

    def __init__(self, clips: FaceClipDataset, methods: list[str]) -> None:
        if "method" not in clips.targets:
            raise ValueError("method groups are made from clips that give the method target")
        self.clips = clips
        self.size = len(methods)
        rows = np.array([window.row for window in clips.windows], dtype=np.int64)
        groups = clips.rows["group"].astype(str).to_numpy()[rows]
        names = clips.rows["method"].astype(str)
        row_classes = [method_class(methods, *row) for row in zip(clips.row_labels, names)]
        classes = np.asarray(row_classes, dtype=np.int64)[rows]
        self.fakes: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, (group, method) in enumerate(zip(groups, classes)):
            if 0 < method < self.size:
                self.fakes[group, int(method)].append(index)
        complete = [
            index
            for index in np.flatnonzero(classes == 0)
            if all((groups[index], m) in self.fakes for m in range(1, self.size))
        ]
        self.reals = np.asarray(complete, dtype=np.int64)
        self.groups = groups
        self.left_out = int((classes == 0).sum()) - len(self.reals)
        if not len(self.reals):
            present = sorted(set(names[clips.row_labels == 1]))
            raise ValueError(
                f"no split group holds real clips and fakes of every method in {methods[1:]} "
                f"(the training fakes' methods: {', '.join(present) or 'none'}): set "
                "model.methods to real and those"
            )

    def __len__(self) -> int:
        return len(self.reals)

    def labels(self) -> np.ndarray:
        """The label of every group's real clip (all real), in index order."""
        return np.zeros(len(self.reals), dtype=np.int64)

    def stream_samples(self) -> np.ndarray:
        """The stream sample of every group's real clip, in index order (streams only)."""
        return self.clips.stream_samples()[self.reals]

    def members(self, index: int, seed: int) -> list[int]:
        """Clip indices of group `index`: its real clip, then one fake per method."""
        real = int(self.reals[index])
        rng = np.random.default_rng(seed)
        group = self.groups[real]
        return [real] + [int(rng.choice(self.fakes[group, m])) for m in range(1, self.size)]

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = self.clips.draw(item)
        samples = [
            self.clips[(member, seed + position)]
            for position, member in enumerate(self.members(index, seed))
        ]
        return {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
