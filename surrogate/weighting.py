"""The contract of the ``surrogate.weightings`` entry-point group: :class:`WeightingStrategy`.

A strategy is a torch module (it may own trainable weights), so it lives here rather than in
:mod:`surrogate.contracts`, which table generators import without torch; ``surrogate.contracts`` re-exports it,
and :func:`surrogate.contracts.check_plugin` checks strategies against it like every other plugin kind.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from .contracts import DataStatistics, StepContext, TrainingState
from .options import Option
from .terms import LossTerms


class WeightingStrategy(nn.Module):
    """Turns named element-wise loss terms into one scalar loss and reports the weight it gave each term.

    ``__init__(stats, terms, **options)``: the training-data statistics, the names of every term the run
    will produce (data, physics, pde, kl, reg; known before the first batch) and the resolved options.
    Parameters registered on the module (``nn.Parameter``) are optimized by the trainer's optimizer together
    with the model, on the combined loss; a strategy that updates its weights by its own rule keeps them as
    buffers. ``observe_epoch`` is called after each epoch with per-term mean losses.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, stats: DataStatistics, terms: Sequence[str], **options: Any):
        super().__init__()
        self.stats = stats
        self.term_names = list(terms)

    def combine(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss, {term: weight used}) for one batch."""
        raise NotImplementedError

    def forward(self, terms: LossTerms, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        return self.combine(terms, ctx)

    def observe_epoch(self, train: Mapping[str, float], validation: Mapping[str, float], state: TrainingState) -> None:
        """Called at the end of each epoch with per-term mean losses on train and validation."""
