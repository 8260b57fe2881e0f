"""Grad-CAM explanations: target layers per model family, one map per frame, the detector left
exactly as it was, clear errors for bad layers, and readable PNG panels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from torch import nn

from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.scoring import score_dataset
from dfd.report.gradcam import (
    explain_clip,
    find_target_layer,
    gradcam_maps,
    pick_misclassified_clips,
    pick_sample_clips,
    write_gradcam_panels,
)
from dfd.report.tables import clip_table
from helpers.runs import compose_train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def datamodule(tiny_prepared: Path) -> FaceClipDataModule:
    """Test clips of the tiny real dataset: 4 frames of 64 px."""
    return FaceClipDataModule(str(tiny_prepared), clip_len=4, image_size=64, num_workers=0)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gradcam_config")


def build(config_dir: Path, model: str, *overrides: str) -> nn.Module:
    """A detector from conf/model (seeded, so its random head is the same every run)."""
    torch.manual_seed(0)
    return instantiate(compose_train(config_dir, f"model={model}", *overrides).model)


def clip_of(datamodule: FaceClipDataModule, index: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """(normalized clip (T, 3, H, W), raw uint8 frames (T, H, W, 3)) of one test clip."""
    frames = datamodule.dataset("test")[index]["clip"]
    return datamodule.normalize(frames), frames.permute(0, 2, 3, 1).numpy()


def maps_of_either_sign(detector: nn.Module, clip: torch.Tensor) -> np.ndarray:
    """Grad-CAM maps of a random detector, of its head negated when they are all zero: a random
    head may see no fake evidence anywhere in a clip, and the negated head then sees it all."""
    maps = gradcam_maps(detector, clip)
    if maps.max() == 0:
        with torch.no_grad():
            detector.classifier.weight.neg_()
            detector.classifier.bias.neg_()
        maps = gradcam_maps(detector, clip)
    return maps


def hook_counts(model: nn.Module) -> list[int]:
    return [
        len(hooks)
        for module in model.modules()
        for hooks in (
            module._forward_hooks,
            module._forward_pre_hooks,
            module._backward_hooks,
            module._backward_pre_hooks,
        )
    ]


@pytest.mark.parametrize(
    "model,overrides,expected",
    [
        ("mobilenet_v2", (), "backbone.model.features"),  # torchvision, conf default
        ("resnet18", (), "backbone.model.layer4"),  # timm
        ("torchvision", ("model.backbone.name=efficientnet_b0",), "backbone.model.features"),
        ("lstm", ("model.backbone.name=resnet18",), "backbone.model.layer4"),
        (
            "transformer",
            (),
            "backbone.model.bn2",
        ),  # timm efficientnet_b0: conv_head, then bn2 + act
        ("r3d_18", (), "backbone.layer4"),
        ("r2plus1d_18", (), "backbone.layer4"),
        ("s3d", (), "backbone.features"),
        ("swin3d_t", (), "backbone.norm"),
        ("mvit_v2_s", (), "backbone.blocks.15.norm1"),
    ],
)
def test_target_layer_found(
    config_dir: Path, model: str, overrides: tuple[str, ...], expected: str
) -> None:
    detector = build(config_dir, model, *overrides)
    assert find_target_layer(detector) is detector.get_submodule(expected)


@pytest.mark.parametrize(
    "model,overrides",
    [
        ("mobilenet_v2", ()),
        ("lstm", ("model.backbone.name=resnet18",)),
        ("transformer", ("model.backbone.name=resnet18",)),
    ],
)
def test_frame_models_give_each_frame_its_map(
    config_dir: Path, datamodule: FaceClipDataModule, model: str, overrides: tuple[str, ...]
) -> None:
    detector = build(config_dir, model, *overrides)
    clip, raw = clip_of(datamodule)
    maps = maps_of_either_sign(detector, clip)
    assert maps.shape == (4, 64, 64) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() == pytest.approx(1, abs=1e-3)  # one scale per clip
    assert all(frame.max() - frame.min() > 0.05 for frame in maps)
    assert np.abs(maps[0] - maps[-1]).mean() > 1e-3  # the frames move: so do their maps
    overlays = explain_clip(detector, clip, raw)
    assert overlays.shape == (4, 64, 64, 3) and overlays.dtype == np.uint8


@pytest.mark.parametrize(
    "model,frames,size",
    [
        ("r3d_18", 16, 64),
        ("r2plus1d_18", 16, 64),
        ("swin3d_t", 16, 64),
        pytest.param("s3d", 13, 209, marks=pytest.mark.slow),  # its final pool needs 13 x 209
        pytest.param("mvit_v2_s", 16, 224, marks=pytest.mark.slow),  # exactly 16 x 224
    ],
)
def test_video_models_maps_upsampled_in_time(
    config_dir: Path, datamodule: FaceClipDataModule, model: str, frames: int, size: int
) -> None:
    detector = build(config_dir, model)
    # four different test clips end to end: a clip whose frames all differ
    clip = torch.cat([clip_of(datamodule, index)[0] for index in range(4)])[:frames]
    clip = nn.functional.interpolate(clip, size=(size, size), mode="bilinear")
    maps = maps_of_either_sign(detector, clip)
    assert maps.shape == (frames, size, size) and np.isfinite(maps).all()
    assert maps.max() - maps.min() > 0.5
    assert np.abs(maps[0] - maps[-1]).mean() > 1e-3


@pytest.mark.parametrize(
    "model,overrides", [("lstm", ("model.backbone.name=resnet18",)), ("r3d_18", ())]
)
def test_detector_left_exactly_as_it_was(
    config_dir: Path, datamodule: FaceClipDataModule, model: str, overrides: tuple[str, ...]
) -> None:
    detector = build(config_dir, model, *overrides).train()
    detector.backbone.eval()  # mixed modes, as with frozen batch norms
    first = next(detector.backbone.parameters())
    first.requires_grad_(False)
    detector.classifier.weight.grad = torch.ones_like(detector.classifier.weight)
    grad = detector.classifier.weight.grad
    modes = [m.training for m in detector.modules()]
    flags = [p.requires_grad for p in detector.parameters()]
    state = {k: v.clone() for k, v in detector.state_dict().items()}
    hooks = hook_counts(detector)
    with torch.inference_mode():  # as an evaluation loop would call it
        clip, raw = clip_of(datamodule)
        overlays = explain_clip(detector, clip, raw)
    assert overlays.shape == (4, 64, 64, 3)
    assert [m.training for m in detector.modules()] == modes
    assert [p.requires_grad for p in detector.parameters()] == flags
    assert detector.classifier.weight.grad is grad and bool((grad == 1).all())
    assert all(p.grad is None for p in detector.parameters() if p is not detector.classifier.weight)
    assert all(torch.equal(v, state[k]) for k, v in detector.state_dict().items())
    assert hook_counts(detector) == hooks


def test_override_and_bad_layers(config_dir: Path, datamodule: FaceClipDataModule) -> None:
    detector = build(config_dir, "lstm", "model.backbone.name=resnet18")
    assert find_target_layer(detector, "backbone.model.layer3") is detector.backbone.model.layer3
    clip, _ = clip_of(datamodule)
    assert gradcam_maps(detector, clip, "backbone.model.layer3").shape == (4, 64, 64)
    with pytest.raises(ValueError, match="layer9.*layer4"):  # names what the path could go on with
        find_target_layer(detector, "backbone.model.layer9")
    with pytest.raises(ValueError, match="num_features"):  # an attribute, not a module
        find_target_layer(detector, "backbone.num_features")
    hooks = hook_counts(detector)
    with pytest.raises(ValueError, match="'temporal.lstm' puts out tuple"):
        gradcam_maps(detector, clip, "temporal.lstm")
    with pytest.raises(ValueError, match=r"'classifier' puts out \(1, 1\)"):
        gradcam_maps(detector, clip, "classifier")
    assert hook_counts(detector) == hooks and detector.training  # built in train mode


def test_vision_transformer_backbone_unsupported(config_dir: Path) -> None:
    detector = build(config_dir, "timm", "model.backbone.name=vit_tiny_patch16_224")
    with pytest.raises(ValueError, match="not end in a convolutional feature map.*target_layer"):
        find_target_layer(detector)


def test_sample_and_misclassified_picks() -> None:
    clips = pd.DataFrame(
        {
            "video_id": ["f1", "f1", "f2", "f3", "r1", "r1", "r2"],
            "label": [1, 1, 1, 1, 0, 0, 0],
            "score": [0.6, 0.95, 0.9, 0.7, 0.3, 0.05, 0.2],
            "clip_idx": range(7),
        }
    )
    picked = pick_sample_clips(clips, 4)
    assert picked["video_id"].tolist() == ["f1", "r1", "f2", "r2"]
    assert picked["clip_idx"].tolist() == [1, 5, 2, 6]  # each video's surest clip
    assert pick_sample_clips(clips, 10)["video_id"].tolist() == ["f1", "r1", "f2", "r2", "f3"]
    assert pick_sample_clips(clips, 0).empty
    wrong = pd.DataFrame(
        {
            "video_id": ["r1", "f1", "gone"],
            "label": [0, 1, 1],
            "score": [0.6, 0.4, 0.1],
            "prediction": [1, 0, 0],
        }
    )
    picked = pick_misclassified_clips(clips, wrong)
    assert picked["clip_idx"].tolist() == [4, 0]  # real: its highest clip; fake: its lowest
    assert picked["kind"].tolist() == ["false positive", "false negative"]


def test_panels_written(
    config_dir: Path,
    datamodule: FaceClipDataModule,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    detector = build(config_dir, "mobilenet_v2")
    dataset = datamodule.dataset("test")
    clips = clip_table(dataset, score_dataset(detector, dataset, datamodule.normalize))
    videos = clips.groupby("video_id", as_index=False).agg(
        label=("label", "first"), score=("score", "mean")
    )
    # one real and one fake video said to be misclassified: a false positive and a negative
    wrong = pd.concat([videos[videos["label"] == label].head(1) for label in (0, 1)])
    wrong = wrong.assign(prediction=1 - wrong["label"])
    paths = write_gradcam_panels(
        detector,
        dataset,
        datamodule.normalize,
        clips,
        tmp_path / "cam",
        count=2,
        misclassified=wrong,
    )
    assert len(paths) == 4 and len(set(paths)) == 4
    assert [p.name.split("_")[0] for p in paths] == ["sample"] * 2 + ["misclassified"] * 2
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(path) as image:
            image.verify()
            assert image.size[0] > 400 and image.size[1] > 300
    with caplog.at_level(logging.WARNING, logger="dfd.report.gradcam"):
        skipped = write_gradcam_panels(
            detector,
            dataset,
            datamodule.normalize,
            clips,
            tmp_path / "bad",
            count=2,
            target_layer="backbone.nope",
        )
    assert skipped == [] and "Grad-CAM panels skipped" in caplog.text
    assert not (tmp_path / "bad").exists()
