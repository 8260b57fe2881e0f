"""The datamodule serves (B, T, C, H, W) clips with one augmentation draw per clip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import INDEX_KEYS, read_rgb
from dfd.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    apply_to_clip,
    build_clip_transform,
    normalize_clips,
)
from dfd.datasets.manifest import read_manifest, write_manifest
from dfd.datasets.splits import SplitLeakageError

STRONG_COLOUR = [
    {
        "_target_": "albumentations.ColorJitter",
        "brightness": 0.5,
        "contrast": 0.5,
        "saturation": 0.5,
        "hue": 0.1,
        "p": 1.0,
    },
    {"_target_": "albumentations.HorizontalFlip", "p": 0.5},
]


def datamodule(manifest: Path, **kwargs) -> FaceClipDataModule:
    settings = dict(clip_len=2, image_size=48, batch_size=4, num_workers=0) | kwargs
    dm = FaceClipDataModule(str(manifest), **settings)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("clip_len", [1, 2, 4])
def test_batches_are_clips_of_t_frames(tiny_prepared: Path, clip_len: int) -> None:
    dm = datamodule(tiny_prepared, clip_len=clip_len)
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert batch["clip"].shape[1:] == (clip_len, 3, 48, 48)
        assert batch["clip"].dtype == torch.uint8  # workers ship bytes; floats made on the device
        for key in ("label", "video_idx", "face_idx", "clip_idx"):
            assert batch[key].shape == (len(batch["clip"]),)
        assert set(batch["label"].tolist()) <= {0.0, 1.0}
        model_input = dm.on_after_batch_transfer(batch, 0)["clip"]
        assert model_input.dtype == torch.float32
        assert torch.allclose(model_input, normalize_reference(batch["clip"]), atol=1e-5)


def test_batches_from_workers_equal_default_collate_with_one_block_of_indices(
    tiny_prepared: Path,
) -> None:
    """The loaders' collate gives default_collate's values; the index fields share one block."""
    dm = datamodule(tiny_prepared, num_workers=2)
    dataset = dm.dataset("test")
    for batch in dm.test_dataloader():
        expected = default_collate([dataset[int(i)] for i in batch["clip_idx"]])
        assert batch.keys() == expected.keys()
        for key, value in expected.items():
            assert batch[key].dtype == value.dtype and torch.equal(batch[key], value), key
        blocks = {batch[key].untyped_storage().data_ptr() for key in INDEX_KEYS}
        assert len(blocks) == 1


def normalize_reference(clips: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).reshape(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(3, 1, 1)
    return (clips.float() / 255 - mean) / std


def test_normalize_refuses_float_clips() -> None:
    with pytest.raises(TypeError, match="uint8"):
        normalize_clips(torch.zeros(1, 1, 3, 4, 4))


def test_clip_indices_trace_scores_back_to_frames(tiny_prepared: Path) -> None:
    dataset = datamodule(tiny_prepared, clip_len=2).dataset("test")
    for index in range(len(dataset)):
        sample = dataset[index]
        window = dataset.windows[int(sample["clip_idx"])]
        assert int(sample["clip_idx"]) == index and int(sample["face_idx"]) == window.row
        assert dataset.video_ids[int(sample["video_idx"])] == dataset.rows["video_id"][window.row]


def test_clips_cover_every_frame_once_in_evaluation(tiny_prepared: Path) -> None:
    manifest = read_manifest(tiny_prepared)
    dm = datamodule(tiny_prepared, clip_len=2)
    test_rows = manifest[(manifest["status"] == "ok") & (manifest["split"] == "test")]
    assert len(dm.dataset("test")) == int((test_rows["num_frames"] // 2).sum())
    assert sorted(dm.dataset("test").video_ids) == sorted(test_rows["video_id"])


def test_one_augmentation_draw_per_clip(tiny_prepared: Path, tmp_path: Path) -> None:
    """A clip made of one repeated crop stays identical frame to frame after augmentation."""
    manifest = read_manifest(tiny_prepared)
    first = manifest[manifest["status"] == "ok"].iloc[0]
    crop = (tiny_prepared.parent / first["frame_paths"].split(";")[0]).resolve()
    repeated = manifest.copy()
    repeated["frame_paths"] = repeated["frame_paths"].where(
        repeated["status"] != "ok", ";".join([str(crop)] * 4)
    )
    write_manifest(repeated, tmp_path / "manifest.csv")
    dataset = datamodule(tmp_path / "manifest.csv", clip_len=4, augment=STRONG_COLOUR).dataset(
        "train"
    )
    clips = [dataset[0]["clip"] for _ in range(4)]
    for clip in clips:
        assert all(torch.equal(clip[0], frame) for frame in clip[1:])
    assert any(not torch.equal(clips[0], other) for other in clips[1:]), "augmentation never varied"


def test_clip_files_are_the_frames_a_clip_reads(tiny_prepared: Path) -> None:
    dataset = datamodule(tiny_prepared, clip_len=6).dataset("train")  # tracks of 4 frames
    files = dataset.clip_files(0)
    assert len(files) == 6 and files[3:] == [files[3]] * 3, "the last frame repeated"
    read = np.stack([read_rgb(path) for path in files])
    assert np.array_equal(read, dataset.raw(0)[0])


def test_same_seed_same_augmentation(tiny_prepared: Path) -> None:
    dataset = datamodule(tiny_prepared, augment=STRONG_COLOUR).dataset("train")
    frames = dataset._load_frames(dataset.windows[0])
    transform = build_clip_transform(48, STRONG_COLOUR)
    assert torch.equal(apply_to_clip(transform, frames, 7), apply_to_clip(transform, frames, 7))
    assert not torch.equal(apply_to_clip(transform, frames, 7), apply_to_clip(transform, frames, 8))


def test_class_balanced_sampling(tiny_prepared: Path) -> None:
    dm = datamodule(tiny_prepared, clip_len=1, balanced_sampling=True, batch_size=8, seed=3)
    sampler = dm.train_dataloader().sampler
    real, fake = dm.class_counts("train")
    assert fake > real  # the demo has two fakes per real clip
    drawn = []
    for epoch in range(50):
        sampler.set_epoch(epoch)
        drawn += [index for index, _ in sampler]
    labels = torch.as_tensor(dm.dataset("train").labels())[drawn]
    assert 0.4 < labels.float().mean() < 0.6


def test_training_draws_are_a_function_of_seed_and_epoch(tiny_prepared: Path) -> None:
    """What a resumed run relies on: the same (seed, epoch) gives the same batches."""

    def epoch_batches(seed: int, epoch: int) -> list[torch.Tensor]:
        loader = datamodule(tiny_prepared, augment=STRONG_COLOUR, seed=seed).train_dataloader()
        loader.sampler.set_epoch(epoch)
        torch.manual_seed(epoch)  # the global generator must not matter
        return [batch["clip"] for batch in loader]

    first = epoch_batches(seed=5, epoch=1)
    assert all(torch.equal(a, b) for a, b in zip(first, epoch_batches(seed=5, epoch=1)))
    assert not torch.equal(first[0], epoch_batches(seed=5, epoch=2)[0])
    assert not torch.equal(first[0], epoch_batches(seed=6, epoch=1)[0])
    sampler = datamodule(tiny_prepared, seed=5).train_dataloader().sampler
    assert sorted(index for index, _ in sampler) == list(range(len(sampler))), "each clip once"


def test_leaking_manifest_is_refused(tiny_prepared: Path, tmp_path: Path) -> None:
    manifest = read_manifest(tiny_prepared)
    ok = manifest[manifest["status"] == "ok"]
    group = ok[ok["split"] == "test"]["group"].iloc[0]
    leaking = manifest.copy()
    row = leaking.index[(leaking["group"] == group) & (leaking["status"] == "ok")][0]
    leaking.loc[row, "split"] = "train"
    write_manifest(leaking, tmp_path / "manifest.csv")
    with pytest.raises(SplitLeakageError, match=group):
        datamodule(tmp_path / "manifest.csv")


def test_missing_manifest_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dfd.prepare"):
        datamodule(tmp_path / "nothing" / "manifest.csv")


def test_skipped_rows_are_not_served(tiny_prepared: Path) -> None:
    manifest = read_manifest(tiny_prepared)
    skipped = manifest[manifest["status"] != "ok"]
    assert not skipped.empty and set(skipped["reason"].str.split(":").str[0]) == {"no_face"}
    dm = datamodule(tiny_prepared)
    served = set().union(*(set(dm.dataset(s).video_ids) for s in ("train", "val", "test")))
    assert served.isdisjoint(set(skipped["video_id"]))


def test_online_self_blend_turns_real_clips_into_fresh_fakes(tiny_prepared: Path) -> None:
    plain = datamodule(tiny_prepared, clip_len=2, image_size=64).dataset("train")
    blended = datamodule(tiny_prepared, clip_len=2, image_size=64, online_self_blend=1.0).dataset(
        "train"
    )
    real_index = int((plain.labels() == 0).nonzero()[0][0])
    draws = []
    for _ in range(2):
        torch.manual_seed(3)
        original = plain[real_index]
        torch.manual_seed(3)  # the same clip seed: same augmentation, plus the blend
        fake = blended[real_index]
        assert original["label"] == 0 and fake["label"] == 1
        difference = (fake["clip"].float() - original["clip"].float()).abs() / 255
        assert difference[..., 24:40, 24:40].mean() > 0.01, "the face centre was not blended"
        assert difference[..., :6, :6].max() < 1e-6, "pixels far off the face changed"
        draws.append(fake["clip"])
    assert torch.equal(draws[0], draws[1]), "one seed per clip makes the blend reproducible"
    real, fake = datamodule(tiny_prepared, online_self_blend=0.5).class_counts("train")
    static_real, static_fake = datamodule(tiny_prepared).class_counts("train")
    assert real == pytest.approx(static_real / 2) and fake == pytest.approx(
        static_fake + static_real / 2
    )


OPENCV_POOL_THEN_WORKERS = """
import sys
import cv2
import numpy as np
import torch
from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.scoring import score_dataset
from dfd.models import FrameDetector
from dfd.models.backbones import FrameEncoder

image = np.zeros((2000, 2000, 3), np.uint8)
for _ in range(3):
    cv2.GaussianBlur(image, (0, 0), 3)  # OpenCV's thread pool now runs in this process
dm = FaceClipDataModule(sys.argv[1], clip_len=2, image_size=48, batch_size=4, num_workers=2)
dm.setup("fit")
print("train", sum(len(batch["clip"]) for batch in dm.train_dataloader()), flush=True)
cv2.GaussianBlur(image, (0, 0), 3)
detector = FrameDetector(FrameEncoder(torch.nn.Flatten(1), 3 * 48 * 48))
scored = score_dataset(detector, dm.dataset("test"), dm.normalize, num_workers=2)
print("scored", len(scored.scores), flush=True)
"""


def test_workers_start_after_opencv_ran_threads_in_the_main_process(tiny_prepared: Path) -> None:
    """A worker forked while OpenCV's thread pool runs hung at its first OpenCV call (seen in
    CI): the loaders stop the pool before their workers fork."""
    done = subprocess.run(
        [sys.executable, "-c", OPENCV_POOL_THEN_WORKERS, str(tiny_prepared)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train " in done.stdout and "scored " in done.stdout
