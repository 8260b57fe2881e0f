"""The robustness protocol end to end: a real detector scored clean and under perturbations."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import dfd.report.robustness as robustness
from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.aggregate import video_table
from dfd.eval.metrics import binary_metrics
from dfd.eval.perturbations import Perturbation
from dfd.eval.scoring import ScoringSettings, score_dataset
from dfd.models.backbones import timm_encoder
from dfd.models.detector import FrameDetector
from dfd.report.robustness import COLUMNS, perturbed_dataset, plot_robustness, run_robustness
from dfd.report.tables import clip_table

SETTINGS = {"jpeg": [70, 30], "blur": [1, 3]}


@pytest.fixture(scope="module")
def datamodule(tiny_prepared: Path) -> FaceClipDataModule:
    return FaceClipDataModule(str(tiny_prepared), clip_len=2, image_size=64, num_workers=0)


def small_detector() -> torch.nn.Module:
    torch.manual_seed(0)
    return FrameDetector(timm_encoder("resnet18"))


def test_scores_clean_and_perturbed_then_writes_csv_and_plot(
    datamodule: FaceClipDataModule, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    detector, dataset = small_detector(), datamodule.dataset("test")
    with caplog.at_level(logging.INFO, logger=robustness.__name__):
        table = run_robustness(
            detector,
            dataset,
            datamodule.normalize,
            SETTINGS,
            tmp_path,
            ScoringSettings(tta=("hflip",), crops=3, batch_size=4),
        )
    assert list(table.columns) == list(COLUMNS)
    assert table[["perturbation", "level"]].values.tolist() == [
        ["jpeg", 0],
        ["jpeg", 1],
        ["jpeg", 2],
        ["blur", 0],
        ["blur", 1],
        ["blur", 2],
    ]
    assert table["severity"].tolist()[1:3] == [70, 30] and table["severity"].tolist()[4:] == [1, 3]
    clean = table[table["level"] == 0]
    assert clean["severity"].isna().all() and clean["video_auroc"].nunique() == 1
    videos = video_table(
        clip_table(dataset, score_dataset(detector, dataset, datamodule.normalize))
    )
    expected = binary_metrics(videos["score"].to_numpy(), videos["label"].to_numpy())
    assert clean["video_auroc"].iloc[0] == pytest.approx(expected["auroc"])
    assert (table["num_videos"] == len(dataset.video_ids)).all() and (table["seconds"] > 0).all()
    assert table["video_auroc"].between(0, 1).all() and table["video_acc"].between(0, 1).all()
    written = pd.read_csv(tmp_path / "robustness.csv")
    pd.testing.assert_frame_equal(written, table, check_dtype=False)
    assert (tmp_path / "robustness.png").stat().st_size > 10_000
    assert sum("robustness" in record.getMessage() for record in caplog.records) == 6


def test_perturbed_copy_serves_changed_clips_of_the_same_windows(
    datamodule: FaceClipDataModule,
) -> None:
    dataset = datamodule.dataset("test")
    blurred = perturbed_dataset(dataset, Perturbation("blur", 3))
    assert len(blurred) == len(dataset) and blurred.perturb is not None
    clean, changed = dataset[1], blurred[1]
    assert changed["clip"].shape == clean["clip"].shape and changed["clip"].dtype == torch.uint8
    assert not torch.equal(changed["clip"], clean["clip"])
    for key in ("label", "video_idx", "face_idx", "clip_idx"):
        assert torch.equal(changed[key], clean[key])


@pytest.mark.parametrize(
    "settings,message",
    [({"jpeg": [50], "sharpen": [1]}, "sharpen"), ({"blur": [2], "h264": [60]}, "h264")],
)
def test_bad_settings_refused_before_any_scoring(
    datamodule: FaceClipDataModule,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, list[float]],
    message: str,
) -> None:
    def no_scoring(*args: object, **kwargs: object) -> None:
        raise AssertionError("scored before the settings were checked")

    monkeypatch.setattr(robustness, "score_dataset", no_scoring)
    with pytest.raises(ValueError, match=message):
        run_robustness(
            torch.nn.Identity(),
            datamodule.dataset("test"),
            datamodule.normalize,
            settings,
            tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()


def test_plot_draws_a_table_without_a_defined_auroc(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "perturbation": ["noise"] * 3,
            "level": [0, 1, 2],
            "severity": [np.nan, 5, 10],
            "video_auroc": [np.nan] * 3,
        }
    )
    assert plot_robustness(table, tmp_path / "plot.png").stat().st_size > 5_000
