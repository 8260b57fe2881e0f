"""RECCE: reconstructs real faces, attends where the reconstruction fails, learns the task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.models.zoo.recce import RECCE, metric_loss, real_reconstruction_loss
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_only_real_images_are_reconstructed() -> None:
    images = torch.zeros(4, 3, 8, 8)
    reconstruction = torch.stack([torch.full((3, 8, 8), float(i)) for i in range(4)])
    labels = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert real_reconstruction_loss(reconstruction, images, labels).item() == pytest.approx(1.0)
    assert real_reconstruction_loss(reconstruction, images, torch.ones(4)).item() == 0.0


def test_the_metric_term_rewards_reals_together_and_fakes_apart() -> None:
    labels = torch.tensor([0.0, 0.0, 1.0, 1.0])
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])
    separated = torch.stack([real, real, fake, fake])
    assert metric_loss(separated, labels).item() == pytest.approx(0.0)
    mixed = torch.stack([real, fake, real, fake])
    assert metric_loss(mixed, labels).item() == pytest.approx(1.5)


def test_it_trains_on_real_faces_and_their_blends(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, RECCE.extra_targets)
    detector = RECCE(encoder="resnet18")
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert set(output.aux_losses) == {"reconstruction", "metric"}
    assert output.aux_losses["reconstruction"] > 0
    (output.logits.mean() + sum(output.aux_losses.values())).backward()
    assert all(p.grad is not None for p in detector.parameters())
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_local_encoder_weights_load(tmp_path: Path) -> None:
    detector = RECCE(encoder="resnet18")
    torch.save(detector.encoder.state_dict(), tmp_path / "encoder.pt")
    loaded = RECCE(encoder="resnet18", weights=str(tmp_path / "encoder.pt"))
    for a, b in zip(detector.encoder.state_dict().values(), loaded.encoder.state_dict().values()):
        assert torch.equal(a, b)
    assert loaded.weights_source() == "timm:resnet18"


def test_it_composes_through_hydra_with_no_extra_targets(
    tmp_path: Path, tiny_prepared: Path
) -> None:
    cfg = compose_train(tmp_path, "model=recce", f"data.prepared_dir={tiny_prepared.parent}")
    module, datamodule = build_module_and_data(cfg)
    assert isinstance(module.detector, RECCE) and module.detector.encoder_name == "legacy_xception"
    assert datamodule.hparams.targets == []


@pytest.mark.slow
def test_recce_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn(
        {"_target_": "dfd.models.zoo.recce.RECCE", "encoder": "resnet18"}, learning_task, steps=150
    )
    print(f"recce learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < 0.5 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
