"""The learning-rate scaling that docs/sweeps-and-clusters.md shows for multi-node training
composes and does what the page says: the defaults it starts from, k = 8 for 2 nodes x 4 GPUs,
and the warmup-then-cosine overrides, as a user would paste them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import torch
from hydra.utils import instantiate

from helpers.runs import REPO, compose_train

PAGE = REPO / "docs" / "sweeps-and-clusters.md"


def documented_commands() -> list[list[str]]:
    """The `python train.py ...` commands of the page's bash blocks, as the shell splits them."""
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), re.S)
    commands = [shlex.split(block.replace("\\\n", " "), comments=True) for block in blocks]
    return [c[c.index("train.py") + 1 :] for c in commands if c[:2] == ["python", "train.py"]]


def command_with(word: str) -> list[str]:
    """The first documented command with an argument containing `word`."""
    return next(c for c in documented_commands() if any(word in arg for arg in c))


def learning_rates(tmp_path: Path, overrides: list[str]) -> tuple[float, list[float]]:
    """The configured rate and the rate of each epoch, as the module's optimizer steps them."""
    cfg = compose_train(tmp_path, *overrides)
    optimizer = instantiate(cfg.module.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.module.scheduler)(optimizer)
    rates = []
    for _ in range(cfg.trainer.max_epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return cfg.module.optimizer.lr, rates


def test_the_linear_rule_example_scales_the_defaults_by_the_effective_batch(
    tmp_path: Path,
) -> None:
    default = compose_train(tmp_path)
    scaled = compose_train(tmp_path, *command_with("module.optimizer.lr=8e-4"))
    one = default.datamodule.batch_size * default.trainer.devices * default.trainer.num_nodes
    trainer = scaled.trainer
    many = scaled.datamodule.batch_size * trainer.devices * trainer.num_nodes
    many *= trainer.accumulate_grad_batches
    assert (one, many) == (16, 128)
    assert scaled.module.optimizer.lr == default.module.optimizer.lr * many / one


def test_the_warmup_recipe_rises_to_the_scaled_rate_then_anneals(tmp_path: Path) -> None:
    peak, rates = learning_rates(tmp_path, command_with("OneCycleLR"))
    top = max(range(len(rates)), key=rates.__getitem__)
    assert rates[0] < peak / 10 and rates[top] == peak and 0 < top < len(rates) // 2
    assert rates[: top + 1] == sorted(rates[: top + 1]), "warmup rises"
    assert rates[top:] == sorted(rates[top:], reverse=True), "then anneals"
    _, default = learning_rates(tmp_path, [])
    assert default[0] == max(default), "the default schedule is unchanged: no warmup"
