"""The dfd_optuna sweeper: its search-space grammar, and real sweeps of train.py into SQLite."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from dfd.sweeps.search_space import format_value, parse_search_space
from helpers.runs import run_entry_point, tiny_overrides


def test_override_grammar_maps_to_optuna_distributions() -> None:
    space = parse_search_space(
        [
            "lr=tag(log, interval(1e-5, 1e-3))",
            "wd=interval(0, 0.1)",
            "layers=int(interval(1, 8))",
            "width=tag(log, int(interval(16, 256)))",
            "blocks=range(1, 8, 2)",
            "pool=choice(mean, 'max', 3)",
            "seed=1,2",
            "smooth=range(0.0, 0.3, 0.1)",
            "fixed=7",
            "lr=tag(log, interval(1e-6, 1e-2))",
        ]
    )  # a later override of a key wins
    assert space.distributions == {
        "lr": FloatDistribution(1e-6, 1e-2, log=True),
        "wd": FloatDistribution(0.0, 0.1),
        "layers": IntDistribution(1, 8),
        "width": IntDistribution(16, 256, log=True),
        "blocks": IntDistribution(1, 7, step=2),
        "pool": CategoricalDistribution(["mean", "max", 3]),
        "seed": CategoricalDistribution([1, 2]),
        "smooth": FloatDistribution(0.0, 0.2, step=0.1),
    }
    assert space.fixed == ["fixed=7"]
    assert space.overrides(
        {
            "lr": 1e-4,
            "wd": 0.5,
            "layers": 3,
            "width": 32,
            "blocks": 5,
            "pool": "max",
            "seed": 2,
            "smooth": 0.1,
        }
    )[:3] == ["fixed=7", "lr=0.0001", "wd=0.5"]


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5e-07,
        "mean",
        "it's a \\ test",
        "postgresql://u:p@host:5432/db?sslmode=require",
        {"_target_": "optuna.pruners.ThresholdPruner", "lower": 2.0},
        [1, "a", None],
    ],
)
def test_trial_values_are_written_so_they_parse_back(value: object) -> None:
    override = OverridesParser.create().parse_override(f"key={format_value(value)}")
    assert override.value() == value


def test_a_choice_of_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="choices must be"):
        parse_search_space(["k=choice([1, 2], [3])"])


def sweep_overrides(manifest: Path, log_dir: Path, storage: str, n_trials: int) -> list[str]:
    return [
        "hparams_search=optuna",
        *tiny_overrides(manifest, log_dir),
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=tiny",
        f"hydra.sweeper.n_trials={n_trials}",
        "test=false",
        "logger=csv",
    ]


def trials_of(storage: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="tiny", storage=storage).get_trials()


@pytest.mark.slow
def test_a_sweep_into_sqlite_resumes_with_more_trials(tiny_prepared: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/studies/tiny.db"  # its folder is made by the sweeper
    run_entry_point("train.py", *sweep_overrides(tiny_prepared, tmp_path, storage, 2))
    sweep = only_dir(tmp_path / "train" / "multiruns")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    trials = trials_of(storage)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    for trial in trials:
        job = Path(trial.user_attrs["job_dir"])
        assert job.parent == sweep
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        assert config.optuna.trial_number == trial.number
        assert config.module.optimizer.lr == pytest.approx(trial.params["module.optimizer.lr"])
        assert trial.value == pytest.approx(returned_metric(job))
        assert sorted(trial.intermediate_values) == [0, 1]  # reported after each validation
    results = OmegaConf.load(sweep / "optimization_results.yaml")
    best = max(trials, key=lambda t: t.value)
    assert results.best_trial == best.number and results.best_value == pytest.approx(best.value)
    assert dict(results.best_params) == pytest.approx(best.params)

    run_entry_point("train.py", *sweep_overrides(tiny_prepared, tmp_path, storage, 3))
    trials = trials_of(storage)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert trials[2].params != trials[0].params, "the resumed sweep replayed the first draws"


@pytest.mark.slow
def test_a_pruned_trial_ends_pruned_and_the_sweep_goes_on(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/tiny.db"
    run_entry_point(
        "train.py",
        *sweep_overrides(tiny_prepared, tmp_path, storage, 1),
        "~hydra.sweeper.pruner.n_startup_trials",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.lower=2.0",
        "hydra.sweeper.pruner.n_warmup_steps=0",
    )
    [trial] = trials_of(storage)
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [0], "the trial went on after it was pruned"
    results = OmegaConf.load(
        only_dir(tmp_path / "train" / "multiruns") / "optimization_results.yaml"
    )
    assert dict(results.trials) == {"PRUNED": 1} and "best_trial" not in results


def only_dir(parent: Path) -> Path:
    [child] = list(parent.iterdir())
    return child


def returned_metric(job: Path) -> float:
    """The job's optimized_metric at its best checkpoint (the highest val/video_auroc logged)."""
    import pandas as pd

    metrics = pd.read_csv(next(job.rglob("metrics.csv")))
    return float(metrics["val/video_auroc"].dropna().max())


@pytest.mark.slow
def test_failed_trials_are_marked_failed_until_max_failures(tmp_path: Path) -> None:
    """Every trial fails (a manifest without a manifest's columns): the sweep stops after
    max_failures. (A dataset not prepared at all stops the sweep before its first trial.)"""
    storage = f"sqlite:///{tmp_path}/tiny.db"
    broken = tmp_path / "broken" / "manifest.csv"
    broken.parent.mkdir()
    broken.write_text("not,a,manifest\n1,2,3\n")
    with pytest.raises(AssertionError, match=r"sweep stopped: 2 trials failed"):
        run_entry_point(
            "train.py",
            *sweep_overrides(broken, tmp_path, storage, 3),
            "hydra.sweeper.max_failures=2",
        )
    trials = trials_of(storage)
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert all("missing manifest column" in t.user_attrs["fail_reason"] for t in trials)
    results = OmegaConf.load(
        only_dir(tmp_path / "train" / "multiruns") / "optimization_results.yaml"
    )
    assert dict(results.trials) == {"FAIL": 2}


def test_sweep_tags_name_the_sweep_and_the_job_overrides() -> None:
    from dfd.sweeps.tags import sweep_tags

    tags = sweep_tags(
        "lr_search",
        [
            "seed=2",
            "module.optimizer.lr=0.001",
            "++optuna.trial_number=3",
            "paths.log_dir=/x",
            "model.backbone.name=" + "x" * 80,
        ],
    )
    assert tags[:3] == ["sweep:lr_search", "seed=2", "module.optimizer.lr=0.001"]
    assert len(tags) == 4 and len(tags[3]) == 64
