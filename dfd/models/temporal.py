"""Temporal heads: pool per-frame features (B, T, F) into one clip feature (B, out_features).

A head is built with the backbone's feature size (`FrameDetector` calls a partial config
`head(in_features)`) and records the size of what it returns in `out_features`.
`max_clip_len` is the longest clip it accepts (None = any).
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalHead(nn.Module):
    """Base of the heads: `out_features` is set at build time, `max_clip_len` bounds T."""

    out_features: int
    max_clip_len: int | None = None


class MeanPool(TemporalHead):
    """Average the frame features over time."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.out_features = in_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=1)


class AttentionPool(TemporalHead):
    """Weighted mean over time; a small MLP scores each frame, softmax over T gives weights."""

    def __init__(self, in_features: int, hidden: int = 128) -> None:
        super().__init__()
        self.out_features = in_features
        self.score = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(features), dim=1)  # (B, T, 1)
        return (weights * features).sum(dim=1)


class LSTMHead(TemporalHead):
    """An LSTM over the frame features; returns the last layer's final hidden state.

    Bidirectional: the forward direction's state after the last frame concatenated with the
    backward direction's state after the first frame, so `out_features` = 2 * hidden.
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            in_features,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.directions = 2 if bidirectional else 1
        self.out_features = hidden * self.directions

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(features)  # (layers * directions, B, hidden)
        return hidden[-self.directions :].transpose(0, 1).flatten(1)


class TransformerHead(TemporalHead):
    """A transformer encoder over the frames, read out through a learned CLS token.

    Frame features are projected to `d_model`, a CLS token is prepended and a learned
    positional embedding (`max_len` frame positions plus the CLS one) is added.
    """

    def __init__(
        self,
        in_features: int,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 2,
        max_len: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.out_features = d_model
        self.max_clip_len = max_len
        self.project = nn.Linear(in_features, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.position = nn.Parameter(torch.zeros(1, max_len + 1, d_model))
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model,
            num_heads,
            dim_feedforward=4 * d_model,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, time = features.shape[:2]
        if time > self.max_clip_len:
            raise ValueError(
                f"TransformerHead got {time} frames; its max_len is {self.max_clip_len}"
            )
        tokens = torch.cat([self.cls.expand(batch, -1, -1), self.project(features)], dim=1)
        encoded = self.encoder(tokens + self.position[:, : time + 1])
        return self.norm(encoded[:, 0])
