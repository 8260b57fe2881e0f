"""The front door stays small and true: the README fits in 8 KB and every link in it leads
somewhere; the docs draw the package graph that test_architecture.py enforces, and show every
table the benchmarks write to results/ (on the benchmarks page or the zoo's)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README_LIMIT = 8 * 1024
# [text](target) and <img src="target">; web links and in-page anchors are not files
LINK = re.compile(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"")


def broken_links(markdown: Path) -> list[str]:
    """Relative link targets in a Markdown file that do not exist beside it."""
    broken = []
    for match in LINK.finditer(markdown.read_text()):
        target = (match.group(1) or match.group(2)).split("#", 1)[0]
        if not target or re.match(r"^[a-z]+:", target):
            continue
        if not (markdown.parent / target).exists():
            broken.append(target)
    return broken


def floors_enforced() -> list[set[str]]:
    """FLOORS as tests/unit/test_architecture.py spells it (read, not imported)."""
    tree = ast.parse((REPO / "tests" / "unit" / "test_architecture.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FLOORS" for t in node.targets
        ):
            return [set(floor) for floor in ast.literal_eval(node.value)]
    raise AssertionError("test_architecture.py defines no FLOORS")


def floors_drawn(page: str) -> tuple[list[set[str]], list[set[str]]]:
    """The floors of architecture.md: from the Mermaid subgraphs and from the table."""
    diagram = page.split("```mermaid", 1)[1].split("```", 1)[0]
    drawn: dict[int, set[str]] = {}
    for number, body in re.findall(r"subgraph f(\d+) \[floor \d+\]\n(.*?)\n\s*end", diagram, re.S):
        drawn[int(number)] = set(re.findall(r"(\w+)\[\w+\]", body))
    tabled = {
        int(number): set(re.findall(r"`(\w+)`", cells))
        for number, cells in re.findall(r"^\| (\d+) \| (.*) \|$", page, re.M)
    }
    return [drawn[k] for k in sorted(drawn)], [tabled[k] for k in sorted(tabled)]


def test_readme_is_small() -> None:
    size = len((REPO / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/"


def test_readme_links_exist() -> None:
    assert not broken_links(REPO / "README.md")


def test_the_link_check_sees_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "here.md").write_text("x")
    page = tmp_path / "README.md"
    page.write_text("[a](here.md#top) [b](gone.md) [c](https://example.org) [d](#anchor)")
    assert broken_links(page) == ["gone.md"]


def test_docs_draw_the_enforced_package_graph() -> None:
    diagram, table = floors_drawn((REPO / "docs" / "architecture.md").read_text())
    assert diagram == floors_enforced()
    assert table == floors_enforced()


def test_every_result_table_is_shown() -> None:
    pages = "".join(page.read_text() for page in (REPO / "docs").glob("*.md"))
    shown = set(re.findall(r"read_csv\('results/([\w.]+)'", pages))
    written = {path.name for path in (REPO / "results").glob("*.csv")}
    assert shown == written


def assigned_in(path: Path, name: str) -> object:
    """A module-level constant of a benchmark script, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} defines no {name}")


def test_demo_benchmarks_run_what_make_demo_runs() -> None:
    demo_data = REPO / "benchmarks" / "demo_data.py"
    recipe = assigned_in(demo_data, "DEMO_RECIPE")
    robustness = assigned_in(demo_data, "DEMO_ROBUSTNESS")
    makefile = (REPO / "Makefile").read_text()
    target = re.search(r"^demo:.*\n\t\$\(DFD\) train (.*)$", makefile, re.MULTILINE)
    assert target, "the Makefile has no `demo` target that runs `$(DFD) train`"
    assert target.group(1).split() == [*recipe, robustness]
