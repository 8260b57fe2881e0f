"""The linear-probe baseline: a frozen pretrained backbone stays bit-identical (weights and
BatchNorm statistics) through real training by train.py, while its logistic head learns; the
run reports like any other (with flip TTA here) and checks validation's people first."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import BackboneFinetuning
from omegaconf import OmegaConf

from dfd.models.weights import load_state_dict
from helpers.runs import compose_train, run_entry_point

HEAD = ("detector.classifier.weight", "detector.classifier.bias")


def probe_module(tmp_path: Path, *overrides: str):
    return instantiate(compose_train(tmp_path, "experiment=linear_probe", *overrides).module)


def test_frozen_backbone_gets_no_gradient_and_stays_in_eval_mode(tmp_path: Path) -> None:
    module = probe_module(tmp_path).train()
    assert not module.backbone.training and module.detector.classifier.training
    assert not any(p.requires_grad for p in module.backbone.parameters())
    module(torch.randn(2, 3, 3, 64, 64)).sum().backward()
    assert all(p.grad is None for p in module.backbone.parameters())
    assert module.detector.classifier.weight.grad is not None
    module.eval()
    assert not module.backbone.training and not module.detector.classifier.training


def test_frozen_backbone_refuses_staged_unfreezing(tmp_path: Path) -> None:
    module = probe_module(tmp_path)
    module.trainer = L.Trainer(callbacks=[BackboneFinetuning()], logger=False)
    with pytest.raises(ValueError, match="would unfreeze it"):
        module.setup("fit")


def backbone_file_tensors(weights: str) -> dict[str, torch.Tensor]:
    """The weights file's backbone tensors under the module's state-dict names."""
    return {
        f"detector.backbone.model.{key}": tensor
        for key, tensor in load_state_dict(weights).items()
        if not key.startswith("classifier.")
    }


@pytest.mark.slow
def test_probe_trains_only_its_head_through_train_py(tiny_prepared: Path, tmp_path: Path) -> None:
    run_entry_point(
        "train.py",
        "experiment=linear_probe",
        f"data.prepared_dir={tiny_prepared.parent}",
        f"paths.log_dir={tmp_path}",
        "datamodule.image_size=64",
        "datamodule.clip_len=4",
        "datamodule.batch_size=4",
        "datamodule.num_workers=0",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "evaluation.report=false",
        "evaluation.tta=[hflip]",
    )
    (run,) = (tmp_path / "train" / "runs").iterdir()
    metrics = json.loads((run / "eval" / "demo" / "metrics.json").read_text())
    assert "auroc" in metrics["video"], "the probe reports like any run (dfd compare reads it)"
    assert metrics["tta"] == ["hflip"], "evaluation.tta reaches the scorer and the report"
    assert re.search(
        r"validation (shares \d+|identities \(\d+\))|identities unknown",
        (run / "train.log").read_text(),
    ), "train.py checks validation's people"
    cfg = OmegaConf.load(run / ".hydra" / "resolved_config.yaml")
    expected = backbone_file_tensors(cfg.model.backbone.weights)
    assert any("running_var" in key for key in expected)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for checkpoint in (last, torch.load(metrics["checkpoint"], weights_only=True)):
        state = checkpoint["state_dict"]
        changed = [key for key, tensor in expected.items() if not torch.equal(state[key], tensor)]
        assert not changed, f"the frozen backbone changed: {changed[:5]}"
    steps = last["optimizer_states"][0]["state"]
    assert [tuple(s["exp_avg"].shape) for s in steps.values()] == [(1, 1280), (1,)], (
        "the optimizer must hold the head only"
    )
    L.seed_everything(cfg.seed)  # the head as train.py initialised it
    initial = instantiate(cfg.module).state_dict()
    assert all(not torch.equal(last["state_dict"][key], initial[key]) for key in HEAD)
