"""FFD: an attention map after Xception's block 7, fitted to blend masks, re-weights the features."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from dfd.models.zoo.ffd import FFD, masked_l1
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_images_without_a_mask_add_nothing_to_the_map_loss() -> None:
    maps = torch.rand(4, 1, 4, 4, requires_grad=True)
    target = torch.rand(4, 1, 4, 4)
    none = masked_l1(maps, target, torch.zeros(4, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad
    half = masked_l1(maps, target, torch.tensor([True, True, False, False]))
    assert torch.isclose(half, (maps[:2] - target[:2]).abs().mean())


def test_the_map_sits_after_block7_and_weights_the_features() -> None:
    detector = FFD().eval()
    seen: dict[str, torch.Tensor] = {}
    detector.backbone.units[7].register_forward_hook(lambda m, i, out: seen.update(block7=out))
    detector.backbone.units[8].register_forward_pre_hook(lambda m, i: seen.update(block8_in=i[0]))
    with torch.no_grad():
        logits, attention = detector.run(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2,)
    assert attention.shape == (2, 1, 4, 4)  # block 7: stride 16
    assert ((attention >= 0) & (attention <= 1)).all()
    # block 8 reads block 7's features multiplied by the map
    assert torch.allclose(seen["block8_in"], seen["block7"] * attention)


def test_it_trains_on_real_faces_and_their_blend_masks(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, FFD.extra_targets)
    detector = FFD()
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert output.aux_losses["map"] > 0
    (output.logits.mean() + output.aux_losses["map"]).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_the_map_target_is_zero_for_real_faces_and_the_blend_for_fakes(
    tiny_prepared: Path,
) -> None:
    batch = training_batch(tiny_prepared, FFD.extra_targets)
    real = batch["label"] == 0
    assert real.any() and (~real).any()
    assert batch["mask_valid"].all()  # SBI pairs: every mask is known
    assert batch["mask"][real].max() == 0 and batch["mask"][~real].max() > 0.5


def test_local_backbone_weights_load(tmp_path: Path) -> None:
    detector = FFD(backbone="resnet18", map_unit=2)
    assert detector.weights_source() == "timm:resnet18"
    model = timm.create_model("resnet18", num_classes=0)  # a user's file: timm's own keys
    torch.save(model.state_dict(), tmp_path / "resnet18.pt")
    loaded = FFD(backbone="resnet18", map_unit=2, weights=str(tmp_path / "resnet18.pt"))
    first = next(iter(loaded.backbone.parameters()))
    assert torch.equal(first, next(iter(model.parameters())))
    with pytest.raises(ValueError, match="not before the last"):
        FFD(backbone="resnet18", map_unit=9)


def test_train_py_asks_the_datamodule_for_blend_masks(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=ffd", f"data.prepared_dir={tiny_prepared.parent}")
    module, datamodule = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, FFD)
    assert datamodule.hparams.targets == ["mask"]
    without_blends = compose_train(tmp_path, *overrides, "datamodule.online_self_blend=0")
    with pytest.raises(ValueError, match="learns from blend masks"):
        build_module_and_data(without_blends)


@pytest.mark.slow
def test_ffd_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn({"_target_": "dfd.models.zoo.ffd.FFD"}, learning_task, steps=150)
    print(f"ffd learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < learned.first_loss, learned
    assert learned.val_auc > 0.6, learned
