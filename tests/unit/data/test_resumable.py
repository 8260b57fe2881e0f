"""A run stopped mid-epoch and resumed from its checkpoint trains on exactly the clips, in the
order and with the augmentation draws, of a run never stopped (real Lightning trainer), from
image files and from a stream alike."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from dfd.data.sampling import SeededClipSampler
from dfd.prepare.streaming import write_stream
from dfd.tasks.train import build_module_and_data
from helpers.runs import compose_train, tiny_overrides


class Drawn(Callback):
    """The clips of every training batch, in the order trained."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.batches.append(batch["clip_idx"].tolist())


def fit(cfg, tmp_path: Path, ckpt_path: str | None = None, **trainer: object) -> Drawn:
    module, datamodule = build_module_and_data(cfg)
    drawn = Drawn()
    checkpoints = ModelCheckpoint(tmp_path / "ckpt", save_last=True, every_n_train_steps=1)
    L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[drawn, checkpoints],
        default_root_dir=tmp_path,
        **trainer,
    ).fit(module, datamodule, ckpt_path=ckpt_path)
    return drawn


@pytest.mark.slow
@pytest.mark.parametrize("source", ["folders", "stream"])
def test_a_run_resumed_mid_epoch_trains_on_what_an_unstopped_run_trains_on(
    tiny_prepared: Path, tmp_path: Path, source: str
) -> None:
    stream = []
    if source == "stream":
        write_stream(tiny_prepared, str(tmp_path / "stream"))
        stream = [f"datamodule.stream_url={tmp_path / 'stream'}"]
    cfg = compose_train(
        tmp_path,
        *tiny_overrides(tiny_prepared, tmp_path),
        "datamodule.batch_size=2",
        "seed=5",
        *stream,
    )
    whole = fit(cfg, tmp_path / "whole", max_epochs=2)
    per_epoch = len(whole.batches) // 2
    assert per_epoch >= 3, "the tiny data must give an epoch of several batches"
    stop = per_epoch + 1  # one batch into the second epoch
    first = fit(cfg, tmp_path / "cut", max_steps=stop)
    rest = fit(
        cfg, tmp_path / "cut", ckpt_path=str(tmp_path / "cut" / "ckpt" / "last.ckpt"), max_epochs=2
    )
    assert first.batches + rest.batches == whole.batches


def test_the_resumed_epoch_keeps_its_length_and_starts_after_the_draws_done() -> None:
    sampler = SeededClipSampler(10, seed=1)
    sampler.set_epoch(3)
    plain = list(sampler)
    sampler.resume_at(3, 4)
    resumed = list(sampler)
    assert resumed == plain[4:] + plain[:4]
    assert list(sampler) == plain, "only the resumed epoch starts late"
    sampler.resume_at(2, 4)
    assert list(sampler) == plain, "a checkpoint of another epoch moves nothing"
