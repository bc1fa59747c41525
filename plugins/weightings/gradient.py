"""Gradient-based weightings: weights from the norms of each term's gradient on the last shared layer."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext
from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.ranges import COUNT, NON_NEGATIVE, POSITIVE
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import BALANCE_OPTION, balanced_terms, normalized, report, weighted_sum


def gradient_norms(losses: Sequence[torch.Tensor], parameters: Sequence[torch.Tensor]) -> torch.Tensor:
    """||grad_W L_i||_2 over the shared parameters W for each scalar loss L_i (graph kept for the model step)."""
    norms = []
    for loss in losses:
        grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
        squares = [g.pow(2).sum() for g in grads if g is not None]
        norms.append(torch.sqrt(sum(squares)) if squares else loss.new_zeros(()))
    return torch.stack(norms).detach()


def check_shared(ctx: StepContext, owner: str) -> None:
    if not ctx.shared_parameters:
        raise PluginError(f"weighting {owner!r} needs the model's shared parameters; this model exposes none")


class GradNorm(WeightingStrategy):
    """GradNorm (Chen, Badrinarayanan, Lee, Rabinovich, ICML 2018).

    With G_i = ||grad_W (w_i L_i)||, mean G, r_i = (L_i/L_i(0)) / mean_j (L_j/L_j(0)), the weights minimize
    L_grad = sum_i |G_i - mean G * r_i^alpha|  (target held constant) with their own Adam optimizer; after each
    update they are renormalized to sum to the number of balanced terms. The model is trained on
    sum_i w_i L_i with the weights of this step (before their update). L_i(0) is the first batch's loss.
    """

    description: ClassVar[str] = "GradNorm: equalize gradient norms scaled by relative training rates (Chen 2018)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("alpha", 1.5, "asymmetry: how strongly slow-training terms are pushed (0 = equal gradient norms)",
               bounds=NON_NEGATIVE),
        Option("lr", 0.025, "learning rate of the weights' own Adam optimizer", bounds=POSITIVE),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], alpha: float, lr: float,
                 balance: str, **options: Any):
        super().__init__(stats, terms)
        self.alpha, self.lr = alpha, lr
        self.names = balanced_terms(terms, balance, "weighting 'gradnorm'")
        # made at the first batch, which gives L_i(0) and the device and dtype of the losses
        self.weights: torch.Tensor | None = None
        self.initial: torch.Tensor | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def start(self, losses: torch.Tensor) -> None:
        """Weights 1 and L_i(0) from the first batch's term means (or a checkpoint's)."""
        self.weights = torch.ones(len(self.names), dtype=losses.dtype, device=losses.device, requires_grad=True)
        self.initial = losses.detach().clamp_min(torch.finfo(losses.dtype).tiny)
        self.optimizer = torch.optim.Adam([self.weights], lr=self.lr)

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        check_shared(ctx, "gradnorm")
        losses = torch.stack([terms[name].mean() for name in self.names])
        if self.weights is None:
            self.start(losses)
        used = self.weights.detach().clone()
        loss = weighted_sum(terms, dict(zip(self.names, used)))
        weights = dict(zip(self.names, used.tolist()))  # one host copy for the report, not one per term

        norms = gradient_norms(list(losses), ctx.shared_parameters)
        ratios = losses.detach() / self.initial
        relative = ratios / ratios.mean()
        G = self.weights * norms
        target = (G.mean() * relative.pow(self.alpha)).detach()
        grad_loss = (G - target).abs().sum()
        self.optimizer.zero_grad(set_to_none=True)
        self.weights.grad = torch.autograd.grad(grad_loss, self.weights)[0]
        self.optimizer.step()
        with torch.no_grad():
            self.weights.clamp_(min=1e-6)
            self.weights.copy_(normalized(self.weights))
        return loss, report(terms, weights)

    def get_extra_state(self) -> dict[str, Any]:
        if self.weights is None:
            return {}
        return {"weights": self.weights.detach().clone(), "initial": self.initial,
                "optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.start(state["initial"])
        with torch.no_grad():
            self.weights.copy_(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])


class GradMagnitude(WeightingStrategy):
    """Gradient magnitude scaling: w_i = k / (||grad_W L_i|| + eps), then rescaled to sum to k times the number
    of balanced terms (so every weighted term pulls the shared layer about equally hard).

    Source: Shaa, Dynamically Weighting Loss Function Components (2023), section 3 "Gradient Magnitude Scaling".
    The weights are recomputed every ``every`` steps and held in between.
    """

    description: ClassVar[str] = "gradient magnitude scaling: w_i = k/(||grad L_i|| + eps), normalized, every N steps"
    options: ClassVar[tuple[Option, ...]] = (
        Option("k", 1.0, "scale: the weights average k", bounds=POSITIVE),
        Option("eps", 1e-12, "added to each gradient norm", bounds=NON_NEGATIVE),
        Option("every", 10, "recompute the weights every N optimizer steps", bounds=COUNT),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], k: float, eps: float,
                 every: int, balance: str, **options: Any):
        super().__init__(stats, terms)
        self.k, self.eps, self.every = k, eps, every
        self.names = balanced_terms(terms, balance, "weighting 'grad-magnitude'")
        self.current: dict[str, float] = {}
        self.last_update = -1

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        if self.last_update < 0 or ctx.state.step - self.last_update >= self.every:
            check_shared(ctx, "grad-magnitude")
            norms = gradient_norms([terms[name].mean() for name in self.names], ctx.shared_parameters)
            raw = self.k / (norms.double() + self.eps)
            self.current = dict(zip(self.names, normalized(raw, self.k * len(self.names)).tolist()))
            self.last_update = ctx.state.step
        return weighted_sum(terms, self.current), report(terms, self.current)

    def get_extra_state(self) -> dict[str, Any]:
        return {"current": dict(self.current), "last_update": self.last_update}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.current = dict(state["current"])
        self.last_update = int(state["last_update"])
