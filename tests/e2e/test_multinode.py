"""Two nodes on one machine: train.py started twice, with node ranks 0 and 1 on 127.0.0.1 and
gloo, as a launch by hand on each node (Lightning's environment variables) or torchrun on each
node would start it. One run folder, one checkpoint set, and both nodes' shares of the epoch."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hydra.utils import instantiate

from helpers.nodes import free_port, launch_nodes
from helpers.runs import compose_train, only, tiny_overrides

pytestmark = pytest.mark.slow


Launch = Callable[[int, int, int], tuple[list[str], dict[str, str]]]


def by_hand(node: int, port: int, devices: int) -> tuple[list[str], dict[str, str]]:
    """Lightning's "general purpose cluster" launch: the same command on each node, which
    starts the node's other processes itself."""
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(node)}
    return [sys.executable, "train.py"], {**env, "WORLD_SIZE": str(2 * devices)}


def torchrun(node: int, port: int, devices: int) -> tuple[list[str], dict[str, str]]:
    """torchrun on each node, which starts every process (static rendezvous on node 0)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        f"--nproc-per-node={devices}",
        f"--node-rank={node}",
        "--master-addr=127.0.0.1",
        f"--master-port={port}",
        "train.py",
    ], {}


def two_nodes(devices: int) -> list[str]:
    return ["trainer=ddp_sim", f"trainer.devices={devices}", "trainer.num_nodes=2"]


def clips_per_rank(overrides: list[str], tmp_path: Path, world_size: int) -> int:
    """The training clips each rank draws in an epoch: its padded share of the training split
    (the sampler's), in whole batches (the loader drops the last partial one)."""
    cfg = compose_train(tmp_path / "compose", *overrides)
    train = instantiate(cfg.datamodule).dataset("train")
    batch = cfg.datamodule.batch_size
    return math.ceil(len(train) / world_size) // batch * batch


@pytest.mark.parametrize(
    ("launch", "devices", "environment"),
    [(by_hand, 2, "LightningEnvironment"), (torchrun, 1, "TorchElasticEnvironment")],
    ids=["by-hand-2x2", "torchrun-2x1"],
)
def test_two_nodes_train_one_run(
    tiny_prepared: Path, tmp_path: Path, launch: Launch, devices: int, environment: str
) -> None:
    folder = tmp_path / "train" / "runs" / "two-nodes"
    data = [*tiny_overrides(tiny_prepared, tmp_path), "datamodule.batch_size=2"]
    overrides = [*data, *two_nodes(devices), "trainer.max_epochs=1", f"hydra.run.dir={folder}"]
    port = free_port()
    nodes = launch_nodes([launch(node, port, devices) for node in (0, 1)], overrides)

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
    node1 = f"GLOBAL_RANK: {devices}"
    assert node1 in nodes[1] and node1 not in nodes[0]
    log = (folder / "train.log").read_text()
    assert "GLOBAL_RANK: 0" in log and node1 not in log
    assert "dfd: " in nodes[0] and "dfd: " not in nodes[1], "node 0 closes the run"

    world = json.loads((folder / "run_info.json").read_text())["distributed"]
    world_size = 2 * devices
    assert world == {
        "world_size": world_size,
        "num_nodes": 2,
        "devices_per_node": devices,
        "strategy": "DDPStrategy",
        "cluster_environment": environment,
    }
    ranks = pd.read_csv(folder / "ranks.csv")
    expected = [[0, rank, rank // devices, rank % devices] for rank in range(world_size)]
    assert ranks[["epoch", "rank", "node", "local_rank"]].values.tolist() == expected
    share = clips_per_rank(data, tmp_path, world_size)
    assert share > 0 and ranks["clips"].tolist() == [share] * world_size, "every rank trained"
    assert ranks["shared"].tolist() == [0] * world_size, "on clips of its own"


def test_nodes_given_different_run_folders_stop_at_start(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    """Each node naming its run folder by its own start time would split the run: refused."""
    port = free_port()
    launches = [by_hand(node, port, 1) for node in (0, 1)]
    overrides = [*tiny_overrides(tiny_prepared, tmp_path), *two_nodes(1)]
    per_node = [[f"hydra.run.dir={tmp_path / 'runs' / f'node{node}'}"] for node in (0, 1)]
    nodes = launch_nodes(launches, overrides, per_node, expect_failure=True)
    for output in nodes:
        assert "give every node the same hydra.run.dir=" in output
    assert not (tmp_path / "runs" / "node1" / ".hydra").exists(), "node 1 wrote no records"
    assert not list((tmp_path / "runs").rglob("*.ckpt"))
