"""Physics-informed networks on collocation problems: u(x[, y, t]) trained on PDE residuals, no data.

Each step the task samples interior points (a chunk of them) and takes every boundary and initial point,
runs the network on each, and hands the physics losses a :class:`Batch` whose ``x_phys`` are the interior
points (requiring grad, so a residual can differentiate u with respect to them) and whose
``extras['boundary']`` / ``extras['initial']`` are (points, u) pairs; the ``pde`` physics loss turns them into
``pde/residual``, ``pde/boundary`` and ``pde/initial``. The task itself adds no term. Its final metric is the
relative L2 error ||u - u_exact|| / ||u_exact|| on a dense grid (the test grid), the number MMPINN
(arXiv 2308.06672) reports, beside the trivial baseline of the same error for the interpolant of the boundary and
initial data (the transfinite lift of :mod:`.hard_constraints`). The best epoch is chosen on
validation data only: with ``select=error`` the same error on ``grid_points`` random points of the closed domain
drawn with their own seed (never the test grid), with ``select=loss`` the least validation loss, which needs no
exact solution.

The problem (domain, residual, exact solution, conditions) is the one the dataset names, from the registry
(``surrogate.problems``): any installed problem with ``residual`` and ``exact`` trains here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import torch
from torch import nn

from surrogate import registry
from surrogate.baselines import Baselines
from surrogate.contracts import Batch, DataStatistics, Problem, Task, TaskSettings, lacking
from surrogate.derivatives import with_derivatives
from surrogate.errors import PluginError, UserError
from surrogate.options import Option
from surrogate.ranges import COUNT
from surrogate.run import row_signature
from surrogate.scaling import InputScaler, PhysicalModel
from surrogate.terms import LossTerms

from . import collocation as sampling
from .hard_constraints import HardConstraints

EVAL_CHUNK = 65536


@dataclass
class Collocation:
    """One step's points: a chunk of interior points, and all boundary and initial points (None if none)."""

    interior: torch.Tensor
    boundary: torch.Tensor
    initial: torch.Tensor | None


def physical_model(domain: Mapping[str, list[float]], network: nn.Module) -> PhysicalModel:
    """Physical coordinates -> u: coordinates scaled to [-1, 1], the network's output is u itself."""
    lo, hi = zip(*domain.values())
    return PhysicalModel(InputScaler(list(lo), list(hi), [False] * len(lo), [1.0] * len(lo)), network, nn.Identity())


def collocation_problem(attrs: Mapping[str, Any], owner: str) -> Problem:
    """The problem a collocation dataset names, which must offer a residual and an exact solution."""
    problem = registry.problem_for(attrs, owner)
    if problem is None:
        raise PluginError(f"{owner}: needs a collocation dataset that names its problem (root attribute 'problem'); "
                          f"this one names none (installed problems: {', '.join(sorted(registry.available('problems')))})")
    missing = lacking(problem, "residual", "exact")
    if missing:
        raise PluginError(f"{owner}: the dataset's problem {type(problem).__name__} offers no "
                          f"{' and no '.join(missing)}")
    return problem


def constrained(network: nn.Module, problem: Mapping[str, Any], domain: Mapping[str, list[float]]) -> nn.Module:
    """The network, wrapped to meet the boundary and initial conditions exactly when the problem asks for hard
    constraints."""
    if problem.get("constraints", "soft") != "hard":
        return network
    equation = collocation_problem({"problem": problem}, "task 'pinn'")
    names = list(domain)
    time_axis = names.index(equation.time) if equation.time else None
    return HardConstraints(network, equation, list(domain.values()), [names.index(n) for n in equation.spatial],
                           time_axis)


def field_errors(predicted: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    """Relative L2 error ||u - u_exact|| / ||u_exact|| and the largest absolute error of u at the same points."""
    error = predicted - exact
    return {"rel_l2": float(torch.linalg.norm(error) / torch.linalg.norm(exact)), "max_abs": float(error.abs().max())}


class Pinn(Task):
    """u on a collocation problem; metric: relative L2 error against the exact solution on the test grid; score
    (selection): the same error on validation points, or the validation loss."""

    description: ClassVar[str] = "physics-informed network on a collocation problem (PDE residual, boundary, " \
                                 "initial terms); relative L2 error"
    options: ClassVar[tuple[Option, ...]] = (
        Option("passes", 10, "passes over the interior points per epoch (one validation per epoch)", bounds=COUNT),
        Option("grid_points", 10000, "points of the dense test grid the relative L2 error is reported on (and of "
               "the random validation set select=error measures on)", bounds=COUNT),
        Option("select", "error", "what picks the best epoch: 'error' (relative L2 against the exact solution on "
               "a validation set of grid_points random points, not the test grid) or 'loss' (sum of the unweighted "
               "mean validation terms, which needs no exact solution)",
               choices=("error", "loss")),
    )
    datasets: ClassVar[tuple[str, ...]] = ("collocation",)
    differentiates_inputs: ClassVar[bool] = True

    def __init__(self, dataset: Any, settings: TaskSettings, processes: Any, *, passes: int, grid_points: int,
                 select: str, **options: Any):
        super().__init__(dataset, settings, processes)
        try:
            self.equation = collocation_problem(dataset.attrs, "task 'pinn'")
        except PluginError as exc:
            raise UserError(f"{dataset.path}: {exc}") from None
        if dataset.input_names != self.equation.inputs() or dataset.output_names != ["u"]:
            raise UserError(f"{dataset.path}: problem {dataset.problem['name']!r} has inputs {self.equation.inputs()} "
                            f"and output u; the file declares {dataset.input_names} -> {dataset.output_names}")
        if settings.split_by == "group":
            raise UserError(f"{dataset.path}: --split-by group needs a table of rows with a group column; this "
                            "collocation problem has no rows (the pinn task samples its points and is judged on a "
                            "dense grid): train without --split-by")
        self.input_names, self.output_names = list(dataset.input_names), ["u"]
        self.ranges = [dataset.domain[name] for name in self.input_names]
        self.spatial = [self.input_names.index(name) for name in self.equation.spatial]
        self.time_axis = self.input_names.index(self.equation.time) if self.equation.time else None
        given = {option.name: dataset.problem.get(option.name, option.default) for option in sampling.OPTIONS}
        self.how = str(given["sampling"])
        if self.how not in sampling.SAMPLINGS:
            raise UserError(f"{dataset.path}: sampling {self.how!r}: expected one of {', '.join(sampling.SAMPLINGS)}")
        if given["constraints"] not in sampling.CONSTRAINTS:
            raise UserError(f"{dataset.path}: constraints {given['constraints']!r}: expected one of "
                            f"{', '.join(sampling.CONSTRAINTS)}")
        self.n_points = {"interior": int(given["points"]), "boundary": int(given["boundary_points"]),
                         "initial": int(given["initial_points"])}
        self.passes, self.grid_points, self.select = passes, grid_points, select
        self.dtype = settings.dtype
        self.train_points = self.draw(torch.Generator().manual_seed(settings.seed))
        self.val_points = self.draw(torch.Generator().manual_seed(settings.seed + 1), how="random")
        # where select=error measures: random points with their own seed, so never the test grid
        self.val_grid = sampling.box(self.ranges, grid_points, "random",
                                     torch.Generator().manual_seed(settings.seed + 2), self.dtype)

    def draw(self, generator: torch.Generator | None, how: str | None = None) -> Collocation:
        """Interior, boundary and initial points sampled as the problem says (or as `how`)."""
        how = how or self.how
        n = self.n_points
        return Collocation(
            interior=sampling.box(self.ranges, n["interior"], how, generator, self.dtype, inner=True),
            boundary=sampling.boundary(self.ranges, self.spatial, n["boundary"], how, generator, self.dtype),
            initial=None if self.time_axis is None else sampling.face(
                self.ranges, self.time_axis, self.ranges[self.time_axis][0], n["initial"], how, generator, self.dtype))

    def epoch_size(self) -> int:
        return len(self.train_points.interior) * self.passes

    def batches_per_epoch(self, batch_size: int) -> int:
        """`passes` passes of ⌈n / `batch_size`⌉ steps each (see :meth:`batches`)."""
        return math.ceil(len(self.train_points.interior) / batch_size) * self.passes

    def setup(self, network: nn.Module, closure: str) -> None:
        device = self.settings.device
        self.trainable = network
        domain = dict(zip(self.input_names, self.ranges))
        self.constrained = constrained(network, self.dataset.problem, domain).to(device)
        self.model = physical_model(domain, self.constrained).to(device)
        self.train_points, self.val_points = self.on_device(self.train_points), self.on_device(self.val_points)
        points, self.grid_shape = sampling.grid(self.ranges, self.grid_points, self.dtype)
        self.grid = points.to(device)
        self.exact = self.equation.exact(self.grid)
        self.val_grid = self.val_grid.to(device)
        self.val_exact = self.equation.exact(self.val_grid)

    def on_device(self, points: Collocation) -> Collocation:
        device = self.settings.device
        return Collocation(points.interior.to(device), points.boundary.to(device),
                           None if points.initial is None else points.initial.to(device))

    def statistics(self) -> DataStatistics:
        return DataStatistics([], {}, {}, len(self.train_points.interior))

    def term_names(self) -> list[str]:
        return []

    # -------------------------------------------------------------------------------------- batches
    def batches(self, split: str, batch_size: int | None,
                generator: torch.Generator | None = None) -> Iterator[Collocation]:
        """Training: `passes` shuffled passes over the interior points in ⌈n / `batch_size`⌉ chunks of equal size
        (to one point; one chunk of all of them when None), points resampled first under ``resample``; else the
        fixed validation points. Equal chunks, because a grid rounds the requested number of points up (a
        2-D grid of 1000 requested holds 32 × 32 = 1024): chunks of `batch_size` would leave a last step on the
        few points left over, whose residual term barely constrains the network."""
        if split != "train":
            yield self.val_points
            return
        if self.how == "resample" and generator is not None:
            self.train_points = self.on_device(self.draw(generator))
        points = self.train_points
        if batch_size is None:
            yield points
            return
        for _ in range(self.passes):
            order = torch.randperm(len(points.interior), generator=generator).to(points.interior.device)
            for chunk in points.interior[order].tensor_split(math.ceil(len(order) / batch_size)):
                yield Collocation(chunk, points.boundary, points.initial)

    def loss_terms(self, forward: Callable[[torch.Tensor], torch.Tensor],
                   points: Collocation) -> tuple[LossTerms, Batch]:
        scale = self.model.input_scaler
        x_phys = points.interior.detach().requires_grad_(True)
        x = scale(x_phys)
        if isinstance(self.constrained, HardConstraints):  # conditions met by construction: no boundary terms
            u, extras = self.constrained.constrain(forward, x), {}
        else:  # u carries its derivatives along every axis when the network allows (Taylor mode)
            u = with_derivatives(forward, x, x_phys, scale.slopes())
            extras = {"boundary": (points.boundary, forward(scale(points.boundary)))}
            if points.initial is not None:
                extras["initial"] = (points.initial, forward(scale(points.initial)))
        return {}, Batch(x=x, x_phys=x_phys, y=None, y_pred=u, y_pred_phys=u, input_names=self.input_names,
                         output_names=self.output_names, model=self.trainable, extras=extras)

    # ------------------------------------------------------------------------------------ results
    @torch.no_grad()
    def predict_grid(self, points: torch.Tensor | None = None) -> torch.Tensor:
        """u of the current model at `points` (default: the test grid)."""
        self.model.eval()
        return torch.cat([self.model(chunk) for chunk in (self.grid if points is None else points).split(EVAL_CHUNK)])

    def errors(self, points: torch.Tensor | None = None, exact: torch.Tensor | None = None) -> dict[str, float]:
        """Relative L2 and largest absolute error of the current model at `points` against `exact` (default: the
        test grid)."""
        if points is None:
            points, exact = self.grid, self.exact
        return field_errors(self.predict_grid(points), exact)

    def score(self, means: Mapping[str, float]) -> float:
        """Selection on validation data: the error on the validation points, or the validation loss."""
        if self.select == "error":
            return self.errors(self.val_grid, self.val_exact)["rel_l2"]
        return float(sum(means.values()))

    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        return {"test": {"u": self.errors()}}

    @torch.no_grad()
    def baselines(self, split: str) -> Baselines:
        """The interpolant of the boundary (and initial) data on the test grid: the transfinite lift g that hard
        constraints start from (linear between the two boundary values in 1-D), what the data alone gives."""
        lift = HardConstraints(nn.Identity(), self.equation, self.ranges, self.spatial, self.time_axis)
        lift = lift.to(self.grid.device)
        unit = (self.grid - lift.lo.to(self.grid.dtype)) / lift.span.to(self.grid.dtype)
        name = "interpolant of the boundary data" + (" and initial data" if self.time_axis is not None else "")
        return Baselines({name: {"u": field_errors(lift.lift(self.grid, unit), self.exact)}})

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        from .pinn_plots import solution

        solution(self.input_names, self.grid.double().cpu().numpy(), self.grid_shape,
                 self.exact.double().cpu().numpy()[:, 0], self.predict_grid().double().cpu().numpy()[:, 0],
                 metrics["test"]["u"]["rel_l2"], plot_dir / "solution.png")

    def state(self) -> dict[str, Any]:
        return {"domain": {name: list(r) for name, r in zip(self.input_names, self.ranges)}}

    def config(self) -> dict[str, Any]:
        return {"inputs": self.input_names, "outputs": self.output_names,
                "units": {name: "1" for name in [*self.input_names, *self.output_names]},
                "input_ranges": self.state()["domain"], "problem": dict(self.dataset.problem),
                "signature": self.signature()}

    def signature(self) -> dict[str, Any]:
        units = {name: "1" for name in [*self.input_names, *self.output_names]}
        return row_signature(self.input_names, self.output_names, units, self.state()["domain"])

    @classmethod
    def assemble(cls, network: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> nn.Module:
        return physical_model(state["domain"], constrained(network, config.get("problem", {}), state["domain"]))
