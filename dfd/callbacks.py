"""Small pieces that Lightning callbacks take as arguments from config."""

from __future__ import annotations


def constant_lr_factor(epoch: int) -> float:
    """For BackboneFinetuning's `lambda_func`: keep the unfrozen backbone's learning rate."""
    return 1.0
