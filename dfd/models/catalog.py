"""The zoo as a table: every model config composed as training composes it, built with
pretrained weights off, and measured on one input of its native shape (parameters, GFLOPs,
CPU milliseconds), with where its pretrained weights come from and the paper it implements.

`dfd models` prints it and `benchmarks/zoo_table.py` writes it for the docs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from dfd.config import config_search_path
from dfd.errors import UsageError
from dfd.models.base import Detector
from dfd.models.inputs import InputSpec

COLUMNS = ("name", "input", "parameters", "gflops", "cpu_ms", "pretrained", "paper")


@dataclass
class ZooRow:
    """One model config: what it takes, its size and cost, its weights and paper; `error` says
    why it could not be built or run (the other values are then empty)."""

    name: str
    input: str = ""
    parameters: int | None = None
    gflops: float | None = None
    cpu_ms: float | None = None
    pretrained: str = ""
    paper: str = ""
    error: str = ""


def model_names(config_dirs: Sequence[Path] = ()) -> list[str]:
    """The model options: the stems of model/*.yaml in dfd's configs and in `config_dirs`."""
    folders = [Path(config_search_path()), *map(Path, config_dirs)]
    return sorted({path.stem for folder in folders for path in (folder / "model").glob("*.yaml")})


def compose_train(
    name: str, config_dirs: Sequence[Path] = (), overrides: Sequence[str] = ()
) -> DictConfig:
    """The training config with `model=<name>` and `overrides`, as `dfd train` composes it;
    `config_dirs` are searched too (Hydra's searchpath), so a user's own model/<name>.yaml is
    found."""
    overrides = [f"model={name}", *overrides]
    if config_dirs:
        paths = ",".join(f"file://{Path(folder).resolve()}" for folder in config_dirs)
        overrides.append(f"hydra.searchpath=[{paths}]")
    with initialize_config_dir(config_search_path(), version_base="1.3"):
        return compose("train", overrides=overrides)


def pretrained_off(config: DictConfig) -> None:
    """Set every `pretrained` key of a model config to false and every `weights` file to null:
    the architecture is measured, nothing is downloaded or read."""
    for key, value in config.items():
        if key == "pretrained":
            config[key] = False
        elif key == "weights":
            config[key] = None
        elif isinstance(value, DictConfig):
            pretrained_off(value)


def build(
    name: str, config_dirs: Sequence[Path] = (), overrides: Sequence[str] = ()
) -> tuple[Detector, tuple[int, int]]:
    """The detector of model/<name>.yaml with pretrained weights off, and the datamodule's
    (clip_len, image_size); `overrides` (e.g. a recipe's `datamodule.image_size=112`) reach
    the configs that read them, as training's do."""
    cfg = compose_train(name, config_dirs, overrides)
    pretrained_off(cfg.model)
    detector = instantiate(cfg.model)
    if not isinstance(detector, Detector):
        raise TypeError(f"model/{name}.yaml builds a {type(detector).__name__}, not a Detector")
    return detector, (int(cfg.datamodule.clip_len), int(cfg.datamodule.image_size))


def native_shape(spec: InputSpec, defaults: tuple[int, int]) -> tuple[int, int]:
    """(clip_len, image_size) of one input: the paper's shape where the spec names it, else the
    datamodule's default; a frame detector's input is one frame."""
    default_len, default_size = defaults
    clip_len = spec.native_clip_len or (1 if spec.kind == "frames" else default_len)
    return spec.nearest(clip_len, spec.native_image_size or default_size)


def input_text(spec: InputSpec, clip_len: int, image_size: int) -> str:
    """The measured input and what else is accepted, e.g. 'frames 256px (image_size >= 64)'."""
    shape = f"{image_size}px" if spec.kind == "frames" else f"{clip_len}x{image_size}px"
    return f"{spec.kind} {shape} ({', '.join(spec.needs()) or 'any size and length'})"


def count_gflops(detector: Detector, clips: torch.Tensor) -> float:
    """Floating-point operations of one forward pass, in billions (a multiply-add counts 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        detector(clips)
    return counter.get_total_flops() / 1e9


def cpu_milliseconds(detector: Detector, clips: torch.Tensor, repeats: int = 3) -> float:
    """The median wall time of a forward pass on this machine's CPU, after one warm-up pass."""
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            started = time.perf_counter()
            detector(clips)
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times[1:])


def root_cause(error: BaseException) -> str:
    """The first line of the innermost cause (Hydra wraps a constructor's TypeError)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def zoo_row(
    name: str, timing: bool = True, repeats: int = 3, config_dirs: Sequence[Path] = ()
) -> ZooRow:
    """The row of model/<name>.yaml; an error building or running it becomes the row's error."""
    try:
        detector, defaults = build(name, config_dirs)
        detector.eval()
        spec = detector.input_spec
        clip_len, size = native_shape(spec, defaults)
        clips = torch.randn(1, clip_len, spec.channels, size, size)
        return ZooRow(
            name=name,
            input=input_text(spec, clip_len, size),
            parameters=sum(p.numel() for p in detector.parameters()),
            gflops=count_gflops(detector, clips),
            cpu_ms=cpu_milliseconds(detector, clips, repeats) if timing else None,
            pretrained=detector.weights_source(),
            paper=detector.paper,
        )
    except Exception as error:  # a broken config is a row that says why, not a crash
        return ZooRow(name=name, error=root_cause(error))


def zoo_rows(
    only: Sequence[str] | None = None,
    timing: bool = True,
    repeats: int = 3,
    config_dirs: Sequence[Path] = (),
) -> list[ZooRow]:
    """The rows of the model configs (`only` these names, in that order, else all)."""
    names = model_names(config_dirs)
    unknown = [name for name in only or () if name not in names]
    if unknown:
        raise UsageError(
            f"no model config named {', '.join(unknown)} (options: {', '.join(names)})"
        )
    return [zoo_row(name, timing, repeats, config_dirs) for name in only or names]
