"""GPU figures: training clips/s in fp32 eager against bf16-mixed + channels_last + torch.compile,
and MTCNN face detection on the GPU against the CPU.

    python benchmarks/gpu_bench.py [--steps N] [--batch B] [--dry-run]

Detectors: EfficientNet-B4 (``model=efficientnet_b4``, frames of 380 px, one per clip) and one
video detector (``model=r2plus1d_18``, 16-frame clips of 112 px), built from the repository's
Hydra config with random weights. Each variant trains ``--steps`` optimizer steps on random
clips already on the device, after a warm-up (compilation included there), so the figure is the
model's training speed, not the data's. MTCNN: frames per second of dfd's detector
(``dfd.prepare.detectors``) on batches of 720p frames of a real face video, on CUDA and on the CPU.

Without a CUDA device the script says so, and writes the rows with their values left empty
(results/gpu.csv), as the issue asks. ``--dry-run`` runs every row once on the CPU (one step,
batch 1, nothing written) to check the script before a GPU's time is spent on it. A row that
fails is written with its one-line reason, so one broken variant never loses the others.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from results_table import write_table

from dfd.module import to_channels_last

REPO = Path(__file__).resolve().parents[1]
DETECTORS = {
    "efficientnet_b4": [
        "model=efficientnet_b4",
        "datamodule.clip_len=1",
        "datamodule.image_size=380",
    ],
    "r2plus1d_18": ["model=r2plus1d_18", "datamodule.clip_len=16", "datamodule.image_size=112"],
}
VARIANTS = {
    "fp32 eager": (torch.float32, False),
    "bf16-mixed eager": (torch.bfloat16, False),
    "bf16-mixed + channels_last + compile": (torch.bfloat16, True),
}
HEADER = ["what", "setting", "clips or frames/s", "vs first row", "peak GPU memory (GiB)"]
MEDIA = "woman_pexels"


def detector(overrides: list[str]) -> tuple[torch.nn.Module, tuple[int, int]]:
    """The configured detector and its (clip length, image size)."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"data.raw_dir={REPO}", *overrides])
    module = instantiate(cfg.module)
    return module.detector, (cfg.datamodule.clip_len, cfg.datamodule.image_size)


def training_rate(
    name: str, dtype: torch.dtype, fast: bool, steps: int, batch: int, device: str = "cuda"
) -> float:
    """Clips/s of forward, BCE and backward plus an AdamW step on device-resident clips."""
    model, (length, size) = detector(DETECTORS[name])
    model = model.to(device)
    clips = torch.randn(batch, length, 3, size, size, device=device)
    if fast:
        to_channels_last(model)
        model = torch.compile(model)
    labels = torch.randint(0, 2, (batch,), device=device).float()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(clips), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3 if device == "cuda" else 1):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so that a timer reads the work and not its launch."""
    if device == "cuda":
        torch.cuda.synchronize()


def peak_memory(device: str) -> str:
    """Peak GPU memory since the last reset, in GiB (empty on the CPU), then reset it."""
    if device != "cuda":
        return ""
    peak = torch.cuda.max_memory_allocated() / 2**30
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return f"{peak:.1f}"


def mtcnn_rate(device: str, frames: int = 64) -> float:
    """Frames/s of dfd's MTCNN detector on 720p frames of a real face video."""
    import cv2
    import numpy as np

    from dfd.demo.media import fetch_media
    from dfd.prepare.detectors import DETECTORS as FACE_DETECTORS

    capture = cv2.VideoCapture(str(fetch_media([MEDIA])[MEDIA]))
    images = []
    while len(images) < frames:
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        images.append(cv2.cvtColor(cv2.resize(frame, (1280, 720)), cv2.COLOR_BGR2RGB))
    images = np.stack(images)
    found = FACE_DETECTORS["mtcnn"](device=device, batch_size=32)
    found.detect(images[:8])
    start = time.perf_counter()
    found.detect(images)
    synchronize(device)
    return len(images) / (time.perf_counter() - start)


def measured(what: str, measure: Callable[[], float], device: str) -> tuple[float | None, str]:
    """Run one measurement; a failure becomes its one-line reason instead of ending the script."""
    print(f"measuring {what} ...", flush=True)
    try:
        return measure(), peak_memory(device)
    except Exception as error:  # the reason goes into the table, not a traceback
        reason = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
        print(reason, flush=True)
        peak_memory(device)
        return None, reason


def ratio_rows(what: str, rates: dict[str, tuple[float | None, str]]) -> list[list[str]]:
    """Rows of one comparison: each setting's rate and its speed against the first setting."""
    base = next(iter(rates.values()))[0]
    rows = []
    for setting, (rate, memory) in rates.items():
        if rate is None:
            rows.append([what, setting, "", "", memory])
            continue
        speedup = f"{rate / base:.2f}x" if base else ""
        rows.append([what, setting, f"{rate:.1f}", speedup, memory])
    return rows


def gpu_rows(steps: int, batch: int, device: str) -> list[list[str]]:
    """Every row of the table, measured on `device` (the CPU only for a dry run)."""
    rows: list[list[str]] = []
    for name in DETECTORS:
        rates = {
            variant: measured(
                f"{name}, {variant}",
                lambda name=name, variant=variant: training_rate(
                    name, *VARIANTS[variant], steps, batch, device
                ),
                device,
            )
            for variant in VARIANTS
        }
        rows += ratio_rows(f"train {name}", rates)
    detection = {
        where: measured(f"MTCNN on {where}", lambda where=where: mtcnn_rate(where), where)
        for where in dict.fromkeys(("cpu", device))
    }
    rows += ratio_rows("MTCNN (dfd's detector)", detection)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--dry-run", action="store_true", help="run every row once on the CPU; write nothing"
    )
    args = parser.parse_args()
    if args.dry_run:
        for row in gpu_rows(steps=1, batch=1, device="cpu"):
            print(" | ".join(row))
        return
    if not torch.cuda.is_available():
        print("no CUDA device here: the GPU figures are left empty")
        rows = [
            [f"train {name}", variant, "", "", ""] for name in DETECTORS for variant in VARIANTS
        ]
        rows += [["MTCNN (dfd's detector)", device, "", "", ""] for device in ("cpu", "cuda")]
        note = "No CUDA device on the machine that last ran it: values left empty."
    else:
        rows = gpu_rows(args.steps, args.batch, "cuda")
        note = (
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, "
            f"{args.steps} timed steps after 3 warm-up steps (compilation happens in the "
            f"warm-up); MTCNN on {os.cpu_count()} CPU cores against the GPU, batches of 32 "
            "frames of 1280x720."
        )
    for row in rows:
        print(" | ".join(row))
    write_table("gpu", HEADER, rows, note)


if __name__ == "__main__":
    main()
