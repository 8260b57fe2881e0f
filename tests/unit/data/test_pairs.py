"""SBI as the paper trains: real training clips only, each beside its own self-blended fake."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.pairs import SelfBlendPairs
from helpers.target_batches import FLIP_AND_COLOUR

SIZE = 64  # the crops' own size: no resampling spreads the blend
# the face box of a 64 px crop with margin 0.3 is 12..52; the blend mask may reach 6 px beyond
# it on the sides and top, and down over the chin to the crop's bottom
FACE_ROWS, FACE_COLS = slice(6, SIZE), slice(6, SIZE - 6)


def paired(manifest: Path, **kwargs) -> FaceClipDataModule:
    settings = (
        dict(
            clip_len=1,
            image_size=SIZE,
            batch_size=8,
            num_workers=0,
            seed=1,
            train_real_only=True,
            pair_self_blend=True,
            online_self_blend=0.0,
        )
        | kwargs
    )
    dm = FaceClipDataModule(str(manifest), **settings)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("augment", [None, FLIP_AND_COLOUR])
def test_batches_hold_each_real_beside_its_own_fake(tiny_prepared: Path, augment) -> None:
    dm = paired(tiny_prepared, augment=augment, clip_len=2)
    batches = list(dm.train_dataloader())
    assert len(batches) == len(dm.dataset("train")) // 4
    for batch in batches:
        clips, labels = batch["clip"], batch["label"]
        assert clips.shape == (8, 2, 3, SIZE, SIZE)
        assert labels.tolist() == [0.0, 1.0] * 4
        assert torch.equal(batch["video_idx"][0::2], batch["video_idx"][1::2])
        for real, fake in zip(clips[0::2], clips[1::2]):
            changed = (fake - real).abs().amax(dim=1) > 1e-6  # (T, H, W)
            outside = changed.clone()
            outside[:, FACE_ROWS, FACE_COLS] = False
            assert not outside.any(), "the fake differs from its real off the face"
            assert changed.float().mean() > 0.05, "the fake is not blended"


def test_paper_style_pairs_are_blended(tiny_prepared: Path) -> None:
    """With the SBI paper's ranges a pair still differs, now sometimes around the face too."""
    dm = paired(tiny_prepared, self_blend_style="sbi")
    for batch in dm.train_dataloader():
        clips = batch["clip"].float()
        assert ((clips[1::2] - clips[0::2]).abs() > 0).float().mean() > 0.05


def test_pairs_are_a_function_of_index_and_seed(tiny_prepared: Path) -> None:
    pairs = paired(tiny_prepared, augment=FLIP_AND_COLOUR).dataset("train")
    assert isinstance(pairs, SelfBlendPairs)
    first = pairs[(0, 11)]
    assert all(torch.equal(first[k], pairs[(0, 11)][k]) for k in first)
    plain = paired(tiny_prepared).dataset("train")
    one, other = plain[(0, 11)]["clip"], plain[(0, 12)]["clip"]
    assert torch.equal(one[0], other[0]) and not torch.equal(one[1], other[1]), (
        "the blend ignored the seed"
    )
    torch.manual_seed(0)
    loader = paired(tiny_prepared, augment=FLIP_AND_COLOUR, seed=5).train_dataloader()
    again = paired(tiny_prepared, augment=FLIP_AND_COLOUR, seed=5).train_dataloader()
    torch.manual_seed(1)  # the global generator must not matter
    for a, b in zip(loader, again, strict=True):
        assert torch.equal(a["clip"], b["clip"])


def test_only_real_training_clips_and_fakes_kept_elsewhere(tiny_prepared: Path) -> None:
    dm = paired(tiny_prepared)
    assert set(dm.dataset("train").labels().tolist()) == {0}
    for split in ("val", "test"):
        assert set(dm.dataset(split).labels().tolist()) == {0, 1}
    reals = float(len(dm.dataset("train")))
    assert dm.class_counts("train") == (reals, reals)

    online = paired(tiny_prepared, pair_self_blend=False, online_self_blend=0.5)
    assert set(online.dataset("train").labels().tolist()) == {0}
    assert online.class_counts("train") == (reals / 2, reals / 2)
    everything = paired(tiny_prepared, pair_self_blend=False, train_real_only=False)
    assert set(everything.dataset("train").labels().tolist()) == {0, 1}


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(train_real_only=False), "set train_real_only=true"),
        (dict(online_self_blend=0.5), "replaces online_self_blend"),
        (dict(batch_size=5), "batch_size must be even"),
        (dict(pair_self_blend=False), "leaves no training fakes"),
    ],
)
def test_inconsistent_settings_are_refused(tiny_prepared: Path, settings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired(tiny_prepared, **settings)
