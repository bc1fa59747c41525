"""Weight regularization as loss terms (L1, L2, elastic net), so the weighting strategy sees and logs them."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from surrogate.errors import PluginError
from surrogate.losses import Batch, LossTerms, PhysicsContext, PhysicsLoss
from surrogate.options import Option

WEIGHT_OPTION = Option("weight", 1e-6, "regularization strength lambda")
BIAS_OPTION = Option("include_bias", False, "also penalize biases (1-D parameters)")


def penalized(model: torch.nn.Module, include_bias: bool) -> list[torch.Tensor]:
    """The trainable parameters a penalty applies to: weight matrices, and biases if asked."""
    return [p for p in model.parameters() if p.requires_grad and (include_bias or p.dim() > 1)]


def l1_norm(model: torch.nn.Module, include_bias: bool) -> torch.Tensor:
    return sum(p.abs().sum() for p in penalized(model, include_bias))


def squared_l2_norm(model: torch.nn.Module, include_bias: bool) -> torch.Tensor:
    return sum(p.pow(2).sum() for p in penalized(model, include_bias))


class NormPenalty(PhysicsLoss):
    """One term ``term`` = lambda * norm(theta); subclasses name the term and the norm."""

    term: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = (WEIGHT_OPTION, BIAS_OPTION)

    def __init__(self, context: PhysicsContext, weight: float = 1e-6, include_bias: bool = False, **options: Any):
        super().__init__(context)
        self.weight, self.include_bias = weight, include_bias

    @staticmethod
    def norm(model: torch.nn.Module, include_bias: bool) -> torch.Tensor:
        raise NotImplementedError

    def terms(self, batch: Batch) -> LossTerms:
        return {self.term: self.weight * self.norm(batch.model, self.include_bias)}


class L1(NormPenalty):
    """reg/l1 = lambda * sum |theta| over the weight matrices (lasso: drives weights to exactly zero)."""

    description: ClassVar[str] = "reg/l1 = weight * sum|theta| (lasso)"
    term: ClassVar[str] = "reg/l1"
    norm = staticmethod(l1_norm)


class L2(NormPenalty):
    """reg/l2 = lambda * sum theta^2 over the weight matrices (ridge / weight decay on the loss)."""

    description: ClassVar[str] = "reg/l2 = weight * sum theta^2 (ridge)"
    term: ClassVar[str] = "reg/l2"
    norm = staticmethod(squared_l2_norm)


class ElasticNet(PhysicsLoss):
    """reg/l1 = lambda rho sum |theta|  and  reg/l2 = lambda (1 - rho) sum theta^2  (Zou & Hastie 2005;
    rho = l1_ratio as in scikit-learn, whose L2 half carries an extra factor 1/2 that this form leaves out)."""

    description: ClassVar[str] = "reg/l1 + reg/l2 mixed by l1_ratio (elastic net)"
    options: ClassVar[tuple[Option, ...]] = (
        WEIGHT_OPTION,
        Option("l1_ratio", 0.5, "share of L1 in [0, 1]: 1 = lasso, 0 = ridge"),
        BIAS_OPTION,
    )

    def __init__(self, context: PhysicsContext, weight: float = 1e-6, l1_ratio: float = 0.5,
                 include_bias: bool = False, **options: Any):
        super().__init__(context)
        if not 0.0 <= l1_ratio <= 1.0:
            raise PluginError(f"physics loss 'elastic-net': option l1_ratio={l1_ratio}: expected 0 <= l1_ratio <= 1")
        self.weight, self.l1_ratio, self.include_bias = weight, l1_ratio, include_bias

    def terms(self, batch: Batch) -> LossTerms:
        return {
            "reg/l1": self.weight * self.l1_ratio * l1_norm(batch.model, self.include_bias),
            "reg/l2": self.weight * (1.0 - self.l1_ratio) * squared_l2_norm(batch.model, self.include_bias),
        }
