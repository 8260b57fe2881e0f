"""Effort: CLIP's attention projections split by SVD; the principal part frozen, the residual
trained, kept orthogonal to it and at the original weight's energy.

Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated Image Detection",
ICML 2025. A detector fine-tuned on a few generators collapses its features onto their
artefacts (a low-rank feature space). Effort keeps the pretrained knowledge: every attention
projection W = U S Vᵀ of the CLIP tower is split into its top r singular components
W_r = U_r S_r V_rᵀ, frozen, and the remaining n - r components, trained as parameters U, S, V
(initialised from the SVD, so the split tower starts as the pretrained one). Two losses keep the
residual a residual:

- orthogonality: ‖ÛᵀÛ - I‖²_F + ‖V̂ᵀV̂ - I‖²_F with Û = [U_r, U] and V̂ = [V_r, V]: the trained
  singular vectors stay orthonormal and orthogonal to the frozen ones;
- singular values: |‖W_r + U S Vᵀ‖²_F - ‖W‖²_F|, the weight keeps the energy (the sum of
  squared singular values) of the pretrained one.

Each is averaged over the split projections and weighted in the config; they reach the training
loss through `DetectorOutput.aux_losses` (logged as train/aux/orthogonality and
train/aux/singular_value).

How dfd differs from DeepfakeBench (`effort_detector.py`) and the authors' release: both ship
these two losses commented out (training is cross-entropy alone) and write them with unsquared
Frobenius norms of UUᵀ - I; dfd follows the paper and trains with them. Their model is ViT-L/14
with a rank-1 residual (1023 of 1024 components frozen); dfd's default tower is ViT-B/16
(`conf/model/effort.yaml` names ViT-L/14's settings), with `residual_rank` components trained.
Both freeze the biases, as dfd does.

With a random tower (offline, `pretrained: false`) the principal part is random, so what
Effort preserves is only meaningful with CLIP's pretrained weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import DetectorOutput
from dfd.models.zoo.clip_vit import ATTENTION_PROJECTIONS, CLIPDetector


def orthogonality(vectors: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """‖[Q_r, X]ᵀ[Q_r, X] - I‖²_F for trained columns X (n, k) beside the frozen principal
    vectors Q_r, less its frozen block Q_rᵀQ_r - I (zero up to rounding, no gradient):
    2‖Q_rᵀX‖² + ‖XᵀX - I‖². Q_r and the original residual vectors X₀ (`original`) together are
    the orthogonal matrix of a square weight's SVD, so Q_rQ_rᵀ = I - X₀X₀ᵀ and
    ‖Q_rᵀX‖² = ‖X‖² - ‖X₀ᵀX‖², with no need to keep Q_r."""
    across = (vectors.pow(2).sum() - (original.T @ vectors).pow(2).sum()).clamp_min(0)
    eye = torch.eye(vectors.shape[1], dtype=vectors.dtype, device=vectors.device)
    return 2 * across + (vectors.T @ vectors - eye).pow(2).sum()


def smallest_singular(
    weight: torch.Tensor, count: int, steps: int = 100, extra: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The `count` smallest singular values s and their vectors u, v (n, count) of a square
    weight, in float64. Inverse subspace iteration on WᵀW (one LU of W, then two triangular
    solves a step, on `extra` more vectors than asked so that close singular values do not slow
    it) is many times faster than a full SVD of a 768x768 weight on a CPU; the principal part is
    W minus these, so nothing else is needed. If it does not converge in `steps`, or W is
    singular, a full SVD."""
    w = weight.double()
    lu, pivots, info = torch.linalg.lu_factor_ex(w)
    size = min(count + extra, w.shape[0])
    x = torch.randn(w.shape[0], size, dtype=w.dtype, generator=torch.Generator().manual_seed(0))
    for _ in range(steps if info == 0 else 0):
        x = torch.linalg.lu_solve(lu, pivots, torch.linalg.lu_solve(lu, pivots, x, adjoint=True))
        x = torch.linalg.qr(x).Q
        u, s, zh = torch.linalg.svd(w @ x, full_matrices=False)  # Rayleigh-Ritz
        u, s, v = u[:, -count:], s[-count:], x @ zh[-count:].T
        if (w.T @ u - v * s).norm() <= 1e-10 * w.norm():
            return u, s, v
    u, s, vh = torch.linalg.svd(w)
    return u[:, -count:], s[-count:], vh[-count:].T


class SVDResidualLinear(nn.Module):
    """A square linear layer as W_r + U diag(S) Vᵀ: the principal part (its top singular
    components) and the bias frozen, the `residual_rank` smallest components trained as `u`
    (n, k), `s` (k,), `v` (n, k); the original residual vectors and energy kept as buffers."""

    def __init__(self, linear: nn.Linear, residual_rank: int) -> None:
        super().__init__()
        weight = linear.weight.detach()
        n = weight.shape[0]
        if weight.shape != (n, n):
            raise ValueError(f"Effort splits square projections, not {tuple(weight.shape)}")
        if not 0 < residual_rank < n:
            raise ValueError(f"residual_rank must be 1..{n - 1}, not {residual_rank}")
        u, s, v = smallest_singular(weight, residual_rank)
        dtype = weight.dtype
        principal = (weight.double() - (u * s) @ v.T).to(dtype)
        bias = linear.bias.detach().clone() if linear.bias is not None else torch.zeros(n)
        self.principal = nn.Parameter(principal, requires_grad=False)
        self.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
        self.register_buffer("original_u", u.to(dtype))
        self.register_buffer("original_v", v.to(dtype))
        self.register_buffer("original_energy", weight.double().pow(2).sum().to(dtype))
        self.u = nn.Parameter(u.to(dtype))
        self.s = nn.Parameter(s.to(dtype))
        self.v = nn.Parameter(v.to(dtype))

    def weight(self) -> torch.Tensor:
        """The layer's weight now: the frozen principal part plus the trained residual."""
        return self.principal + (self.u * self.s) @ self.v.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)

    def orthogonality_loss(self) -> torch.Tensor:
        """The paper's orthogonality constraint on both sides of the SVD."""
        return orthogonality(self.u, self.original_u) + orthogonality(self.v, self.original_v)

    def singular_value_loss(self) -> torch.Tensor:
        """|‖W‖²_F - ‖W₀‖²_F|: the squared singular values' sum kept at the original's."""
        return (self.weight().pow(2).sum() - self.original_energy).abs()


def split_attention(tower: nn.Module, residual_rank: int) -> None:
    """Replace every attention projection (q, k, v, out) of the tower's layers by its SVD split;
    everything else in the tower is frozen."""
    tower.requires_grad_(False)
    for layer in tower.encoder.layers:
        for name in ATTENTION_PROJECTIONS:
            split = SVDResidualLinear(getattr(layer.self_attn, name), residual_rank)
            setattr(layer.self_attn, name, split)


class Effort(CLIPDetector):
    """CLIP's tower with SVD-split attention projections (only the residuals train) and a
    linear head; its orthogonality and singular-value losses are auxiliary losses."""

    paper = (
        "Zhiyuan Yan, Jiangming Wang, Peng Jin, Ke-Yue Zhang, Chengchun Liu, Shen Chen, Taiping "
        "Yao, Shouhong Ding, Baoyuan Wu, Li Yuan, Orthogonal Subspace Decomposition for "
        "Generalizable AI-Generated Image Detection, ICML 2025"
    )

    def __init__(
        self,
        name: str = "openai/clip-vit-base-patch16",
        pretrained: bool = False,
        weights: str | None = None,
        tower: Mapping[str, int] | None = None,
        residual_rank: int = 1,
        orthogonality_weight: float = 1.0,
        singular_value_weight: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        """The CLIP settings as `CLIPDetector`'s (the split is made after the weights load);
        `residual_rank`: trained singular components per projection; the weights multiply the
        two losses (0 leaves one out)."""
        super().__init__(name, pretrained, weights, tower, tune="frozen", dropout=dropout)
        self.tune = f"svd residual rank {residual_rank}"
        split_attention(self.tower, residual_rank)
        self.trains_by_design = self.trainable_tower_names()
        self.loss_weights = {
            "orthogonality": orthogonality_weight,
            "singular_value": singular_value_weight,
        }

    def split_layers(self) -> list[SVDResidualLinear]:
        """The SVD-split attention projections of the tower."""
        return [m for m in self.tower.modules() if isinstance(m, SVDResidualLinear)]

    def regularisers(self) -> dict[str, torch.Tensor]:
        """The two losses, each averaged over the split projections and weighted (weight 0:
        left out)."""
        terms = {
            "orthogonality": SVDResidualLinear.orthogonality_loss,
            "singular_value": SVDResidualLinear.singular_value_loss,
        }
        split = self.split_layers()
        return {
            name: self.loss_weights[name] * torch.stack([loss(m) for m in split]).mean()
            for name, loss in terms.items()
            if self.loss_weights[name] > 0
        }

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        logits, frames = self.forward_with_frames(batch["clip"])
        return DetectorOutput(logits, self.regularisers(), frames)
