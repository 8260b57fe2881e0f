"""The sweeper's side of an Optuna study: open it, count its trials, record jobs, report the best."""

from __future__ import annotations

import logging
import math
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# n_trials counts these: finished trials and those still running (perhaps in another sweeper
# sharing the study). Failed trials do not count, so a resumed sweep replaces them.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
NO_PRUNING = {"_target_": "optuna.pruners.NopPruner"}


def open_study(
    storage: str | None,
    study_name: str,
    direction: str,
    sampler: Mapping[str, Any] | None,
    pruner: Mapping[str, Any] | None,
) -> optuna.Study:
    """Create the study, or load it when it exists (a resumed or shared sweep).

    A sampler `seed` is offset by the number of trials already in the study, so a resumed
    sweep does not repeat the random draws of its first run.
    """
    if storage:
        make_sqlite_folder(storage)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
        pruner=instantiate(pruner or NO_PRUNING),
    )
    if sampler:
        seed = sampler.get("seed")
        offset = len(study.get_trials(deepcopy=False))
        study.sampler = instantiate(sampler, **({} if seed is None else {"seed": seed + offset}))
    return study


def make_sqlite_folder(storage: str) -> None:
    """Create the folder of a SQLite database file (SQLite creates the file, not its folder)."""
    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def count_trials(study: optuna.Study) -> int:
    """Trials that count towards n_trials (all but the failed ones)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def record_job(study: optuna.Study, trial: optuna.Trial, job: JobReturn) -> TrialState:
    """Tell the study how a trial's job ended: its returned value, pruned, or failed (logged)."""
    if job.hydra_cfg is not None:
        trial.set_user_attr("job_dir", str(job.hydra_cfg.hydra.runtime.output_dir))
    outcome = job._return_value  # the value, or the exception the job raised (JobStatus.FAILED)
    if job.status == JobStatus.COMPLETED:
        if isinstance(outcome, (int, float)) and math.isfinite(outcome):
            study.tell(trial, float(outcome))
            return TrialState.COMPLETE
        return fail(
            study,
            trial,
            f"the job returned {outcome!r}, not a finite number (is optimized_metric logged?)",
        )
    if isinstance(outcome, optuna.TrialPruned):
        study.tell(trial, state=TrialState.PRUNED)
        log.info("trial %d pruned: %s", trial.number, outcome)
        return TrialState.PRUNED
    return fail(
        study,
        trial,
        f"{type(outcome).__name__}: {outcome}",
        outcome if isinstance(outcome, BaseException) else None,
    )


def run_batch(
    study: optuna.Study,
    trials: list[optuna.Trial],
    validate: Callable[[], None],
    launch: Callable[[], Sequence[JobReturn]],
) -> int:
    """Launch a batch of trials, tell the study how each ended, and return how many failed.

    A launcher error (e.g. a cluster job killed hard) fails the batch and the sweep goes on;
    a config that does not compose, Ctrl-C or SIGTERM fail it and stop the sweep.
    """
    with sigterm_as_interrupt():
        try:
            validate()
        except BaseException:
            fail_all(study, trials, "the overrides do not compose")
            raise
        try:
            jobs = launch()
            states = [record_job(study, trial, job) for trial, job in zip(trials, jobs)]
        except Exception as error:
            fail_all(study, trials, f"the launcher failed: {error!r}")
            return len(trials)
        except BaseException:  # interrupted: the trials do not count, a resumed sweep redoes them
            fail_all(study, trials, "the sweep was interrupted")
            raise
    return states.count(TrialState.FAIL)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (e.g. a cluster time limit) into KeyboardInterrupt while a batch runs."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail(
    study: optuna.Study, trial: optuna.Trial, reason: str, error: BaseException | None = None
) -> TrialState:
    """Mark a running trial FAIL, keeping the reason in its user attributes and the log."""
    log.error("trial %d failed: %s", trial.number, reason, exc_info=error)
    if study.get_trials(deepcopy=False)[trial.number].state == TrialState.RUNNING:
        trial.set_user_attr("fail_reason", reason)
        study.tell(trial, state=TrialState.FAIL)
    return TrialState.FAIL


def fail_all(study: optuna.Study, trials: Iterable[optuna.Trial], reason: str) -> None:
    """Mark the still-running trials of a batch FAIL (the sweep was stopped or the launcher broke)."""
    for trial in trials:
        fail(study, trial, reason)


def summary(study: optuna.Study) -> dict[str, Any]:
    """Trial counts by state and the best trial so far (its number, value, params and job folder)."""
    trials = study.get_trials(deepcopy=False)
    result: dict[str, Any] = {
        "study_name": study.study_name,
        "direction": study.direction.name.lower(),
        "trials": dict(Counter(t.state.name for t in trials)),
    }
    if any(t.state == TrialState.COMPLETE for t in trials):
        best = study.best_trial
        result.update(
            best_trial=best.number,
            best_value=best.value,
            best_params=best.params,
            best_job_dir=best.user_attrs.get("job_dir"),
        )
    return result


def write_summary(study: optuna.Study, path: Path) -> dict[str, Any]:
    """Write `summary(study)` as YAML to `path`, log it, and return it."""
    result = summary(study)
    OmegaConf.save(OmegaConf.create(result), path)
    if "best_trial" in result:
        log.info(
            "best trial %d: value %s (%s), params %s",
            result["best_trial"],
            result["best_value"],
            result["direction"],
            result["best_params"],
        )
    else:
        log.warning("no trial of study %r has completed", study.study_name)
    return result
