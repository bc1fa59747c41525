"""MMPINN power transform: each loss term enters as L_i^(1/n_i), which pulls terms of very different
magnitudes to similar orders so they are optimized together."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.options import Option, parse_mapping
from surrogate.ranges import POSITIVE
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import per_term

TINY = 1e-30


class Power(WeightingStrategy):
    """loss = sum_i mean(term_i)^(1/n_i).

    Source: A practical PINN framework for multi-scale problems with multi-magnitude loss terms (MMPINN,
    arXiv 2308.06672): L = w_s L_s + w_r L_r^(1/n), with per-group exponents. Here a group is an output
    (``Y_HO2``), a named term (``physics/mixture_fraction``) or a prefix (``data``, ``physics``); data terms
    without an entry use ``exponent``, other terms 1. The reported weight is the effective linear weight
    L_i^(1/n_i - 1), so that loss = sum_i w_i L_i holds for the batch. MMPINN's multi-level training (power
    first, plain loss later) is ``schedule start=power end=uniform``.
    """

    description: ClassVar[str] = "each term L_i^(1/n_i) with per-output/term/group exponents (MMPINN, arXiv 2308.06672)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("exponent", 2.0, "n for data terms not named in exponents (1 = plain MSE)", bounds=POSITIVE),
        Option("exponents", {}, "name:n pairs by output, term or group, e.g. 'Y_HO2:4,physics:2'", type=parse_mapping,
               bounds=POSITIVE),
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], exponent: float,
                 exponents: dict[str, float] | None, **options: Any):
        super().__init__(stats, terms)
        self.exponents = per_term(dict(exponents or {}), terms, exponent, "weighting 'power'")

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        loss: torch.Tensor | float = 0.0
        ratios = []
        for name, value in terms.items():
            n = self.exponents[name]
            mean = value.mean()
            powered = mean.clamp_min(TINY) ** (1.0 / n) if n != 1.0 else mean
            loss = loss + powered
            ratios.append(powered.detach() / mean.detach().clamp_min(TINY))
        return loss, dict(zip(terms, torch.stack(ratios).tolist()))
