"""Write a benchmark's table into README.md between its `<!-- name -->` and `<!-- /name -->` markers."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def write_readme_block(name: str, text: str, readme: Path = README) -> None:
    """Replace what stands between the block's markers with `text`; exit if they are missing."""
    opening, closing = f"<!-- {name} -->", f"<!-- /{name} -->"
    content = readme.read_text()
    start, end = content.find(opening), content.find(closing)
    if start < 0 or end < 0:
        raise SystemExit(f"{readme.name} has no {opening} ... {closing} block")
    readme.write_text(content[: start + len(opening)] + "\n" + text + "\n" + content[end:])
