"""Static weightings: one constant weight per data term, fixed before training starts.

loss = sum_i w_i mean(data_i) + sum_j mean(other_j); physics and regularization terms keep weight 1.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from surrogate.errors import PluginError
from surrogate.losses import DataStatistics, LossTerms, StepContext, WeightingStrategy, data_term
from surrogate.options import Option, parse_mapping

from .terms import check_keys, is_data, match, report, weighted_sum

NORMALIZE_OPTION = Option(
    "normalize", "none",
    "'none': the weights as the formula gives them; 'count': rescaled to sum to the number of outputs",
    choices=("none", "count"),
)


class StaticWeighting(WeightingStrategy):
    """Base of the static strategies: subclasses fill ``self.weights`` ({term: w}) in ``__init__``."""

    def __init__(self, stats: DataStatistics, **options: Any):
        super().__init__(stats)
        self.weights: dict[str, float] = {}

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        return weighted_sum(terms, self.weights), report(terms, self.weights)


def rescaled(weights: dict[str, float], normalize: str) -> dict[str, float]:
    if normalize == "none":
        return weights
    scale = len(weights) / sum(weights.values())
    return {name: w * scale for name, w in weights.items()}


def positive_variance(stats: DataStatistics, owner: str) -> dict[str, float]:
    """Each output's training variance; a constant output is a one-line error (its weight would be infinite)."""
    for name in stats.output_names:
        if not stats.variance[name] > 0.0:
            raise PluginError(f"weighting {owner!r}: output {name} has zero variance in the training data; "
                              f"leave it out with --outputs")
    return {name: stats.variance[name] for name in stats.output_names}


class Uniform(StaticWeighting):
    """w_i = 1 for every term: the plain sum of per-output mean squared errors (MSE)."""

    description: ClassVar[str] = "w_i = 1: plain MSE summed over outputs (the paper's baseline)"

    def __init__(self, stats: DataStatistics, **options: Any):
        super().__init__(stats)
        self.weights = {data_term(name): 1.0 for name in stats.output_names}


class InverseVariance(StaticWeighting):
    """w_i = 1 / Var(y_i) over the training targets (model space).

    Source: Loss Weight Adjustment for Multivariate Regression in Deep Learning of Thermochemical Processes,
    arXiv 2308.01954. Unnormalized (the paper's form), the loss is sum_i MSE_i / Var_i = sum_i (1 - R²_i),
    so predicting every output's mean costs exactly the number of outputs.
    """

    description: ClassVar[str] = "w_i = 1/Var(y_i): every output's MSE relative to its variance (arXiv 2308.01954)"
    options: ClassVar[tuple[Option, ...]] = (NORMALIZE_OPTION,)

    def __init__(self, stats: DataStatistics, normalize: str = "none", **options: Any):
        super().__init__(stats)
        variance = positive_variance(stats, "inverse-variance")
        self.weights = rescaled({data_term(n): 1.0 / v for n, v in variance.items()}, normalize)


class InverseStd(StaticWeighting):
    """w_i = 1 / std(y_i): a milder rebalancing than inverse variance (the square root of its weights)."""

    description: ClassVar[str] = "w_i = 1/std(y_i): the square root of the inverse-variance weights"
    options: ClassVar[tuple[Option, ...]] = (NORMALIZE_OPTION,)

    def __init__(self, stats: DataStatistics, normalize: str = "none", **options: Any):
        super().__init__(stats)
        variance = positive_variance(stats, "inverse-std")
        self.weights = rescaled({data_term(n): 1.0 / math.sqrt(v) for n, v in variance.items()}, normalize)


class Fixed(WeightingStrategy):
    """User-given weights: the heuristic method (domain knowledge sets each term's importance).

    Source: Shaa, Dynamically Weighting Loss Function Components (2023), section 7 "Heuristic Methods".
    ``weights`` maps names to values; a name is a term (``physics/mixture_fraction``), an output (``Y_HO2``) or a
    group (``data``, ``physics``); the most specific name wins. Unnamed terms get ``default``. No normalization.
    """

    description: ClassVar[str] = "user-given weight per output, term or group (heuristic weighting)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("weights", {}, "name:value pairs, e.g. 'Y_HO2:100,Y_H2O2:100,physics:0.1'", type=parse_mapping),
        Option("default", 1.0, "weight of every data term not named in weights"),
    )

    def __init__(self, stats: DataStatistics, weights: dict[str, float] | None = None, default: float = 1.0,
                 **options: Any):
        super().__init__(stats)
        self.table = dict(weights or {})
        self.default = default
        self.weights: dict[str, float] = {}  # per term name, resolved once for the names a batch brings

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        if self.weights.keys() != terms.keys():
            check_keys(self.table, terms, "weighting 'fixed'")
            self.weights = {name: self.weight_of(name) for name in terms}
        return weighted_sum(terms, self.weights), report(terms, self.weights)

    def weight_of(self, term: str) -> float:
        given = match(term, self.table)
        return given if given is not None else (self.default if is_data(term) else 1.0)
