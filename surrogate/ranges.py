"""Declared ranges of numeric options: the values an option accepts, checked wherever a value enters (command
line, YAML, Python) and shown in the option's help, so bad input is a one-line error instead of a traceback deep
in a solver or a run that silently trains on nonsense.

A :class:`Range` is a plain value: plugin options (:class:`surrogate.options.Option`), the training options
(:mod:`surrogate.config`) and click options (:mod:`surrogate.cli.types`) declare theirs with the same object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _number(value: float) -> str:
    """A bound as text: integers as they are, floats by %g."""
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """Numbers between `low` and `high` (None: unbounded on that side), an end excluded when `low_open` or
    `high_open` is set; only finite numbers unless `finite` is False (then ±inf pass where the bounds allow;
    NaN never passes); only whole numbers when `whole` (a float option that must be integral, e.g. a wave
    number on a periodic interval)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True
    whole: bool = False

    def contains(self, value: float) -> bool:
        if math.isnan(value) or (self.finite and math.isinf(value)):
            return False
        if self.whole and not (math.isfinite(value) and float(value).is_integer()):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """The bounds as help text: '> 0', '>= 2', '< 1', 'in (0, 1]'; '' when unbounded."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_number(self.low)}, "
                    f"{_number(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return ""


def at_least(low: float) -> Range:
    """Numbers >= `low` (for counts: at least that many)."""
    return Range(low)


ANY = Range()  # every finite number: declared where a sign or size carries no constraint (an amplitude)
POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
COUNT = Range(1)  # a positive integer: points, layers, steps
UNIT = Range(0, 1)  # a share or probability
FRACTION = Range(0, 1, high_open=True)  # a share of the rows that leaves some for the rest
SEED = Range(0, 2**32 - 1)  # what every random generator used here (NumPy, torch) accepts, with room for seed + k
