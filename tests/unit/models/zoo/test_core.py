"""CORE: two augmented views of the same face, one representation; a DeepfakeBench CORE
checkpoint loads with its scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from dfd.models.zoo.core import CORE, consistency_loss
from dfd.tasks.train import build_module_and_data
from helpers.deepfakebench import their_fake_probability
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch

FLIP_AND_COLOUR = [
    {"_target_": "dfd.data.framewise.HorizontalFlip", "p": 0.5},
    {"_target_": "albumentations.ColorJitter", "brightness": 0.2, "saturation": 0.2, "p": 1.0},
]


def test_the_consistency_term_is_zero_for_aligned_views_and_grows_apart() -> None:
    first = torch.randn(6, 16)
    assert consistency_loss(first, 3 * first).item() == pytest.approx(0.0, abs=1e-6)
    assert consistency_loss(first, -first).item() == pytest.approx(4.0)
    assert 0 < consistency_loss(first, torch.randn(6, 16)) < 4


def test_it_trains_on_two_views_of_real_faces(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, CORE.extra_targets, augment=FLIP_AND_COLOUR)
    detector = CORE(backbone="resnet18")
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert set(output.aux_losses) == {"second_view_bce", "consistency"}
    assert output.aux_losses["consistency"] > 0
    (output.logits.mean() + sum(output.aux_losses.values())).backward()
    assert all(p.grad is not None for p in detector.parameters())
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_the_same_view_twice_is_consistent(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, CORE.extra_targets, augment=None)
    detector = CORE(backbone="resnet18").eval()
    with torch.no_grad():
        output = detector.forward_train(batch)
    assert output.aux_losses["consistency"].item() == pytest.approx(0.0, abs=1e-6)


def test_local_weights_load_through_timm_encoder(tmp_path: Path) -> None:
    detector = CORE(backbone="resnet18")
    assert detector.weights_source() == "timm:resnet18"
    torch.save(detector.backbone.model.state_dict(), tmp_path / "resnet18.pt")
    loaded = CORE(backbone="resnet18", weights=str(tmp_path / "resnet18.pt"))
    for a, b in zip(detector.backbone.state_dict().values(), loaded.backbone.state_dict().values()):
        assert torch.equal(a, b)


def test_train_py_asks_the_datamodule_for_a_second_view(
    tmp_path: Path, tiny_prepared: Path
) -> None:
    cfg = compose_train(tmp_path, "model=core", f"data.prepared_dir={tiny_prepared.parent}")
    module, datamodule = build_module_and_data(cfg)
    assert isinstance(module.detector, CORE) and module.detector.backbone_name == "legacy_xception"
    assert datamodule.hparams.targets == ["second_view"]


def deepfakebench_core_state(network: CORE) -> dict[str, torch.Tensor]:
    """A checkpoint of DeepfakeBench's `core` detector, named as its code names it, holding
    `network`'s Xception: its Xception network under `backbone.` (timm's legacy_xception names),
    two outputs `last_linear` (real, fake), its unused `adjust_channel` layers, saved from DDP
    (`module.`)."""
    torch.manual_seed(1)
    state = {
        "backbone." + key.removeprefix("backbone.model."): value
        for key, value in network.state_dict().items()
        if key.startswith("backbone.")
    }
    state |= {"backbone.last_linear.weight": torch.randn(2, 2048) * 0.05}
    state |= {"backbone.last_linear.bias": torch.randn(2)}
    adjust = nn.Sequential(nn.Conv2d(2048, 512, 1), nn.BatchNorm2d(512))
    state |= {f"backbone.adjust_channel.{k}": v for k, v in adjust.state_dict().items()}
    return {f"module.{key}": value for key, value in state.items()}


def test_a_deepfakebench_core_checkpoint_loads_with_its_scores(tmp_path: Path) -> None:
    torch.manual_seed(0)
    network = CORE().eval()
    theirs = deepfakebench_core_state(network)
    torch.save(theirs, tmp_path / "ckpt_best.pth")
    cfg = compose_train(
        tmp_path,
        "model=core",
        f"model.detector_weights={tmp_path / 'ckpt_best.pth'}",
        "model.key_map=deepfakebench_core",
    )
    detector = instantiate(cfg.model).eval()
    ours = detector.backbone.state_dict()
    assert all(
        torch.equal(value, ours[key]) for key, value in network.backbone.state_dict().items()
    )
    clips = face_clips(32, clip_len=1)
    their_fake = their_fake_probability(
        network.backbone,
        clips,
        theirs["module.backbone.last_linear.weight"],
        theirs["module.backbone.last_linear.bias"],
    )
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(detector(clips)), their_fake)


def test_a_checkpoint_of_another_deepfakebench_detector_is_refused(tmp_path: Path) -> None:
    ucf = {"module.encoder_f.conv1.weight": torch.randn(32, 3, 3, 3)}  # UCF's forgery encoder
    torch.save(ucf, tmp_path / "ckpt_best.pth")
    with pytest.raises(ValueError, match="'encoder_f.conv1.weight' is not a DeepfakeBench Xcep"):
        CORE(detector_weights=str(tmp_path / "ckpt_best.pth"), key_map="deepfakebench_core")


@pytest.mark.slow
def test_core_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn(
        {"_target_": "dfd.models.zoo.core.CORE", "backbone": "resnet18"},
        learning_task,
        steps=150,
        datamodule={"augment": FLIP_AND_COLOUR},
    )
    print(f"core learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < 0.5 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
