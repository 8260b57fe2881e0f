"""A tiny random CLIP vision tower (64 px, 2 layers): what a saved hub tower looks like,
small enough for CPU tests of the CLIP detectors and Effort."""

from __future__ import annotations

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel


def tiny_hf_tower(seed: int = 0) -> CLIPVisionModel:
    """transformers' CLIPVisionModel with width 64, 2 layers of 4 heads, 16 px patches, 64 px."""
    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        patch_size=16,
        image_size=64,
    )
    return CLIPVisionModel(config)
