"""Helpers shared by the weighting strategies: which terms to balance, weighted sums, name matching."""

from __future__ import annotations

from typing import Mapping

import torch

from surrogate.errors import PluginError
from surrogate.losses import DATA_PREFIX, LossTerms, output_of
from surrogate.options import Option

REG_PREFIX = "reg/"
BALANCE_OPTION = Option(
    "balance", "all", "terms the strategy balances: 'data' (data/... only) or 'all' (every term but reg/...)",
    choices=("data", "all"),
)


def is_data(term: str) -> bool:
    return term.startswith(DATA_PREFIX)


def balanced_terms(terms: LossTerms | Mapping[str, object], balance: str) -> list[str]:
    """Names of the terms a dynamic strategy weights, in the order given; the others keep weight 1."""
    if balance == "data":
        return data_terms(terms)
    return [name for name in terms if not name.startswith(REG_PREFIX)]


def data_terms(terms: LossTerms | Mapping[str, object]) -> list[str]:
    return [name for name in terms if is_data(name)]


def weighted_sum(terms: LossTerms, weights: Mapping[str, float | torch.Tensor]) -> torch.Tensor:
    """sum_i w_i * mean(term_i); a term without a weight counts with weight 1."""
    return sum(weights.get(name, 1.0) * value.mean() for name, value in terms.items())


def report(terms: LossTerms, weights: Mapping[str, float | torch.Tensor]) -> dict[str, float]:
    """One float per term: its weight, or 1 where the strategy left it alone."""
    return {name: float(weights.get(name, 1.0)) for name in terms}


def normalized(raw: torch.Tensor, total: float | None = None) -> torch.Tensor:
    """Rescale non-negative raw weights so they sum to `total` (default: their number)."""
    total = float(raw.numel()) if total is None else total
    return raw * (total / raw.sum().clamp_min(torch.finfo(raw.dtype).tiny))


def match(term: str, table: Mapping[str, float]) -> float | None:
    """The value `table` gives a term: by full term name (``physics/mixture_fraction``), then by output name
    (``Y_H2O`` for ``data/Y_H2O``), then by group prefix (``data``, ``physics``, ``reg``); None if none applies."""
    if term in table:
        return table[term]
    output = output_of(term)
    if output is not None and output in table:
        return table[output]
    group = term.split("/", 1)[0]
    return table.get(group) if "/" in term else None


def check_keys(table: Mapping[str, float], terms: LossTerms, owner: str) -> None:
    """A one-line error for mapping keys that name no term, output or group of this run."""
    valid: set[str] = set()
    for name in terms:
        valid.add(name)
        if "/" in name:
            valid.add(name.split("/", 1)[0])
        output = output_of(name)
        if output is not None:
            valid.add(output)
    unknown = sorted(set(table) - valid)
    if unknown:
        raise PluginError(f"{owner}: {unknown[0]!r} names no loss term; valid names: {', '.join(sorted(valid))}")
