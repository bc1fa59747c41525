"""Physics-informed training against DeepXDE (Lu et al., SIAM Review 63, 2021) on the same problem, network,
optimizer and points, for the same number of steps: time per step and the error each reaches.

Both sides train the ``mlp`` network (depth 4, width 50, tanh) with Adam at the same learning rate on the
collocation problem of one dataset (a ``pinn`` dataset: Poisson 1-D or 2-D, soft boundary conditions), full
batch: every step sees all interior points and all boundary points the toolkit's task draws from the dataset.
DeepXDE gets exactly those points (the interior points as ``anchors``, where its residual is evaluated, no points
of its own; the boundary points as a point-set condition with the exact solution's values), the toolkit
network's initial weights and input scaling, its own second derivatives (``dde.grad.hessian``) and the loss it
uses by default (the mean squared residual plus the mean squared boundary error, the toolkit's ``uniform``
weighting of ``pde/residual`` and ``pde/boundary``). Both sides thus start from the same network with the same
loss and optimizer. They differ by round-off (each computes its derivatives its own way), which Adam's first,
sign-like steps amplify: the errors after equal steps agree in size, not to the digit. The toolkit side is :meth:`surrogate.trainer.Trainer.train_epoch` with the
validation of each epoch (the validation terms and the task's selection score), as ``surrogate train`` runs it,
without writing the run's files; an epoch is ``passes`` full-batch steps. DeepXDE reports its losses once, at the
end (``display_every`` = the number of steps).

Each side runs in its own fresh process with one intra-op thread; its time starts at its first step (set-up,
imports and point sampling excluded) and ends after its last. The error of each is the relative L2 error
‖u − u_exact‖ / ‖u_exact‖ of the final network on the toolkit task's test grid.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

CASES = ("poisson-multiscale", "poisson-2d")


@dataclass
class PinnSide:
    """One side's run: seconds per step (wall clock, and CPU time of its process) and the error it reached."""

    seconds_per_step: float
    cpu_seconds_per_step: float
    rel_l2: float
    steps: int

    @property
    def steps_per_s(self) -> float:
        return 1.0 / self.seconds_per_step


@dataclass
class PinnComparison:
    """The toolkit and DeepXDE (None when it is not installed) on one dataset."""

    table: str
    problem: str
    points: int
    boundary_points: int
    toolkit: PinnSide
    deepxde: PinnSide | None

    @property
    def speedup(self) -> float | None:
        """Toolkit steps/s over DeepXDE steps/s (wall clock)."""
        return None if self.deepxde is None else self.toolkit.steps_per_s / self.deepxde.steps_per_s

    @property
    def cpu_speedup(self) -> float | None:
        """DeepXDE CPU time per step over the toolkit's: the same ratio, less disturbed by other processes."""
        return None if self.deepxde is None else self.deepxde.cpu_seconds_per_step / self.toolkit.cpu_seconds_per_step

    @property
    def error_ratio(self) -> float | None:
        """Toolkit error over DeepXDE error after the same steps (below 1: the toolkit is more accurate)."""
        return None if self.deepxde is None else self.toolkit.rel_l2 / self.deepxde.rel_l2

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "problem": self.problem, "points": self.points,
                "boundary_points": self.boundary_points,
                "toolkit": {**asdict(self.toolkit), "steps_per_s": self.toolkit.steps_per_s},
                "deepxde": (dict.fromkeys(["seconds_per_step", "cpu_seconds_per_step", "rel_l2", "steps",
                                           "steps_per_s"]) if self.deepxde is None  # not installed: nulls
                            else {**asdict(self.deepxde), "steps_per_s": self.deepxde.steps_per_s}),
                "speedup": self.speedup, "cpu_speedup": self.cpu_speedup, "error_ratio": self.error_ratio}

    def render(self) -> str:
        def side(name: str, run: PinnSide | None) -> str:
            if run is None:
                return f"  {name:<9} not installed (pip install 'thermo-surrogate[bench]')"
            return (f"  {name:<9} {run.seconds_per_step * 1e3:8.2f} ms/step  {run.steps_per_s:7.1f} steps/s  "
                    f"({run.cpu_seconds_per_step * 1e3:.2f} ms CPU/step)  rel. L2 error {run.rel_l2 * 100:.3g} % "
                    f"after {run.steps} steps")

        lines = [f"{self.problem} ({self.table}): {self.points} interior + {self.boundary_points} boundary points, "
                 f"full batch, mlp 4x50 tanh, Adam, 1 thread", side("toolkit", self.toolkit),
                 side("DeepXDE", self.deepxde)]
        if self.deepxde is not None:
            lines.append(f"  toolkit / DeepXDE: {self.speedup:.2f}x steps/s ({self.cpu_speedup:.2f}x by CPU time), "
                         f"error ratio {self.error_ratio:.2g}")
        return "\n".join(lines)


def deepxde_available() -> bool:
    """Whether DeepXDE can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("deepxde") is not None


def options_for(table: str, steps: int, passes: int, lr: float, seed: int, batch_size: int) -> Any:
    """The toolkit's training options of the comparison: batches of `batch_size`, `steps` steps in epochs of
    `passes`."""
    from ..config import TrainOptions

    return TrainOptions(table=table, model="mlp", batch_size=batch_size, epochs=max(1, math.ceil(steps / passes)),
                        lr=lr, weighting="uniform", lr_schedule="none", threads=1, seed=seed, device="cpu",
                        task_options={"passes": passes})


def built_trainer(table: str, steps: int, passes: int, lr: float, seed: int) -> Any:
    """The toolkit's trainer of the comparison, full batch: its batch size is the number of interior points the
    task draws, which a uniform grid rounds up from the dataset's requested count (1024 for 1000 in 2-D). With
    the requested count as batch size every other step would see the few points left over."""
    from ..datasets import open_dataset
    from ..trainer import Trainer

    requested = int(open_dataset(table).problem.get("points", 1000))
    trainer = Trainer(options_for(table, steps, passes, lr, seed, requested), run_dir="unused", progress=False)
    if trainer.options.task != "pinn":
        from ..errors import UserError

        raise UserError(f"{table}: bench pinn compares physics-informed training; this dataset trains task "
                        f"{trainer.options.task!r}")
    trainer.build()
    drawn = len(trainer.task.train_points.interior)
    if drawn != requested:
        trainer = Trainer(options_for(table, steps, passes, lr, seed, drawn), run_dir="unused", progress=False)
        trainer.build()
    return trainer


def run_toolkit(table: str, steps: int, passes: int, lr: float, seed: int) -> tuple[PinnSide, int, int]:
    """The toolkit's epochs (training steps, then each epoch's validation) until `steps` steps are done; with
    the numbers of interior and boundary points trained on."""
    import torch

    from ..contracts import StepContext, TrainingState

    torch.set_num_threads(1)
    trainer = built_trainer(table, steps, passes, lr, seed)
    state = TrainingState(steps_per_epoch=trainer.steps_per_epoch, max_epochs=trainer.options.epochs)
    ctx = StepContext(state=state, shared_parameters=trainer.shared_parameters,
                      validation_terms=trainer.random_validation_terms)
    generator = torch.Generator().manual_seed(seed)
    began, cpu = time.perf_counter(), time.process_time()
    while state.step < steps:
        _, _, train_means = trainer.train_epoch(state, ctx, generator, steps=steps - state.step)
        val_means = trainer.evaluate_terms("val") or train_means
        trainer.task.score(val_means)
        ctx.validation = val_means
        trainer.strategy.observe_epoch(train_means, val_means, state)
        state.epoch += 1
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    points = trainer.task.train_points
    return (PinnSide(elapsed / state.step, cpu / state.step, trainer.task.errors()["rel_l2"], state.step),
            len(points.interior), len(points.boundary))


def run_deepxde(table: str, steps: int, lr: float, seed: int) -> PinnSide:
    """DeepXDE on the toolkit task's points (see the module docstring)."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import torch

    torch.set_num_threads(1)
    trainer = built_trainer(table, steps, 1, lr, seed)  # the task's points, network, grid and equation; not trained
    task, equation = trainer.task, trainer.task.equation
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import deepxde as dde  # (it prints its backend on import)

    torch.set_num_threads(1)
    dde.config.set_random_seed(seed)
    points = task.train_points
    axes = len(task.input_names)
    lo, hi = zip(*task.ranges)
    geometry = dde.geometry.Interval(lo[0], hi[0]) if axes == 1 else dde.geometry.Rectangle(list(lo), list(hi))

    def pde(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        laplacian = sum(dde.grad.hessian(u, x, i=a, j=a) for a in range(axes))
        return laplacian + forcing(equation, x)

    # the residual at the interior points (anchors), u = u_exact at the boundary points (a point-set condition)
    condition = dde.icbc.PointSetBC(points.boundary.cpu().numpy(), equation.exact(points.boundary).cpu().numpy())
    data = dde.data.PDE(geometry, pde, [condition], num_domain=0, num_boundary=0,
                        anchors=points.interior.cpu().numpy())
    network = dde.nn.FNN([axes] + [50] * 4 + [1], "tanh", "Glorot normal")
    network.apply_feature_transform(task.model.input_scaler)  # the toolkit's scaling of the inputs to [-1, 1]
    start_from(network.linears, trainer.trainable)
    model = dde.Model(data, network)
    with contextlib.redirect_stdout(io.StringIO()):  # DeepXDE's own progress lines
        model.compile("adam", lr=lr)
        began, cpu = time.perf_counter(), time.process_time()
        model.train(iterations=steps, display_every=steps, verbose=0)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    grid = task.grid.double().cpu().numpy()
    predicted = torch.as_tensor(model.predict(grid), dtype=torch.float64)
    exact_u = task.exact.double().cpu()
    rel_l2 = float(torch.linalg.norm(predicted - exact_u) / torch.linalg.norm(exact_u))
    return PinnSide(elapsed / steps, cpu / steps, rel_l2, steps)


def start_from(layers: Any, network: Any) -> None:
    """Set `layers` (DeepXDE's linear layers, in order) to the initial weights of the toolkit's network."""
    import torch

    linears = [module for module in network.modules() if isinstance(module, torch.nn.Linear)]
    if len(linears) != len(layers):
        raise ValueError(f"{len(layers)} DeepXDE layers, {len(linears)} toolkit layers")
    with torch.no_grad():
        for theirs, ours in zip(layers, linears):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)


def forcing(equation: Any, x: Any) -> Any:
    """f(x) of a Poisson problem −Δu = f, read off the equation's own residual Δu + f at u = 0 (a function with
    zero second derivatives that still depends on x, so the residual can differentiate it), detached."""
    import torch

    with torch.enable_grad():
        points = x.detach().requires_grad_(True)
        zero = 0.0 * (points ** 2).sum(dim=1, keepdim=True)
        return equation.residual(points, zero).detach()[:, None]


def run_pinn_benchmark(table: str, steps: int = 1000, passes: int = 100, lr: float = 1e-3,
                       seed: int = 0) -> PinnComparison:
    """Both sides on `table`, each in a fresh process (DeepXDE only when installed)."""
    import multiprocessing

    from ..datasets import open_dataset
    from ..errors import UserError

    problem = dict(open_dataset(table).problem or {})
    if problem.get("name") not in CASES or problem.get("constraints", "soft") != "soft":
        raise UserError(f"{table}: bench pinn compares Poisson problems with soft boundary conditions "
                        f"({', '.join(CASES)}); this dataset holds {problem.get('name')!r} "
                        f"({problem.get('constraints', 'soft')} constraints)")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        toolkit, interior, boundary = pool.submit(run_toolkit, table, steps, passes, lr, seed).result()
    deepxde = None
    if deepxde_available():
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            deepxde = pool.submit(run_deepxde, table, steps, lr, seed).result()
    return PinnComparison(table, str(problem["name"]), interior, boundary, toolkit, deepxde)
