"""Static weightings: one constant weight per term, fixed when the strategy is built.

loss = sum_i w_i mean(data_i) + sum_j mean(other_j); physics and regularization terms keep weight 1 unless
the user names them (``fixed``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.errors import PluginError
from surrogate.options import Option, parse_mapping
from surrogate.ranges import NON_NEGATIVE
from surrogate.terms import LossTerms, data_terms, output_of
from surrogate.weighting import WeightingStrategy

from .weights import per_term, report, weighted_sum

NORMALIZE_OPTION = Option(
    "normalize", "none",
    "'none': the weights as the formula gives them; 'count': rescaled to sum to the number of outputs",
    choices=("none", "count"),
)


class StaticWeighting(WeightingStrategy):
    """Base of the static strategies: subclasses fill ``self.weights`` ({term: w}) in ``__init__``."""

    def __init__(self, stats: DataStatistics, terms: Sequence[str], **options: Any):
        super().__init__(stats, terms)
        self.weights: dict[str, float] = {}
        self.reported: tuple[tuple[str, ...], dict[str, float]] = ((), {})

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        names, used = self.reported
        if names != tuple(terms):  # the weights are fixed: the report changes only with the terms
            used = report(terms, self.weights)
            self.reported = (tuple(terms), used)
        return weighted_sum(terms, self.weights), used


def rescaled(weights: dict[str, float], normalize: str) -> dict[str, float]:
    if normalize == "none" or not weights:
        return weights
    scale = len(weights) / sum(weights.values())
    return {name: w * scale for name, w in weights.items()}


def positive_variance(stats: DataStatistics, terms: Sequence[str], owner: str) -> dict[str, float]:
    """The training variance behind each data term; a constant output is a one-line error (its weight would be
    infinite)."""
    variance = {term: stats.variance[output_of(term)] for term in data_terms(terms)}
    constant = [term for term, value in variance.items() if not value > 0.0]
    if constant:
        raise PluginError(f"weighting {owner!r}: output {output_of(constant[0])} has zero variance in the training "
                          f"data; leave it out with --outputs")
    return variance


class Uniform(StaticWeighting):
    """w_i = 1 for every term: the plain sum of per-output mean squared errors (MSE)."""

    description: ClassVar[str] = "w_i = 1: plain MSE summed over outputs (the paper's baseline)"


class InverseVariance(StaticWeighting):
    """w_i = 1 / Var(y_i) over the training targets (model space).

    Source: Loss Weight Adjustment for Multivariate Regression in Deep Learning of Thermochemical Processes,
    arXiv 2308.01954. Unnormalized (the paper's form), the loss is sum_i MSE_i / Var_i = sum_i (1 - R²_i),
    so predicting every output's mean costs exactly the number of outputs.
    """

    description: ClassVar[str] = "w_i = 1/Var(y_i): every output's MSE relative to its variance (arXiv 2308.01954)"
    options: ClassVar[tuple[Option, ...]] = (NORMALIZE_OPTION,)

    def __init__(self, stats: DataStatistics, terms: Sequence[str], normalize: str, **options: Any):
        super().__init__(stats, terms)
        variance = positive_variance(stats, terms, "inverse-variance")
        self.weights = rescaled({term: 1.0 / v for term, v in variance.items()}, normalize)


class InverseStd(StaticWeighting):
    """w_i = 1 / std(y_i): a milder rebalancing than inverse variance (the square root of its weights)."""

    description: ClassVar[str] = "w_i = 1/std(y_i): the square root of the inverse-variance weights"
    options: ClassVar[tuple[Option, ...]] = (NORMALIZE_OPTION,)

    def __init__(self, stats: DataStatistics, terms: Sequence[str], normalize: str, **options: Any):
        super().__init__(stats, terms)
        variance = positive_variance(stats, terms, "inverse-std")
        self.weights = rescaled({term: 1.0 / math.sqrt(v) for term, v in variance.items()}, normalize)


class Fixed(StaticWeighting):
    """User-given weights: the heuristic method (domain knowledge sets each term's importance).

    Source: Shaa, Dynamically Weighting Loss Function Components (2023), section 7 "Heuristic Methods".
    ``weights`` maps names to values; a name is a term (``physics/mixture_fraction``), an output (``Y_HO2``) or a
    group (``data``, ``physics``); the most specific name wins, and a name that matches no term of the run is an
    error when the strategy is built. Unnamed data terms get ``default``, other terms 1. No normalization.
    """

    description: ClassVar[str] = "user-given weight per output, term or group (heuristic weighting)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("weights", {}, "name:value pairs, e.g. 'Y_HO2:100,Y_H2O2:100,physics:0.1'", type=parse_mapping,
               bounds=NON_NEGATIVE),
        Option("default", 1.0, "weight of every data term not named in weights", bounds=NON_NEGATIVE),
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], weights: dict[str, float] | None,
                 default: float, **options: Any):
        super().__init__(stats, terms)
        self.weights = per_term(dict(weights or {}), terms, default, "weighting 'fixed'")
