"""RFM: a classifier trained on faces whose most representative regions, by its own forgery
attention map, are erased; a DeepfakeBench RFM checkpoint loads with its scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dfd.models.zoo.rfm import RFM, erase_representative_regions
from dfd.tasks.train import build_module_and_data
from helpers.deepfakebench import their_fake_probability
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_blocks_are_erased_at_the_highest_attention_points() -> None:
    torch.manual_seed(0)
    images = torch.full((1, 3, 32, 32), 5.0)  # outside the noise's [-1, 1]
    attention = torch.zeros(1, 32, 32)
    peaks = [(3, 4, 3.0), (16, 20, 2.0), (28, 6, 1.0), (10, 28, 0.5)]
    for y, x, value in peaks:
        attention[0, y, x] = value
    erased = erase_representative_regions(images, attention, blocks=3, max_block=3)
    changed = (erased != images).all(dim=1)[0]
    # the three highest points are covered, the fourth is not, and nothing else far from them
    assert all(changed[y, x] for y, x, _ in peaks[:3])
    assert not changed[10, 28]
    assert changed.sum() <= 3 * 3 * 3
    assert erased[:, :, changed].abs().max() <= 1.0


def test_an_erased_point_is_not_picked_twice() -> None:
    """Neighbouring top points inside the first block are skipped: three separate blocks."""
    torch.manual_seed(1)
    images = torch.full((1, 1, 40, 40), 5.0)
    attention = torch.zeros(1, 40, 40)
    attention[0, 10:12, 10:12] = torch.tensor([[9.0, 8.9], [8.8, 8.7]])  # one tight cluster
    attention[0, 30, 30] = 1.0
    attention[0, 5, 35] = 0.5
    erased = erase_representative_regions(images, attention, blocks=3, max_block=4)
    changed = (erased != images)[0, 0]
    assert changed[10, 10] and changed[30, 30] and changed[5, 35]


def test_the_attention_map_is_the_input_gradient_taken_in_eval_mode(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, ())
    detector = RFM(backbone="resnet18").train()
    norm = detector.backbone.model.bn1
    running_mean = norm.running_mean.clone()
    attention = detector.forgery_attention(batch["clip"])
    assert attention.shape == (8, 2, 64, 64)
    assert detector.training and torch.equal(norm.running_mean, running_mean)
    assert all(p.grad is None for p in detector.parameters())  # parameters left alone
    detector.eval()
    pixels = batch["clip"].clone().requires_grad_(True)
    detector(pixels).sum().backward()
    torch.testing.assert_close(attention, pixels.grad.abs().amax(dim=2))


def test_training_sees_erased_faces_and_testing_whole_ones(tiny_prepared: Path) -> None:
    torch.manual_seed(0)
    batch = training_batch(tiny_prepared, ())
    detector = RFM()
    seen: list[torch.Tensor] = []
    detector.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,)
    frames = batch["clip"].flatten(0, 1)
    trained_on = seen[-1]
    changed = (trained_on != frames).any(dim=1)  # (16, 64, 64)
    assert changed.flatten(1).any(dim=1).all()  # every frame has erased blocks
    assert changed.float().mean() < 0.5  # but most of each face is kept
    torch.nn.functional.binary_cross_entropy_with_logits(
        output.logits, batch["label"].float()
    ).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())
    detector.eval()
    with torch.no_grad():
        detector(batch["clip"])
    assert torch.equal(seen[-1], frames)
    plain = RFM(blocks=0)
    plain.forward_train(batch)
    with pytest.raises(ValueError, match="max_block"):
        RFM(max_block=1.5)


def test_a_deepfakebench_rfm_checkpoint_loads_with_its_scores(tmp_path: Path) -> None:
    torch.manual_seed(0)
    network = RFM().eval()
    theirs = {
        "module.backbone." + key.removeprefix("backbone.model."): value
        for key, value in network.state_dict().items()
        if key.startswith("backbone.")
    }
    theirs["module.backbone.last_linear.weight"] = torch.randn(2, 2048) * 0.05
    theirs["module.backbone.last_linear.bias"] = torch.randn(2)
    torch.save(theirs, tmp_path / "ckpt_best.pth")
    cfg = compose_train(
        tmp_path,
        "model=rfm",
        f"model.detector_weights={tmp_path / 'ckpt_best.pth'}",
        "model.key_map=deepfakebench_rfm",
    )
    detector = instantiate(cfg.model).eval()
    assert isinstance(detector, RFM)
    clips = face_clips(32, clip_len=1)
    their_fake = their_fake_probability(
        network.backbone,
        clips,
        theirs["module.backbone.last_linear.weight"],
        theirs["module.backbone.last_linear.bias"],
    )
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(detector(clips)), their_fake)


def test_train_py_builds_it(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=rfm", f"data.prepared_dir={tiny_prepared.parent}")
    module, _ = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, RFM)


@pytest.mark.slow
def test_rfm_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn({"_target_": "dfd.models.zoo.rfm.RFM"}, learning_task, steps=150)
    print(f"rfm learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < learned.first_loss, learned
    assert learned.val_auc > 0.6, learned
