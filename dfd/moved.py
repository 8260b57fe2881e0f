"""Old module paths of dfd, kept importable after the package layout changed.

Run folders and checkpoints made by an earlier dfd store dotted paths (`_target_` in their
config snapshots and hyperparameters, class paths in pickles) such as `dfd.data.labels.read_label_csv`
or `dfd.callbacks.constant_lr_factor`. Each old path here resolves to the module that holds the
code now, so those runs still load, predict and evaluate. New code imports the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

MOVED_MODULES = {
    "dfd.runinfo": "dfd.runs",
    "dfd.confutil": "dfd.config",
    "dfd.cli_args": "dfd.cli.args",
    "dfd.predict": "dfd.cli.predict",
    "dfd.export": "dfd.cli.export",
    "dfd.fakes.online": "dfd.data.selfblend.online",
    "dfd.fakes.blend": "dfd.data.selfblend.blend",
    "dfd.fakes.masks": "dfd.data.selfblend.masks",
    "dfd.fakes.demo": "dfd.demo.build",
    "dfd.fakes.swap": "dfd.demo.swap",
    "dfd.fakes.animate": "dfd.demo.animate",
    "dfd.fakes.encode": "dfd.demo.encode",
    "dfd.fakes.media": "dfd.demo.media",
    "dfd.data.labels": "dfd.datasets.labels",
    "dfd.data.layouts": "dfd.datasets.layouts",
    "dfd.data.manifest": "dfd.datasets.manifest",
    "dfd.data.splits": "dfd.datasets.splits",
    "dfd.data.folds": "dfd.datasets.folds",
    "dfd.data.protocols": "dfd.datasets.protocols",
    "dfd.data.identity_check": "dfd.datasets.identity_check",
    "dfd.data.check": "dfd.datasets.check",
    "dfd.assets": "dfd.models.assets",
    "dfd.eval.figures": "dfd.report.figures",
    "dfd.eval.html": "dfd.report.html",
    "dfd.eval.wandb_report": "dfd.report.wandb_report",
    "dfd.eval.gradcam": "dfd.report.gradcam",
    "dfd.eval.tables": "dfd.report.tables",
    "dfd.eval.robustness": "dfd.report.robustness",
    "dfd.eval.run": "dfd.tasks.evaluation_report",
    "dfd.eval.evaluation": "dfd.tasks.evaluation",
    "dfd.training": "dfd.tasks.train",
    "dfd.evaluating": "dfd.tasks.evaluate",
    "dfd.ddp": "dfd.tasks.ddp",
    "dfd.resume": "dfd.tasks.resume",
    "dfd.callbacks": "dfd.tasks.callbacks",
    "dfd.console": "dfd.tasks.console",
}
REMOVED_PACKAGES = {"dfd.fakes"}
# single functions that left a module that still exists: old dotted path -> new one
MOVED_NAMES = {
    "dfd.datasets.layouts.read_faceforensics": "dfd.datasets.releases.faceforensics",
    "dfd.datasets.layouts.read_celebdf": "dfd.datasets.releases.celebdf",
    "dfd.datasets.labels.read_dfdc_metadata": "dfd.datasets.releases.dfdc",
}


def moved_name(module: str, name: str) -> object:
    """`module.name` from the module it moved to (a module's `__getattr__` calls this)."""
    target = MOVED_NAMES.get(f"{module}.{name}")
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return getattr(importlib.import_module(target), name)


class AliasLoader(importlib.abc.Loader):
    """Loads an old module name as the module that now holds its code."""

    def __init__(self, target: str | None) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.target is None:  # a package that no longer exists: an empty parent for aliases
            return types.ModuleType(spec.name, "Removed package; its modules moved (dfd.moved).")
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the target module is already imported."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Answers only for the old names in MOVED_MODULES and REMOVED_PACKAGES."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, AliasLoader(MOVED_MODULES[fullname]))
        if fullname in REMOVED_PACKAGES:
            spec = importlib.util.spec_from_loader(fullname, AliasLoader(None), is_package=True)
            spec.submodule_search_locations = []
            return spec
        return None


def install() -> None:
    """Put the finder first on sys.meta_path (once)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
