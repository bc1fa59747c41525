"""Uncertainty weighting with learnable log-variances (homoscedastic task uncertainty)."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.options import Option
from surrogate.ranges import ANY
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import BALANCE_OPTION, balanced_terms


class Uncertainty(WeightingStrategy):
    """loss = sum_i exp(-s_i) L_i + s_i  with s_i = log sigma_i^2 learnable, so w_i = exp(-s_i).

    Source: Kendall, Gal, Cipolla, Multi-task learning using uncertainty to weigh losses (CVPR 2018), in the
    common form without the factor 1/2. The s_i are ``nn.Parameter`` s trained by the trainer's optimizer on the
    combined loss; at the optimum exp(s_i) = L_i, so each term is weighted by the inverse of its own loss.
    Not normalized (the method fixes the scale). One s_i exists from construction for every balanced term of
    the run (data, physics, pde and kl with ``balance=all``; data only with ``balance=data``), so the optimizer
    holds them all before the first batch; other terms (``reg/...``) keep weight 1.
    """

    description: ClassVar[str] = "learnable log-variances s_i: sum exp(-s_i) L_i + s_i (Kendall et al. 2018)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("init", 0.0, "initial log-variance s_i (weights start at exp(-init))", bounds=ANY),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], init: float, balance: str,
                 **options: Any):
        super().__init__(stats, terms)
        self.names = balanced_terms(terms, balance, "weighting 'uncertainty'")
        self.index = {name: i for i, name in enumerate(self.names)}
        self.log_variance = torch.nn.Parameter(torch.full((len(self.names),), float(init)))

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        inverse_variance = torch.exp(-self.log_variance)
        learned = dict(zip(self.names, inverse_variance.detach().tolist()))  # one host copy for the report
        loss: torch.Tensor | float = 0.0
        for name, value in terms.items():
            if name in self.index:
                i = self.index[name]
                loss = loss + inverse_variance[i] * value.mean() + self.log_variance[i]
            else:
                loss = loss + value.mean()
        return loss, {name: learned.get(name, 1.0) for name in terms}
