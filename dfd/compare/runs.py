"""Find run folders and read what their evaluations wrote: one row per (run, dataset).

A run folder is a folder with `.hydra/config.yaml` (a `train.py` or `evaluate.py` run, or one
job of a multirun); its results are `eval/<dataset>/metrics.json` and `videos.csv`. Folders
are searched recursively, so a multirun or a folder of several multiruns works as well as a
single run. Nothing is imported from the training stack: this reads files only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dfd.runs import CHECKPOINTS_DIR, EvalDir, RunDir

LEVELS = ("video", "clip", "frame")
SEED_KEY = "seed"
# cross-validation: runs that differ only by the fold are one setting, pooled by dfd.compare.folds
FOLD_KEY, FOLDS_KEY = "data.cv.fold", "data.cv.folds"
# overrides that change where and how a run reports, not what it trains or scores
IGNORED_PREFIXES = ("hydra.", "hydra/", "paths.", "logger", "tags", "trainer.enable_progress_bar")
CKPT_KEY = "ckpt_path"
EVAL_PREFIX = "eval:"  # overrides of an evaluate.py run traced back to its training run
DEFAULT_VALUE = "(default)"
NO_EVAL = "no eval/ results: the run did not finish or test=false"
OLD_LAYOUT = "no eval/ results, only test_metrics.json (written before eval/<dataset>/ existed)"
EVALUATING_TASKS = ("train", "eval")


@dataclass(frozen=True)
class Skipped:
    """A run folder, or one dataset of it, that gives no row, and why."""

    path: Path
    reason: str


@dataclass
class Run:
    """One run folder: its overrides (seed and hydra.* left out) and where to look up defaults."""

    path: Path
    seed: int | None
    overrides: dict[str, str]
    config: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)


@dataclass
class Collection:
    """Every row found under `root` (paths in rows are relative to it) and every skipped run."""

    root: Path
    rows: pd.DataFrame
    skipped: list[Skipped]


def is_run_folder(path: Path) -> bool:
    """A folder Hydra ran a job in (it holds `.hydra/config.yaml`)."""
    return RunDir(path).is_run()


def find_run_folders(roots: Iterable[Path]) -> list[Path]:
    """Run folders at or under each root, sorted; a run folder's own subfolders are not searched."""
    found: set[Path] = set()
    for root in roots:
        for folder, subfolders, _ in os.walk(root):
            if is_run_folder(Path(folder)):
                found.add(Path(folder).resolve())
                subfolders.clear()
            else:
                subfolders[:] = [name for name in subfolders if not name.startswith(".")]
    return sorted(found)


def parse_overrides(lines: Sequence[str]) -> dict[str, str]:
    """`["model=resnet18", "+x=1", "~y"]` -> `{"model": "resnet18", "x": "1", "y": "(deleted)"}`.

    The seed and the keys of IGNORED_PREFIXES (Hydra's own settings, paths, loggers, tags) are
    left out.
    """
    overrides = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        key = key.lstrip("+")
        if key.startswith("~"):
            key, value = key[1:], "(deleted)"
        if key != SEED_KEY and not key.startswith(IGNORED_PREFIXES):
            overrides[key] = value
    return overrides


def _lookup(config: Mapping, dotted_key: str) -> object:
    node: object = config
    for part in dotted_key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def setting(run: Run, key: str) -> str:
    """The run's value for an override key: its override, else its config or config-group choice."""
    if key in run.overrides:
        return run.overrides[key]
    value = run.choices.get(key, _lookup(run.config, key))
    return DEFAULT_VALUE if value is None or isinstance(value, (Mapping, list)) else str(value)


def _seed(config: Mapping, run_dir: Path) -> int | None:
    seed = config.get(SEED_KEY)
    if seed is None:
        info = _read_json(RunDir(run_dir).run_info)
        seed = info.get(SEED_KEY) if isinstance(info, Mapping) else None
    return int(seed) if isinstance(seed, (int, float)) else None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_run(run_dir: Path) -> Run:
    """The seed, overrides, config and config-group choices a run folder's `.hydra/` recorded."""
    folder = RunDir(run_dir)
    config = folder.read_config()
    overrides = parse_overrides(folder.read_overrides())
    if config.get("task_name") == "train":
        overrides.pop(CKPT_KEY, None)  # resuming a run does not change what it trained
    return Run(
        path=run_dir,
        seed=_seed(config, run_dir),
        overrides=overrides,
        config=config,
        choices=folder.choices(),
    )


def _existing(run_dir: Path, given: str) -> Path | None:
    """The path as given: absolute, or relative to the current folder or one of run_dir's
    ancestors (evaluate.py is usually started from the repository, above its run folder)."""
    candidate = Path(given).expanduser()
    bases = [Path("/")] if candidate.is_absolute() else [Path.cwd(), *run_dir.parents]
    found = next((base / candidate for base in bases if (base / candidate).exists()), None)
    return found.resolve() if found else None


def training_folder(run: Run) -> Path | None:
    """The train run an evaluate.py run's `ckpt_path` names: the run folder itself, or the one
    holding `checkpoints/<file>.ckpt`."""
    path = _existing(run.path, run.overrides[CKPT_KEY]) if CKPT_KEY in run.overrides else None
    if path is not None and path.is_file() and path.parent.name == CHECKPOINTS_DIR:
        path = path.parent.parent
    return path if path is not None and is_run_folder(path) and path != run.path else None


def trace_to_training(run: Run) -> Run:
    """An evaluate.py run of a train run's checkpoint takes that run's overrides and seed.

    Its own overrides are kept under `eval:` (less the checkpoint and the datasets), so
    evaluations of the checkpoints of one seed sweep group like the sweep itself.
    """
    train_dir = training_folder(run)
    if train_dir is None:
        return run
    train = read_run(train_dir)
    own = {
        f"{EVAL_PREFIX}{key}": value
        for key, value in run.overrides.items()
        if key not in (CKPT_KEY, "data", "datasets")
    }
    return Run(
        path=run.path,
        seed=train.seed,
        overrides={**train.overrides, **own},
        config=train.config,
        choices=train.choices,
    )


def cv_fold(run: Run) -> dict[str, object]:
    """`fold` (the cross-validation fold tested, None without folds), `folds` (the
    `data.cv.folds` setting) and `trained_on` (the dataset the run trained on)."""
    folds = setting(run, FOLDS_KEY)
    fold = setting(run, FOLD_KEY)
    cv = folds not in (DEFAULT_VALUE, "null", "None") and fold.isdigit()
    return {
        "fold": int(fold) if cv else None,
        "folds": folds if cv else None,
        "trained_on": _lookup(run.config, "data.name"),
    }


def _numbers(values: Mapping, prefix: str) -> dict[str, float]:
    numbers = {}
    for name, value in values.items():
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            numbers[f"{prefix}{name}"] = math.nan if value is None else float(value)
    return numbers


def _confidence_intervals(intervals: object) -> dict[str, float]:
    bounds = {}
    for key, pair in intervals.items() if isinstance(intervals, Mapping) else ():
        if isinstance(pair, list) and len(pair) == 2:
            bounds |= _numbers({"ci_lo": pair[0], "ci_hi": pair[1]}, f"{key}_")
    return bounds


def result_row(metrics: Mapping) -> dict[str, object]:
    """The metrics of one `metrics.json`: `<level>_<metric>`, CIs, threshold, video count and
    the evaluation's warnings."""
    row: dict[str, object] = {}
    for level in LEVELS:
        if isinstance(metrics.get(level), Mapping):
            row |= _numbers(metrics[level], f"{level}_")
    row |= _confidence_intervals(metrics.get("ci"))
    threshold = metrics.get("threshold")
    if isinstance(threshold, Mapping):
        row |= _numbers({"threshold": threshold.get("value")}, "")
        row["threshold_rule"] = threshold.get("rule")
    row |= _numbers({"num_videos": metrics.get("num_videos")}, "")
    row["warnings"] = "; ".join(str(text) for text in metrics.get("warnings") or [])
    return row


def evaluation_warnings(rows: pd.DataFrame) -> list[str]:
    """`<run> on <dataset>: <warning>` for every warning the runs' evaluations recorded, such as
    scores that do not depend on the input (an AUC that ranks nothing)."""
    if "warnings" not in rows:
        return []
    flagged = rows[rows["warnings"].fillna("").astype(bool)]
    return [f"{row.run} on {row.dataset}: {row.warnings}" for row in flagged.itertuples()]


def read_result(eval_dir: EvalDir) -> dict[str, object] | str:
    """The row of one `eval/<dataset>/` folder, or the reason it has none."""
    name = eval_dir.metrics.relative_to(eval_dir.path.parent.parent).as_posix()
    if not eval_dir.metrics.is_file():
        return f"no {name}"
    metrics = _read_json(eval_dir.metrics)
    if not isinstance(metrics, Mapping):
        return f"{name} is not a valid JSON object"
    if not isinstance(metrics.get("video"), Mapping) or not metrics["video"]:
        return f"{name} has no video metrics"
    return result_row(metrics)


def common_root(run_dirs: Sequence[Path]) -> Path:
    """The deepest folder holding every run folder (a lone run's parent, so its name shows)."""
    return Path(os.path.commonpath([path.parent for path in run_dirs]))


def _no_results_reason(run: Run) -> str:
    task = run.config.get("task_name")
    if task is not None and task not in EVALUATING_TASKS:
        return f"a {task} run (task_name={task}), which evaluates nothing"
    return OLD_LAYOUT if (run.path / "test_metrics.json").is_file() else NO_EVAL


def _run_rows(run: Run, root: Path) -> tuple[list[dict], list[Skipped]]:
    datasets = RunDir(run.path).evaluations()
    if not datasets:
        return [], [Skipped(run.path.relative_to(root), _no_results_reason(run))]
    rows, skipped = [], []
    for eval_dir in datasets:
        result = read_result(eval_dir)
        if isinstance(result, str):
            skipped.append(Skipped(eval_dir.path.relative_to(root), result))
            continue
        rows.append(
            {
                "run": run.path.relative_to(root).as_posix(),
                "dataset": eval_dir.name,
                "seed": run.seed,
                "eval_dir": eval_dir.path.relative_to(root).as_posix(),
                **cv_fold(run),
                **result,
            }
        )
    return rows, skipped


def distinguishing_keys(runs: Sequence[Run]) -> list[str]:
    """Override keys whose value is not the same in every run (sorted)."""
    keys = sorted({key for run in runs for key in run.overrides})
    return [key for key in keys if len({setting(run, key) for run in runs}) > 1]


def label(run: Run, keys: Sequence[str]) -> str:
    """`model=resnet18 module.optimizer.lr=1e-3`: the run's values of the distinguishing keys."""
    return " ".join(f"{key}={setting(run, key)}" for key in keys)


def collect(roots: Sequence[Path]) -> Collection:
    """Every (run, dataset) row under roots, each labelled by the overrides that tell runs apart
    (the cross-validation fold left out: the folds of a setting are grouped like its seeds)."""
    run_dirs = find_run_folders(roots)
    if not run_dirs:
        return Collection(Path(roots[0]).resolve() if roots else Path.cwd(), pd.DataFrame(), [])
    root = common_root(run_dirs)
    runs = [trace_to_training(read_run(path)) for path in run_dirs]
    rows, skipped, with_results = [], [], []
    for run in runs:
        run_rows, run_skipped = _run_rows(run, root)
        rows += [{**row, "_run": len(with_results)} for row in run_rows]
        with_results += [run] if run_rows else []
        skipped += run_skipped
    keys = [key for key in distinguishing_keys(with_results) if key != FOLD_KEY]
    table = pd.DataFrame(rows)
    if len(table):
        table["seed"] = table["seed"].astype("Int64")
        table["fold"] = table["fold"].astype("Int64")
        table.insert(1, "overrides", [label(with_results[i], keys) for i in table.pop("_run")])
    return Collection(root, table, skipped)
