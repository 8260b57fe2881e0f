"""Method groups: each real training clip beside one fake of every method, from its people."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.data.groups import MethodGroups
from dfd.errors import SettingError
from helpers.target_batches import method_group_datamodule

METHODS = ["real", "sbi", "swap"]


def test_batches_hold_a_real_clip_then_one_fake_of_each_method(tiny_prepared: Path) -> None:
    dm = method_group_datamodule(tiny_prepared, METHODS)
    groups = dm.dataset("train")
    assert isinstance(groups, MethodGroups) and groups.left_out == 0
    rows = groups.clips.rows
    batches = list(dm.train_dataloader())
    assert len(batches) == len(groups) // 2
    for batch in batches:
        assert batch["clip"].shape == (6, 1, 3, 64, 64)
        assert batch["label"].tolist() == [0.0, 1.0, 1.0] * 2
        assert batch["method"].tolist() == [0, 1, 2] * 2
        methods = rows.loc[batch["face_idx"].tolist(), "method"].tolist()
        assert methods == ["real", "sbi", "swap"] * 2
        people = rows.loc[batch["face_idx"].tolist(), "group"].to_numpy().reshape(2, 3)
        assert (people == people[:, :1]).all()  # each group from one split group
    assert dm.class_counts("train") == (len(groups), 2 * len(groups))


def test_the_fakes_drawn_are_a_function_of_the_draw(tiny_prepared: Path) -> None:
    groups = method_group_datamodule(tiny_prepared, METHODS).dataset("train")
    assert groups.members(0, seed=5) == groups.members(0, seed=5)
    draws = {tuple(groups.members(0, seed)) for seed in range(40)}
    assert len(draws) > 1  # other seeds, other fakes of the same people


def test_a_real_clip_whose_group_lacks_a_method_is_left_out(tiny_prepared: Path) -> None:
    dm = method_group_datamodule(tiny_prepared, METHODS)
    clips = dm.dataset("train").clips
    lonely = clips.rows.index[clips.rows["method"] == "real"][0]
    clips.rows.loc[lonely, "group"] = "nobody_else"
    groups = MethodGroups(clips, METHODS)
    windows = sum(window.row == lonely for window in clips.windows)
    assert groups.left_out == windows > 0
    with pytest.raises(ValueError, match="fakes of every method .* methods: sbi, swap"):
        MethodGroups(clips, ["real", "sbi", "deepfakes"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"targets": []}, "method target"),
        ({"pair_self_blend": True, "train_real_only": True}, "prepared fakes"),
        ({"online_self_blend": 0.5}, "prepared fakes"),
        ({"batch_size": 8}, "multiple of 3"),
    ],
)
def test_settings_that_cannot_make_groups_are_refused(
    tiny_prepared: Path, settings: dict, message: str
) -> None:
    with pytest.raises(SettingError, match=message):
        method_group_datamodule(tiny_prepared, METHODS, **settings)
