"""Trainer callbacks: everything that watches or steers a run attaches to the trainer's loop at named points.

The loop (:meth:`surrogate.trainer.Trainer.run`) trains an epoch, evaluates it and hands an :class:`EpochEnd` to
its callbacks; the kept (best) epoch, early stopping, the L-BFGS stage, checkpoints, the progress bar and the
loggers (:mod:`surrogate.tracking`) are callbacks, as in PyTorch Lightning's ``Trainer``. Hooks run once per
epoch, never per optimizer step, so they cost nothing in the hot path.

Hook points, in the order a run meets them:

- ``on_fit_start(trainer)``: once the run directory is written (or a checkpoint read, ``trainer.resumed``).
- ``on_epoch_start(trainer)``: before each epoch's training steps (the L-BFGS stage starts here).
- ``on_stage_change(trainer, stage)``: when the optimizer stage changes (1: Adam/SGD, 2: L-BFGS).
- ``epoch_columns(trainer)``: history columns a callback adds to the epoch's row (e.g. ``stage``).
- ``on_epoch_end(trainer, end)``: after each epoch, with its row of the history; a callback may stop the run
  (``trainer.should_stop``) or move ``trainer.state.epoch`` (early stopping ends the first stage).
- ``on_fit_end(trainer, metrics)``: after the kept epoch's model and metrics are written.

A callback that keeps state across a resume gives it in ``state_dict()`` (flat keys stored in ``checkpoint.pt``)
and takes it back in ``load_state_dict(trainer, state)``, called when a checkpoint is read (before the optimizer
state is restored).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from .trainer import Trainer

LBFGS_LR = 1.0  # the step the strong-Wolfe line search starts from, whatever the main optimizer's lr


@dataclass
class EpochEnd:
    """What an epoch produced: its history row (``epoch``, losses, per-term means, weights, validation terms),
    the task's validation score (lower is better) and the epoch's mean training loss."""

    row: dict[str, float]
    score: float
    train_loss: float

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.train_loss)


class Callback:
    """Base class: every hook does nothing, so a callback overrides only the points it watches."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer) -> None:
        pass

    def on_stage_change(self, trainer: Trainer, stage: int) -> None:
        pass

    def epoch_columns(self, trainer: Trainer) -> dict[str, float]:
        return {}

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        pass

    def on_fit_end(self, trainer: Trainer, metrics: Mapping[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, trainer: Trainer, state: Mapping[str, Any]) -> None:
        pass


class Callbacks:
    """The callbacks of one run, called in order at each hook point."""

    def __init__(self, callbacks: Sequence[Callback]):
        self.callbacks = list(callbacks)

    def __iter__(self):
        return iter(self.callbacks)

    def fit_start(self, trainer: Trainer) -> None:
        for callback in self.callbacks:
            callback.on_fit_start(trainer)

    def epoch_start(self, trainer: Trainer) -> None:
        for callback in self.callbacks:
            callback.on_epoch_start(trainer)

    def stage_change(self, trainer: Trainer, stage: int) -> None:
        for callback in self.callbacks:
            callback.on_stage_change(trainer, stage)

    def columns(self, trainer: Trainer) -> dict[str, float]:
        found: dict[str, float] = {}
        for callback in self.callbacks:
            found.update(callback.epoch_columns(trainer))
        return found

    def epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(trainer, end)

    def fit_end(self, trainer: Trainer, metrics: Mapping[str, Any]) -> None:
        for callback in self.callbacks:
            callback.on_fit_end(trainer, metrics)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for callback in self.callbacks:
            state.update(callback.state_dict())
        return state

    def load_state_dict(self, trainer: Trainer, state: Mapping[str, Any]) -> None:
        for callback in self.callbacks:
            callback.load_state_dict(trainer, state)


class BestEpoch(Callback):
    """Keeps the epoch with the lowest validation score (validation data only), better than the kept one by more
    than `min_delta`, and a copy of its weights; the trainer loads them at the end."""

    def __init__(self, min_delta: float):
        self.min_delta = min_delta
        self.score, self.epoch, self.weights = math.inf, -1, None
        self.improved = False

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        self.improved = end.score < self.score - self.min_delta
        if self.improved:
            self.score, self.epoch = end.score, int(end.row["epoch"])
            self.weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.score, "best_epoch": self.epoch, "best_state": self.weights or {}}

    def load_state_dict(self, trainer: Trainer, state: Mapping[str, Any]) -> None:
        self.score, self.epoch = float(state["best_score"]), int(state["best_epoch"])
        self.weights = state["best_state"] or None


class EarlyStopping(Callback):
    """Stops after `patience` epochs in a row that did not improve on the kept epoch (:class:`BestEpoch`); in a
    two-stage run it ends the first stage instead, and counts again in the L-BFGS stage."""

    def __init__(self, best: BestEpoch, patience: int, first_stage_epochs: int, two_stages: bool):
        self.best, self.patience = best, patience
        self.first_stage_epochs, self.two_stages = first_stage_epochs, two_stages
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        self.bad_epochs = 0 if self.best.improved else self.bad_epochs + 1
        if not (self.patience and self.bad_epochs >= self.patience):
            return
        if self.two_stages and trainer.stage == 1:
            trainer.state.epoch, self.bad_epochs = self.first_stage_epochs, 0
        else:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"bad_epochs": self.bad_epochs}

    def load_state_dict(self, trainer: Trainer, state: Mapping[str, Any]) -> None:
        self.bad_epochs = int(state["bad_epochs"])


class LbfgsStage(Callback):
    """The second stage of a two-stage run (``lbfgs_epochs``): after the main optimizer's epochs, full-batch
    L-BFGS with a strong-Wolfe line search. An epoch that does not lower the loss restarts the L-BFGS history
    (column ``lbfgs_restarts``); one whose loss is not finite ends training at the kept epoch, with a warning."""

    def __init__(self, first_stage_epochs: int):
        self.first_stage_epochs = first_stage_epochs
        self.last_loss, self.restarts = math.inf, 0

    def start(self, trainer: Trainer, announce: bool = True) -> None:
        """A fresh L-BFGS optimizer; the learning-rate schedule no longer applies."""
        trainer.optimizer = trainer.make_lbfgs(LBFGS_LR)
        trainer.stage = 2
        if announce:
            trainer.callbacks.stage_change(trainer, 2)

    def on_epoch_start(self, trainer: Trainer) -> None:
        if trainer.state.epoch >= self.first_stage_epochs and trainer.stage == 1:
            self.start(trainer)

    def epoch_columns(self, trainer: Trainer) -> dict[str, float]:
        return {"stage": trainer.stage, "lbfgs_restarts": self.restarts}

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        if trainer.stage != 2:
            return
        if end.diverged:  # a line search on a loss the strategy moves between its evaluations (gradnorm)
            warnings.warn(f"L-BFGS diverged at epoch {trainer.state.epoch}; training ends at the best epoch "
                          f"({trainer.best.epoch})", stacklevel=1)
            trainer.state.epoch, trainer.should_stop = trainer.total_epochs, True
        if not end.train_loss < self.last_loss:  # the line search stalled (float32 round-off, stale curvature)
            trainer.optimizer = trainer.make_lbfgs(LBFGS_LR)
            self.restarts += 1
        self.last_loss = end.train_loss

    def state_dict(self) -> dict[str, Any]:
        return {"lbfgs_last_loss": self.last_loss, "lbfgs_restarts": self.restarts}

    def load_state_dict(self, trainer: Trainer, state: Mapping[str, Any]) -> None:
        """A checkpoint of the L-BFGS stage continues in it (one from a run without the stage has no L-BFGS
        keys: the stage has not begun)."""
        if int(state.get("stage", 1)) == 2:
            self.start(trainer, announce=False)
        self.last_loss = float(state.get("lbfgs_last_loss", math.inf))
        self.restarts = int(state.get("lbfgs_restarts", 0))


class Checkpoint(Callback):
    """Writes ``checkpoint.pt`` (atomically) after every epoch, so a killed run resumes with ``--resume``."""

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        trainer.save_checkpoint()


class ProgressBar(Callback):
    """A tqdm bar of epochs with the last loss and validation score."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.total_epochs, initial=trainer.state.epoch, unit="epoch", dynamic_ncols=True,
                        desc=f"train {trainer.directory.path.name}")

    def on_epoch_end(self, trainer: Trainer, end: EpochEnd) -> None:
        self.bar.set_postfix(loss=f"{end.train_loss:.3g}", val=f"{end.score:.3g}")
        self.bar.update(trainer.state.epoch - self.bar.n)

    def on_fit_end(self, trainer: Trainer, metrics: Mapping[str, Any]) -> None:
        self.bar.close()
