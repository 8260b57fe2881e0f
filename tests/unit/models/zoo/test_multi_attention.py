"""Multi-attention: textures pooled under several attention maps, kept apart and augmented."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from dfd.models.zoo.multi_attention import (
    AttentionGuidedAugmentation,
    MultiAttention,
    RegionalIndependenceLoss,
    attention_pooling,
    border_mask,
)
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_the_border_cells_are_ignored_on_both_sides() -> None:
    mask = border_mask(torch.Size([24, 24]), torch.device("cpu"))
    assert mask[2:-2, 2:-2].all() and mask.sum() == 20 * 20  # the official 24-cell grid's 2
    small = border_mask(torch.Size([7, 7]), torch.device("cpu"))
    assert small[1:-1, 1:-1].all() and small.sum() == 5 * 5  # symmetric at any size


def test_pooling_gathers_the_features_under_each_map() -> None:
    features = torch.zeros(1, 3, 4, 4)
    features[0, :, 0, 0] = torch.tensor([3.0, 0.0, 4.0])
    features[0, :, 3, 3] = torch.tensor([0.0, 2.0, 0.0])
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 0, 0] = 1.0
    maps[0, 1, 3, 3] = 5.0
    pooled = attention_pooling(features, maps)
    torch.testing.assert_close(pooled[0], torch.tensor([[0.6, 0.0, 0.8], [0.0, 1.0, 0.0]]))


def test_the_independence_loss_pulls_regions_to_their_centres_and_centres_apart() -> None:
    loss = RegionalIndependenceLoss(2, 2, (0.05, 0.1), inter_margin=0.2, momentum=0.5)
    features = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]).repeat(2, 1, 1)
    value = loss(features, torch.tensor([0, 1]))
    torch.testing.assert_close(loss.centers, 0.5 * features[0])  # half way from zero
    assert value > 0
    # at its centres, far apart: nothing left to pull or push
    for _ in range(30):
        loss(features, torch.tensor([0, 1]))
    assert loss(features, torch.tensor([0, 1])).item() == pytest.approx(0.0, abs=1e-6)
    # centres that coincide are pushed apart; in eval the centres stay put
    loss.eval()
    together = loss(torch.ones(2, 2, 2), torch.tensor([0, 0]))
    assert together > 0 and torch.allclose(loss.centers, features[0], atol=1e-6)


def test_a_fake_face_may_lie_further_from_the_centre_than_a_real_one() -> None:
    loss = RegionalIndependenceLoss(2, 2, (0.05, 0.1), inter_margin=0.0, momentum=0.0)
    loss.eval()
    off_centre = torch.full((1, 2, 2), 0.07 / 2**0.5)  # 0.07 from the zero centres
    assert loss(off_centre, torch.tensor([0])) > 0
    assert loss(off_centre, torch.tensor([1])) == 0


def test_augmentation_degrades_only_where_the_chosen_map_looks() -> None:
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32)
    maps = torch.zeros(2, 2, 4, 4)
    maps[:, :, 0, 0] = 1.0  # every map looks at the top-left corner only
    augmented, chosen = AttentionGuidedAugmentation()(images, maps)
    assert chosen.shape == (2,)
    assert not torch.allclose(augmented[:, :, :4, :4], images[:, :, :4, :4])
    assert torch.equal(augmented[:, :, 16:, 16:], images[:, :, 16:, 16:])


def test_it_trains_with_all_three_aids_and_scores_in_eval(tiny_prepared: Path) -> None:
    torch.manual_seed(0)
    batch = training_batch(tiny_prepared, ())
    detector = MultiAttention(backbone="efficientnet_b0")
    output = detector.forward_train(batch)
    assert output.logits.shape == (8,) and output.frame_logits.shape == (8, 2)
    assert set(output.aux_losses) == {"independence", "agda", "match"}
    (output.logits.mean() + sum(output.aux_losses.values())).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())
    assert int(detector.steps_trained) == 1
    assert detector.independence.centers.abs().sum() > 0  # the centres moved
    detector.eval()
    with torch.no_grad():
        assert torch.allclose(detector(batch["clip"]), detector.forward_train(batch).logits)


def test_the_momentum_decays_every_set_number_of_steps(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, ())
    detector = MultiAttention(backbone="efficientnet_b0", agda_weight=0.0, center_decay_steps=2)
    outputs = [detector.forward_train(batch) for _ in range(2)]
    assert set(outputs[0].aux_losses) == {"independence"}  # no AGDA asked for
    assert detector.independence.momentum.item() == pytest.approx(0.05 * 0.9)


def test_by_default_the_momentum_decays_once_an_epoch(tiny_prepared: Path) -> None:
    batch = training_batch(tiny_prepared, ())
    detector = MultiAttention(backbone="efficientnet_b0", agda_weight=0.0)
    detector.plan_training(total_steps=20, steps_per_epoch=3)  # as the module does at start
    for _ in range(2):
        detector.forward_train(batch)
    assert detector.independence.momentum.item() == pytest.approx(0.05)
    detector.forward_train(batch)
    assert detector.independence.momentum.item() == pytest.approx(0.05 * 0.9)


def test_local_backbone_weights_load(tmp_path: Path) -> None:
    model = timm.create_model("efficientnet_b0", num_classes=0)
    torch.save(model.state_dict(), tmp_path / "b0.pt")
    detector = MultiAttention(backbone="efficientnet_b0", weights=str(tmp_path / "b0.pt"))
    assert detector.weights_source() == "timm:efficientnet_b0"
    assert torch.equal(detector.backbone.conv_stem.weight, model.conv_stem.weight)
    with pytest.raises(ValueError, match="num_attentions >= 2"):
        MultiAttention(backbone="efficientnet_b0", num_attentions=1)


def test_train_py_builds_it(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=multi_attention", f"data.prepared_dir={tiny_prepared.parent}")
    module, _ = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, MultiAttention)
    assert module.detector.num_attentions == 4


@pytest.mark.slow
def test_multi_attention_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    # EfficientNet-B0 keeps this CI test short (AGDA doubles each step); the zoo bench trains B4
    config = {
        "_target_": "dfd.models.zoo.multi_attention.MultiAttention",
        "backbone": "efficientnet_b0",
    }
    learned = learn(config, learning_task, steps=150, batch_size=8)
    print(f"multi_attention learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < learned.first_loss, learned
    assert learned.val_auc > 0.6, learned
