"""evaluate.py without `data=` or `evaluation=`: the run's own dataset, as the run configured
it, scored as the run scored it."""

from __future__ import annotations

from pathlib import Path

import yaml

from dfd.datasets.configs import dataset_manifests
from dfd.runs import RunDir
from dfd.tasks.evaluate import with_run_data, with_run_scoring
from helpers.runs import compose_train


def test_a_run_is_tested_on_its_own_data(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.hydra_dir.mkdir(parents=True)
    own = {"name": "celebdf", "prepared_dir": "${paths.data_dir}/celebdf/prepared"}
    run.config.write_text(yaml.safe_dump({"data": own}))
    cfg = compose_train(tmp_path, "ckpt_path=x", config="eval")
    assert cfg.data.name == "demo", "eval.yaml's default data, which the run did not use"
    tested = with_run_data(cfg, run)
    assert dataset_manifests(tested, [tested.data.name]) == {
        "celebdf": Path(cfg.paths.data_dir) / "celebdf" / "prepared" / "manifest.csv"
    }


def test_without_a_run_folder_the_command_decides(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "ckpt_path=x", config="eval")
    assert with_run_data(cfg, None) is cfg
    assert with_run_data(cfg, RunDir(tmp_path / "not_a_run")) is cfg


def test_other_datasets_are_found_by_config_name_bases_included(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "ckpt_path=x", config="eval")
    found = dataset_manifests(cfg, ["demo", "celebdf_v1"])
    assert (
        found["celebdf_v1"] == Path(cfg.paths.data_dir) / "celebdf_v1" / "prepared" / "manifest.csv"
    )


def run_scored_with(tmp_path: Path, evaluation: dict) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.hydra_dir.mkdir(parents=True)
    run.config.write_text(yaml.safe_dump({"evaluation": evaluation}))
    return run


def test_a_run_is_scored_again_as_it_was_scored(tmp_path: Path) -> None:
    run = run_scored_with(
        tmp_path,
        {
            "tta": ["hflip"],
            "views": {"clips": 4, "crops": 3, "crop_scale": 0.8, "reduce": "max", "space": "logit"},
            "threshold": {"rule": "youden", "value": 0.5},
            "robustness": {"enabled": False},
        },
    )
    cfg = compose_train(tmp_path, "ckpt_path=x", config="eval")
    scored = with_run_scoring(cfg, run, []).evaluation
    assert list(scored.tta) == ["hflip"] and scored.views.crops == 3 and scored.views.clips == 4
    assert scored.threshold.rule == "youden"
    assert scored.robustness.enabled, "robustness is this command's, not the run's"


def test_the_command_line_wins_over_the_run(tmp_path: Path) -> None:
    run = run_scored_with(tmp_path, {"tta": ["hflip"], "views": {"crops": 3}})
    cfg = compose_train(tmp_path, "ckpt_path=x", "evaluation.views.crops=1", config="eval")
    scored = with_run_scoring(cfg, run, ["evaluation.views.crops=1"]).evaluation
    assert scored.views.crops == 1 and list(scored.tta) == ["hflip"]
    assert with_run_scoring(cfg, run, ["evaluation=default"]) is cfg
    assert with_run_scoring(cfg, None, []) is cfg
