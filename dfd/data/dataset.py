"""A dataset of T-frame face clips cut from the prepared face frames in a manifest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from dfd.data.stream_frames import StreamFrames
from dfd.data.transforms import apply_to_clip, apply_to_clip_and_mask
from dfd.datasets.manifest import cell_paths
from dfd.datasets.streams import STREAM_INDEX

INDEX_KEYS = ("video_idx", "face_idx", "clip_idx")
# batch entries a detector may ask for besides "clip" and "label" (`Detector.extra_targets`)
TARGETS = ("mask", "second_view", "method")
# the manipulation method of a fake self-blended while training: the demo's name for its
# self-blends, made by the same blending (so a prepared self-blend and an online one share it)
ONLINE_BLEND_METHOD = "sbi"

# (frames, generator) -> blended frames and their blend mask, or None to leave the clip real
OnlineFake = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray] | None]


def collate_clips(samples: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """`default_collate`, except that the index fields are the rows of one (3, B, ...) tensor.

    A batch travels from a loader's worker as one shared-memory block per tensor, and each block
    costs a socket round trip between the processes; three index tensors sharing one block took
    0.07 ms a clip off the main process (batches of 8 four-frame clips).
    """
    batch = default_collate(
        [
            {key: value for key, value in sample.items() if key not in INDEX_KEYS}
            for sample in samples
        ]
    )
    index = torch.stack([torch.stack([sample[key] for sample in samples]) for key in INDEX_KEYS])
    batch.update(zip(INDEX_KEYS, index))
    return batch


def read_rgb(path: Path) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image; OpenCV's decoder (faster than PIL's on small JPEGs)."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        raise OSError(f"cannot decode image {path}")
    return image


@dataclass(frozen=True)
class ClipWindow:
    """Frames [start, start + length) of one manifest row."""

    row: int
    start: int


def method_class(methods: Sequence[str], label: int | float, method: str) -> int:
    """A clip's manipulation-method class: 0 for a real clip (whatever its method column says),
    a fake's method's position in `methods` (matched case-insensitively; `methods[0]` is "real"),
    or `len(methods)`, the class of every other method (and of fakes without one)."""
    if label == 0:
        return 0
    names = [name.lower() for name in methods]
    return names.index(method.lower()) if method.lower() in names[1:] else len(names)


def check_methods(methods: Sequence[str]) -> None:
    """Refuse a method list the "method" target cannot index: empty, or not "real" first."""
    if not methods or str(methods[0]).lower() != "real":
        raise ValueError(
            f"the method target needs the manipulation methods, 'real' first (got {list(methods)})"
        )


def second_view_seed(seed: int) -> int:
    """The augmentation seed of a clip's second view: a function of the first view's."""
    return int(np.random.default_rng([seed, 1]).integers(2**31 - 1))


def clip_windows(num_frames: int, clip_len: int, count: int | None = None) -> list[int]:
    """Start frames of the windows of `clip_len` frames (at least one): the non-overlapping
    ones, or with `count`, that many spread evenly from the first frame to the last (they may
    overlap; fewer when the track has fewer distinct starts), as multi-view testing samples."""
    if num_frames <= clip_len:
        return [0]
    if count is not None:
        return sorted({int(s) for s in np.linspace(0, num_frames - clip_len, count).round()})
    return list(range(0, num_frames - clip_len + 1, clip_len))


class FaceClipDataset(Dataset):
    """Serves dicts {clip: (T, 3, H, W) uint8, label, video_idx, face_idx, clip_idx} from manifest rows.

    Each `ok` row (one face track of one video) is cut into non-overlapping windows of
    `clip_len` frames, or into `clips_per_track` windows spread over it (`clip_windows`); a
    row shorter than that repeats its last frame. `video_ids[video_idx]`
    names the video a clip came from, `face_idx` is its row (face track) and `clip_idx` its
    window, for face- and video-level aggregation and for tracing a score back to its frames.
    `online_fake`, for training, may turn a real clip into a fake: it gets the clip and a
    generator and returns the fake frames with their blend mask, or None to leave the clip
    real. `perturb`, for robustness tests, changes every clip's raw frames (T, H, W, 3) uint8
    before the transform. With `stream` the crops are read from a stream's samples (the rows'
    `stream_index` column) instead of the image files the rows name.

    `targets` (of `TARGETS`) adds entries for detectors that learn from more than the label:
    "mask", the blend mask (T, 1, H, W) uint8 (0..255 for 0..1) through the clip's own
    augmentation, with "mask_valid" (bool): a real clip's mask is zeros, a self-blended fake's
    is its blend mask, and a fake as prepared (a face swap, say) has no mask: zeros and
    mask_valid false, for losses to leave out; "second_view", the same frames through a second,
    independent augmentation draw (equal to "clip" when the transform draws nothing). The
    mask follows the first view only; "method", the clip's manipulation-method class (long,
    `method_class` over `methods`): 0 for a real clip, a prepared fake's class by its `method`
    column, `ONLINE_BLEND_METHOD`'s for a fake self-blended here.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        manifest_dir: Path,
        clip_len: int,
        transform: A.Compose,
        random_augment: bool,
        online_fake: OnlineFake | None = None,
        perturb: Callable[[np.ndarray], np.ndarray] | None = None,
        targets: Sequence[str] = (),
        clips_per_track: int | None = None,
        methods: Sequence[str] = (),
        stream: StreamFrames | None = None,
    ) -> None:
        unknown = set(targets) - set(TARGETS)
        if unknown:
            raise ValueError(
                f"no batch entry {', '.join(sorted(unknown))} can be made (known: "
                f"{', '.join(TARGETS)})"
            )
        self.rows = rows.reset_index(drop=True)
        self.manifest_dir = Path(manifest_dir)
        self.clip_len = clip_len
        self.transform = transform
        self.random_augment = random_augment
        self.online_fake = online_fake
        self.perturb = perturb
        self.targets = frozenset(targets)
        self.clips_per_track = clips_per_track
        self.stream = stream
        if stream is not None:
            self.row_samples = self.rows[STREAM_INDEX].to_numpy(dtype=np.int64)
            self.row_clip_ids = self.rows["clip_id"].astype(str).tolist()
        self.row_labels = self.rows["label"].to_numpy(dtype=np.int64)
        if "method" in self.targets:
            check_methods(methods)
            names = self.rows.get("method", pd.Series("", index=self.rows.index)).astype(str)
            self.row_methods = [method_class(methods, *r) for r in zip(self.row_labels, names)]
            self.online_method = method_class(methods, 1, ONLINE_BLEND_METHOD)
        self.video_ids: list[str] = sorted(self.rows["video_id"].unique())
        index = {video_id: i for i, video_id in enumerate(self.video_ids)}
        self.row_video_idx = [index[v] for v in self.rows["video_id"]]
        self.row_frames = [cell_paths(cell, self.manifest_dir) for cell in self.rows["frame_paths"]]
        self.windows = [
            ClipWindow(r, start)
            for r, paths in enumerate(self.row_frames)
            for start in clip_windows(len(paths), clip_len, clips_per_track)
        ]

    def __len__(self) -> int:
        return len(self.windows)

    def labels(self) -> np.ndarray:
        """The label (0 real, 1 fake) of every clip, in index order."""
        return self.row_labels[[w.row for w in self.windows]]

    def stream_samples(self) -> np.ndarray:
        """The stream sample of every clip, in index order (a stream's datasets only)."""
        if self.stream is None:
            raise ValueError("these clips are read from image files, not from a stream")
        return self.row_samples[[w.row for w in self.windows]]

    def clip_files(self, index: int) -> list[Path]:
        """The crop files of clip `index`, its last one repeated as the clip is (folders only)."""
        window = self.windows[index]
        paths = self.row_frames[window.row][window.start : window.start + self.clip_len]
        return paths + [paths[-1]] * (self.clip_len - len(paths))

    def _load_frames(self, window: ClipWindow) -> np.ndarray:
        if self.stream is not None:
            frames = self.stream.read(
                self.row_samples[window.row],
                self.row_clip_ids[window.row],
                window.start,
                self.clip_len,
            )
        else:
            paths = self.row_frames[window.row][window.start : window.start + self.clip_len]
            frames = np.stack([read_rgb(p) for p in paths])
        missing = self.clip_len - len(frames)  # a short track repeats its last frame
        return np.concatenate([frames, np.repeat(frames[-1:], missing, 0)]) if missing else frames

    def draw(self, item: int | tuple[int, int]) -> tuple[int, int]:
        """`(index, augmentation seed)` of a draw: as given, or a bare index with a fresh seed.

        A bare index of a training clip draws its seed from torch's RNG; evaluation clips use
        a fixed seed (their pipeline has no random steps anyway).
        """
        if isinstance(item, tuple):
            return item
        return item, int(torch.randint(0, 2**31 - 1, ())) if self.random_augment else 0

    def raw(self, index: int) -> tuple[np.ndarray, float]:
        """The (T, H, W, 3) uint8 frames of clip `index` and its label, before any change."""
        window = self.windows[index]
        frames = self._load_frames(window)
        if self.perturb is not None:
            frames = self.perturb(frames)
        return frames, float(self.row_labels[window.row])

    def sample(
        self,
        index: int,
        frames: np.ndarray,
        label: float,
        seed: int,
        mask: np.ndarray | None = None,
    ) -> dict[str, torch.Tensor]:
        """The training/evaluation sample of clip `index` made of `frames` with `label`;
        `mask` is the (H, W) blend mask of frames self-blended here (None: as prepared)."""
        row = self.windows[index].row
        sample = {
            "label": torch.tensor(label),
            "video_idx": torch.tensor(self.row_video_idx[row], dtype=torch.long),
            "face_idx": torch.tensor(row, dtype=torch.long),
            "clip_idx": torch.tensor(index, dtype=torch.long),
        }
        if "method" in self.targets:
            method = self.row_methods[row] if mask is None else self.online_method
            sample["method"] = torch.tensor(method, dtype=torch.long)
        if "mask" in self.targets:
            known = mask is not None or label == 0.0
            if mask is None:
                mask = np.zeros(frames.shape[1:3], np.float32)
            sample["clip"], sample["mask"] = apply_to_clip_and_mask(
                self.transform, frames, mask, seed
            )
            sample["mask_valid"] = torch.tensor(known)
        else:
            sample["clip"] = apply_to_clip(self.transform, frames, seed)
        if "second_view" in self.targets:
            sample["second_view"] = apply_to_clip(self.transform, frames, second_view_seed(seed))
        return sample

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """A clip by index, or by `(index, augmentation seed)` as `SeededClipSampler` draws them."""
        index, seed = self.draw(item)
        frames, label = self.raw(index)
        mask = None
        if self.online_fake is not None and label == 0.0:
            fake = self.online_fake(frames, np.random.default_rng(seed))
            if fake is not None:
                (frames, mask), label = fake, 1.0
        return self.sample(index, frames, label, seed, mask)
