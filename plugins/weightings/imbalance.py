"""Imbalance-aware loss: a softmax with temperature over element-wise squared errors, used as weights."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.ranges import POSITIVE
from surrogate.terms import LossTerms, data_terms
from surrogate.weighting import WeightingStrategy


class ImbalanceAware(WeightingStrategy):
    """Element weights  p_bm = exp(l_bm / T) / sum_b'm' exp(l_b'm' / T)  over all data elements (batch b, output m),
    detached, and  loss = M * sum_bm p_bm l_bm  + the other terms with weight 1.

    Source: Imbalance-aware learning for deep physics modeling (ICLR submission; the paper's IAL = sum p l).
    The factor M (number of data terms) keeps this codebase's convention that uniform weights give
    sum_m mean_b l_bm: as T -> inf, p -> 1/(MB) and the loss -> sum_m MSE_m (uniform); as T -> 0 it -> M * max l_bm.
    The reported weight of a data term is its mean element weight M * B * mean_b p_bm (they sum to M).
    With ``scale=absolute`` T is in units of the squared error in model space, as in the paper; with
    ``scale=mean`` (default) the errors are divided by their batch mean first, so one T suits any output
    units and any stage of training (an element with k times the mean error gets e^((k-1)/T) times the weight).
    """

    description: ClassVar[str] = "imbalance-aware loss: softmax(l/T) over element-wise squared errors as weights"
    options: ClassVar[tuple[Option, ...]] = (
        Option("temperature", 1.0, "T: large -> MSE, small -> max error", bounds=POSITIVE),
        Option("scale", "mean", "'mean': T relative to the batch's mean squared error (unit-free); "
               "'absolute': T in model-space squared-error units (the paper)", choices=("mean", "absolute")),
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], temperature: float, scale: str,
                 **options: Any):
        super().__init__(stats, terms)
        self.names = data_terms(terms)
        if not self.names:
            raise PluginError("weighting 'imbalance-aware' weights data terms (data/...); this run has none")
        self.temperature = temperature
        self.scale = scale

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        errors = torch.stack([terms[name] for name in self.names], dim=1)  # (B, M)
        n_batch, n_terms = errors.shape
        detached = errors.detach().double().flatten()
        unit = detached.mean().clamp_min(torch.finfo(torch.float64).tiny) if self.scale == "mean" else 1.0
        logits = detached / (unit * self.temperature)
        p = torch.softmax(logits, dim=0).view_as(errors).to(errors.dtype)
        loss = n_terms * (p * errors).sum()
        weights = dict(zip(self.names, (n_terms * n_batch * p.mean(dim=0)).tolist()))
        for name, value in terms.items():
            if name not in weights:
                loss = loss + value.mean()
                weights[name] = 1.0
        return loss, weights
