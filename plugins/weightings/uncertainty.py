"""Uncertainty weighting with learnable log-variances (homoscedastic task uncertainty)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from surrogate.losses import DataStatistics, LossTerms, StepContext, WeightingStrategy, data_term
from surrogate.options import Option

from .terms import check_keys


class Uncertainty(WeightingStrategy):
    """loss = sum_i exp(-s_i) L_i + s_i  with s_i = log sigma_i^2 learnable, so w_i = exp(-s_i).

    Source: Kendall, Gal, Cipolla, Multi-task learning using uncertainty to weigh losses (CVPR 2018), in the
    common form without the factor 1/2. The s_i are ``nn.Parameter`` s trained by the trainer's optimizer on the
    combined loss; at the optimum exp(s_i) = L_i, so each term is weighted by the inverse of its own loss.
    Not normalized (the method fixes the scale). The s_i exist from the start for every data term and for
    the terms named in ``extra_terms`` (physics terms are only named once a batch is seen, and a parameter
    made later would miss the optimizer); any other term keeps weight 1.
    """

    description: ClassVar[str] = "learnable log-variances s_i: sum exp(-s_i) L_i + s_i (Kendall et al. 2018)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("init", 0.0, "initial log-variance s_i (weights start at exp(-init))"),
        Option("extra_terms", "", "comma-separated non-data terms to weight too, e.g. 'physics/mixture_fraction'"),
    )

    def __init__(self, stats: DataStatistics, init: float = 0.0, extra_terms: str = "", **options: Any):
        super().__init__(stats)
        extra = [name.strip() for name in str(extra_terms).split(",") if name.strip()]
        self.names = [data_term(name) for name in stats.output_names] + extra
        self.index = {name: i for i, name in enumerate(self.names)}
        self.log_variance = torch.nn.Parameter(torch.full((len(self.names),), float(init)))
        self.checked = False

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        if not self.checked:
            check_keys(dict.fromkeys(self.names, 0.0), terms, "weighting 'uncertainty' extra_terms")
            self.checked = True
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
