"""Two nodes on one machine: train.py started twice, with node ranks 0 and 1 on 127.0.0.1 and
gloo, as a launch by hand on each node (Lightning's environment variables) or torchrun on each
node would start it. One run folder, one checkpoint set, and both nodes' shares of the epoch."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra.utils import instantiate

from helpers.nodes import free_port, launch_nodes
from helpers.runs import compose_train, only, tiny_overrides

pytestmark = pytest.mark.slow


def by_hand(node: int, port: int) -> tuple[list[str], dict[str, str]]:
    """Lightning's "general purpose cluster" launch: the same command on each node."""
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(node)}
    return [sys.executable, "train.py"], {**env, "WORLD_SIZE": "2"}


def torchrun(node: int, port: int) -> tuple[list[str], dict[str, str]]:
    """torchrun on each node, one process a node (static rendezvous on node 0)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc-per-node=1",
        f"--node-rank={node}",
        "--master-addr=127.0.0.1",
        f"--master-port={port}",
        "train.py",
    ], {}


TWO_NODES = ["trainer=ddp_sim", "trainer.devices=1", "trainer.num_nodes=2"]


def clips_per_rank(tiny_prepared: Path, tmp_path: Path, world_size: int) -> int:
    """The training clips each rank draws in an epoch: its padded share of the training split
    (the sampler's), in whole batches (the loader drops the last partial one)."""
    cfg = compose_train(tmp_path / "compose", *tiny_overrides(tiny_prepared, tmp_path))
    train = instantiate(cfg.datamodule).dataset("train")
    batch = cfg.datamodule.batch_size
    return math.ceil(len(train) / world_size) // batch * batch


@pytest.mark.parametrize(
    ("launch", "environment"),
    [(by_hand, "LightningEnvironment"), (torchrun, "TorchElasticEnvironment")],
    ids=["by-hand", "torchrun"],
)
def test_two_nodes_train_one_run(
    tiny_prepared: Path, tmp_path: Path, launch: object, environment: str
) -> None:
    folder = tmp_path / "train" / "runs" / "two-nodes"
    overrides = [
        *tiny_overrides(tiny_prepared, tmp_path),
        *TWO_NODES,
        "trainer.max_epochs=1",
        f"hydra.run.dir={folder}",
    ]
    port = free_port()
    nodes = launch_nodes([launch(node, port) for node in (0, 1)], overrides)  # type: ignore[operator]

    assert [p.name for p in (tmp_path / "train").iterdir()] == ["runs"]
    assert only(list((tmp_path / "train" / "runs").iterdir())) == folder, "one run folder"
    checkpoints = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints, checkpoints
    assert (folder / "eval" / "demo" / "metrics.json").is_file()
    assert sorted(p.name for p in (folder / ".hydra").iterdir()) == [
        "config.yaml",
        "hydra.yaml",
        "overrides.yaml",
        "resolved_config.yaml",
    ]
    # node 1 logged to its console only: the run's log file is node 0's
    assert "GLOBAL_RANK: 1" in nodes[1] and "GLOBAL_RANK: 1" not in nodes[0]
    log = (folder / "train.log").read_text()
    assert "GLOBAL_RANK: 0" in log and "GLOBAL_RANK: 1" not in log
    assert "dfd: " in nodes[0] and "dfd: " not in nodes[1], "node 0 closes the run"

    world = json.loads((folder / "run_info.json").read_text())["distributed"]
    assert world == {
        "world_size": 2,
        "num_nodes": 2,
        "devices_per_node": 1,
        "strategy": "DDPStrategy",
        "cluster_environment": environment,
    }
    ranks = pd.read_csv(folder / "ranks.csv")
    assert ranks[["epoch", "rank", "node", "local_rank"]].values.tolist() == [
        [0, 0, 0, 0],
        [0, 1, 1, 0],
    ]
    assert ranks["clips"].tolist() == [clips_per_rank(tiny_prepared, tmp_path, 2)] * 2
    assert ranks["clips"].min() > 0 and ranks["shared"].tolist() == [0, 0], "distinct shares"


def test_nodes_given_different_run_folders_stop_at_start(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    """Each node naming its run folder by its own start time would split the run: refused."""
    port = free_port()
    launches = [by_hand(node, port) for node in (0, 1)]
    overrides = [*tiny_overrides(tiny_prepared, tmp_path), *TWO_NODES]
    per_node = [[f"hydra.run.dir={tmp_path / 'runs' / f'node{node}'}"] for node in (0, 1)]
    nodes = launch_nodes(launches, overrides, per_node, expect_failure=True)
    for output in nodes:
        assert "give every node the same hydra.run.dir=" in output
    assert not (tmp_path / "runs" / "node1" / ".hydra").exists(), "node 1 wrote no records"
    assert not list((tmp_path / "runs").rglob("*.ckpt"))
