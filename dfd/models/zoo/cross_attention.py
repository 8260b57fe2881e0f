"""Two feature streams that attend to each other (F3Net's MixBlock, the SRM detector's dual
cross-modality attention): each position of one stream gathers the other stream's features
where their query and key agree, and adds them through a gate that starts at zero, so each
stream starts as its backbone alone (pretrained weights intact) and learns how much to mix."""

from __future__ import annotations

import math

import torch
from torch import nn


class CrossAttention(nn.Module):
    """(a, b) -> (a + gate_a * attend(a -> b), b + gate_b * attend(b -> a)); the maps may have
    different sizes (each position of one attends to every position of the other)."""

    def __init__(
        self, channels: int, other_channels: int | None = None, reduction: int = 8
    ) -> None:
        super().__init__()
        other_channels = other_channels or channels
        inner = max(min(channels, other_channels) // reduction, 8)
        self.query = nn.ModuleList([nn.Conv2d(c, inner, 1) for c in (channels, other_channels)])
        self.key = nn.ModuleList([nn.Conv2d(c, inner, 1) for c in (channels, other_channels)])
        # the values of stream b go to stream a, and the other way round
        self.value = nn.ModuleList(
            [nn.Conv2d(other_channels, channels, 1), nn.Conv2d(channels, other_channels, 1)]
        )
        self.gate = nn.Parameter(torch.zeros(2))

    @staticmethod
    def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """Attention of the query map's positions over the key map's: (N, C_value, h, w)."""
        n, _, h, w = query.shape
        scores = query.flatten(2).transpose(1, 2) @ key.flatten(2) / math.sqrt(query.shape[1])
        mixed = scores.softmax(dim=-1) @ value.flatten(2).transpose(1, 2)
        return mixed.transpose(1, 2).reshape(n, -1, h, w)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from_b = self.attend(self.query[0](a), self.key[1](b), self.value[0](b))
        from_a = self.attend(self.query[1](b), self.key[0](a), self.value[1](a))
        return a + self.gate[0] * from_b, b + self.gate[1] * from_a
