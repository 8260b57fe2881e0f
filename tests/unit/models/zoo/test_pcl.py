"""PCL: mid-level features predict which pairs of patches come from the same source image."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from dfd.models.zoo.pcl import PCL, consistency_target, masked_consistency_loss
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_the_target_says_which_patch_pairs_share_a_source() -> None:
    mask = torch.zeros(2, 1, 8, 8)
    mask[1, :, :4, :4] = 1.0  # the second image's top-left quarter is blended in
    target = consistency_target(mask, (2, 2))
    assert target.shape == (2, 4, 4)
    assert (target[0] == 1).all()  # a real face: every pair consistent
    # cells in reading order: the blended top-left (0) against the three untouched ones
    expected = torch.tensor(
        [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]]
    )
    assert torch.equal(target[1], expected)
    half = consistency_target(mask * 0.5, (2, 2))[1]
    assert half[0, 1] == 0.5  # a half-strength blend: half consistent


def test_images_without_a_mask_add_nothing_to_the_volume_loss() -> None:
    logits = torch.randn(3, 4, 4, requires_grad=True)
    target = torch.ones(3, 4, 4)
    none = masked_consistency_loss(logits, target, torch.zeros(3, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad
    first = masked_consistency_loss(logits, target, torch.tensor([True, False, False]))
    alone = masked_consistency_loss(logits[:1], target[:1], torch.ones(1, dtype=torch.bool))
    assert torch.isclose(first, alone)


def test_the_volume_is_symmetric_and_read_from_layer3() -> None:
    detector = PCL().eval()
    with torch.no_grad():
        logits, features = detector.run(torch.randn(2, 3, 64, 64))
        volume = detector.volume(features)
    assert logits.shape == (2,)
    assert features.shape == (2, 256, 4, 4)  # resnet34's layer3: 256 channels, stride 16
    assert volume.shape == (2, 16, 16)
    assert torch.allclose(volume, volume.transpose(1, 2))


def test_it_trains_on_real_faces_and_their_blend_masks(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, PCL.extra_targets)
    detector = PCL()
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert output.aux_losses["consistency"] > 0
    (output.logits.mean() + output.aux_losses["consistency"]).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_fitting_the_volume_moves_it_towards_the_masks_consistency(tiny_prepared: Path) -> None:
    """A few steps on the volume loss alone lower it: the embedding can learn the target."""
    torch.manual_seed(0)
    batch = training_batch(tiny_prepared, PCL.extra_targets)
    detector = PCL(backbone="resnet18")
    optimizer = torch.optim.Adam(detector.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = detector.forward_train(batch).aux_losses["consistency"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_local_backbone_weights_load(tmp_path: Path) -> None:
    detector = PCL(backbone="resnet18", consistency_unit=2)
    assert detector.weights_source() == "timm:resnet18"
    model = timm.create_model("resnet18", num_classes=0)  # a user's file: timm's own keys
    torch.save(model.state_dict(), tmp_path / "resnet18.pt")
    loaded = PCL(backbone="resnet18", consistency_unit=2, weights=str(tmp_path / "resnet18.pt"))
    first = next(iter(loaded.backbone.parameters()))
    assert torch.equal(first, next(iter(model.parameters())))
    with pytest.raises(ValueError, match="not before the last"):
        PCL(backbone="resnet18", consistency_unit=4)


def test_train_py_asks_the_datamodule_for_blend_masks(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=pcl", f"data.prepared_dir={tiny_prepared.parent}")
    module, datamodule = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, PCL)
    assert datamodule.hparams.targets == ["mask"]
    without_blends = compose_train(tmp_path, *overrides, "datamodule.online_self_blend=0")
    with pytest.raises(ValueError, match="learns from blend masks"):
        build_module_and_data(without_blends)


@pytest.mark.slow
def test_pcl_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn({"_target_": "dfd.models.zoo.pcl.PCL"}, learning_task, steps=150)
    print(f"pcl learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < learned.first_loss, learned
    assert learned.val_auc > 0.6, learned
