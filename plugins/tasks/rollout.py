"""Rollout: a learned vector field du/dt = f(u) on a trajectories dataset, trained through an integrator step
and judged by rolling out whole held-out trajectories.

Training (the imbalance-aware loss study on the data of Matsubara et al. 2020): pairs (u_n, u_{n+1}) from the training trajectories;
the model's state after one integrator step (``integrator`` euler, rk2 or rk4; ``steps=k``: after each of
k steps) is compared with the stored states, element by element over batch × grid (× step), so a weighting
such as ``imbalance-aware`` weights single grid values. One data term ``data/<field>``.

Scaling (model space): state v = u / s_u, rate r = (du/dt) / s_r, with s_u the RMS of the training states and
s_r the RMS of their finite-difference rates (u_{n+1} - u_n)/dt; a step of dt is a model-space step of
h = dt s_r / s_u. The term is ((v̂_{n+j} - v_{n+j}) / h)², the state error in units of one step's rate
(for Euler exactly the squared error of the rate), about 1 for an untrained model whatever the units: an
absolute temperature of the imbalance-aware loss is in these units. No shift: u = 0 stays 0 and the models'
conservation laws carry over to physical units.

Splits: whole trajectories, drawn with --val-fraction/--test-fraction by the seed (``split_seed``, else
--seed; --split-by random and group mean the same here). Evaluation: every trajectory of a split rolled out from its initial state with
the training integrator and the physical model (what an ONNX user runs); state MSE, and the squared error of
each functional of the problem the dataset names (``functionals()`` of its ``surrogate.problems`` entry; none
when it names no problem), over the whole horizon and
its first and second half, beside trivial rollouts (keep the initial state, zero, the spatial mean). The best
epoch is the one of least loss on the validation trajectories. The exported module is the physical vector field:
state [batch, M] in, rate out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from plugins.time_schemes import SCHEMES, Field, integrate
from surrogate import registry
from surrogate.baselines import Baselines
from surrogate.contracts import Batch, DataStatistics, Task, TaskSettings, lacking
from surrogate.training_data import split_indices
from surrogate.errors import UserError
from surrogate.options import Option
from surrogate.ranges import COUNT, SEED, Range
from surrogate.terms import LossTerms, data_term

EVAL_PAIRS = 4096  # pairs per evaluation chunk: activations of a stencil network are (pairs, width, M)


class ScaledField(nn.Module):
    """Physical rate = s_r · network(u / s_u)."""

    def __init__(self, network: nn.Module, state_scale: float, rate_scale: float):
        super().__init__()
        self.network = network
        self.register_buffer("state_scale", torch.tensor(float(state_scale)))
        self.register_buffer("rate_scale", torch.tensor(float(rate_scale)))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.network(u / self.state_scale) * self.rate_scale


@torch.no_grad()
def rollout(f: Field, u0: torch.Tensor, steps: int, h: float, integrator: str = "euler") -> torch.Tensor:
    """States (batch, steps + 1, M) from u0 (batch, M): `steps` steps of size h of the learned field f."""
    return torch.stack(integrate(f, u0, h, steps, integrator), dim=1)


def horizon_metrics(squared_error: np.ndarray) -> dict[str, float]:
    """MSE over all predicted times (axis 1, the initial state excluded) and over each half, the largest absolute
    error, and ``diverged``, the number of trajectories whose rollout left the finite numbers, of squared errors
    shaped (trajectory, time, ...). A diverged rollout's error is infinite (inf here, printed ``inf``; JSON has
    no infinity, so metrics.json holds null next to ``diverged`` > 0), never NaN."""
    predicted = np.where(np.isfinite(squared_error[:, 1:]), squared_error[:, 1:], np.inf)
    half = predicted.shape[1] // 2
    diverged = int(np.isinf(predicted.reshape(len(predicted), -1)).any(axis=1).sum())
    return {"mse": float(predicted.mean()), "mse_first_half": float(predicted[:, :half].mean()),
            "mse_second_half": float(predicted[:, half:].mean()), "max_abs": float(np.sqrt(predicted.max())),
            "diverged": diverged}


class Rollout(Task):
    """du/dt = f(u) on whole grids, one integrator step per training pair, judged by full rollouts."""

    description: ClassVar[str] = "time-stepper du/dt = f(u) on trajectories: integrator-step loss, rollout metrics"
    options: ClassVar[tuple[Option, ...]] = (
        Option("field", "", "the field to step ('': the dataset's first)"),
        Option("integrator", "euler", "integrator of training and rollouts", choices=tuple(SCHEMES)),
        Option("steps", 1, "k: integrator steps per training sample; the loss compares each of the k states "
               "(fewer than the stored steps)", bounds=COUNT),
        Option("split_seed", -1, "seed of the trajectory split (-1: --seed); fix it to train several seeds on "
               "the same held-out trajectories", bounds=Range(-1, SEED.high)),
    )
    datasets: ClassVar[tuple[str, ...]] = ("trajectories",)

    def __init__(self, dataset: Any, settings: TaskSettings, processes: Any, *, field: str, integrator: str,
                 steps: int, split_seed: int, **options: Any):
        super().__init__(dataset, settings, processes)
        self.field = field or dataset.field_names[0]
        if self.field not in dataset.fields:
            raise UserError(f"--task-option field={self.field}: not a field of {dataset.path} "
                            f"({', '.join(dataset.field_names)})")
        if not 1 <= steps < dataset.n_times:
            raise UserError(f"--task-option steps={steps}: expected 1 to {dataset.n_times - 1} (the stored steps)")
        self.integrator, self.k, self.dt = integrator, int(steps), dataset.dt
        self.n_points = int(np.prod(dataset.shape[2:]))
        self.input_names = [f"{self.field}[{j}]" for j in range(self.n_points)]
        self.output_names = [f"d{self.field}/dt[{j}]" for j in range(self.n_points)]
        self.trajectories = split_indices(dataset.n_trajectories, settings.val_fraction, settings.test_fraction,
                                          settings.seed if split_seed < 0 else split_seed)
        if not len(self.trajectories["train"]):
            raise UserError(f"{dataset.path}: {dataset.n_trajectories} trajectories leave none for training at "
                            f"--val-fraction {settings.val_fraction} --test-fraction {settings.test_fraction}")
        self.functionals, self.dx = {}, 1.0
        problem = registry.problem_for(dataset.attrs, "task 'rollout'")
        if problem is not None and not lacking(problem, "functionals") and len(dataset.axes) == 1:
            x = dataset.grid[dataset.axes[0]]  # the functionals are sums over a 1-D grid
            self.functionals, self.dx = dict(problem.functionals()), float(x[1] - x[0])

    def epoch_size(self) -> int:
        return len(self.trajectories["train"]) * (self.dataset.n_times - self.k)

    # ------------------------------------------------------------------------------------------ set-up
    def setup(self, network: nn.Module, closure: str) -> None:
        device = self.settings.device
        self.u = self.dataset.read_field(self.field).reshape(self.dataset.n_trajectories, self.dataset.n_times, -1)
        train = self.u[self.trajectories["train"]]
        rates = np.diff(train, axis=1) / self.dt
        state_scale = max(float(np.sqrt(np.mean(train ** 2))), np.finfo(np.float32).tiny)
        rate_scale = max(float(np.sqrt(np.mean(rates ** 2))), np.finfo(np.float32).tiny)
        self.h = self.dt * rate_scale / state_scale
        self.trainable = network
        self.model = ScaledField(network, state_scale, rate_scale).to(device)
        self.v = torch.as_tensor(self.u / state_scale, dtype=self.settings.dtype, device=device)
        target = rates / rate_scale
        self.stats = DataStatistics([self.field], {self.field: float(target.mean())},
                                    {self.field: float(target.var())}, int(target.size))
        self.range = [float(train.min()), float(train.max())]

    def statistics(self) -> DataStatistics:
        return self.stats

    def term_names(self) -> list[str]:
        return [data_term(self.field)]

    # -------------------------------------------------------------------------------------- batches
    def batches(self, split: str, batch_size: int | None,
                generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """(trajectory, start step) pairs as rows of an index tensor; training batches are shared between
        data-parallel ranks, evaluation chunks hold at most EVAL_PAIRS pairs."""
        chosen = torch.as_tensor(self.trajectories[split], device=self.v.device)
        starts = torch.arange(self.v.shape[1] - self.k, device=self.v.device)
        pairs = torch.cartesian_prod(chosen, starts) if len(chosen) else torch.empty((0, 2), dtype=torch.long)
        if generator is not None:
            pairs = pairs[torch.randperm(len(pairs), generator=generator).to(pairs.device)]
        if not len(pairs):
            return  # an empty split (e.g. --val-fraction 0): no batch, not one empty batch
        if split != "train":
            yield from pairs.split(min(batch_size or EVAL_PAIRS, EVAL_PAIRS))
            return
        for chunk in ([pairs] if batch_size is None else pairs.split(batch_size)):
            if len(chunk) >= self.processes.world:
                yield self.processes.share(chunk)

    def loss_terms(self, forward: Callable[[torch.Tensor], torch.Tensor], pairs: torch.Tensor) -> tuple[LossTerms, Batch]:
        step = SCHEMES[self.integrator]
        start = v = self.v[pairs[:, 0], pairs[:, 1]]
        errors = []
        for j in range(1, self.k + 1):
            v = step(forward, v, self.h)
            errors.append((v - self.v[pairs[:, 0], pairs[:, 1] + j]) / self.h)
        squared = torch.stack(errors, dim=1) ** 2  # (batch, k, M)
        scale = self.model.state_scale
        batch = Batch(x=start, x_phys=start * scale, y=self.v[pairs[:, 0], pairs[:, 1] + self.k], y_pred=v,
                      y_pred_phys=v * scale, input_names=self.input_names, output_names=self.output_names,
                      model=self.trainable, extras={"step": self.h, "integrator": self.integrator})
        return {data_term(self.field): squared.flatten()}, batch

    def score(self, means: Mapping[str, float]) -> float:
        return float(means[data_term(self.field)])

    # ------------------------------------------------------------------------------------ results
    def roll_out(self, split: str) -> np.ndarray:
        """Physical states (trajectory, time, M) of the split's trajectories rolled out from their initial states."""
        model = self.model.eval()
        u0 = torch.as_tensor(self.u[self.trajectories[split], 0], dtype=self.v.dtype, device=self.v.device)
        return rollout(model, u0, self.dataset.n_times - 1, self.dt, self.integrator).double().cpu().numpy()

    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        self.rollouts = {split: self.roll_out(split) for split, chosen in self.trajectories.items() if len(chosen)}
        metrics: dict[str, dict[str, dict[str, float]]] = {}
        with np.errstate(all="ignore"):  # a diverged rollout overflows; horizon_metrics reports it as inf
            for split, predicted in self.rollouts.items():
                metrics[split] = self.split_metrics(split, predicted)
        return metrics

    def split_metrics(self, split: str, predicted: np.ndarray) -> dict[str, dict[str, float]]:
        """State and functional errors of one split's rollouts (trajectory, time, M) against the truth."""
        truth = self.u[self.trajectories[split]]
        metrics = {self.field: horizon_metrics((predicted - truth) ** 2)}
        for name, functional in self.functionals.items():
            metrics[name] = horizon_metrics((functional(predicted, self.dx) - functional(truth, self.dx)) ** 2)
        return metrics

    def baselines(self, split: str) -> Baselines:
        """Trivial rollouts of the split's trajectories, scored on the state like the model's: keep the initial
        state, the zero field, and the initial state's spatial mean (what a conservative PDE keeps) at all times."""
        truth = self.u[self.trajectories[split]]
        initial = truth[:, :1]
        guesses = {"keep initial state": initial, "zero field": np.zeros_like(initial),
                   "spatial mean": initial.mean(axis=2, keepdims=True)}
        return Baselines({name: {self.field: horizon_metrics((np.broadcast_to(guess, truth.shape) - truth) ** 2)}
                          for name, guess in guesses.items()})

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        from .rollout_plots import along_rollout, space_time

        with np.errstate(all="ignore"):  # a diverged rollout: its non-finite values are left out of the plots
            split = "test" if "test" in self.rollouts else "train"
            index = int(self.trajectories[split][0])
            truth, predicted = self.u[index], self.rollouts[split][0]
            title = (f"{split} trajectory {index}: {self.integrator} rollout, state MSE "
                     f"{metrics[split][self.field]['mse']:.3g} over the split")
            space_time(truth, predicted, self.dataset.grid[self.dataset.axes[0]], self.dt,
                       plot_dir / "rollout.png", title)
            times = self.dt * np.arange(self.dataset.n_times)
            state_mse = ((self.rollouts[split] - self.u[self.trajectories[split]]) ** 2).mean(axis=(0, 2))
            along_rollout(times, {n: f(truth, self.dx) for n, f in self.functionals.items()},
                          {n: f(predicted, self.dx) for n, f in self.functionals.items()}, state_mse,
                          plot_dir / "conserved.png", title)

    def state(self) -> dict[str, Any]:
        return {"state_scale": float(self.model.state_scale), "rate_scale": float(self.model.rate_scale)}

    def splits(self) -> dict[str, np.ndarray]:
        return self.trajectories

    def config(self) -> dict[str, Any]:
        return {"inputs": self.input_names, "outputs": self.output_names, "units": {},
                "input_ranges": {name: self.range for name in self.input_names}, "dt": self.dt,
                "integrator": self.integrator, "signature": self.signature()}

    def signature(self) -> dict[str, Any]:
        units = self.dataset.fields[self.field].units
        time_units = self.dataset.attrs.get("time_units", "")
        return {"inputs": [{"name": "state", "dtype": "float32", "shape": ["batch", self.n_points],
                            "components": [{"name": self.field, "units": units, "range": self.range}]}],
                "outputs": [{"name": "rate", "dtype": "float32", "shape": ["batch", self.n_points],
                             "components": [{"name": f"d{self.field}/dt", "units": f"{units}/{time_units}"}]}]}

    @classmethod
    def assemble(cls, network: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> nn.Module:
        return ScaledField(network, state["state_scale"], state["rate_scale"])
