"""Face X-ray: predicts the blending boundary of self-blends and learns the task from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.models.zoo.face_xray import FaceXray, face_xray
from dfd.models.zoo.masked_losses import masked_map_loss
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch

CONFIG = {
    "_target_": "dfd.models.zoo.face_xray.FaceXray",
    "encoder_kwargs": {"feature_location": ""},
}


def test_the_xray_is_the_blend_s_boundary() -> None:
    mask = torch.tensor([0.0, 0.5, 1.0, 0.25])
    assert torch.allclose(face_xray(mask), torch.tensor([0.0, 1.0, 0.0, 0.75]))


def test_images_without_a_mask_add_nothing_to_the_xray_loss() -> None:
    logits = torch.randn(4, 1, 8, 8, requires_grad=True)
    target = torch.rand(4, 1, 8, 8)
    none = masked_map_loss(logits, target, torch.zeros(4, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad
    half = masked_map_loss(logits, target, torch.tensor([True, True, False, False]))
    assert torch.isclose(half, masked_map_loss(logits[:2], target[:2], torch.ones(2)))


def test_it_trains_on_real_faces_and_their_blend_masks(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, FaceXray.extra_targets)
    detector = FaceXray(encoder_kwargs={"feature_location": ""})
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert output.aux_losses["xray"] > 0
    (output.logits.mean() + output.aux_losses["xray"]).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_another_timm_cnn_by_config_and_local_weights(tmp_path: Path) -> None:
    detector = FaceXray(encoder="resnet18", encoder_kwargs={}, out_indices=(1, 2, 3))
    assert detector.weights_source() == "timm:resnet18"
    torch.save(detector.encoder.state_dict(), tmp_path / "encoder.pt")
    loaded = FaceXray(
        encoder="resnet18",
        encoder_kwargs={},
        out_indices=(1, 2, 3),
        weights=str(tmp_path / "encoder.pt"),
    )
    for a, b in zip(detector.encoder.state_dict().values(), loaded.encoder.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="do not fit"):
        FaceXray(weights=str(tmp_path / "encoder.pt"), encoder_kwargs={"feature_location": ""})


def test_train_py_asks_the_datamodule_for_blend_masks(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=face_xray", f"data.prepared_dir={tiny_prepared.parent}")
    module, datamodule = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, FaceXray)
    assert datamodule.hparams.targets == ["mask"]
    without_blends = compose_train(tmp_path, *overrides, "datamodule.online_self_blend=0")
    with pytest.raises(ValueError, match="learns from blend masks"):
        build_module_and_data(without_blends)


@pytest.mark.slow
def test_face_xray_learns_the_blending_boundary_of_self_blends(learning_task: Path) -> None:
    """At this scale the X-ray is learned (the loss, lambda-weighted X-ray BCE above all, falls
    by more than half) but not yet sharp enough for the class: val AUC was 0.54 after 150 CPU
    steps (see FaceXray's docstring), so no AUC bar is asserted here."""
    learned = learn(CONFIG, learning_task, steps=150)
    print(f"face_xray learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < 0.5 * learned.first_loss, learned
