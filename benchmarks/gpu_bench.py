"""GPU figures: training clips/s in fp32 eager against bf16-mixed + channels_last + torch.compile,
and MTCNN face detection on the GPU against the CPU.

    python benchmarks/gpu_bench.py [--steps N] [--batch B]

Detectors: EfficientNet-B4 (``model=efficientnet_b4``, frames of 380 px, one per clip) and one
video detector (``model=r2plus1d_18``, 16-frame clips of 112 px), built from the repository's
Hydra config with random weights. Each variant trains ``--steps`` optimizer steps on random
clips already on the device, after a warm-up (compilation included there), so the figure is the
model's training speed, not the data's. MTCNN: frames per second of dfd's detector
(``dfd.prepare.detectors``) on batches of 720p frames of a real face video, on CUDA and on the CPU.

Without a CUDA device the script says so, and writes the rows with their values left empty
(results/gpu.csv), as the issue asks.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from results_table import write_table

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
    "bf16-mixed + channels_last + compile": (torch.bfloat16, True),
}
HEADER = ["what", "setting", "clips or frames/s", "vs first row"]


def detector(overrides: list[str]) -> tuple[torch.nn.Module, tuple[int, int]]:
    """The configured detector and its (clip length, image size)."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"data.raw_dir={REPO}", *overrides])
    module = instantiate(cfg.module)
    return module.detector, (cfg.datamodule.clip_len, cfg.datamodule.image_size)


def training_rate(name: str, dtype: torch.dtype, fast: bool, steps: int, batch: int) -> float:
    """Clips/s of forward, BCE and backward plus an AdamW step on device-resident clips."""
    model, (length, size) = detector(DETECTORS[name])
    model = model.cuda()
    clips = torch.randn(batch, length, 3, size, size, device="cuda")
    if fast:
        model = model.to(memory_format=torch.channels_last)
        if length > 1:
            clips = clips.contiguous()
        model = torch.compile(model)
    labels = torch.randint(0, 2, (batch,), device="cuda").float()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(clips), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def mtcnn_rate(device: str, frames: int = 64) -> float:
    """Frames/s of dfd's MTCNN detector on 720p frames of a real face video."""
    import cv2
    import numpy as np

    from dfd.demo.media import fetch_media
    from dfd.prepare.detectors import DETECTORS as FACE_DETECTORS

    capture = cv2.VideoCapture(str(next(iter(fetch_media().values()))))
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
    if device == "cuda":
        torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    rows: list[list[str]] = []
    if not torch.cuda.is_available():
        print("no CUDA device here: the GPU figures are left empty")
        for name in DETECTORS:
            rows += [[f"train {name}", variant, "", ""] for variant in VARIANTS]
        rows += [["MTCNN (dfd's detector)", device, "", ""] for device in ("cpu", "cuda")]
        note = "No CUDA device on the machine that last ran it: values left empty."
    else:
        for name in DETECTORS:
            rates = {v: training_rate(name, *VARIANTS[v], args.steps, args.batch) for v in VARIANTS}
            base = next(iter(rates.values()))
            rows += [[f"train {name}", v, f"{r:.1f}", f"{r / base:.2f}x"] for v, r in rates.items()]
        cpu, cuda = mtcnn_rate("cpu"), mtcnn_rate("cuda")
        rows += [
            ["MTCNN (dfd's detector)", "cpu", f"{cpu:.1f}", "1.00x"],
            ["MTCNN (dfd's detector)", "cuda", f"{cuda:.1f}", f"{cuda / cpu:.2f}x"],
        ]
        note = (
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, "
            f"{args.steps} timed steps after 3 warm-up steps."
        )
    for row in rows:
        print(" | ".join(row))
    write_table("gpu", HEADER, rows, note)


if __name__ == "__main__":
    main()
