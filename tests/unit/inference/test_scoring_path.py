"""One scoring path: `dfd predict` scores clips by evaluation's function with the run's scoring
settings (test-time views, precision, batch size, aggregation), so its video scores are the
run's evaluation's, with flip TTA on too (slow where a trained run is needed)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.transforms import normalize_clips
from dfd.datasets.manifest import ok_rows, read_manifest
from dfd.eval.scoring import ScoringSettings, detector_logits
from dfd.inference.loading import LoadedDetector, load_detector
from dfd.inference.predictor import Predictor
from dfd.inference.preparation import config_defaults
from dfd.inference.runtimes import EagerRuntime
from dfd.inference.spec import DetectorSpec, Threshold
from helpers.runs import compose_train, run_entry_point, tiny_overrides

CPU = torch.device("cpu")
CLIP_LEN, IMAGE_SIZE = 2, 48
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# how close predict's video scores come to the run's own evaluation of the same videos
EVAL_AGREEMENT = 1e-5


def spec_with(scoring: ScoringSettings) -> DetectorSpec:
    return DetectorSpec(
        CLIP_LEN,
        IMAGE_SIZE,
        MEAN,
        STD,
        0.3,
        Threshold(0.5, "fixed", "test", "none"),
        scoring,
        "test",
        config_defaults(),
        "test",
        True,
    )


def predictor(detector: torch.nn.Module, scoring: ScoringSettings) -> Predictor:
    loaded = LoadedDetector(
        Path("untrained"), "checkpoint", EagerRuntime(detector, CPU), spec_with(scoring), detector
    )
    return Predictor(loaded, device="cpu", workers=1)


# ------------------------------------------------------------------------ fast: no trained run


def test_predictor_with_flip_tta_gives_the_mean_of_both_views(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    detector = instantiate(compose_train(tmp_path, "model=resnet18").model).eval()
    data = FaceClipDataModule(
        str(tiny_prepared), clip_len=CLIP_LEN, image_size=IMAGE_SIZE, num_workers=0
    )
    test = data.dataset("test")
    flipped = predictor(detector, ScoringSettings(tta=("hflip",), batch_size=3)).score_clips(test)
    plain = predictor(detector, ScoringSettings(batch_size=3)).score_clips(test)
    assert list(flipped.clip_idx) == list(range(len(test)))
    with torch.no_grad():
        for row, index in enumerate(flipped.clip_idx):
            clip = normalize_clips(test[int(index)]["clip"][None], MEAN, STD)
            views = [detector_logits(detector, view) for view in (clip, clip.flip(-1))]
            (clip_a, frames_a), (clip_b, frames_b) = [
                (torch.sigmoid(c)[0], torch.sigmoid(f)[0]) for c, f in views
            ]
            assert not torch.allclose(clip_a, clip_b), "the mirrored view must score differently"
            assert flipped.scores[row] == pytest.approx(float(clip_a + clip_b) / 2, abs=1e-6)
            np.testing.assert_allclose(flipped.frames[row], (frames_a + frames_b) / 2, atol=1e-6)
            assert plain.scores[row] == pytest.approx(float(clip_a), abs=1e-6)


def test_the_sidecar_keeps_the_scoring_settings() -> None:
    scoring = ScoringSettings(
        tta=("hflip",),
        precision="bf16-mixed",
        batch_size=8,
        aggregation="topk_mean",
        aggregation_options={"k": 2},
        clips=5,
        crops=3,
        crop_scale=0.8,
        view_reduce="max",
        view_space="logit",
    )
    stored = spec_with(scoring).to_json()
    restored = DetectorSpec.from_json(stored, config_defaults(), "sidecar x.json")
    assert restored.scoring == scoring and restored.scoring_source == "sidecar x.json: test"
    older = {**stored, "aggregation": {"strategy": "max", "options": {}, "source": "run"}}
    del older["scoring"]
    old = DetectorSpec.from_json(older, config_defaults(), "sidecar y.json")
    assert old.scoring == ScoringSettings(aggregation="max")
    assert "aggregation only" in old.scoring_source and "aggregation" not in old.provenance


def test_bad_scoring_settings_fail_before_scoring() -> None:
    with pytest.raises(ValueError, match="unknown aggregation 'mode'"):
        ScoringSettings(aggregation="mode")
    with pytest.raises(ValueError, match="at least 1"):
        ScoringSettings(batch_size=0)


# ------------------------------------------------------------------------ slow: a trained run


@pytest.fixture(scope="module")
def tta_run(tiny_prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run (see conftest's tiny_run) evaluated with flip test-time augmentation."""
    log_dir = tmp_path_factory.mktemp("tta_run")
    run_entry_point("train.py", *tiny_overrides(tiny_prepared, log_dir), "evaluation.tta=[hflip]")
    (run,) = (log_dir / "train" / "runs").iterdir()
    return run


@pytest.mark.slow
def test_predict_with_flip_tta_gives_the_runs_evaluation_scores(
    tta_run: Path, tiny_prepared: Path, tiny_raw: Path, tmp_path: Path
) -> None:
    """`dfd predict RUN <test videos> --csv F`: the per-video scores of
    `<run>/eval/demo/videos.csv`, scored with the same flip views."""
    evaluated = pd.read_csv(tta_run / "eval" / "demo" / "videos.csv")
    metrics = pd.read_json(tta_run / "eval" / "demo" / "metrics.json", typ="series")
    assert list(metrics["tta"]) == ["hflip"]
    manifest = ok_rows(read_manifest(tiny_prepared))
    source = dict(zip(manifest["video_id"], manifest["source"]))
    videos = [tiny_raw / source[video_id] for video_id in evaluated["video_id"]]
    out = tmp_path / "out.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dfd.cli.predict",
            str(tta_run),
            *map(str, videos),
            "--csv",
            str(out),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test-time views hflip" in " ".join(result.stdout.split())
    predicted = pd.read_csv(out)
    scores = dict(zip(predicted["video"], predicted["fake_probability"]))
    differences = [
        abs(scores[str(video)] - score) for video, score in zip(videos, evaluated["score"])
    ]
    assert len(differences) == len(evaluated) > 0
    assert max(differences) <= EVAL_AGREEMENT, differences
    print(f"largest |predict - evaluation| with flip TTA: {max(differences):.2e}")
    loaded = load_detector(tta_run, CPU)
    assert loaded.spec.scoring.tta == ("hflip",)
    without = replace(loaded, spec=replace(loaded.spec, scoring=ScoringSettings()))
    test = FaceClipDataModule(
        str(tiny_prepared), clip_len=CLIP_LEN, image_size=IMAGE_SIZE, num_workers=0
    ).dataset("test")
    change = np.abs(
        Predictor(loaded, workers=1).score_clips(test).scores
        - Predictor(without, workers=1).score_clips(test).scores
    ).max()
    assert change > 10 * EVAL_AGREEMENT, f"the views change no score ({change:.1e}): a void test"
