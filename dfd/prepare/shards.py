"""Shards: one slice of the videos per job (a SLURM array task, a submitit job), merged at the end."""

from __future__ import annotations

import zlib
from pathlib import Path

import pandas as pd

from dfd.datasets.manifest import MANIFEST_NAME, read_manifest, write_manifest


class ShardError(RuntimeError):
    """Shard manifests that cannot be merged (missing shards, a video in two shards)."""


def in_shard(video_id: str, shard: int, num_shards: int) -> bool:
    """Whether a video belongs to a shard: a stable hash of its id, so the slices never change."""
    return zlib.crc32(video_id.encode("utf-8")) % num_shards == shard


def manifest_name(shard: int, num_shards: int) -> str:
    """``manifest.csv`` for a whole run, ``manifest.shard-003-of-010.csv`` for one shard."""
    if num_shards == 1:
        return MANIFEST_NAME
    return f"manifest.shard-{shard:03d}-of-{num_shards:03d}.csv"


def merge_shards(prepared_dir: str | Path, num_shards: int) -> pd.DataFrame:
    """Merge the ``num_shards`` shard manifests into ``manifest.csv`` (all must be there)."""
    prepared_dir = Path(prepared_dir)
    paths = [prepared_dir / manifest_name(shard, num_shards) for shard in range(num_shards)]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise ShardError(
            f"cannot merge: {len(missing)} of {num_shards} shard manifests missing: {missing[:5]}"
        )
    merged = pd.concat([read_manifest(path) for path in paths], ignore_index=True)
    twice = merged[merged.duplicated("clip_id", keep=False)]["clip_id"].unique()
    if len(twice):
        raise ShardError(
            f"cannot merge: {len(twice)} clip(s) in more than one shard, e.g. {list(twice[:3])}"
        )
    merged = merged.sort_values(["video_id", "face"], kind="stable").reset_index(drop=True)
    write_manifest(merged, prepared_dir / MANIFEST_NAME)
    return merged
