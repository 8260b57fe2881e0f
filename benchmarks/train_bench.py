"""Time dfd's training: its Lightning loop against a bare PyTorch loop, its data pipeline against
plain JPEG decoding, and precision / memory-layout settings (issue 7).

    python benchmarks/train_bench.py [--root DIR] [--data DIR] [--parts overhead,data,precision]
                                     [--batches N] [--repeats R] [--main-threads N]
                                     [--device cpu|cuda] [--compile]

The data is a small real face dataset built once into ``--root`` the way tests/conftest.py
builds its fixture (the demo builder's training groups, more clips per identity, 8 frames of
128 px per video) and reused until ``--rebuild``; ``--data DIR`` uses a prepared folder (one
with ``manifest.csv``) instead. The detector, datamodule and module come from the repository's
Hydra config (``train.yaml``): ``model=resnet18`` (timm, from scratch), 4-frame clips of
112 px, batches of 8, AdamW and the cosine schedule of ``module=default``.

* overhead: training clips/s of dfd's ``DeepfakeDetectionModule`` fitted by ``lightning.Trainer``
  (one epoch of ``--batches`` batches per ``fit``, a fresh Trainer each time) against a bare loop
  written here: the same module's detector, loss (BCE with its ``pos_weight``), optimizer and
  scheduler from its ``configure_optimizers``, stepped once per batch. Both get the same
  ``--batches`` batches, drawn once from the datamodule and kept in memory (Lightning through a
  plain DataLoader over that list), so only the loops differ. The runs alternate (L B L B ...)
  after a warm-up of each; the median over ``--repeats`` is reported. Lightning is timed around
  ``fit`` (start-up, epoch and tear-down) and, separately, from its epoch start to its epoch end.
  Same work is checked: equal optimizer steps, and equal weights after two steps from the same
  start.
* data: clips/s delivered by ``FaceClipDataModule.train_dataloader()`` (2 workers, persistent)
  followed by the datamodule's ``on_after_batch_transfer`` (what Lightning runs on a training batch
  once it is on the device: normalization), with the ``default`` augmentation and
  ``online_self_blend`` 0.5, with augmentation off and no self-blending, and with either one alone,
  against plain decoding of the same JPEG crops (PIL, stack, float tensor, a DataLoader with 2
  persistent workers, no resize, no augmentation). No model runs. On a CPU-only machine the
  "device" is the main process: it runs with ``--main-threads`` torch threads (default 1, as the
  2 workers already hold the cores; a row at torch's default thread count shows what more threads
  cost there). Besides clips/s, the CPU time of all processes (main and workers, from /proc) per
  clip is reported: on a machine shared with other jobs it varies far less than the wall clock.
* precision: training clips/s of the Lightning loop on the same in-memory batches for
  ``32-true``, ``bf16-mixed``, ``module.channels_last=true`` and both; on ``--device cuda`` also
  ``16-mixed`` and ``module.compile=true``; on CPU ``--compile`` adds the compile row (its first
  batches compile, 20-50 s, and are left out as warm-up). A forward hook on the first
  convolution reports the dtype and memory layout it really ran in.

Each part's table is printed and written to results/train_overhead.csv, train_loader.csv and
train_precision.csv, which the docs' benchmarks page includes.

Targets from the issue: Lightning within 10% of the bare loop; the datamodule (augmentation
and self-blending on) at least 0.7x the plain decoder.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from results_table import write_table
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dfd.cli.args import positive_int
from dfd.data.datamodule import FaceClipDataModule
from dfd.module import DeepfakeDetectionModule, smooth_targets

REPO = Path(__file__).resolve().parents[1]
# the demo's training groups (their labels.csv puts them all in train); swaps stay inside a group
GROUPS = ("pair00", "pair02", "pair05")
BUILD = {"seed": 0, "clip_seconds": 2.0, "clips_per_photo": 2, "max_clips_per_video": 3}
PREPARE = {"num_frames": 8, "face_size": 128}
BASE_OVERRIDES = (
    "model=resnet18",
    "datamodule.clip_len=4",
    "datamodule.image_size=112",
    "datamodule.batch_size=8",
    "datamodule.num_workers=2",
    "augment=default",
)
PARTS = ("overhead", "data", "precision")
TARGET_OVERHEAD, TARGET_DATA_RATIO = 0.10, 0.7
WARMUP_BATCHES = 2  # training batches of each variant's untimed warm-up run


# --- data ----------------------------------------------------------------------------------


def build_dataset(root: Path, rebuild: bool) -> Path:
    """Build the demo's training groups into ``root/raw`` and prepare them into ``root/prepared``
    (both kept until ``rebuild``); return the manifest path."""
    from dfd.datasets.labels import read_label_csv
    from dfd.demo.build import build_demo
    from dfd.prepare.runner import PrepareSettings, prepare_dataset

    raw, prepared = root / "raw", root / "prepared"
    manifest = prepared / "manifest.csv"
    if manifest.exists() and not rebuild:
        return manifest
    started = time.perf_counter()
    build_demo(raw, groups=GROUPS, force=rebuild, **BUILD)
    built = time.perf_counter()
    prepare_dataset(
        read_label_csv(raw / "labels.csv", raw),
        raw,
        prepared,
        PrepareSettings(workers=2, force=True, **PREPARE),
        show_progress=False,
    )
    print(
        f"dataset: built in {built - started:.0f} s, prepared in {time.perf_counter() - built:.0f} s "
        f"-> {manifest}",
        flush=True,
    )
    return manifest


def compose_config(manifest: Path, scratch: Path, *overrides: str) -> DictConfig:
    """``train.yaml`` with the benchmark's settings, resolved."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.output_dir={scratch}",
                f"paths.data_dir={scratch}",
                f"data.prepared_dir={manifest.parent}",
                *BASE_OVERRIDES,
                *overrides,
            ],
        )
    OmegaConf.resolve(cfg)
    return cfg


def memory_batches(cfg: DictConfig, count: int) -> tuple[list[dict[str, torch.Tensor]], float]:
    """``count`` training batches drawn from the datamodule (over as many epochs as needed), and
    the numeric ``pos_weight`` that ``pos_weight: auto`` gives for this training set."""
    datamodule: FaceClipDataModule = instantiate(cfg.datamodule)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    batches: list[dict[str, torch.Tensor]] = []
    epoch = 0
    while len(batches) < count:
        loader.sampler.set_epoch(epoch)
        batches += [
            datamodule.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)
            for batch in loader
        ][: count - len(batches)]
        epoch += 1
    real, fake = datamodule.class_counts("train")
    del loader
    return batches, real / max(fake, 1.0)


class PlainClips(Dataset):
    """The same clips' JPEG crops, decoded with PIL and stacked: (T, 3, H, W) floats in [0, 1]."""

    def __init__(self, clips: Sequence[Sequence[Path]], labels: np.ndarray) -> None:
        self.clips, self.labels = clips, labels

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        frames = np.stack(
            [np.asarray(Image.open(path).convert("RGB")) for path in self.clips[index]]
        )
        return {
            "clip": torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255),
            "label": torch.tensor(float(self.labels[index])),
        }


def plain_loader(datamodule: FaceClipDataModule) -> DataLoader:
    """A DataLoader over the datamodule's training clips (same files, same batch size, same
    workers), decoding only."""
    dataset = datamodule.dataset("train")
    clips = [dataset.clip_files(index) for index in range(len(dataset))]
    workers = datamodule.hparams.num_workers
    return DataLoader(
        PlainClips(clips, dataset.labels()),
        batch_size=datamodule.hparams.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )


# --- timing --------------------------------------------------------------------------------


@dataclass
class Series:
    """Repeated timings of one variant: seconds per run, clips per run, and what it checked."""

    name: str
    seconds: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)  # Lightning: epoch start to epoch end
    clips: int = 0
    steps: int = 0
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.clips / self.median

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def spread(self) -> str:
        rates = sorted(self.clips / s for s in self.seconds)
        return f"{rates[0]:.1f}-{rates[-1]:.1f}"


def paired(series: Series, base: Series) -> float:
    """Median over repeats of the time ratio series / base within the same repeat (runs that
    alternate see the same background load, so this ratio resists it better than the medians do)."""
    return statistics.median(s / b for s, b in zip(series.seconds, base.seconds))


def interleaved(runs: dict[str, Callable[[Series, bool], None]], repeats: int) -> dict[str, Series]:
    """Call each run once as a (shorter) warm-up, untimed, then ``repeats`` times in turn
    (A B C A B C ...); a run is called as ``run(series, warmup)``."""
    series = {name: Series(name) for name in runs}
    for name, run in runs.items():
        run(Series(name), True)
    for repeat in range(repeats):
        for name, run in runs.items():
            run(series[name], False)
        print(
            f"  repeat {repeat + 1}/{repeats}: "
            + ", ".join(f"{name} {s.clips / s.seconds[-1]:.1f}" for name, s in series.items())
            + " clips/s",
            flush=True,
        )
    return series


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# --- training loops --------------------------------------------------------------------------


class ConvProbe:
    """Records the dtype and memory layout of the first convolution's output (one call per epoch)."""

    def __init__(self, model: nn.Module) -> None:
        self.dtype = self.layout = "-"
        conv = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d)))
        conv.register_forward_hook(self._record)

    def _record(self, module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        self.dtype = str(output.dtype).removeprefix("torch.")
        channels_last = torch.channels_last if output.dim() == 4 else torch.channels_last_3d
        self.layout = (
            "channels_last"
            if output.is_contiguous(memory_format=channels_last) and not output.is_contiguous()
            else "contiguous"
        )


class EpochClock(L.Callback):
    """Seconds from Lightning's training-epoch start to its end."""

    def __init__(self, device: str) -> None:
        self.device, self.seconds, self.started = device, 0.0, 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(self.device)
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self.started


def lightning_fit(
    module: DeepfakeDetectionModule,
    batches: list[dict[str, torch.Tensor]],
    device: str,
    precision: str,
    limit: int | None = None,
) -> tuple[float, float, int]:
    """One ``fit`` of one epoch over the in-memory batches: (fit seconds, epoch seconds, steps)."""
    loader = DataLoader(batches, batch_size=None, generator=torch.Generator().manual_seed(0))
    clock = EpochClock(device)
    trainer = L.Trainer(
        accelerator=device,
        devices=1,
        precision=precision,
        max_epochs=1,
        limit_train_batches=limit or len(batches),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[clock],
    )
    synchronize(device)
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    synchronize(device)
    return time.perf_counter() - started, clock.seconds, trainer.global_step


def bare_epoch(
    module: DeepfakeDetectionModule,
    batches: list[dict[str, torch.Tensor]],
    device: str,
    limit: int | None = None,
) -> tuple[float, int]:
    """The same epoch as a plain PyTorch loop: (seconds, optimizer steps)."""
    synchronize(device)
    started = time.perf_counter()
    module.to(device)
    detector = module.detector.train()
    configured = module.configure_optimizers()
    optimizer = configured["optimizer"]
    scheduler = configured.get("lr_scheduler", {}).get("scheduler")
    smoothing, pos_weight = module.hparams.label_smoothing, module.pos_weight
    steps = 0
    for batch in batches[:limit]:
        clip = batch["clip"].to(device, non_blocking=True)
        targets = smooth_targets(batch["label"].to(device, non_blocking=True), smoothing)
        # zeroed before backward, as Lightning does (a fit leaves the last gradients behind)
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(detector(clip), targets, pos_weight=pos_weight)
        loss.backward()
        optimizer.step()
        steps += 1
    if scheduler is not None:
        scheduler.step()
    synchronize(device)
    return time.perf_counter() - started, steps


def build_module(cfg: DictConfig) -> DeepfakeDetectionModule:
    L.seed_everything(0, verbose=False)
    module: DeepfakeDetectionModule = instantiate(cfg.module)
    module.detector.check_input(cfg.datamodule.clip_len, cfg.datamodule.image_size)
    return module


def same_work(
    module: DeepfakeDetectionModule, batches: list[dict[str, torch.Tensor]], device: str
) -> float:
    """Largest weight difference after two steps of each loop from the same weights and RNG."""
    start = copy.deepcopy(module.state_dict())
    torch.manual_seed(1)
    lightning_fit(module, batches, device, "32-true", limit=2)
    after_lightning = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    module.load_state_dict(start)
    torch.manual_seed(1)
    bare_epoch(module, batches, device, limit=2)
    after_bare = module.state_dict()
    parameters = dict(module.named_parameters())
    moved = max((after_lightning[k] - start[k].cpu()).abs().max().item() for k in parameters)
    differ = max(
        (after_lightning[k].float() - after_bare[k].float().cpu()).abs().max().item()
        for k in start
        if start[k].is_floating_point()
    )
    module.load_state_dict(start)
    print(
        f"  same work: two steps move the parameters by up to {moved:.2e}; Lightning and the bare "
        f"loop end {differ:.2e} apart (parameters and buffers)",
        flush=True,
    )
    return differ


# --- parts ---------------------------------------------------------------------------------


def part_overhead(
    cfg: DictConfig, batches: list[dict[str, torch.Tensor]], args: argparse.Namespace
) -> list[str]:
    module = build_module(cfg)
    differ = same_work(module, batches, args.device)
    clips = sum(len(b["clip"]) for b in batches)

    def lightning(series: Series, warmup: bool) -> None:
        seconds, inner, series.steps = lightning_fit(
            module, batches, args.device, "32-true", WARMUP_BATCHES if warmup else None
        )
        series.seconds.append(seconds)
        series.inner.append(inner)
        series.clips = clips

    def bare(series: Series, warmup: bool) -> None:
        seconds, series.steps = bare_epoch(
            module, batches, args.device, WARMUP_BATCHES if warmup else None
        )
        series.seconds.append(seconds)
        series.clips = clips

    result = interleaved(
        {"bare PyTorch loop": bare, "Lightning (dfd module)": lightning}, args.repeats
    )
    base, ours = result["bare PyTorch loop"], result["Lightning (dfd module)"]
    inner = statistics.median(ours.inner)
    epoch = Series(ours.name, ours.inner, clips=clips)
    rows = [
        (base.name, base.steps, f"{base.median:.2f}", f"{base.rate:.2f}", base.spread, "-", "-"),
        (
            f"{ours.name}, whole `fit`",
            ours.steps,
            f"{ours.median:.2f}",
            f"{ours.rate:.2f}",
            ours.spread,
            f"{100 * (paired(ours, base) - 1):+.1f}%",
            f"{100 * (ours.best / base.best - 1):+.1f}%",
        ),
        (
            f"{ours.name}, epoch start to end",
            ours.steps,
            f"{inner:.2f}",
            f"{clips / inner:.2f}",
            epoch.spread,
            f"{100 * (paired(epoch, base) - 1):+.1f}%",
            f"{100 * (epoch.best / base.best - 1):+.1f}%",
        ),
    ]
    overhead = paired(ours, base) - 1
    lines = markdown_and_csv(
        "train_overhead",
        (
            "loop",
            "optimizer steps",
            "s / epoch (median)",
            "clips/s",
            "clips/s range",
            "overhead (paired median)",
            "overhead (fastest runs)",
        ),
        rows,
    )
    lines.append(
        f"\n{verdict(overhead <= TARGET_OVERHEAD)}  Lightning overhead {100 * overhead:+.1f}% of "
        f"the bare loop's time, whole fit (target <= {100 * TARGET_OVERHEAD:g}%); same steps: "
        f"{base.steps == ours.steps}; weights after 2 steps of each differ by {differ:.1e}"
    )
    return lines


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds used so far by this process's children (the loaders' workers)."""
    me, total = str(os.getpid()), 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[1] == me:
                    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError):  # a process that ended while being read
                continue
    return total


Consume = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def part_data(
    cfg: DictConfig, manifest: Path, scratch: Path, args: argparse.Namespace
) -> list[str]:
    augmented: FaceClipDataModule = instantiate(cfg.datamodule)
    augmented.setup("fit")
    blend = augmented.hparams.online_self_blend
    torch_threads = torch.get_num_threads()

    def device_steps(datamodule: FaceClipDataModule) -> Consume:
        # what Lightning runs on a training batch once it is on the device
        return lambda batch: datamodule.on_after_batch_transfer(batch, 0)

    headline = f"dfd datamodule, augment=default, online_self_blend={blend:g}"
    # name: (loader, device steps or None, intra-op threads of the main process)
    loaders: dict[str, tuple[DataLoader, Consume | None, int]] = {
        "plain decoding (PIL, stack, to tensor)": (
            plain_loader(augmented),
            None,
            args.main_threads,
        ),
        headline: (augmented.train_dataloader(), device_steps(augmented), args.main_threads),
    }
    if torch_threads != args.main_threads:
        loaders[f"{headline}, main process at {torch_threads} threads"] = (
            augmented.train_dataloader(),
            device_steps(augmented),
            torch_threads,
        )
    for augment, share in (("none", 0), ("default", 0), ("none", blend)):
        other: FaceClipDataModule = instantiate(
            compose_config(
                manifest, scratch, f"augment={augment}", f"datamodule.online_self_blend={share}"
            ).datamodule
        )
        other.setup("fit")
        loaders[f"dfd datamodule, augment={augment}, online_self_blend={share:g}"] = (
            other.train_dataloader(),
            device_steps(other),
            args.main_threads,
        )
    per_epoch = len(next(iter(loaders.values()))[0]) * augmented.hparams.batch_size
    epochs = max(1, -(-args.data_clips // per_epoch))
    counters = dict.fromkeys(loaders, 0)
    cpu_ms: dict[str, list[float]] = {name: [] for name in loaders}

    def timer(
        name: str, loader: DataLoader, consume: Consume | None, threads: int
    ) -> Callable[[Series, bool], None]:
        def run(series: Series, warmup: bool) -> None:
            torch.set_num_threads(threads)
            cpu_before = time.process_time() + children_cpu_seconds()
            started = time.perf_counter()
            clips = 0
            for _ in range(1 if warmup else epochs):
                if hasattr(loader.sampler, "set_epoch"):
                    loader.sampler.set_epoch(counters[name])
                counters[name] += 1
                for batch in loader:
                    clip = (batch if consume is None else consume(batch))["clip"]
                    clips += len(clip)
            series.seconds.append(time.perf_counter() - started)
            series.clips = clips
            if not warmup:
                cpu_ms[name].append(
                    1000 * (time.process_time() + children_cpu_seconds() - cpu_before) / clips
                )
            torch.set_num_threads(torch_threads)

        return run

    print(
        f"  {epochs} epochs of {per_epoch} clips per run; the main process (the device here: "
        f"normalization and any other on-device step) at {args.main_threads} intra-op threads "
        f"unless a row says otherwise",
        flush=True,
    )
    result = interleaved(
        {name: timer(name, *loader) for name, loader in loaders.items()}, args.repeats
    )
    plain = next(iter(result.values()))
    plain_cpu = statistics.median(cpu_ms[plain.name])
    rows = [
        (
            s.name,
            s.clips,
            f"{s.median:.2f}",
            f"{s.rate:.1f}",
            s.spread,
            f"{1 / paired(s, plain):.2f}x",
            f"{statistics.median(cpu_ms[s.name]):.2f}",
            f"{plain_cpu / statistics.median(cpu_ms[s.name]):.2f}x",
        )
        for s in result.values()
    ]
    ratio = 1 / paired(result[headline], plain)
    cpu_ratio = plain_cpu / statistics.median(cpu_ms[headline])
    lines = markdown_and_csv(
        "train_loader",
        (
            "loader (batch 8, 2 persistent workers)",
            "clips / run",
            "s / run (median)",
            "clips/s",
            "clips/s range",
            "vs plain (paired median)",
            "CPU ms / clip (all processes)",
            "vs plain (CPU per clip)",
        ),
        rows,
    )
    lines.append(
        f"\n{verdict(ratio >= TARGET_DATA_RATIO)}  dfd datamodule with augmentation and "
        f"self-blending: {ratio:.2f}x plain decoding (target >= {TARGET_DATA_RATIO:g}x); "
        f"by CPU time per clip, which other jobs on the machine disturb less: {cpu_ratio:.2f}x"
    )
    return lines


@dataclass(frozen=True)
class Variant:
    name: str
    precision: str
    overrides: tuple[str, ...] = ()


def precision_variants(device: str, compile_cpu: bool) -> list[Variant]:
    channels_last = ("module.channels_last=true",)
    variants = [
        Variant("fp32", "32-true"),
        Variant("bf16-mixed", "bf16-mixed"),
        Variant("fp32, channels_last", "32-true", channels_last),
        Variant("bf16-mixed, channels_last", "bf16-mixed", channels_last),
    ]
    if device == "cuda":
        variants[2:2] = [Variant("16-mixed", "16-mixed")]
        variants += [
            Variant("16-mixed, channels_last", "16-mixed", channels_last),
            Variant("fp32, torch.compile", "32-true", ("module.compile=true",)),
            Variant("16-mixed, torch.compile", "16-mixed", ("module.compile=true",)),
        ]
    elif compile_cpu:
        variants.append(Variant("fp32, torch.compile", "32-true", ("module.compile=true",)))
    return variants


def part_precision(
    manifest: Path,
    scratch: Path,
    batches: list[dict[str, torch.Tensor]],
    pos_weight: float,
    args: argparse.Namespace,
) -> list[str]:
    clips = sum(len(b["clip"]) for b in batches)
    runs, probes = {}, {}
    for variant in precision_variants(args.device, args.compile):
        cfg = compose_config(
            manifest, scratch, f"module.pos_weight={pos_weight}", *variant.overrides
        )
        module = build_module(cfg)
        # a hook inside a compiled graph would not report what ran: compiled rows are not probed
        probes[variant.name] = None if cfg.module.compile else ConvProbe(module.detector)

        def run(
            series: Series,
            warmup: bool,
            module: DeepfakeDetectionModule = module,
            variant: Variant = variant,
        ) -> None:
            seconds, _, series.steps = lightning_fit(
                module, batches, args.device, variant.precision, WARMUP_BATCHES if warmup else None
            )
            series.seconds.append(seconds)
            series.clips = clips

        runs[variant.name] = run
    if args.compile or args.device == "cuda":
        print("  warm-up compiles the torch.compile rows (tens of seconds on a CPU)", flush=True)
    result = interleaved(runs, args.repeats)
    base = next(iter(result.values()))
    rows = [
        (
            s.name,
            *(
                (probes[s.name].dtype, probes[s.name].layout)
                if probes[s.name]
                else ("(compiled)",) * 2
            ),
            f"{s.median:.2f}",
            f"{s.rate:.2f}",
            s.spread,
            f"{1 / paired(s, base):.2f}x",
            f"{base.best / s.best:.2f}x",
        )
        for s in result.values()
    ]
    return markdown_and_csv(
        "train_precision",
        (
            "Lightning, " + args.device,
            "first conv ran in",
            "conv output layout",
            "s / epoch (median)",
            "clips/s",
            "clips/s range",
            "vs fp32 (paired median)",
            "vs fp32 (fastest runs)",
        ),
        rows,
    )


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def markdown(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown_and_csv(
    name: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[str]:
    """The table as markdown lines, also written to results/<name>.csv for the docs."""
    write_table(name, header, rows)
    return markdown(header, rows)


def machine(device: str) -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "?",
        )
        if Path("/proc/cpuinfo").exists()
        else "?"
    )
    text = (
        f"{cpu}, cpus {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), lightning {L.__version__}, python {platform.python_version()}"
    )
    if device == "cuda":
        text += f", GPU {torch.cuda.get_device_name()}"
    return text


def quiet() -> None:
    """Keep Lightning's per-fit banners and the warnings about this setup out of the tables."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings(
        "ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dfd-train-bench",
        help="scratch folder: the built dataset (kept) and composed run folders",
    )
    parser.add_argument(
        "--data", type=Path, help="a prepared folder (with manifest.csv) to use instead"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="build and prepare the dataset again"
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}"
    )
    parser.add_argument("--batches", type=int, default=4, help="training batches per timed epoch")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs of each variant (median)"
    )
    parser.add_argument(
        "--data-clips",
        type=int,
        default=300,
        help="clips per timed loader run (whole epochs, at least this many)",
    )
    parser.add_argument(
        "--main-threads",
        type=positive_int,
        default=1,
        help="data part: torch intra-op threads of the main process, which runs the "
        "on-device steps (a row at torch's default is added when it differs)",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compile", action="store_true", help="on CPU, add the torch.compile row")
    args = parser.parse_args()
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no GPU available")
    return args


def main() -> None:
    args = parse_args()
    quiet()
    started = time.perf_counter()
    header = machine(args.device)
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"{header}\n{load} at the start", flush=True)
    manifest = (args.data / "manifest.csv") if args.data else build_dataset(args.root, args.rebuild)
    if not manifest.exists():
        sys.exit(f"no manifest at {manifest}")
    scratch = args.root / "runs"
    cfg = compose_config(manifest, scratch)
    print(f"data: {manifest}; {' '.join(BASE_OVERRIDES)}", flush=True)

    tables: dict[str, list[str]] = {}
    batches, pos_weight = [], 1.0
    if {"overhead", "precision"} & set(args.parts):
        batches, pos_weight = memory_batches(cfg, args.batches)
        print(
            f"{len(batches)} batches of {tuple(batches[0]['clip'].shape)} in memory; "
            f"pos_weight (auto) {pos_weight:.3f}",
            flush=True,
        )
    if "overhead" in args.parts:
        print("\n== Lightning overhead", flush=True)
        cfg_fixed = compose_config(manifest, scratch, f"module.pos_weight={pos_weight}")
        tables["Lightning overhead, fp32, " + args.device] = part_overhead(cfg_fixed, batches, args)
    if "data" in args.parts:
        print("\n== data pipeline", flush=True)
        tables["Data pipeline (loaders only, no model)"] = part_data(cfg, manifest, scratch, args)
    if "precision" in args.parts:
        print("\n== precision and memory layout", flush=True)
        tables["Precision and memory layout, " + args.device] = part_precision(
            manifest, scratch, batches, pos_weight, args
        )

    print(
        f"\n## Training speed\n\n{header}\n{args.batches} batches of 8 clips x 4 frames x 112 px per epoch, "
        f"resnet18 (timm, from scratch), AdamW; median of {args.repeats} interleaved runs after a warm-up"
    )
    for title, lines in tables.items():
        print(f"\n### {title}\n")
        print("\n".join(lines))
    print(
        f"\n{load} at the start, "
        + "{:.1f} {:.1f} {:.1f} at the end".format(*os.getloadavg())
        + f"; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
