"""Click types for numeric command-line options with a declared :class:`~surrogate.ranges.Range`.

Click's own IntRange and FloatRange check the bounds (a one-line usage error, exit code 2, and the range shown
in ``--help``); FloatRange lets NaN and ±inf through, so floats get :class:`FiniteFloatRange`.
"""

from __future__ import annotations

import math
from typing import Any

import click

from ..ranges import Range


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses NaN and ±inf (which compare as inside any open-ended range)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number.", param, ctx)
        return number


def ranged(kind: type, bounds: Range) -> click.ParamType:
    """The click type of an `int` or a (finite) `float` option that accepts the numbers of `bounds`."""
    limits = dict(min=bounds.low, max=bounds.high, min_open=bounds.low_open, max_open=bounds.high_open)
    return click.IntRange(**limits) if kind is int else FiniteFloatRange(**limits)


class LazyChoice(click.Choice):
    """click.Choice whose choices are a sequence of another package, named ``"module:attribute"`` and imported
    when the option is first parsed or shown in ``--help``: a command module declares it without importing that
    package (``export``, which imports numpy) when the CLI loads."""

    def __init__(self, target: str, case_sensitive: bool = True):
        self.target = target
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        import importlib

        module, attribute = self.target.split(":")
        return tuple(getattr(importlib.import_module(module), attribute))
