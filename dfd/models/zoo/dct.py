"""The 2D DCT-II (orthonormal, as scipy.fft.dctn(norm="ortho")) and its inverse over the last two
dimensions, as products with the DCT matrix (torch has no DCT)."""

from __future__ import annotations

import math

import torch


def dct_matrix(size: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """C (size, size) with C[k, n] = a_k cos(pi (2n + 1) k / 2 size): X = C x, x = C^T X."""
    n = torch.arange(size, dtype=torch.float64)
    matrix = torch.cos(math.pi * (2 * n[None] + 1) * n[:, None] / (2 * size))
    matrix *= math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix.to(dtype=dtype, device=device)


def dct2(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal 2D DCT-II of x (..., H, W)."""
    rows = dct_matrix(x.shape[-2], x.dtype, x.device)
    cols = dct_matrix(x.shape[-1], x.dtype, x.device)
    return rows @ x @ cols.T


def idct2(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `dct2`."""
    rows = dct_matrix(x.shape[-2], x.dtype, x.device)
    cols = dct_matrix(x.shape[-1], x.dtype, x.device)
    return rows.T @ x @ cols
