"""Initial-value normalization: each term divided by its value at the first step."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.options import Option
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import BALANCE_OPTION, balanced_terms, report, weighted_sum


class InitialValue(WeightingStrategy):
    """w_i = 1 / L_i(0): every balanced term starts at 1, whatever its magnitude.

    The simplest cure for loss terms of different orders of magnitude, and the one MMPINN (arXiv 2308.06672)
    sets its power transform against: fixed at the first batch, it no longer follows the terms once they
    change at different rates. L_i(0) is kept as a buffer, so a resumed run keeps the same weights.
    """

    description: ClassVar[str] = "w_i = 1 / L_i(0): each term divided by its value at the first step"
    options: ClassVar[tuple[Option, ...]] = (BALANCE_OPTION,)

    def __init__(self, stats: DataStatistics, terms: Sequence[str], balance: str, **options: Any):
        super().__init__(stats, terms)
        self.names = balanced_terms(terms, balance, "weighting 'initial-value'")
        self.register_buffer("initial", torch.zeros(len(self.names)))  # zeros until the first batch

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        if not bool(self.initial.any()):
            means = torch.stack([terms[name].detach().mean() for name in self.names])
            self.initial.copy_(means.clamp_min(torch.finfo(means.dtype).tiny))
        weights = dict(zip(self.names, (1.0 / self.initial).tolist()))
        return weighted_sum(terms, weights), report(terms, weights)
