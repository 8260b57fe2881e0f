"""Grad-CAM explanations: where in the face crops a detector's fake logit comes from.

pytorch-grad-cam computes the maps. Every detector is shown to it as a model of whole clips
with one feature volume (B, C, T', h, w) at the target layer, whatever the detector's
`gradcam_layout` (see `dfd.models.Detector`; its `gradcam_target_layers` give the default layer):

- "frames": frame backbones run all frames of a clip as one image batch, so the layer puts out
  (B*T, C, h, w); that batch is unfolded to (B, C, T, h, w) and every frame keeps its own map;
- "channels_first": 3D CNNs (r3d_18, mc3_18, r2plus1d_18, s3d) put out (B, C, T', h, w); the
  maps are interpolated from T' up to the clip's T frames;
- "channels_last" (Video Swin: (B, T', h, w, C)), "tokens" (MViT: a class token plus
  T'*h*w tokens) and "frame_tokens" (an image transformer on every frame, (B*T, 1 + h*w, C))
  are reshaped into the same volume.

The channel weights are the fake logit's gradients averaged over the whole volume, and one
min-max scale is shared by all frames of a clip, so the overlays of a clip compare with one
another. The detector is handed back as it came: modes, `requires_grad` flags, gradients and
hooks are restored.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from torch import nn
from torch.utils.data import Dataset

from dfd.models import Detector
from dfd.report.figures import CLASS_COLOURS, CLASS_NAMES, DPI

log = logging.getLogger(__name__)

MAX_COLUMNS = 8  # frames shown per panel (evenly spaced over longer clips)
CELL_INCHES = 1.6  # size of one frame in a panel
HOW_TO_SET = "set evaluation.gradcam.target_layer to a dotted module path inside the detector"

Normalize = Callable[[torch.Tensor], torch.Tensor]


class FakeLogitTarget:
    """Grad-CAM target of a one-logit detector: the fake logit of one clip."""

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if output.numel() != 1:
            raise ValueError(
                f"expected one fake logit per clip, got an output of shape {tuple(output.shape)}"
            )
        return output.reshape(())


# ----------------------------------------------------------------------------- target layers


def find_target_layer(detector: Detector, override: str | None = None) -> nn.Module:
    """The layer Grad-CAM explains: `override` (a dotted module path inside the detector, e.g.
    "backbone.model.layer4"), else the detector's first `gradcam_target_layers`."""
    if override:
        return _submodule(detector, override)
    try:
        layers = detector.gradcam_target_layers()
    except ValueError as error:
        raise ValueError(f"{error}; {HOW_TO_SET}") from error
    if not layers:
        raise ValueError(f"no Grad-CAM layer is known for {detector.describe()}: {HOW_TO_SET}")
    return _submodule(detector, layers[0])


def _submodule(detector: Detector, path: str) -> nn.Module:
    """`detector.get_submodule(path)`, or a ValueError naming what the path could continue with."""
    try:
        return detector.get_submodule(path)
    except AttributeError as error:
        parent = detector
        for part in path.split("."):
            child = getattr(parent, "_modules", {}).get(part)
            if child is None:
                break
            parent = child
        options = ", ".join(name for name, _ in parent.named_children()) or "none"
        raise ValueError(
            f"Grad-CAM target layer '{path}' is not a module of "
            f"{type(detector).__name__} ({error}); the deepest module it names "
            f"has the children: {options}"
        ) from error


def _module_name(detector: Detector, layer: nn.Module) -> str:
    return next((name for name, module in detector.named_modules() if module is layer), "?")


# ----------------------------------------------------------------------------- maps


class _ChannelsFirst(nn.Module):
    """The detector as a model of (B, C, T, H, W) clips, the layout pytorch-grad-cam sizes
    volume maps by (it reads T, H, W from the input's last three dimensions)."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.detector(clips.transpose(1, 2))


def gradcam_maps(
    detector: Detector, clip: torch.Tensor, target_layer: nn.Module | str | None = None
) -> np.ndarray:
    """Grad-CAM maps (T, H, W) in [0, 1] of the fake logit for one normalized clip (T, 3, H, W),
    one scale for the whole clip. `target_layer`: a module, a dotted path or None (found)."""
    layer = (
        target_layer
        if isinstance(target_layer, nn.Module)
        else find_target_layer(detector, target_layer)
    )
    name = _module_name(detector, layer)
    parameter = next(detector.parameters())
    # cuDNN's RNNs backpropagate in train mode only: the LSTM head runs without cuDNN here
    no_cudnn = parameter.device.type == "cuda" and any(
        isinstance(m, nn.RNNBase) for m in detector.modules()
    )
    with (
        _restored(detector),
        torch.inference_mode(False),
        torch.enable_grad(),
        torch.backends.cudnn.flags(enabled=False) if no_cudnn else nullcontext(),
    ):
        detector.requires_grad_(False)  # gradients flow to the input, not into the weights
        clips = clip.detach().to(parameter.device, torch.float32).transpose(0, 1)[None]
        clips = clips.clone().requires_grad_(True)
        volume = partial(_to_volume, detector, name, clip.shape[0])
        cam = GradCAM(_ChannelsFirst(detector), [layer], reshape_transform=volume)
        try:
            maps = cam(clips, targets=[FakeLogitTarget()])
        finally:
            cam.activations_and_grads.release()
    return maps[0]


# the dimensions of each layout's output, and how it is described in errors
LAYOUT_DIMS = {"frames": 4, "channels_first": 5, "channels_last": 5, "tokens": 3, "frame_tokens": 3}
LAYOUT_WORDS = {
    "frames": "(B*T, C, h, w) frame feature maps",
    "channels_first": "(B, C, T, h, w) feature maps",
    "channels_last": "(B, T, h, w, C) maps",
    "tokens": "(B, tokens, C) tokens",
    "frame_tokens": "(B*T, tokens, C) tokens of every frame",
}


def _to_volume(detector: Detector, name: str, clip_len: int, output: object) -> torch.Tensor:
    """The target layer's output (activations or their gradients) as (B, C, T', h, w)."""
    layout = detector.gradcam_layout
    ndim = output.ndim if isinstance(output, torch.Tensor) else None
    if ndim == LAYOUT_DIMS[layout]:
        if layout == "frames":  # (B*T, C, h, w) -> (B, T, C, h, w) -> (B, C, T, h, w)
            return output.reshape(-1, clip_len, *output.shape[1:]).transpose(1, 2)
        if layout == "channels_last":
            return output.permute(0, 4, 1, 2, 3)
        if layout == "tokens":
            return _token_volume(output, detector.gradcam_token_frames(clip_len), name)
        if layout == "frame_tokens":  # (B*T, C, 1, h, w) -> (B, T, C, h, w) -> (B, C, T, h, w)
            frames = _token_volume(output, 1, name).squeeze(2)
            return frames.reshape(-1, clip_len, *frames.shape[1:]).transpose(1, 2)
        return output
    shape = tuple(output.shape) if ndim is not None else type(output).__name__
    raise ValueError(
        f"Grad-CAM target layer '{name}' puts out {shape}, not {LAYOUT_WORDS[layout]}: "
        f"{HOW_TO_SET} (e.g. {_example_layer(detector)})"
    )


def _example_layer(detector: Detector) -> str:
    if detector.gradcam_layout != "frames":
        return ", ".join(detector.gradcam_target_layers()) or "a layer of its backbone"
    return "backbone.model.layer4 for a ResNet, backbone.model.features for a MobileNet"


def _token_volume(tokens: torch.Tensor, frames: int, name: str) -> torch.Tensor:
    """(B, 1 + T'*h*w, C) tokens after a class token -> (B, C, T', h, w), square frames."""
    batch, count, channels = tokens.shape
    side = math.isqrt((count - 1) // frames)
    if frames * side * side != count - 1:
        raise ValueError(
            f"Grad-CAM target layer '{name}' has {count} tokens, not a class token "
            f"plus {frames} square frames: {HOW_TO_SET}"
        )
    grid = tokens[:, 1:].reshape(batch, frames, side, side, channels)
    return grid.permute(0, 4, 1, 2, 3)


@contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
    """Put back every module's train/eval mode and every parameter's `requires_grad` and
    `.grad` (the CAM switches to eval, freezes weights and clears gradients)."""
    modes = [(module, module.training) for module in model.modules()]
    parameters = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for parameter, requires_grad, grad in parameters:
            parameter.requires_grad_(requires_grad)
            parameter.grad = grad


def explain_clip(
    detector: Detector,
    clip: torch.Tensor,
    raw_frames: np.ndarray,
    target_layer: nn.Module | str | None = None,
) -> np.ndarray:
    """Grad-CAM overlays (T, H, W, 3) uint8 of one clip: `clip` is the normalized model input
    (T, 3, H, W), `raw_frames` the same frames as uint8 RGB (T, H, W, 3), any size."""
    return overlay_maps(raw_frames, gradcam_maps(detector, clip, target_layer))


def overlay_maps(raw_frames: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Maps (T, h, w) in [0, 1] as a heat map over uint8 RGB frames (T, H, W, 3)."""
    height, width = raw_frames.shape[1:3]
    overlays = []
    for frame, heat in zip(raw_frames, maps):
        if heat.shape != (height, width):
            heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
        overlays.append(show_cam_on_image(frame.astype(np.float32) / 255, heat, use_rgb=True))
    return np.stack(overlays)


# ----------------------------------------------------------------------------- panels


def pick_sample_clips(clips: pd.DataFrame, count: int) -> pd.DataFrame:
    """The `count` clips the detector is surest of (score for fakes, 1 - score for reals), one
    per video, fakes and reals alternating (the other class fills in when one runs out)."""
    if count <= 0 or clips.empty:
        return clips.iloc[:0].assign(kind="sample")
    sure = np.where(clips["label"] == 1, clips["score"], 1 - clips["score"])
    ranked = (
        clips.assign(confidence=sure)
        .sort_values("confidence", ascending=False, kind="mergesort")
        .drop_duplicates("video_id")
    )
    ranked = ranked.assign(rank=ranked.groupby("label").cumcount())
    picked = ranked.sort_values(["rank", "label"], ascending=[True, False], kind="mergesort")
    return picked.head(count).drop(columns=["confidence", "rank"]).assign(kind="sample")


def pick_misclassified_clips(clips: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """For each misclassified video (video_id, label, score): its highest-scoring clip when it
    is real (a false positive), its lowest-scoring one when fake (a false negative)."""
    rows = []
    for video in videos.itertuples(index=False):
        own = clips[clips["video_id"] == video.video_id]
        if own.empty:
            log.info("Grad-CAM: misclassified video %s has no scored clip", video.video_id)
            continue
        real = int(video.label) == 0
        row = own.loc[own["score"].idxmax() if real else own["score"].idxmin()].copy()
        row["kind"] = "false positive" if real else "false negative"
        row["video_score"] = float(video.score)
        rows.append(row)
    return pd.DataFrame(rows)


def write_gradcam_panels(
    detector: Detector,
    dataset: Dataset,
    normalize: Normalize,
    clips_table: pd.DataFrame,
    out_dir: Path,
    count: int = 4,
    misclassified: pd.DataFrame | None = None,
    target_layer: nn.Module | str | None = None,
) -> list[Path]:
    """PNG panels (face crops above, Grad-CAM overlays below) for `count` sample clips and the
    `misclassified` videos (video_id, label, score, prediction). `dataset[clip_idx]` must give
    the clips table's clips. Returns the paths; none, with a logged reason, when the detector
    has no layer Grad-CAM can explain."""
    chosen = pick_sample_clips(clips_table, count).to_dict("records")
    if misclassified is not None and not misclassified.empty:
        chosen += pick_misclassified_clips(clips_table, misclassified).to_dict("records")
    if not chosen:
        log.info("Grad-CAM: no clips to explain")
        return []
    try:
        layer = (
            target_layer
            if isinstance(target_layer, nn.Module)
            else find_target_layer(detector, target_layer)
        )
    except ValueError as error:
        log.warning("Grad-CAM panels skipped: %s", error)
        return []
    name = _module_name(detector, layer)
    device = next(detector.parameters()).device
    out_dir = Path(out_dir)
    paths = []
    for number, pick in enumerate(chosen, start=1):
        frames = dataset[int(pick["clip_idx"])]["clip"]  # (T, 3, H, W) uint8
        raw = frames.permute(0, 2, 3, 1).numpy()
        try:
            maps = gradcam_maps(detector, normalize(frames[None].to(device))[0], layer)
        except ValueError as error:
            log.warning("Grad-CAM panels skipped: %s", error)
            return paths
        figure = _panel(raw, overlay_maps(raw, maps), pick, name, silent=float(maps.max()) < 0.5)
        prefix = "sample" if pick["kind"] == "sample" else "misclassified"
        file_name = f"{prefix}_{number:02d}_{_slug(pick['video_id'])}.png"
        paths.append(_save(figure, out_dir / file_name))
    log.info("Grad-CAM: %d panels (layer %s) -> %s", len(paths), name, out_dir)
    return paths


def _panel(
    raw: np.ndarray, overlays: np.ndarray, pick: dict, layer_name: str, silent: bool
) -> Figure:
    """Crops above, overlays below, titled with the video, its label and scores; `silent`:
    the map is zero (nothing in the clip raises the fake logit), said in the caption."""
    real_frames = max(1, min(int(pick.get("num_frames") or len(raw)), len(raw)))  # no padding
    shown = np.unique(
        np.linspace(0, real_frames - 1, min(real_frames, MAX_COLUMNS)).round().astype(int)
    )
    columns = len(shown)
    figure = Figure(
        figsize=(max(CELL_INCHES * columns, 4.8) + 0.4, 2 * CELL_INCHES + 1.2), layout="constrained"
    )
    axes = figure.subplots(2, columns, squeeze=False)
    start = int(pick.get("clip_start") or 0)
    for column, index in enumerate(shown):
        axes[0, column].imshow(raw[index])
        axes[1, column].imshow(overlays[index])
        axes[0, column].set_title(f"crop {start + index}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("face crop", fontsize=9)
    axes[1, 0].set_ylabel("Grad-CAM", fontsize=9)
    label = int(pick["label"])
    scores = f"clip score {pick['score']:.3f}"
    if pick["kind"] != "sample":
        scores += f", video {pick['video_score']:.3f}: {pick['kind']}"
    figure.suptitle(
        f"{pick['video_id']} (face {int(pick.get('face') or 0)})\n{CLASS_NAMES[label]}, {scores}",
        fontsize=9,
        color=CLASS_COLOURS[label],
    )
    note = "; nothing raises it here (map all zero)" if silent else "; red: pushes toward fake"
    figure.supxlabel(
        f"Grad-CAM of the fake logit at {layer_name}{note}", fontsize=7, color="#555555"
    )
    return figure


def _slug(video_id: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(video_id)).strip("_")[:80] or "video"


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, facecolor="white")
    figure.clear()
    return path
