"""Extra batch entries a detector asks for (`Detector.extra_targets`): blend masks aligned with
the blend and moved with the clip, a second augmented view of the same clip, and each clip's
manipulation-method class."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.data.datamodule import FaceClipDataModule, unlisted_methods
from helpers.target_batches import FLIP_AND_COLOUR

SIZE = 64  # the crops' own size: no resampling spreads the blend
FLIP = [{"_target_": "dfd.data.framewise.HorizontalFlip", "p": 1.0}]


def datamodule(manifest: Path, targets: list[str], **kwargs) -> FaceClipDataModule:
    settings = dict(clip_len=2, image_size=SIZE, batch_size=8, num_workers=0, seed=1) | kwargs
    dm = FaceClipDataModule(str(manifest), targets=targets, **settings)
    dm.setup("fit")
    return dm


def paired(manifest: Path, targets: list[str], **kwargs) -> FaceClipDataModule:
    return datamodule(
        manifest,
        targets,
        train_real_only=True,
        pair_self_blend=True,
        online_self_blend=0.0,
        **kwargs,
    )


def device_batches(dm: FaceClipDataModule) -> list[dict[str, torch.Tensor]]:
    return [dm.on_after_batch_transfer(batch, 0) for batch in dm.train_dataloader()]


@pytest.mark.parametrize("augment", [None, FLIP_AND_COLOUR])
def test_a_fake_s_mask_covers_where_its_real_changed_and_a_real_s_is_zero(
    tiny_prepared: Path, augment
) -> None:
    dm = paired(tiny_prepared, ["mask"], augment=augment)
    for raw, batch in zip(dm.train_dataloader(), device_batches(dm)):
        mask, clips = batch["mask"], raw["clip"].float()
        assert mask.shape == (8, 2, 1, SIZE, SIZE) and mask.dtype == torch.float32
        assert batch["mask_valid"].all()
        assert not mask[0::2].any(), "a real clip's mask is not zero"
        changed = (clips[1::2] - clips[0::2]).abs().amax(dim=2, keepdim=True) > 0
        fake_masks = mask[1::2]
        assert not (changed & (fake_masks == 0)).any(), "pixels changed off the mask"
        # where the mask is strong, the blend shows
        assert changed[fake_masks > 0.5].float().mean() > 0.8
        assert (fake_masks > 0.5).float().mean() > 0.1, "the blend mask is nearly empty"


def test_the_mask_is_flipped_with_its_clip(tiny_prepared: Path) -> None:
    plain = paired(tiny_prepared, ["mask"]).dataset("train")
    flipped = paired(tiny_prepared, ["mask"], augment=FLIP).dataset("train")
    for index in range(len(plain)):
        a, b = plain[(index, 7)], flipped[(index, 7)]
        assert a["mask"][1].any()
        assert torch.equal(b["clip"], a["clip"].flip(-1))
        assert torch.equal(b["mask"], a["mask"].flip(-1))
        assert not torch.equal(b["mask"], a["mask"]), "a flip this test cannot see"


def test_online_blends_have_masks_and_prepared_fakes_are_marked_without(
    tiny_prepared: Path,
) -> None:
    dm = datamodule(tiny_prepared, ["mask"], online_self_blend=0.5)
    data = dm.dataset("train")
    prepared_fake = torch.from_numpy(data.labels() == 1)
    seen = {"online fake": 0, "prepared fake": 0, "real": 0}
    for index in range(len(data)):
        for seed in range(4):
            sample = data[(index, seed)]
            if prepared_fake[index]:
                kind = "prepared fake"
                assert not sample["mask_valid"] and not sample["mask"].any()
            elif sample["label"] == 1:
                kind = "online fake"
                assert sample["mask_valid"] and sample["mask"].float().mean() > 0.05 * 255
            else:
                kind = "real"
                assert sample["mask_valid"] and not sample["mask"].any()
            seen[kind] += 1
    assert all(seen.values()), seen


def test_a_second_view_is_drawn_anew_and_equals_the_first_without_augmentation(
    tiny_prepared: Path,
) -> None:
    augmented = device_batches(datamodule(tiny_prepared, ["second_view"], augment=FLIP_AND_COLOUR))
    plain = device_batches(datamodule(tiny_prepared, ["second_view"], augment=None))
    for batch in plain:
        assert batch["second_view"].dtype == torch.float32
        assert torch.equal(batch["second_view"], batch["clip"])
    for batch in augmented:
        assert batch["second_view"].shape == batch["clip"].shape
        # every clip's views differ (ColorJitter draws anew each time)
        differ = (batch["second_view"] - batch["clip"]).flatten(1).abs().amax(1) > 0
        assert differ.all()


def test_only_training_batches_carry_the_targets(tiny_prepared: Path) -> None:
    dm = datamodule(tiny_prepared, ["mask", "second_view"], online_self_blend=0.5)
    train = next(iter(dm.train_dataloader()))
    assert {"mask", "mask_valid", "second_view"} <= train.keys()
    assert not {"mask", "second_view"} & next(iter(dm.val_dataloader())).keys()


def test_a_target_that_cannot_be_made_is_refused_in_one_line(tiny_prepared: Path) -> None:
    with pytest.raises(ValueError, match="online_self_blend > 0 or datamodule.pair_self_blend"):
        FaceClipDataModule(str(tiny_prepared), targets=["mask"], online_self_blend=0.0)
    with pytest.raises(ValueError, match="cannot give batch entries depth"):
        FaceClipDataModule(str(tiny_prepared), targets=["depth"])


def test_every_clip_carries_its_method_class_online_blends_their_own(tiny_prepared: Path) -> None:
    # the tiny data trains on reals, prepared self-blends ("sbi") and face swaps ("swap")
    methods = {"listed": ["real", "sbi", "swap"], "no sbi": ["Real", "SWAP", "Deepfakes"]}
    expected = {
        "listed": {"real": 0, "sbi": 1, "swap": 2, "online": 1},
        # an unlisted method gets the catch-all class len(methods); online blends are "sbi"
        "no sbi": {"real": 0, "swap": 1, "sbi": 3, "online": 3},
    }
    for name, listed in methods.items():
        dm = datamodule(tiny_prepared, ["method"], online_self_blend=0.5, methods=listed)
        data = dm.dataset("train")
        seen = {}
        for index in range(len(data)):
            row = data.rows.iloc[data.windows[index].row]
            for seed in range(4):
                sample = data[(index, seed)]
                turned = row["label"] == 0 and sample["label"] == 1
                kind = "online" if turned else row["method"]
                seen.setdefault(kind, set()).add(int(sample["method"]))
                assert sample["method"].dtype == torch.long
        assert seen == {kind: {cls} for kind, cls in expected[name].items()}, (name, seen)


def test_pairs_carry_real_then_their_blend_s_class(tiny_prepared: Path) -> None:
    for batch in device_batches(paired(tiny_prepared, ["method"], methods=["real", "sbi"])):
        assert batch["method"].tolist() == [0, 1] * 4


def test_unlisted_training_methods_are_named_and_a_missing_list_refused(
    tiny_prepared: Path,
) -> None:
    rows = datamodule(tiny_prepared, ["method"], methods=["real", "swap"]).dataset("train").rows
    assert unlisted_methods(rows, ["real", "swap"]) == {"sbi": (rows["method"] == "sbi").sum()}
    assert unlisted_methods(rows, ["real", "SBI", "swap"]) == {}
    for methods in ([], ["swap", "real"]):
        with pytest.raises(ValueError, match="'real' first .* set model.methods"):
            FaceClipDataModule(str(tiny_prepared), targets=["method"], methods=methods)
