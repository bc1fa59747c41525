"""Schedule: move from one weighting strategy to another over training (strategies compose)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Sequence

import torch

from surrogate import registry
from surrogate.contracts import DataStatistics, StepContext, TrainingState
from surrogate.errors import PluginError
from surrogate.options import Option, parse_key_values
from surrogate.ranges import UNIT
from surrogate.terms import LossTerms
from surrogate.weighting import WeightingStrategy

SHAPES = ("linear", "cosine", "step")


def parse_inner_options(text: str | Mapping[str, Any], owner: str) -> dict[str, Any]:
    """'exponent=2;exponents=Y_HO2:4' -> {'exponent': '2', 'exponents': 'Y_HO2:4'} (';' separates pairs,
    since values may contain commas); a mapping (from a YAML config) passes through."""
    if isinstance(text, Mapping):
        return dict(text)
    return parse_key_values([part for part in str(text).split(";") if part.strip()], owner)


def build_inner(name: str, options: str | Mapping[str, Any], stats: DataStatistics, terms: Sequence[str],
                owner: str) -> WeightingStrategy:
    """A strategy loaded through the registry and built for the same terms, as the trainer would build it."""
    cls, resolved = registry.configure("weightings", name, parse_inner_options(options, owner))
    return cls(stats, terms, **resolved)


def blend_fraction(progress: float, begin: float, end: float, shape: str) -> float:
    """alpha in [0, 1]: 0 before `begin`, 1 after `end`; linear or half-cosine in between; `step` jumps at `end`."""
    if shape == "step":
        return 1.0 if progress >= end else 0.0
    if end <= begin:
        return 1.0 if progress >= end else 0.0
    x = min(1.0, max(0.0, (progress - begin) / (end - begin)))
    return x if shape == "linear" else 0.5 * (1.0 - math.cos(math.pi * x))


class Schedule(WeightingStrategy):
    """loss = (1 - a(t)) loss_start + a(t) loss_end, weights blended the same way.

    t is the fraction of training done, counted in steps or in epochs (``by``); a(t) rises from 0 at
    ``begin`` to 1 at ``end`` (fractions of training), linearly, as a half cosine, or in one step at ``end``.
    Source: Shaa, Dynamically Weighting Loss Function Components (2023), section 2 "Adaptive Weighting Based on
    Training Progress"; MMPINN's multi-level training (arXiv 2308.06672) is start=power end=uniform.
    Both inner strategies are built through the plugin registry, so any installed one (even another schedule)
    can be used; their options are given as ``start_options='k=v;k=v'``. Only a strategy with a non-zero share
    is evaluated at a step, so a stateful one starts its history when it first enters the blend.
    """

    description: ClassVar[str] = "blend from one strategy to another over steps or epochs (linear, cosine, step)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("start", "uniform", "strategy at the beginning of training"),
        Option("end", "inverse-variance", "strategy at the end of training"),
        Option("start_options", "", "options of the start strategy, 'k=v;k=v'"),
        Option("end_options", "", "options of the end strategy, 'k=v;k=v'"),
        Option("shape", "linear", "how the end strategy's share rises: linear, cosine, or step (at finish)",
               choices=SHAPES),
        Option("by", "epoch", "count training progress in optimizer 'step's or whole 'epoch's",
               choices=("step", "epoch")),
        Option("begin", 0.0, "fraction of training at which the move starts", bounds=UNIT),
        Option("finish", 0.5, "fraction of training at which the end strategy has taken over (from begin on)",
               bounds=UNIT),
    )

    def __init__(self, stats: DataStatistics, terms: Sequence[str], start: str,
                 end: str, start_options: str, end_options: str, shape: str,
                 by: str, begin: float, finish: float, **options: Any):
        super().__init__(stats, terms)
        if not begin <= finish:
            raise PluginError(f"weighting 'schedule': options begin={begin}, finish={finish}: expected begin <= "
                              "finish")
        self.start = build_inner(start, start_options, stats, terms, "weighting 'schedule' start_options")
        self.end = build_inner(end, end_options, stats, terms, "weighting 'schedule' end_options")
        self.shape, self.by, self.begin, self.finish = shape, by, begin, finish

    def fraction(self, state: TrainingState) -> float:
        return blend_fraction(state.progress(self.by), self.begin, self.finish, self.shape)

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        alpha = self.fraction(ctx.state)
        if alpha <= 0.0:
            return self.start.combine(terms, ctx)
        if alpha >= 1.0:
            return self.end.combine(terms, ctx)
        loss_a, weights_a = self.start.combine(terms, ctx)
        loss_b, weights_b = self.end.combine(terms, ctx)
        weights = {name: (1.0 - alpha) * weights_a.get(name, 1.0) + alpha * weights_b.get(name, 1.0) for name in terms}
        return (1.0 - alpha) * loss_a + alpha * loss_b, weights

    def observe_epoch(self, train: Mapping[str, float], validation: Mapping[str, float], state: TrainingState) -> None:
        self.start.observe_epoch(train, validation, state)
        self.end.observe_epoch(train, validation, state)
