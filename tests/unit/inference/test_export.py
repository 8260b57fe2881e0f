"""dfd export: TorchScript and ONNX files that give the checkpoint's logits, with a sidecar that
says everything prediction needs (the CLI tests are slow: they export a run trained here)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dfd.cli.export import main as export_main
from dfd.data.transforms import normalize_clips
from dfd.eval.scoring import ScoringSettings
from dfd.inference.exporting import export_detector
from dfd.inference.parity import TOLERANCE, manifest_clips, max_differences
from dfd.inference.preparation import config_defaults
from dfd.inference.runtimes import EXPORTED_RUNTIMES, EagerRuntime
from dfd.inference.spec import DetectorSpec, Threshold
from helpers.runs import compose_train

CPU = torch.device("cpu")
SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}
# a frame model, a frame backbone with a temporal head, and a 3D CNN (built untrained)
MODELS = {
    "frame resnet18": ["model=resnet18"],
    "lstm head": ["model=lstm", "model.backbone.name=resnet18", "model.temporal.hidden=32"],
    "transformer head": [
        "model=transformer",
        "model.backbone.name=resnet18",
        "model.temporal.num_layers=1",
    ],
    "r3d_18": ["model=r3d_18"],
}
CLIP_LEN, IMAGE_SIZE = 4, 64


def export_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dfd.cli.export", *args], capture_output=True, text=True, timeout=600
    )


def spec_for(clip_len: int = CLIP_LEN, image_size: int = IMAGE_SIZE) -> DetectorSpec:
    return DetectorSpec(
        clip_len,
        image_size,
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        0.3,
        Threshold(0.5, "fixed", "test", "none"),
        ScoringSettings(tta=("hflip",)),
        "test",
        config_defaults(),
        "test",
        True,
    )


@pytest.fixture(scope="module")
def real_clips(tiny_prepared: Path) -> torch.Tensor:
    """Normalized face clips (4, T, 3, H, W) of four videos of the tiny dataset."""
    spec = spec_for()
    return normalize_clips(manifest_clips(tiny_prepared, spec, count=4), spec.mean, spec.std)


@pytest.mark.parametrize("fmt", sorted(SUFFIXES))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_export_matches_the_module_on_real_clips(
    model: str, fmt: str, real_clips: torch.Tensor, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    detector = instantiate(compose_train(tmp_path, *MODELS[model]).module).detector.eval()
    path = tmp_path / f"detector{SUFFIXES[fmt]}"
    outputs = export_detector(detector, real_clips[:2], fmt, path)  # traced on a batch of 2
    exported = EXPORTED_RUNTIMES[fmt](path, CPU)
    for batch in (real_clips, real_clips[:1]):  # other batch sizes: the batch axis is dynamic
        differences = max_differences(
            EagerRuntime(detector, CPU), exported, batch, spec_for().scoring
        )
        assert max(differences.values()) <= TOLERANCE, differences
        assert {"logits", "scores"} <= set(differences)
    frame_model = model != "r3d_18"
    assert outputs == (["logits", "frame_logits"] if frame_model else ["logits"])
    logits, frames = exported(real_clips)
    assert logits.shape == (4,)
    assert (frames.shape == (4, CLIP_LEN)) if frame_model else frames is None


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_detector(torch.nn.Linear(1, 1), torch.zeros(1, 1), "tflite", tmp_path / "x")


def test_export_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as usage:
        export_main([str(tmp_path), "--format", "keras"])
    assert usage.value.code == 2
    assert export_main([str(tmp_path / "missing.ckpt"), "--format", "onnx"]) == 2
    assert export_main([str(tmp_path), "--format", "onnx"]) == 2
    assert "no best checkpoint" in " ".join(capsys.readouterr().err.split())


def best_checkpoint(run: Path) -> Path:
    (best,) = [path for path in (run / "checkpoints").glob("*.ckpt") if path.stem != "last"]
    return best


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(SUFFIXES))
def test_export_a_trained_run_with_its_sidecar(
    tiny_run: Path, tiny_prepared: Path, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"detector{SUFFIXES[fmt]}"
    result = export_cli(str(tiny_run), "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    threshold = json.loads((tiny_run / "eval" / "threshold.json").read_text())
    resolved = tiny_run / ".hydra" / "resolved_config.yaml"
    assert sidecar["format"] == fmt and sidecar["file"] == out.name
    assert (sidecar["clip_len"], sidecar["image_size"], sidecar["crop_margin"]) == (2, 48, 0.3)
    assert sidecar["mean"] == [0.485, 0.456, 0.406] and sidecar["std"] == [0.229, 0.224, 0.225]
    assert sidecar["input"]["shape"] == ["batch", 2, 3, 48, 48]
    assert sidecar["outputs"] == {"logits": ["batch"], "frame_logits": ["batch", 2]}
    assert sidecar["threshold"]["value"] == threshold["value"]
    assert sidecar["threshold"]["chosen_on"] == "val"
    scoring = sidecar["scoring"]["settings"]
    assert scoring == {
        "tta": [],
        "precision": "32-true",
        "batch_size": 4,
        "aggregation": "mean",
        "aggregation_options": {},
        "clips": None,
        "crops": 1,
        "crop_scale": 0.875,
        "view_reduce": "mean",
        "view_space": "prob",
    }
    assert sidecar["scoring"]["source"].startswith("evaluation config")
    settings = sidecar["prepare"]["settings"]
    assert (settings["num_frames"], settings["face_size"]) == (4, 64), "the fixture's preparation"
    assert "recorded with the training data" in sidecar["prepare"]["source"]
    assert "workers" not in settings and "device" not in settings
    assert sidecar["training_config_sha256"] == hashlib.sha256(resolved.read_bytes()).hexdigest()
    assert sidecar["source_checkpoint"] == str(best_checkpoint(tiny_run).resolve())
    assert sidecar["dfd_version"] and sidecar["detector"]["_target_"]
    parity = sidecar["parity"]
    assert parity["passed"] and parity["data"].startswith("4 face clips of")
    assert max(parity["max_abs_diff"].values()) <= TOLERANCE
    assert set(parity["max_abs_diff"]) == {"logits", "frame_logits", "scores", "frame_scores"}
    print(f"{fmt} parity on the trained run: {parity['max_abs_diff']}")


@pytest.mark.slow
def test_failed_parity_fails_the_command_and_leaves_no_export(
    tiny_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "detector.onnx"
    result = export_cli(str(tiny_run), "--format", "onnx", "--out", str(out), "--tolerance", "-1")
    assert result.returncode == 1 and "parity check failed" in result.stderr
    assert not out.exists() and not out.with_name(out.name + ".json").exists()


@pytest.mark.slow
def test_export_without_the_run_folder_or_its_data(tiny_run: Path, tmp_path: Path) -> None:
    """A checkpoint alone: threshold 0.5 and synthetic parity clips, each with a warning."""
    saved = torch.load(best_checkpoint(tiny_run), map_location="cpu", weights_only=False)
    saved["datamodule_hyper_parameters"]["manifest_path"] = str(tmp_path / "gone" / "manifest.csv")
    alone = tmp_path / "alone.ckpt"
    torch.save(saved, alone)
    result = export_cli(str(alone), "--format", "torchscript")
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = " ".join(result.stderr.split())  # warnings go to stderr, results to stdout
    assert "not reachable" in warnings and "random noise" in warnings and "using 0.5" in warnings
    sidecar = json.loads((tmp_path / "alone.pt.json").read_text())
    assert sidecar["threshold"]["value"] == 0.5 and sidecar["threshold"]["rule"] == "fixed"
    assert sidecar["training_config_sha256"] is None
    assert sidecar["prepare"]["source"].startswith("defaults of conf/prepare.yaml")
    assert sidecar["parity"]["data"] == "4 clips of uniform noise"
