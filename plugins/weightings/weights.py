"""Helpers shared by the weighting strategies: which terms to balance, weighted sums, name matching.

Term names and their prefixes belong to :mod:`surrogate.terms`; this module only decides how strategies
treat them. Strategies resolve everything name-based in ``__init__`` from the run's term list, so a
misspelled name is an error before training starts, not at the first batch.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping

import torch

from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.terms import LossTerms, data_terms, is_data, is_regularization, output_of, stacked

BALANCE_OPTION = Option(
    "balance", "all", "terms the strategy balances: 'data' (data/... only) or 'all' (every term but reg/...)",
    choices=("data", "all"),
)


def balanced_terms(terms: Iterable[str], balance: str, owner: str) -> list[str]:
    """Names of the terms a dynamic strategy weights, in the order given; the others keep weight 1
    (regularization strength stays the user's choice). None to balance is a one-line error (e.g.
    ``balance=data`` on collocation points, which have no data terms)."""
    terms = list(terms)
    names = data_terms(terms) if balance == "data" else [name for name in terms if not is_regularization(name)]
    if not names:
        raise PluginError(f"{owner}: balance={balance} selects no loss term of this run ({', '.join(terms)})")
    return names


def weighted_sum(terms: LossTerms, weights: Mapping[str, float | torch.Tensor]) -> torch.Tensor:
    """sum_i w_i * mean(term_i); a term without a weight counts with weight 1.

    Terms of one shape with plain-number weights (the common case: one element-wise term per output) are
    reduced as one [batch, term] matrix (:func:`surrogate.terms.stacked`, no copy when the task made them as
    its columns), and weights that are all 1 are not multiplied at all: a small network's step then records a
    handful of autograd nodes, not one per output."""
    values = list(terms.values())
    factors = tuple(weights.get(name, 1.0) for name in terms)
    if len(values) > 1 and not any(isinstance(f, torch.Tensor) for f in factors):
        matrix = stacked(values)
        if matrix is not None:
            means = matrix.mean(dim=0)
            if all(f == 1.0 for f in factors):
                return means.sum()
            return (means * factor_column(factors, means.dtype, means.device)).sum()
    return sum(f * value.mean() for f, value in zip(factors, values))


@functools.lru_cache(maxsize=64)
def factor_column(factors: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Plain-number weights as a tensor, made once per set of weights rather than every step."""
    return torch.tensor(factors, dtype=dtype, device=device)


def report(terms: LossTerms, weights: Mapping[str, float | torch.Tensor]) -> dict[str, float]:
    """One float per term: its weight, or 1 where the strategy left it alone."""
    return {name: float(weights.get(name, 1.0)) for name in terms}


def normalized(raw: torch.Tensor, total: float | None = None) -> torch.Tensor:
    """Rescale non-negative raw weights so they sum to `total` (default: their number)."""
    total = float(raw.numel()) if total is None else total
    return raw * (total / raw.sum().clamp_min(torch.finfo(raw.dtype).tiny))


def keys_of(term: str) -> list[str]:
    """The names a mapping option may use for a term, most specific first: the term (``data/Y_H2O``), its
    output (``Y_H2O``), then each parent name down to its group (``pde/residual/g0``: ``pde/residual``, ``pde``;
    none for ``kl``, which has no group), so one key covers every subdomain group of a residual."""
    output = output_of(term)
    parts = term.split("/")
    parents = ["/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]
    return [term, *([output] if output is not None else []), *parents]


def match(term: str, table: Mapping[str, float]) -> float | None:
    """The value `table` gives a term by its most specific key (see :func:`keys_of`); None if none applies."""
    return next((table[key] for key in keys_of(term) if key in table), None)


def check_keys(table: Mapping[str, float], terms: Iterable[str], owner: str) -> None:
    """A one-line error for mapping keys that name no term, output or group of this run."""
    valid = {key for term in terms for key in keys_of(term)}
    unknown = sorted(set(table) - valid)
    if unknown:
        raise PluginError(f"{owner}: {unknown[0]!r} names no loss term; valid names: {', '.join(sorted(valid))}")


def per_term(table: Mapping[str, float], terms: Iterable[str], data_default: float, owner: str,
             other_default: float = 1.0) -> dict[str, float]:
    """A value for every term of the run from a user's mapping option (checked by :func:`check_keys`): the
    most specific match, else `data_default` for a data term and `other_default` for any other."""
    terms = list(terms)
    check_keys(table, terms, owner)
    values = {term: match(term, table) for term in terms}
    return {term: value if value is not None else (data_default if is_data(term) else other_default)
            for term, value in values.items()}
