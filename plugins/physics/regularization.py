"""Weight regularization as loss terms (L1, L2, elastic net), so the weighting strategy sees and logs them.

Each penalty is a scalar term ``reg/<norm>`` on the model's parameters; it needs no targets, so it applies
to collocation problems too. Weighting strategies leave ``reg/...`` terms at weight 1: the strength is the
user's ``weight`` option.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import torch

from surrogate.contracts import Batch, PhysicsContext, PhysicsLoss
from surrogate.options import Option
from surrogate.ranges import NON_NEGATIVE, UNIT
from surrogate.terms import LossTerms, reg_term

WEIGHT_OPTION = Option("weight", 1e-6, "regularization strength lambda", bounds=NON_NEGATIVE)
BIAS_OPTION = Option("include_bias", False, "also penalize biases (1-D parameters)")


def penalized(model: torch.nn.Module, include_bias: bool) -> list[torch.Tensor]:
    """The trainable parameters a penalty applies to: weight matrices, and biases if asked."""
    return [p for p in model.parameters() if p.requires_grad and (include_bias or p.dim() > 1)]


def l1_norm(model: torch.nn.Module, include_bias: bool) -> torch.Tensor:
    return sum(p.abs().sum() for p in penalized(model, include_bias))


def squared_l2_norm(model: torch.nn.Module, include_bias: bool) -> torch.Tensor:
    return sum(p.pow(2).sum() for p in penalized(model, include_bias))


NORMS: dict[str, Callable[[torch.nn.Module, bool], torch.Tensor]] = {"l1": l1_norm, "l2": squared_l2_norm}


class Penalty(PhysicsLoss):
    """One term ``reg/<norm>`` = lambda * share * norm(theta) per entry of ``shares`` ({norm: share})."""

    options: ClassVar[tuple[Option, ...]] = (WEIGHT_OPTION, BIAS_OPTION)
    shares: Mapping[str, float]

    def __init__(self, context: PhysicsContext, *, weight: float, include_bias: bool, **options: Any):
        super().__init__(context)
        self.weight, self.include_bias = weight, include_bias

    def term_names(self) -> list[str]:
        return [reg_term(norm) for norm in self.shares]

    def terms(self, batch: Batch) -> LossTerms:
        return {reg_term(norm): self.weight * share * NORMS[norm](batch.model, self.include_bias)
                for norm, share in self.shares.items()}


class L1(Penalty):
    """reg/l1 = lambda * sum |theta| over the weight matrices (lasso: drives weights to exactly zero)."""

    description: ClassVar[str] = "reg/l1 = weight * sum|theta| (lasso)"
    shares = {"l1": 1.0}


class L2(Penalty):
    """reg/l2 = lambda * sum theta^2 over the weight matrices (ridge / weight decay on the loss)."""

    description: ClassVar[str] = "reg/l2 = weight * sum theta^2 (ridge)"
    shares = {"l2": 1.0}


class ElasticNet(Penalty):
    """reg/l1 = lambda rho sum |theta|  and  reg/l2 = lambda (1 - rho) sum theta^2  (Zou & Hastie 2005;
    rho = l1_ratio as in scikit-learn, whose L2 half carries an extra factor 1/2 that this form leaves out)."""

    description: ClassVar[str] = "reg/l1 + reg/l2 mixed by l1_ratio (elastic net)"
    options: ClassVar[tuple[Option, ...]] = (
        WEIGHT_OPTION,
        Option("l1_ratio", 0.5, "share of L1: 1 = lasso, 0 = ridge", bounds=UNIT),
        BIAS_OPTION,
    )

    def __init__(self, context: PhysicsContext, *, weight: float, l1_ratio: float, include_bias: bool,
                 **options: Any):
        super().__init__(context, weight=weight, include_bias=include_bias)
        self.shares = {"l1": l1_ratio, "l2": 1.0 - l1_ratio}
