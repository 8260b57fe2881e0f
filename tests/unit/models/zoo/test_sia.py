"""SIA: parameter-free self-information attention inside an EfficientNet."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from dfd.models.zoo.sia import SIA, SelfInformationAttention, feature_distance
from dfd.tasks.train import build_module_and_data
from helpers.learning import learn
from helpers.runs import compose_train
from helpers.target_batches import training_batch


def test_a_feature_unlike_its_surroundings_has_the_largest_distance() -> None:
    features = torch.ones(1, 8, 9, 9)
    features[0, 3, 4, 4] = 5.0  # one odd feature
    distance = feature_distance(features)
    assert distance.argmax() == distance[0, 3].numel() * 3 + 4 * 9 + 4
    # inside the map, away from it: every feature is like its neighbourhood and channels
    assert (distance[0, :, 1:3, 1:3] == 0).all()
    # at its position, the channels whose next five include channel 3 differ from it too
    assert (distance[0, [6, 7, 0, 1, 2], 4, 4] > 0).all()
    assert (distance[0, [4, 5], 4, 4] == 0).all()


def test_the_channel_term_sums_each_channels_own_differences() -> None:
    """Channel c's term is |sum over offsets 1..5 of (x_c - x_(c+offset))|, wrapping round."""
    values = torch.arange(8.0)
    features = values.reshape(1, 8, 1, 1).expand(1, 8, 3, 3).contiguous()
    distance = feature_distance(features)[0, :, 1, 1]  # centre: the 3x3 term is 0 on a flat map
    expected = 0.5 * torch.stack(
        [sum(values[c] - values[(c + k) % 8] for k in range(1, 6)).abs() for c in range(8)]
    )
    torch.testing.assert_close(distance, expected)


def test_attention_raises_the_odd_feature_and_has_no_weights() -> None:
    module = SelfInformationAttention()
    assert list(module.parameters()) == []
    features = torch.rand(2, 8, 9, 9) + 1.0
    features[0, 3, 4, 4] = 6.0
    attended, _ = module(features)
    gain = attended / features
    assert gain[0, 3, 4, 4] == gain[0, 3].max()
    assert (gain >= 1).all() and (gain <= 2 * 1.6).all()  # spatial in [1, 2), channel < 1.6
    # each image is normalised by its own mean: the second one's output ignores the first's
    alone, _ = module(features[1:])
    torch.testing.assert_close(alone, attended[1:])


def test_links_carry_earlier_maps_to_later_stages_and_everything_trains(
    tiny_prepared: Path,
) -> None:
    batch = training_batch(tiny_prepared, ())
    detector = SIA()
    assert set(detector.links) == {"1_2", "1_4", "2_4"}
    logits, frames = detector.forward_with_frames(batch["clip"])
    assert logits.shape == (8,) and frames.shape == (8, 2)
    torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["label"].float()).backward()
    for group in detector.parameter_groups().values():
        assert all(p.grad is not None for p in group.parameters())


def test_local_backbone_weights_load(tmp_path: Path) -> None:
    model = timm.create_model("efficientnet_b0", num_classes=0)
    torch.save(model.state_dict(), tmp_path / "b0.pt")
    detector = SIA(backbone="efficientnet_b0", weights=str(tmp_path / "b0.pt"))
    assert detector.weights_source() == "timm:efficientnet_b0"
    assert torch.equal(detector.backbone.conv_stem.weight, model.conv_stem.weight)
    with pytest.raises(ValueError, match="EfficientNet with seven stages"):
        SIA(backbone="resnet18")


def test_train_py_builds_it(tmp_path: Path, tiny_prepared: Path) -> None:
    overrides = ("model=sia", f"data.prepared_dir={tiny_prepared.parent}")
    module, _ = build_module_and_data(compose_train(tmp_path, *overrides))
    assert isinstance(module.detector, SIA)


@pytest.mark.slow
def test_sia_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    learned = learn({"_target_": "dfd.models.zoo.sia.SIA"}, learning_task, steps=150)
    print(f"sia learned: {learned}")  # the numbers the zoo table reports
    assert learned.last_loss < learned.first_loss, learned
    assert learned.val_auc > 0.6, learned
