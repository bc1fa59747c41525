"""Performance-based weighting: terms that miss their validation target gain weight, smoothly."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch

from surrogate.contracts import DataStatistics, StepContext, TrainingState
from surrogate.options import Option, parse_mapping
from surrogate.ranges import NON_NEGATIVE, POSITIVE, Range
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

from .weights import BALANCE_OPTION, balanced_terms, normalized, per_term, report, weighted_sum


class Performance(WeightingStrategy):
    """After each epoch, with the validation metric m_i of each balanced term and its target tau_i:

        q_i = m_i / tau_i,   target weights  u_i = n q_i^p / sum_j q_j^p,   w_i <- (1 - rate) w_i + rate u_i.

    m_i is the normalized validation MSE  MSE_i / Var(y_i)  (about 1 - R²_i) for a data term and the plain
    validation mean for any other term; tau_i comes from ``targets`` (by output, term or group) or ``target``.
    Terms far above their target get the most weight; the smoothing (``rate``) avoids erratic switches.
    Weights start at 1 and sum to n (the number of balanced terms).
    Source: Shaa, Dynamically Weighting Loss Function Components (2023), section 5 "Performance-Based Weighting".
    """

    description: ClassVar[str] = "weights grow for terms whose validation metric misses its target; smoothed"
    options: ClassVar[tuple[Option, ...]] = (
        Option("target", 1e-3, "default target metric (data terms: MSE/Var, so 1e-3 means R² ≈ 0.999)",
               bounds=POSITIVE),
        Option("targets", {}, "name:target pairs by output, term or group, e.g. 'physics:1e-6'", type=parse_mapping,
               bounds=POSITIVE),
        Option("power", 1.0, "p: how sharply weights follow the ratio metric/target (0 = equal weights)",
               bounds=NON_NEGATIVE),
        Option("rate", 0.5, "smoothing: share of the new target weights taken each epoch (1 = no memory)",
               bounds=Range(0, 1, low_open=True)),
        BALANCE_OPTION,
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], target: float,
                 targets: dict[str, float] | None, power: float, rate: float, balance: str,
                 **options: Any):
        super().__init__(stats, terms)
        tau = per_term(dict(targets or {}), terms, target, "weighting 'performance' targets", other_default=target)
        names = balanced_terms(terms, balance, "weighting 'performance'")
        self.targets = {name: tau[name] for name in names}
        self.power, self.rate = power, rate
        self.current = dict.fromkeys(names, 1.0)

    def metric(self, term: str, value: float) -> float:
        variance = self.stats.variance_of_term(term)
        return value / variance if variance else value

    def observe_epoch(self, train: Mapping[str, float], validation: Mapping[str, float], state: TrainingState) -> None:
        ratios = [max(self.metric(name, validation[name]), 0.0) / tau for name, tau in self.targets.items()]
        raw = torch.tensor(ratios, dtype=torch.float64).clamp_min(1e-300).pow(self.power)
        goal = normalized(raw)
        before = torch.tensor(list(self.current.values()), dtype=torch.float64)
        self.current = dict(zip(self.targets, ((1.0 - self.rate) * before + self.rate * goal).tolist()))

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        return weighted_sum(terms, self.current), report(terms, self.current)

    def get_extra_state(self) -> dict[str, Any]:
        return {"current": dict(self.current)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.current = dict(state["current"])
