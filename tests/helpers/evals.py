"""Synthetic evaluation results for the report tests: score tables over real JPEG face crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw
from sklearn import metrics as skm

THRESHOLD = 0.43


@dataclass
class EvalCase:
    """The tables and dicts the evaluation step hands to the figure, HTML and W&B writers."""

    videos: pd.DataFrame
    clips: pd.DataFrame
    frames: pd.DataFrame
    metrics: dict
    history: pd.DataFrame


def face_crop(rng: np.random.Generator, size: int) -> Image.Image:
    """A face-like RGB crop: skin-toned oval with eyes, brows and a mouth on a plain background."""
    background = tuple(int(v) for v in rng.integers(40, 200, 3))
    skin = tuple(int(v) for v in np.array([224, 172, 140]) * rng.uniform(0.55, 1.05))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    s = size / 64
    draw.ellipse([14 * s, 8 * s, 50 * s, 58 * s], fill=skin)
    for x in (23, 41):
        draw.ellipse([(x - 4) * s, 26 * s, (x + 4) * s, 31 * s], fill=(250, 250, 250))
        draw.ellipse([(x - 2) * s, 27 * s, (x + 2) * s, 30 * s], fill=(40, 30, 20))
        draw.line(
            [(x - 5) * s, 22 * s, (x + 5) * s, 21 * s], fill=(60, 40, 30), width=max(1, int(s))
        )
    draw.arc(
        [25 * s, 40 * s, 39 * s, 50 * s], 20, 160, fill=(150, 50, 50), width=max(1, int(2 * s))
    )
    return image


def _frame_scores(rng: np.random.Generator, base: float, count: int) -> np.ndarray:
    walk = np.cumsum(rng.normal(0, 0.05, count))
    return np.clip(base + walk - walk.mean() + rng.normal(0, 0.04, count), 0.01, 0.99)


def _ece(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    index = np.clip((scores * bins).astype(int), 0, bins - 1)
    return float(
        sum(
            abs(scores[index == b].mean() - labels[index == b].mean()) * (index == b).mean()
            for b in range(bins)
            if (index == b).any()
        )
    )


def level_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The metric names of the evaluation contract, computed with scikit-learn."""
    predictions = (scores >= threshold).astype(int)
    fpr, tpr, _ = skm.roc_curve(labels, scores)
    eer_at = np.argmin(np.abs(fpr - (1 - tpr)))
    return {
        "auroc": skm.roc_auc_score(labels, scores),
        "ap": skm.average_precision_score(labels, scores),
        "eer": float((fpr[eer_at] + 1 - tpr[eer_at]) / 2),
        "acc": skm.accuracy_score(labels, predictions),
        "balanced_acc": skm.balanced_accuracy_score(labels, predictions),
        "f1": skm.f1_score(labels, predictions),
        "log_loss": skm.log_loss(labels, scores),
        "brier": skm.brier_score_loss(labels, scores),
        "ece": _ece(labels, scores),
    }


def training_history(epochs: int = 8) -> pd.DataFrame:
    """Lightning CSV-logger shaped history: train and val values on separate rows, with NaNs."""
    rows = []
    for epoch in range(epochs):
        rows.append({"epoch": epoch, "step": epoch * 10 + 5, "train/loss_step": 0.7 - 0.05 * epoch})
        rows.append(
            {
                "epoch": epoch,
                "step": epoch * 10 + 9,
                "val/loss": 0.69 - 0.04 * epoch,
                "val/video_auroc": 0.6 + 0.04 * epoch,
                "val/clip_auroc": 0.58 + 0.035 * epoch,
            }
        )
        rows.append(
            {"epoch": epoch, "step": epoch * 10 + 9, "train/loss_epoch": 0.68 - 0.05 * epoch}
        )
    rows.append({"step": 0, "lr-AdamW": 1e-4})
    return pd.DataFrame(rows)


def make_case(
    root: Path,
    num_videos: int = 12,
    clips_per_face: int = 2,
    clip_len: int = 4,
    size: int = 64,
    seed: int = 0,
    long_ids: bool = False,
) -> EvalCase:
    """Videos alternating real/fake (every fourth has two faces), crops written under root.

    Video 0 (real) is a sure false positive and video 1 (fake) a sure false negative.
    """
    rng = np.random.default_rng(seed)
    video_rows, clip_rows, frame_rows = [], [], []
    for v in range(num_videos):
        label = v % 2
        video_id = f"{'fake' if label else 'real'}_{v:03d}" + ("_" + "x" * 40 if long_ids else "")
        group, method = f"id{v // 2:02d}", ("swap" if v % 4 == 1 else "sbi") if label else "real"
        base = {0: 0.88, 1: 0.15}.get(v, (0.68 if label else 0.3) + rng.normal(0, 0.17))
        faces = 2 if v % 4 == 3 else 1
        clip_scores = []
        for face in range(faces):
            crop = face_crop(rng, size)
            folder = root / video_id / str(face)
            folder.mkdir(parents=True, exist_ok=True)
            scores = _frame_scores(rng, float(base), clips_per_face * clip_len)
            paths = []
            for frame, score in enumerate(scores):
                path = folder / f"{frame:04d}.jpg"
                tilted = crop.rotate(float(rng.normal(0, 4)), fillcolor=crop.getpixel((0, 0)))
                tilted.save(path, quality=90)
                paths.append(str(path))
                frame_rows.append(
                    {
                        "video_id": video_id,
                        "face": face,
                        "frame": frame,
                        "path": str(path),
                        "label": label,
                        "score": float(score),
                    }
                )
            for c in range(clips_per_face):
                window = slice(c * clip_len, (c + 1) * clip_len)
                clip_scores.append(float(scores[window].mean()))
                clip_rows.append(
                    {
                        "video_id": video_id,
                        "face": face,
                        "clip_start": c * clip_len,
                        "num_frames": clip_len,
                        "label": label,
                        "score": clip_scores[-1],
                        "frames": ";".join(paths[window]),
                        "group": group,
                        "method": method,
                    }
                )
        score = float(np.mean(clip_scores))
        video_rows.append(
            {
                "video_id": video_id,
                "label": label,
                "score": score,
                "prediction": int(score >= THRESHOLD),
                "num_clips": len(clip_scores),
                "num_faces": faces,
                "group": group,
                "method": method,
            }
        )
    videos, clips = pd.DataFrame(video_rows), pd.DataFrame(clip_rows)
    frames = pd.DataFrame(frame_rows)
    metrics = {
        level: level_metrics(table["label"].to_numpy(), table["score"].to_numpy(), THRESHOLD)
        for level, table in (("video", videos), ("clip", clips), ("frame", frames))
    }
    auroc, ap = metrics["video"]["auroc"], metrics["video"]["ap"]
    metrics.update(
        {
            "ci": {
                "video_auroc": [max(0.0, auroc - 0.08), min(1.0, auroc + 0.05)],
                "video_ap": [max(0.0, ap - 0.09), min(1.0, ap + 0.04)],
            },
            "threshold": {"rule": "eer", "value": THRESHOLD, "chosen_on": "val"},
            "num_videos": num_videos,
            "aggregation": "mean",
            "checkpoint": "/runs/x/epoch003.ckpt",
        }
    )
    return EvalCase(videos, clips, frames, metrics, training_history())
