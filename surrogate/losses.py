"""Contracts between the trainer and the loss plugins: named loss terms, weighting strategies, physics losses.

The trainer turns each batch into **named, element-wise loss terms** (``LossTerms``):

- ``data/<output>``: squared error of one output in model space, shape ``(batch,)``;
- terms added by physics plugins (``physics/...``, ``pde/...``) and regularizers (``reg/l2``);
- ``kl`` for variational models.

A :class:`WeightingStrategy` turns the terms into one scalar loss and reports the weight it gave each term.
A :class:`PhysicsLoss` adds terms computed from the batch (inputs, predictions, targets, the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch

from .options import Option

LossTerms = dict[str, torch.Tensor]
DATA_PREFIX = "data/"


def data_term(output_name: str) -> str:
    """Name of the data term of one output, e.g. ``data/Y_H2O``."""
    return f"{DATA_PREFIX}{output_name}"


def output_of(term: str) -> str | None:
    """The output a data term belongs to, or None for physics/regularization terms."""
    return term[len(DATA_PREFIX):] if term.startswith(DATA_PREFIX) else None


@dataclass
class TrainingState:
    """Where training stands: strategies schedule on step or epoch."""

    step: int = 0
    epoch: int = 0
    steps_per_epoch: int = 1
    max_epochs: int = 1

    @property
    def total_steps(self) -> int:
        return max(1, self.steps_per_epoch * self.max_epochs)

    def progress(self, by: str = "step") -> float:
        """Fraction of training done, in [0, 1], counted in steps or whole epochs."""
        if by == "epoch":
            return min(1.0, self.epoch / max(1, self.max_epochs - 1)) if self.max_epochs > 1 else 1.0
        return min(1.0, self.step / max(1, self.total_steps - 1))


@dataclass
class DataStatistics:
    """Statistics of the training targets in model space, computed once before training."""

    output_names: list[str]
    mean: dict[str, float]
    variance: dict[str, float]
    n_samples: int

    def variance_of_term(self, term: str) -> float | None:
        """Variance of the targets behind a data term; None for other terms."""
        output = output_of(term)
        return self.variance.get(output) if output is not None else None


@dataclass
class StepContext:
    """What a strategy may look at when combining one batch's terms.

    ``shared_parameters``: the last shared layer's parameters, for gradient-based strategies
    (``torch.autograd.grad(term.mean(), shared_parameters, retain_graph=True)``).
    ``validation``: the latest per-term mean validation losses (unweighted), None before the first epoch ends.
    ``validation_terms``: computes element-wise terms on a random validation batch, with the graph through
    the model, for strategies that learn weights toward lower validation loss.
    """

    state: TrainingState
    shared_parameters: list[torch.nn.Parameter]
    validation: dict[str, float] | None = None
    validation_terms: Callable[[], LossTerms] | None = None


class WeightingStrategy(torch.nn.Module):
    """Turns named element-wise loss terms into one scalar loss.

    Subclasses set ``description`` (one line, with the source paper) and ``options``; their ``__init__``
    receives the training-data statistics and the resolved options as keywords. Parameters registered on
    the module (``nn.Parameter``) are optimized by the trainer's optimizer together with the model, on the
    combined loss; a strategy that updates its weights by its own rule keeps them as buffers.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, stats: DataStatistics, **options: Any):
        super().__init__()
        self.stats = stats

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss, {term: weight used}) for one batch."""
        raise NotImplementedError

    def forward(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        return self.combine(terms, ctx)

    def observe_epoch(self, train: Mapping[str, float], validation: Mapping[str, float], state: TrainingState) -> None:
        """Called at the end of each epoch with per-term mean losses on train and validation."""


@dataclass
class Batch:
    """One batch as physics losses see it. ``x``, ``y`` and ``y_pred`` are in model (scaled) space;
    ``x_phys`` and ``y_pred_phys`` are physical and differentiable."""

    x: torch.Tensor
    x_phys: torch.Tensor
    y: torch.Tensor
    y_pred: torch.Tensor
    y_pred_phys: torch.Tensor
    input_names: list[str]
    output_names: list[str]
    model: torch.nn.Module


@dataclass
class PhysicsContext:
    """What a physics loss knows about the problem when it is built."""

    input_names: list[str]
    output_names: list[str]
    table_attrs: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


class PhysicsLoss:
    """Adds named loss terms computed from a batch and the model (conservation laws, PDE residuals, ...)."""

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, context: PhysicsContext, **options: Any):
        self.context = context

    def terms(self, batch: Batch) -> LossTerms:
        raise NotImplementedError


def term_means(terms: LossTerms) -> dict[str, float]:
    """Mean of each element-wise term, as plain floats."""
    return {name: float(value.detach().mean()) for name, value in terms.items()}
