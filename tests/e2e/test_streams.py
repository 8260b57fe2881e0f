"""From preparation to training on a stream, as a user runs it: `dfd prepare ...
prepare.output=stream` packs the crops (and removes the files), `dfd train
datamodule.stream_url=...` trains from the chunks under DDP, each rank on its own clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.runs import only, run_dfd, tiny_overrides

pytestmark = pytest.mark.slow


def test_prepare_a_stream_then_train_from_it_under_ddp(
    tiny_raw: Path, tiny_prepared: Path, tmp_path: Path
) -> None:
    prepared = tmp_path / "prepared"
    shutil.copytree(tiny_prepared.parent, prepared)  # its records: nothing is decoded again
    prepare = run_dfd(
        "prepare",
        "data=csv",
        f"data.raw_dir={tiny_raw}",
        f"data.prepared_dir={prepared}",
        "data.splits.val_fraction=0.3",
        "data.splits.test_fraction=0.3",
        "prepare.num_frames=4",
        "prepare.face_size=64",
        "prepare.output=stream",
        f"hydra.run.dir={tmp_path / 'prepare_run'}",
    )
    assert prepare.returncode == 0, prepare.stderr[-2000:]
    stream = prepared / "stream"
    assert f"stream written: {stream}" in prepare.stdout
    assert not (prepared / "faces").exists(), "stream only: the crop files are gone"
    assert (stream / "index.json").is_file()

    log_dir = tmp_path / "logs"
    elsewhere = tmp_path / "cluster_node" / "manifest.csv"  # no preparation on this node
    train = run_dfd(
        "train",
        *tiny_overrides(elsewhere, log_dir),
        f"datamodule.stream_url={stream}",
        "trainer=ddp_sim",
        "trainer.max_epochs=1",
        "datamodule.batch_size=2",
        timeout=600,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    run = only(list((log_dir / "train" / "runs").iterdir()))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list(run.glob("eval/*/metrics.json")), "the test split scored from the stream"
    ranks = pd.read_csv(run / "ranks.csv")
    assert sorted(ranks["rank"]) == [0, 1]
    assert (ranks["clips"] > 0).all() and (ranks["shared"] == 0).all()
