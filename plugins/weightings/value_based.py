"""Value-based weightings: weights from the recent history of each term's loss value (no gradients)."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext, TrainingState
from surrogate.options import Option
from surrogate.ranges import NON_NEGATIVE, POSITIVE, SEED, UNIT
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import BALANCE_OPTION, balanced_terms, normalized, report, weighted_sum


def softmax_weights(scores: torch.Tensor) -> torch.Tensor:
    """n * softmax(scores): weights that sum to the number of terms."""
    return len(scores) * torch.softmax(scores, dim=0)


class ValueHistory(WeightingStrategy):
    """Base of the step-wise value-based strategies: keeps the balanced names and whatever loss history the
    subclass needs (tensors, so checkpoints restore them)."""

    def __init__(self, stats: DataStatistics, terms: Sequence[str], balance: str, owner: str):
        super().__init__(stats, terms)
        self.names = balanced_terms(terms, balance, owner)
        self.history: dict[str, torch.Tensor] = {}

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        """New weights (float64, one per balanced term) from this batch's detached term means."""
        raise NotImplementedError

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        losses = torch.stack([terms[name].detach().mean() for name in self.names]).double().cpu()
        weights = dict(zip(self.names, self.update(losses).tolist()))
        return weighted_sum(terms, weights), report(terms, weights)

    def get_extra_state(self) -> dict[str, Any]:
        return {"history": dict(self.history)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.history = dict(state["history"])


class SoftAdapt(ValueHistory):
    """SoftAdapt (Heydari, Thompson, Mehmood 2019, arXiv 1912.12355).

    Rates of change s_i = L_i(t) - L_i(t-1) of the batch losses at consecutive steps;
    ``plain``: w_i = n softmax(beta s)_i; ``normalized``: s_i / sum_j |s_j| first (scale-free);
    ``loss-weighted``: w_i proportional to L_i exp(beta s_i), normalized to sum n. First step: w = 1.
    A term whose loss rises (or falls slowest) gains weight.
    """

    description: ClassVar[str] = "softmax(beta * rate of change of each loss) (SoftAdapt, Heydari et al. 2019)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("beta", 0.1, "softmax sharpness (0 = uniform)", bounds=NON_NEGATIVE),
        Option("variant", "normalized", "SoftAdapt variant: plain, normalized (slopes / sum|slopes|) or loss-weighted",
               choices=("plain", "normalized", "loss-weighted")),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], beta: float, variant: str,
                 balance: str, **options: Any):
        super().__init__(stats, terms, balance, "weighting 'softadapt'")
        self.beta, self.variant = beta, variant

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        previous = self.history.get("previous")
        self.history["previous"] = losses
        if previous is None:
            return torch.ones_like(losses)
        slopes = losses - previous
        if self.variant == "normalized":
            slopes = slopes / slopes.abs().sum().clamp_min(1e-300)
        if self.variant == "loss-weighted":
            raw = losses * torch.exp(self.beta * (slopes - slopes.max()))
            return normalized(raw)
        return softmax_weights(self.beta * slopes)


class ReLoBRaLo(ValueHistory):
    """Relative Loss Balancing with Random Lookback (Bischof & Kraus 2021, arXiv 2110.09813).

    bal_i(t, t') = n softmax_i(L_i(t) / (T L_i(t')));
    lambda_i(t) = alpha [rho lambda_i(t-1) + (1 - rho) bal_i(t, 0)] + (1 - alpha) bal_i(t, t-1),
    rho ~ Bernoulli(saudade) (the random lookback to the first step's losses). First step: lambda = 1.
    """

    description: ClassVar[str] = "relative loss balancing with random lookback (ReLoBRaLo, Bischof & Kraus 2021)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("alpha", 0.999, "memory of the previous weights (exponential decay rate)", bounds=UNIT),
        Option("saudade", 0.999, "expected value of rho: chance to keep history instead of looking back to step 0",
               bounds=UNIT),
        Option("temperature", 0.1, "softmax temperature T", bounds=POSITIVE),
        Option("seed", 0, "seed of the Bernoulli lookback draws", bounds=SEED),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], alpha: float, saudade: float,
                 temperature: float, seed: int, balance: str, **options: Any):
        super().__init__(stats, terms, balance, "weighting 'relobralo'")
        self.alpha, self.saudade, self.temperature = alpha, saudade, temperature
        self.generator = torch.Generator().manual_seed(seed)

    def balance_against(self, losses: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return softmax_weights(losses / (self.temperature * reference.clamp_min(1e-300)))

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        if "initial" not in self.history:
            self.history.update(initial=losses, previous=losses, weights=torch.ones_like(losses))
            return self.history["weights"]
        rho = float(torch.bernoulli(torch.tensor(self.saudade, dtype=torch.float64), generator=self.generator))
        history = rho * self.history["weights"] + (1.0 - rho) * self.balance_against(losses, self.history["initial"])
        weights = self.alpha * history + (1.0 - self.alpha) * self.balance_against(losses, self.history["previous"])
        self.history.update(previous=losses, weights=weights)
        return weights

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "rng": self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.generator.set_state(state["rng"])


class DWA(WeightingStrategy):
    """Dynamic Weight Average (Liu, Johns, Davison, CVPR 2019, arXiv 1803.10704).

    w_i(t) = n exp(r_i(t-1)/T) / sum_j exp(r_j(t-1)/T),  r_i(t-1) = L_i(t-1) / L_i(t-2),
    with L the epoch-mean training losses (from ``observe_epoch``); w = 1 for the first two epochs.
    A term whose loss fell least over the last epoch gains weight.
    """

    description: ClassVar[str] = "dynamic weight average: softmax of each loss's epoch-to-epoch ratio (Liu et al. 2019)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("temperature", 2.0, "softmax temperature T (large = uniform)", bounds=POSITIVE),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], temperature: float, balance: str,
                 **options: Any):
        super().__init__(stats, terms)
        self.temperature = temperature
        self.names = balanced_terms(terms, balance, "weighting 'dwa'")
        self.epochs: list[dict[str, float]] = []
        self.current: dict[str, float] = {}

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        return weighted_sum(terms, self.current), report(terms, self.current)

    def observe_epoch(self, train: Mapping[str, float], validation: Mapping[str, float], state: TrainingState) -> None:
        self.epochs = (self.epochs + [dict(train)])[-2:]
        if len(self.epochs) < 2:
            return
        before, last = self.epochs
        ratios = torch.tensor([last[n] / max(before[n], 1e-300) for n in self.names], dtype=torch.float64)
        self.current = dict(zip(self.names, softmax_weights(ratios / self.temperature).tolist()))

    def get_extra_state(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "current": dict(self.current)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.epochs, self.current = list(state["epochs"]), dict(state["current"])
