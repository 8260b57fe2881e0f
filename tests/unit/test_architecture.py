"""The package graph: no cycle between dfd's packages, every import points down the floors, and
no package reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dfd"

# From the ground up; a unit may import units on lower floors only (and itself).
FLOORS = [
    {"moved", "errors"},
    {"config"},
    {"datasets", "models", "sweeps", "runs"},
    {"data", "prepare"},
    {"eval"},
    {"report", "demo", "module"},
    {"tasks"},
    {"inference"},
    {"cli"},
    {"serve", "compare"},
    {"benchmark"},
]
FLOOR_OF = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def unit_of(module: str) -> str:
    """`dfd.data.selfblend.online` -> `data`; `dfd.runs` -> `runs`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dfd"


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, str, int]]:
    """(imported dfd module, imported name or '', line) for every import in a file, lazy ones too."""
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (alias.name, "", node.lineno)
                for alias in node.names
                if alias.name.startswith("dfd.")
            ]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "dfd" or node.module.startswith("dfd."))
        ):
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append(("<relative>", "", node.lineno))
    return found


def all_imports(root: Path = PACKAGE) -> list[tuple[str, str, str, int]]:
    rows = []
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        rows += [(importer, imported, name, line) for imported, name, line in imports_of(path)]
    return rows


def upward_imports(root: Path = PACKAGE) -> list[str]:
    upward = []
    for importer, imported, name, line in all_imports(root):
        if imported == "<relative>":
            continue
        source, target = unit_of(importer), unit_of(imported)
        if imported == "dfd" and name:  # `from dfd import runs`
            target = name
        if source in ("dfd", target):
            continue
        if FLOOR_OF[target] >= FLOOR_OF[source]:
            upward.append(f"{importer}:{line} imports {imported} ({source} -> {target})")
    return upward


def package_cycles(root: Path = PACKAGE) -> list[str]:
    edges: dict[str, set[str]] = {}
    for importer, imported, _, _ in all_imports(root):
        source, target = unit_of(importer), unit_of(imported)
        if source != target and imported != "<relative>":
            edges.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    return sorted(unit for unit in edges if reaches(unit, unit, {unit}))


def private_imports(root: Path = PACKAGE) -> list[str]:
    return [
        f"{importer}:{line} imports {imported}.{name}"
        for importer, imported, name, line in all_imports(root)
        if name.startswith("_") and unit_of(importer) != unit_of(imported)
    ]


def test_every_unit_has_a_floor() -> None:
    units = {unit_of(module_name(path, PACKAGE)) for path in PACKAGE.rglob("*.py")} - {"dfd"}
    assert units <= set(FLOOR_OF), f"place these on a floor: {sorted(units - set(FLOOR_OF))}"


def test_no_relative_imports() -> None:
    relative = [
        f"{importer}:{line}"
        for importer, imported, _, line in all_imports()
        if imported == "<relative>"
    ]
    assert not relative, f"dfd imports by absolute path: {relative}"


def test_imports_point_down_the_floors() -> None:
    upward = upward_imports()
    assert not upward, "imports that run up or sideways:\n" + "\n".join(upward)


def test_no_cycle_between_packages() -> None:
    cycles = package_cycles()
    assert not cycles, f"packages on an import cycle: {cycles}"


def test_no_private_names_across_packages() -> None:
    private = private_imports()
    assert not private, "private names used across packages:\n" + "\n".join(private)


def test_the_checks_see_faults(tmp_path: Path) -> None:
    """A scratch package with an upward import, a cycle and a private name is caught."""
    root = tmp_path / "dfd"
    for package in ("eval", "tasks"):
        (root / package).mkdir(parents=True)
    (root / "eval" / "scores.py").write_text("from dfd.tasks.train import _record\n")
    (root / "tasks" / "train.py").write_text("def lazy():\n    import dfd.eval.scores\n")
    assert upward_imports(root) == ["dfd.eval.scores:1 imports dfd.tasks.train (eval -> tasks)"]
    assert package_cycles(root) == ["eval", "tasks"]
    assert private_imports(root) == ["dfd.eval.scores:1 imports dfd.tasks.train._record"]
