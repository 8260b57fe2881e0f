"""Hydra's override grammar as an Optuna search space, and trial values written back as overrides.

`interval(a, b)` is a float range, `int(interval(a, b))` an integer one, `tag(log, ...)` makes
either log-scaled, `range(a, b[, step])` is a stepped range (`b` excluded, as in Python) and
`choice(x, y)` or `x,y` a categorical. Any other override is passed to every trial unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    Quote,
    QuotedString,
    RangeSweep,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

SCALARS = (type(None), bool, int, float, str)


@dataclass
class SearchSpace:
    """The sampled overrides (an Optuna distribution per override key) and the fixed ones."""

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """A trial's overrides: the fixed ones, then its value for every sampled key."""
        return [*self.fixed, *(f"{key}={format_value(params[key])}" for key in self.distributions)]


def parse_search_space(lines: Sequence[str], parser: OverridesParser | None = None) -> SearchSpace:
    """Parse `key=value` overrides; a later one replaces an earlier one with the same key."""
    by_key: dict[str, Override] = {}
    for override in (parser or OverridesParser.create()).parse_overrides(list(lines)):
        by_key[override.get_key_element()] = override
    space = SearchSpace()
    for key, override in by_key.items():
        if override.is_sweep_override():
            space.distributions[key] = to_distribution(override)
        else:
            space.fixed.append(str(override.input_line))
    return space


def to_distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override (`choice`, `range` or `interval`)."""
    sweep = override.value()
    log = "log" in sweep.tags
    if isinstance(sweep, IntervalSweep):
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    if isinstance(sweep, RangeSweep):
        values = list(sweep.range())
        if not values:
            raise ValueError(f"{override.input_line}: the range is empty")
        low, high, step = min(values), max(values), abs(sweep.step)
        if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
            return IntDistribution(low, high, log=log, step=step)
        return FloatDistribution(low, high, step=step)
    if isinstance(sweep, ChoiceSweep):
        if not all(isinstance(choice, SCALARS) for choice in sweep.list):
            raise ValueError(
                f"{override.input_line}: choices must be null, bool, int, float or str"
            )
        return CategoricalDistribution(sweep.list)
    raise ValueError(f"{override.input_line}: unsupported sweep {type(sweep).__name__}")


def format_value(value: Any) -> str:
    """`value` in the override grammar (strings quoted), so that it parses back to itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return QuotedString(text=value, quote=Quote.single).with_quotes()
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{format_value(v)}" for key, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a Hydra override value")
