"""F3Net: two frequency views of a face, each into its own CNN, mixed by cross attention.

Qian et al., "Thinking in Frequency: Face Forgery Detection by Mining Frequency-aware Clues",
ECCV 2020. Compression hides forgery artefacts in RGB but they survive in frequency, so:

- FAD (frequency-aware decomposition): the DCT of each colour channel is multiplied by four
  filters, each a fixed binary band (low: the first 1/16 of the spectrum counted along
  i + j in units of the image side; middle: 1/16 to 1/8; high: the rest; all) plus a learnable
  part tanh(w / 2) that starts at zero, and transformed back: 4 bands x 3 colours = 12 channels
  of images;
- LFS (local frequency statistics): a sliding window (10 x 10, stride 2) over the grey image,
  the DCT of every window, and for each of 6 bands (equal slices of i + j, again base plus
  learnable filter) log10 of the mean DCT magnitude in the band: a 6-channel map at half size;
- one CNN per branch (the first convolution widened to 12 and 6 channels), coupled by MixBlock
  cross attention after some units (default after Xception's block7 and block12), the two final
  maps pooled, concatenated and classified.

How dfd differs from DeepfakeBench (`f3net_detector.py`), which keeps only the FAD branch on one
Xception: dfd builds both branches, their two streams and the MixBlock fusion, as in the paper.
dfd's MixBlock is a gated two-way cross attention (`dfd.models.zoo.cross_attention`), and the
LFS band statistic is the log of the band's mean magnitude (the paper's log of the filtered L1
norm, divided by the band's size so bands of different sizes compare).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.inputs import InputSpec
from dfd.models.zoo.cross_attention import CrossAttention
from dfd.models.zoo.dct import dct2, dct_matrix, idct2
from dfd.models.zoo.per_frame import PerFrameDetector
from dfd.models.zoo.spsl import grey
from dfd.models.zoo.units import BackboneUnits

# FAD's bands as [start, end) of i + j in units of the image side (the last ends past 2 N - 2)
FAD_BANDS = ((0.0, 1 / 16), (1 / 16, 1 / 8), (1 / 8, 2.0), (0.0, 2.0))


def diagonal_bands(size: int, edges: Sequence[tuple[float, float]]) -> torch.Tensor:
    """Binary masks (len(edges), size, size): 1 where start <= i + j < end."""
    index = torch.arange(size)
    diagonal = (index[:, None] + index[None]).float()
    return torch.stack([(diagonal >= lo) & (diagonal < hi) for lo, hi in edges]).float()


class LearnableBands(nn.Module):
    """Fixed binary band masks plus learnable parts tanh(w / 2) in (-1, 1), zero at first."""

    def __init__(self, base: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("base", base)
        self.weight = nn.Parameter(torch.zeros_like(base))

    def forward(self) -> torch.Tensor:
        return self.base + torch.tanh(self.weight / 2)


class FrequencyAwareDecomposition(nn.Module):
    """Images (N, 3, S, S) -> (N, 12, S, S): each colour's DCT through 4 band filters, inverted."""

    def __init__(self, image_size: int) -> None:
        super().__init__()
        edges = [(lo * image_size, hi * image_size) for lo, hi in FAD_BANDS]
        self.filters = LearnableBands(diagonal_bands(image_size, edges))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        spectrum = dct2(images)[:, None]  # (N, 1, 3, S, S)
        bands = idct2(spectrum * self.filters()[None, :, None])  # (N, 4, 3, S, S)
        return bands.flatten(1, 2)


class LocalFrequencyStatistics(nn.Module):
    """Images (N, 3, H, W) -> (N, bands, H', W'): per sliding window of the grey image, log10 of
    the mean DCT magnitude in each frequency band (H' = (H + 2 pad - window) // stride + 1)."""

    def __init__(
        self, window: int = 10, stride: int = 2, bands: int = 6, eps: float = 1e-6
    ) -> None:
        super().__init__()
        self.window, self.stride, self.eps = window, stride, eps
        span = 2 * window - 1  # i + j runs over 0 .. 2 window - 2
        edges = [(k * span / bands, (k + 1) * span / bands) for k in range(bands)]
        self.filters = LearnableBands(diagonal_bands(window, edges))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, height = images.shape[0], images.shape[2]
        pad = (self.window - self.stride) // 2
        windows = F.unfold(grey(images)[:, None], self.window, padding=pad, stride=self.stride)
        windows = windows.transpose(1, 2).reshape(n, -1, self.window, self.window)
        matrix = dct_matrix(self.window, images.dtype, images.device)
        magnitude = (matrix @ windows @ matrix.T).abs()  # (N, L, w, w)
        filters = self.filters().abs()  # (bands, w, w)
        sums = torch.einsum("nlij,bij->nbl", magnitude, filters)
        stats = torch.log10(sums / self.filters.base.sum(dim=(1, 2))[:, None] + self.eps)
        out_h = (height + 2 * pad - self.window) // self.stride + 1
        return stats.reshape(n, -1, out_h, stats.shape[-1] // out_h)


class F3Net(PerFrameDetector):
    """FAD and LFS branches, each a timm CNN, coupled by MixBlocks (module docstring)."""

    paper = (
        "Yuyang Qian, Guojun Yin, Lu Sheng, Zixuan Chen, Jing Shao, Thinking in Frequency: Face "
        "Forgery Detection by Mining Frequency-aware Clues, ECCV 2020"
    )

    def __init__(
        self,
        image_size: int,
        backbone: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        mix_units: Sequence[int] = (7, 12),
        lfs_window: int = 10,
        lfs_stride: int = 2,
        lfs_bands: int = 6,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.image_size, self.backbone_name = image_size, backbone
        self.fad = FrequencyAwareDecomposition(image_size)
        self.lfs = LocalFrequencyStatistics(lfs_window, lfs_stride, lfs_bands)
        self.fad_stream = BackboneUnits(backbone, 3 * len(FAD_BANDS), None, pretrained, weights)
        self.lfs_stream = BackboneUnits(backbone, lfs_bands, None, pretrained, weights)
        channels = self.fad_stream.channels
        for unit in mix_units:
            if not 0 <= unit < len(channels):
                raise ValueError(f"mix unit {unit} is not one of {backbone}'s {len(channels)}")
        self.mix = nn.ModuleDict({str(u): CrossAttention(channels[u]) for u in mix_units})
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * channels[-1], 1)

    @property
    def input_spec(self) -> InputSpec:
        """FAD's filters are as large as the image: frames of exactly `image_size`."""
        return InputSpec(kind="frames", image_size=self.image_size)

    def describe(self) -> str:
        return f"F3Net ({self.backbone_name}, {self.image_size} px)"

    def weights_source(self) -> str:
        """ImageNet weights of the backbone, widened to 12 and 6 channels for the two streams."""
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        head = [self.fad, self.lfs, self.mix, self.classifier]
        return {
            "backbone": nn.ModuleList([self.fad_stream, self.lfs_stream]),
            "head": nn.ModuleList(head),
        }

    def gradcam_target_layers(self) -> list[str]:
        last = len(self.fad_stream.units) - 1
        return [f"fad_stream.units.{last}", f"lfs_stream.units.{last}"]

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        fad, lfs = self.fad(images), self.lfs(images)
        for index, (fad_unit, lfs_unit) in enumerate(
            zip(self.fad_stream.units, self.lfs_stream.units)
        ):
            fad, lfs = fad_unit(fad), lfs_unit(lfs)
            if str(index) in self.mix:
                fad, lfs = self.mix[str(index)](fad, lfs)
        pooled = [F.adaptive_avg_pool2d(x, 1).flatten(1) for x in (fad, lfs)]
        return self.classifier(self.dropout(torch.cat(pooled, dim=1))).squeeze(-1)
