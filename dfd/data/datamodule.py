"""LightningDataModule serving (B, T, C, H, W) face clips from a prepared manifest."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from dfd.config import to_plain
from dfd.data.dataset import TARGETS, FaceClipDataset, check_methods, collate_clips
from dfd.data.groups import MethodGroups
from dfd.data.pairs import SelfBlendPairs, collate_pairs
from dfd.data.resumable import ResumableLoader
from dfd.data.sampling import SeededClipSampler
from dfd.data.selfblend.online import OnlineSelfBlend
from dfd.data.stream_frames import (
    DEFAULT_CACHE_SIZE,
    StreamFrames,
    check_stream_settings,
    chunks_per_window,
)
from dfd.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_clip_transform,
    normalize_clips,
    unit_masks,
)
from dfd.data.workers import single_threaded_opencv, single_threaded_worker
from dfd.datasets.folds import CvSettings, cross_validation_split, fold_summary
from dfd.datasets.manifest import ok_rows, read_manifest
from dfd.datasets.protocols import Protocol, protocol_summary, select_rows
from dfd.datasets.splits import assert_no_group_leakage
from dfd.datasets.streams import is_remote, read_stream_chunks, read_stream_manifest
from dfd.errors import SettingError, UsageError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def check_fake_sources(
    online_self_blend: float, train_real_only: bool, pair_self_blend: bool, batch_size: int
) -> None:
    """Refuse settings that leave training without fakes or pair clips inconsistently."""
    if pair_self_blend and not train_real_only:
        raise SettingError(
            "pair_self_blend pairs real clips with their blends: set train_real_only=true"
        )
    if pair_self_blend and online_self_blend > 0:
        raise SettingError("pair_self_blend replaces online_self_blend: set online_self_blend=0")
    if pair_self_blend and (batch_size < 2 or batch_size % 2):
        raise SettingError(
            f"with pair_self_blend a batch holds real/fake pairs: batch_size must be "
            f"even (got {batch_size})"
        )
    if train_real_only and not pair_self_blend and online_self_blend <= 0:
        raise SettingError(
            "train_real_only leaves no training fakes: set pair_self_blend=true or "
            "online_self_blend > 0"
        )


class UnavailableTarget(UsageError, ValueError):
    """A detector trains on a batch entry these data settings cannot give."""


def check_targets(
    targets: Sequence[str],
    online_self_blend: float,
    pair_self_blend: bool,
    methods: Sequence[str] = (),
) -> None:
    """Refuse batch entries the training data cannot give, in one line each."""
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise UnavailableTarget(
            f"the datamodule cannot give batch entries {', '.join(sorted(unknown))} "
            f"(it gives: {', '.join(TARGETS)})"
        )
    if "mask" in targets and online_self_blend <= 0 and not pair_self_blend:
        raise UnavailableTarget(
            "the model learns from blend masks, which only self-blended fakes have here "
            "(prepared fakes carry none): set datamodule.online_self_blend > 0 or "
            "datamodule.pair_self_blend=true"
        )
    if "method" in targets:
        try:
            check_methods(methods)
        except ValueError as error:
            raise UnavailableTarget(f"{error}: set model.methods") from error


def check_method_groups(
    method_groups: bool,
    targets: Sequence[str],
    methods: Sequence[str],
    batch_size: int,
    fake_sources: tuple[float, bool, bool],
) -> None:
    """Refuse method groups the training data cannot make, in one line each."""
    if not method_groups:
        return
    if "method" not in targets or len(methods) < 2:
        raise SettingError(
            "method_groups draws one fake of each of the detector's methods: it needs the "
            "method target and model.methods ('real' and at least one fake method)"
        )
    if any(fake_sources):
        raise SettingError(
            "method_groups draws prepared fakes of each method: set online_self_blend=0, "
            "train_real_only=false and pair_self_blend=false"
        )
    if batch_size % len(methods):
        raise SettingError(
            f"with method_groups a batch holds groups of {len(methods)} clips (a real one and "
            f"one per fake method): batch_size must be a multiple of {len(methods)} "
            f"(got {batch_size})"
        )


def unlisted_methods(rows: pd.DataFrame, methods: Sequence[str]) -> dict[str, int]:
    """The fake rows' methods that `methods` does not list (their clips share the catch-all
    class, see `method_class`), with how many rows each has ("" for fakes without a method)."""
    fakes = rows[rows["label"] == 1]
    listed = {str(name).lower() for name in methods[1:]}
    unlisted = fakes["method"][~fakes["method"].str.lower().isin(listed)]
    return {str(k): int(v) for k, v in unlisted.value_counts().items()}


@rank_zero_only
def _log_rank_zero(message: str) -> None:
    log.info(message)


class FaceClipDataModule(L.LightningDataModule):
    """Face clips of `clip_len` frames (1 = frame mode) per split of a prepared manifest.

    Training clips get the `augment` pipeline with one random draw per clip; validation and
    test clips are only resized and normalized. `balanced_sampling` draws training clips with
    class-balanced weights instead of shuffling. `online_self_blend` > 0 turns that share of
    the real training clips into freshly self-blended fakes at every draw (SBI recipe;
    `crop_margin` must be the `prepare.margin` the crops were made with; `self_blend_style`
    picks the blend's parameter ranges: "demo" or the paper's "sbi"). `train_real_only`
    drops the fake training clips (validation and test keep theirs); `pair_self_blend` (which
    needs it) serves each real training clip beside its own self-blended fake, as the SBI paper
    trains: a training batch then holds `batch_size` clips, `batch_size // 2` reals each
    followed by its fake (clip 2i + 1 is the blend of clip 2i). The training order
    and every clip's augmentation are a function of `seed` and the epoch (a random seed when
    None), so a resumed run sees the same batches as an uninterrupted one.

    `cv` (the `data.cv` block, see :mod:`dfd.datasets.folds`) replaces the manifest's splits by a
    cross-validation fold when its `folds` is set; `protocol` (see :mod:`dfd.datasets.protocols`)
    then keeps, per split, the real videos and the fakes of that split's methods. Both are
    logged when the data is set up.

    `targets` names the batch entries the detector trains on besides "clip" and "label"
    (`Detector.extra_targets`; the train task passes them, see `FaceClipDataset`): "mask"
    (float in [0, 1] on the device, with "mask_valid"), "second_view" (normalized like the
    clip) and "method" (each clip's manipulation-method class over `methods`, the detector's
    list, "real" first: 0 real, i for `methods[i]`, `len(methods)` for any other method, and
    online self-blends the class of `dfd.data.dataset.ONLINE_BLEND_METHOD`). Only training
    batches carry them.

    `method_groups` (for detectors that learn across methods, `Detector.method_groups`; the train
    task passes it) serves each real training clip with one prepared fake of every fake method
    of `methods` from its split group (see `dfd.data.groups`): a training batch holds
    `batch_size // len(methods)` groups, each a real clip and then its fakes in `methods` order.

    `eval_clips_per_track` (`evaluation.views.clips`): validation and test clips are that many
    windows spread over each face track instead of its non-overlapping windows (multi-view
    testing); training keeps the non-overlapping windows.

    `stream_url` (a folder or an `s3://` prefix written by `dfd prepare prepare.output=stream`,
    see :mod:`dfd.datasets.streams`) serves the crops from LitData chunks instead of image
    files; the manifest then comes with the stream, and chunks fetched from an object store are
    kept in `stream_cache_dir`, up to `stream_cache_size`. Training draws from a stream follow
    its chunks, `stream_shuffle_window` chunks at a time (`chunks_per_window`: "auto" does so
    only when the stream does not fit in the cache).
    """

    def __init__(
        self,
        manifest_path: str,
        clip_len: int = 1,
        image_size: int = 224,
        batch_size: int = 32,
        num_workers: int = 2,
        augment: Sequence[Mapping[str, Any]] | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        balanced_sampling: bool = False,
        pin_memory: bool = False,
        online_self_blend: float = 0.0,
        crop_margin: float = 0.3,
        self_blend_style: str = "demo",
        seed: int | None = None,
        train_real_only: bool = False,
        pair_self_blend: bool = False,
        cv: Mapping[str, Any] | None = None,
        protocol: Mapping[str, Any] | None = None,
        targets: Sequence[str] = (),
        eval_clips_per_track: int | None = None,
        methods: Sequence[str] = (),
        stream_url: str | None = None,
        stream_cache_dir: str | None = None,
        stream_cache_size: str = DEFAULT_CACHE_SIZE,
        stream_shuffle_window: int | str | None = "auto",
        method_groups: bool = False,
    ) -> None:
        super().__init__()
        check_fake_sources(online_self_blend, train_real_only, pair_self_blend, batch_size)
        check_stream_settings(stream_shuffle_window, stream_cache_size)
        targets, methods = sorted(to_plain(targets)), list(to_plain(methods))
        check_targets(targets, online_self_blend, pair_self_blend, methods)
        fake_sources = (online_self_blend, train_real_only, pair_self_blend)
        check_method_groups(method_groups, targets, methods, batch_size, fake_sources)
        augment, mean, std = to_plain(augment), list(to_plain(mean)), list(to_plain(std))
        cv, protocol = to_plain(cv), to_plain(protocol)
        CvSettings.from_config(cv)  # bad settings fail here, before any training
        Protocol.from_config(protocol)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        self.save_hyperparameters()
        self.datasets: dict[str, FaceClipDataset | SelfBlendPairs | MethodGroups] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        hp = self.hparams
        path = Path(hp.manifest_path)
        manifest, stream = self._manifest_and_stream()
        rows = ok_rows(manifest)
        skipped = manifest[manifest["status"] != "ok"]
        if len(skipped):
            reasons = skipped["reason"].str.split(":").str[0].value_counts().to_dict()
            log.info(
                "manifest %s: %d clips ok, %d skipped at preparation %s",
                path,
                len(rows),
                len(skipped),
                reasons,
            )
        rows = self._select(rows)
        assert_no_group_leakage(rows)
        train_tf = build_clip_transform(hp.image_size, hp.augment)
        eval_tf = build_clip_transform(hp.image_size, None)
        online = (
            OnlineSelfBlend(hp.online_self_blend, hp.crop_margin, style=hp.self_blend_style)
            if hp.online_self_blend > 0
            else None
        )
        for split in SPLITS:
            split_rows = rows[rows["split"] == split]
            training = split == "train"
            if training and hp.train_real_only:
                split_rows = split_rows[split_rows["label"] == 0]
            if split_rows.empty:
                continue
            self.datasets[split] = FaceClipDataset(
                split_rows,
                path.parent,
                hp.clip_len,
                train_tf if training else eval_tf,
                random_augment=training,
                online_fake=online if training else None,
                targets=hp.targets if training else (),
                clips_per_track=None if training else hp.get("eval_clips_per_track"),
                methods=hp.methods,
                stream=stream,
            )
            unlisted = (
                training and "method" in hp.targets and unlisted_methods(split_rows, hp.methods)
            )
            if unlisted:
                log.warning(
                    "training fakes of methods the model does not list share its last method "
                    "class (rows per method: %s); list them in model.methods to tell them "
                    "apart",
                    unlisted,
                )
        if hp.pair_self_blend and "train" in self.datasets:
            self.datasets["train"] = SelfBlendPairs(
                self.datasets["train"],
                OnlineSelfBlend(1.0, hp.crop_margin, style=hp.self_blend_style),
            )
        if hp.get("method_groups") and "train" in self.datasets:
            groups = MethodGroups(self.datasets["train"], hp.methods)
            _log_rank_zero(
                f"training in method groups of {groups.size} clips (a real clip and one fake "
                f"of each of {', '.join(hp.methods[1:])} from its split group): {len(groups)} "
                f"groups; {groups.left_out} real clips left out, their groups lacking a method"
            )
            self.datasets["train"] = groups

    def _manifest_and_stream(self) -> tuple[pd.DataFrame, StreamFrames | None]:
        """The manifest, with the stream that serves its crops when one is configured."""
        hp = self.hparams
        stream_url = hp.get("stream_url")
        if stream_url:
            cache = self._stream_cache_dir()
            frames = StreamFrames(
                stream_url, cache, hp.get("stream_cache_size", DEFAULT_CACHE_SIZE)
            )
            return read_stream_manifest(stream_url, cache), frames
        path = Path(hp.manifest_path)
        if not path.exists():
            raise FileNotFoundError(
                f"no manifest at {path}: prepare the dataset first "
                "(`python -m dfd.prepare data=<name>`; for the demo: `make demo-data`)"
            )
        return read_manifest(path), None

    def _stream_cache_dir(self) -> str:
        hp = self.hparams
        return hp.get("stream_cache_dir") or str(Path(hp.manifest_path).parent / "stream_cache")

    def _chunk_order(
        self, dataset: FaceClipDataset | SelfBlendPairs | MethodGroups
    ) -> dict[str, Any]:
        """The training sampler's chunk settings: empty unless the draws follow a stream's
        chunks (see `chunks_per_window`)."""
        hp = self.hparams
        if not hp.get("stream_url"):
            return {}
        chunks = read_stream_chunks(hp.stream_url, self._stream_cache_dir())
        window = chunks_per_window(
            hp.get("stream_shuffle_window", "auto"),
            chunks,
            hp.get("stream_cache_size", DEFAULT_CACHE_SIZE),
            is_remote(hp.stream_url),
        )
        if window is None:
            return {}
        _log_rank_zero(
            f"stream {hp.stream_url}: {len(chunks.samples)} chunks, "
            f"{chunks.bytes.sum() / 1e9:.2f} GB; training draws follow its chunks, {window} "
            f"at a time (datamodule.stream_shuffle_window)"
        )
        return {"chunks": chunks.chunk_of(dataset.stream_samples()), "chunks_per_window": window}

    def _select(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows of the cross-validation fold and the protocol, each logged."""
        cv = CvSettings.from_config(self.hparams.cv)
        if cv.enabled:
            rows = cross_validation_split(rows, cv)
            _log_rank_zero(fold_summary(rows, cv))
        protocol = Protocol.from_config(self.hparams.protocol)
        if protocol is not None:
            rows = select_rows(rows, protocol)
            _log_rank_zero(protocol_summary(rows, protocol))
        return rows

    def dataset(self, split: str) -> FaceClipDataset | SelfBlendPairs | MethodGroups:
        """The dataset of one split; a clear error when the manifest has no such rows."""
        self.setup()
        if split not in self.datasets:
            raise ValueError(f"manifest {self.hparams.manifest_path} has no usable '{split}' clips")
        return self.datasets[split]

    def class_counts(self, split: str = "train") -> tuple[float, float]:
        """(real clips, fake clips) expected per pass over a split, online fakes included."""
        labels = self.dataset(split).labels()
        real, fake = float((labels == 0).sum()), float((labels == 1).sum())
        if split == "train" and self.hparams.pair_self_blend:
            return real, real
        if split == "train" and self.hparams.get("method_groups"):
            return real, real * (len(self.hparams.methods) - 1)
        if split == "train":
            turned = real * self.hparams.online_self_blend
            real, fake = real - turned, fake + turned
        return real, fake

    def _loader(self, split: str, train: bool) -> DataLoader:
        dataset = self.dataset(split)
        if self.hparams.num_workers > 0:
            single_threaded_opencv()  # before the workers fork (see dfd.data.workers)
        group = 2 if isinstance(dataset, SelfBlendPairs) else 1
        group = dataset.size if isinstance(dataset, MethodGroups) else group
        sampler = None
        if train:
            weights = None
            if self.hparams.balanced_sampling:
                labels = dataset.labels()
                weights = 1.0 / np.bincount(labels, minlength=2)[labels]
            sampler = SeededClipSampler(
                len(dataset), self.hparams.seed, weights, **self._chunk_order(dataset)
            )
            # Lightning starts the loader's workers before its first set_epoch call: a run
            # resumed at epoch k must begin prefetching epoch k's draws, not epoch 0's
            # (the epoch number Lightning gives set_epoch: epochs processed so far)
            if self.trainer is not None:
                sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
        resumable = {"clip_sampler": sampler, "progress": self._train_progress} if train else {}
        return (ResumableLoader if train else DataLoader)(
            dataset,
            batch_size=self.hparams.batch_size // group,
            sampler=sampler,
            collate_fn=collate_pairs if group > 1 else collate_clips,
            # workers' base seeds come from here, not from the global generator that
            # dropout and MixUp draw from (so loaders never shift the model's randomness)
            generator=torch.Generator().manual_seed(self.hparams.seed),
            drop_last=train,
            num_workers=self.hparams.num_workers,
            worker_init_fn=single_threaded_worker,
            persistent_workers=self.hparams.num_workers > 0,
            pin_memory=self.hparams.pin_memory,
            **resumable,
        )

    def _train_progress(self) -> tuple[int, int, int]:
        """(epoch, batches of it trained, world size): what a checkpoint saved now has done."""
        trainer = self.trainer
        if trainer is None:
            return 0, 0, 1
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return trainer.current_epoch, batches, trainer.world_size

    def normalize(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 clips from the loaders -> the model's float input (this data's mean and std)."""
        return normalize_clips(clips, self.hparams.mean, self.hparams.std)

    def on_after_batch_transfer(
        self, batch: dict[str, torch.Tensor], dataloader_idx: int
    ) -> dict[str, torch.Tensor]:
        """Normalize on the device: workers ship uint8 clips (and masks), a quarter of the bytes."""
        batch = {**batch, "clip": self.normalize(batch["clip"])}
        if "second_view" in batch:
            batch["second_view"] = self.normalize(batch["second_view"])
        if "mask" in batch:
            batch["mask"] = unit_masks(batch["mask"])
        return batch

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
