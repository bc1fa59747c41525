"""Learned weighting: a small auxiliary network maps per-term loss statistics to weights and is trained,
alongside the model, to make the model's next step lower the validation loss."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from surrogate.contracts import DataStatistics, StepContext
from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.ranges import COUNT, POSITIVE, Range
from surrogate.terms import LossTerms, data_terms
from surrogate.weighting import WeightingStrategy

from .gradient import check_shared
from .schedule import build_inner
from .weights import BALANCE_OPTION, balanced_terms, report, weighted_sum


def flat_gradient(loss: torch.Tensor, parameters: list[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, parameters)])


class Learned(WeightingStrategy):
    """w_i = b_i m_i,  m = m_min + n (1 - m_min) softmax(f_phi(features)): one logit per balanced term from a shared
    MLP f_phi, multiplying the weight b_i of a ``base`` strategy (``uniform``: b = 1, the pure learned method;
    ``inverse-variance``: learn corrections to the paper's weights). The multipliers m sum to n.

    Features of term i (each centered over the terms): log L_i (its current batch loss) and log(L_i / L_i(0))
    (how far it has come since the first step). The last layer starts at zero, so m starts at 1.

    Rule for phi (first-order one-step look-ahead, as in Ren et al. 2018, "Learning to reweight examples"):
    a model step theta' = theta - eta sum_i m_i b_i g_i, with g_i = grad_W L_i on the last shared layer W, changes
    the validation loss V by about -eta sum_i m_i b_i (grad_W V . g_i). Every ``every`` steps, with V computed on
    a random validation batch (``ctx.validation_terms``), phi takes one Adam step on the meta-loss
    M(phi) = -sum_i m_i(phi) a_i,  a_i = b_i (grad_W V . g_i) / sum_j |b_j (grad_W V . g_j)|
    (alignment normalized so the auxiliary learning rate does not depend on the loss scale). V sums the validation
    data terms divided by their training variance (about the sum of 1 - R²) with ``objective=normalized``, or plain.
    A step uses the weights from before its own update. The auxiliary network is trained only by this rule:
    its parameters are hidden from the trainer's optimizer. ``base`` should be a static strategy (only its
    reported weights are used).
    Source of the idea: Shaa, Dynamically Weighting Loss Function Components (2023), section 6 "Learning the Weights".
    """

    description: ClassVar[str] = "auxiliary MLP maps loss statistics to weights; trained by validation look-ahead"
    options: ClassVar[tuple[Option, ...]] = (
        Option("hidden", 16, "width of the auxiliary network's hidden layer", bounds=COUNT),
        Option("lr", 1e-2, "learning rate of the auxiliary network's Adam optimizer", bounds=POSITIVE),
        Option("every", 10, "update the auxiliary network every N optimizer steps", bounds=COUNT),
        Option("min_weight", 0.05, "floor of every multiplier m_i (keeps each term in the loss)",
               bounds=Range(0, 1, high_open=True)),
        Option("base", "uniform", "strategy whose weights the learned multipliers scale, e.g. inverse-variance"),
        Option("base_options", "", "options of the base strategy, 'k=v;k=v'"),
        Option("objective", "normalized", "validation loss: 'normalized' (MSE/Var summed) or 'plain' (MSE summed)",
               choices=("normalized", "plain")),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], hidden: int, lr: float,
                 every: int, min_weight: float, base: str, base_options: str,
                 objective: str, balance: str, **options: Any):
        super().__init__(stats, terms)
        self.every, self.min_weight, self.objective = every, min_weight, objective
        if not data_terms(terms):
            raise PluginError("weighting 'learned' learns toward a lower validation loss of the data terms; "
                              "this run has none")
        self.names = balanced_terms(terms, balance, "weighting 'learned'")
        self.base = build_inner(base, base_options, stats, terms, "weighting 'learned' base_options")
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)
        self.net.requires_grad_(False)  # trained by its own rule, never by the trainer's optimizer
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.initial: torch.Tensor | None = None  # L_i(0), the first batch's term means
        self.calls = 0

    def features(self, losses: torch.Tensor) -> torch.Tensor:
        log_loss = losses.clamp_min(1e-30).log()
        progress = log_loss - self.initial.clamp_min(1e-30).log()
        features = torch.stack([log_loss, progress], dim=1)
        return features - features.mean(dim=0, keepdim=True)

    def multipliers(self, features: torch.Tensor) -> torch.Tensor:
        n = features.shape[0]
        share = torch.softmax(self.net(features).squeeze(1), dim=0)
        return self.min_weight + n * (1.0 - self.min_weight) * share

    def validation_loss(self, terms: LossTerms) -> torch.Tensor:
        total: torch.Tensor | float = 0.0
        for name, value in terms.items():
            variance = self.stats.variance_of_term(name)
            if variance is not None:
                total = total + value.mean() / (variance if self.objective == "normalized" and variance > 0 else 1.0)
        return total

    def alignments(self, losses: list[torch.Tensor], ctx: StepContext,
                   base: torch.Tensor | None = None) -> torch.Tensor:
        """a_i: normalized dot products of each (base-weighted) term's gradient with the validation loss gradient."""
        parameters = list(ctx.shared_parameters)
        validation = flat_gradient(self.validation_loss(ctx.validation_terms()), parameters)
        dots = torch.stack([flat_gradient(loss, parameters) @ validation for loss in losses]).detach()
        if base is not None:
            dots = dots * base.to(dots)
        return dots / dots.abs().sum().clamp_min(1e-30)

    def learn(self, features: torch.Tensor, alignment: torch.Tensor) -> None:
        self.net.requires_grad_(True)
        meta_loss = -(self.multipliers(features) * alignment.to(features.dtype)).sum()
        grads = torch.autograd.grad(meta_loss, list(self.net.parameters()))
        for parameter, grad in zip(self.net.parameters(), grads):
            parameter.grad = grad
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.net.requires_grad_(False)

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        _, base = self.base.combine(terms, ctx)
        base_weights = torch.tensor([base[name] for name in self.names], dtype=torch.float64)
        means = [terms[name].mean() for name in self.names]
        losses = torch.stack(means).detach().float()
        if self.initial is None:
            self.initial = losses.clone()
        features = self.features(losses.to(next(self.net.parameters()).device))
        with torch.no_grad():
            learned = self.multipliers(features).double().cpu()
        weights = {**base, **dict(zip(self.names, (learned * base_weights).tolist()))}
        if ctx.validation_terms is not None and self.calls % self.every == 0:  # for the next steps
            check_shared(ctx, "learned")
            self.learn(features, self.alignments(means, ctx, base_weights))
        self.calls += 1
        return weighted_sum(terms, weights), report(terms, weights)

    def get_extra_state(self) -> dict[str, Any]:
        return {"initial": self.initial, "calls": self.calls, "optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.initial, self.calls = state["initial"], int(state["calls"])
        self.optimizer.load_state_dict(state["optimizer"])
