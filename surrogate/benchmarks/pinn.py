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
sign-like steps amplify: the errors after equal steps agree in size, not to the digit. The toolkit side is
:meth:`surrogate.trainer.Trainer.train_epoch` with the validation of each epoch (the validation terms and the
task's selection score), as ``surrogate train`` runs it, without writing the run's files; an epoch is ``passes``
full-batch steps. DeepXDE reports its losses at the start and end of each of its ``train`` calls.

Each side runs in its own fresh process with one intra-op thread, set up first (imports, points, network: not
timed). Then they take turns, :data:`ROUNDS` rounds of whole epochs each, one side training while the other
waits, so a machine whose load drifts disturbs both alike; a side's time is the sum of its turns. The error of
each is the relative L2 error ‖u − u_exact‖ / ‖u_exact‖ of the final network on the toolkit task's test grid.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

CASES = ("poisson-multiscale", "poisson-2d")
ROUNDS = 5  # the sides take turns, each training a fifth of the steps per turn


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


class ToolkitSide:
    """The toolkit's training of the comparison, a number of steps at a time: whole epochs (training steps, then
    the epoch's validation, as ``surrogate train`` runs them) while the steps asked for allow."""

    def __init__(self, table: str, steps: int, passes: int, lr: float, seed: int):
        import torch

        from ..contracts import StepContext, TrainingState

        self.trainer = built_trainer(table, steps, passes, lr, seed)
        self.state = TrainingState(steps_per_epoch=self.trainer.steps_per_epoch, max_epochs=self.trainer.options.epochs)
        self.ctx = StepContext(state=self.state, shared_parameters=self.trainer.shared_parameters,
                               validation_terms=self.trainer.random_validation_terms)
        self.generator = torch.Generator().manual_seed(seed)
        points = self.trainer.task.train_points
        self.points = (len(points.interior), len(points.boundary))

    def train(self, steps: int) -> None:
        trainer, state = self.trainer, self.state
        target = state.step + steps
        while state.step < target:
            _, _, train_means = trainer.train_epoch(state, self.ctx, self.generator, steps=target - state.step)
            val_means = trainer.evaluate_terms("val") or train_means
            trainer.task.score(val_means)
            self.ctx.validation = val_means
            trainer.strategy.observe_epoch(train_means, val_means, state)
            state.epoch += 1

    def error(self) -> float:
        return self.trainer.task.errors()["rel_l2"]


class DeepXDESide:
    """DeepXDE on the toolkit task's points (see the module docstring), a number of steps at a time."""

    def __init__(self, table: str, steps: int, passes: int, lr: float, seed: int):
        os.environ.setdefault("DDE_BACKEND", "pytorch")
        import torch

        trainer = built_trainer(table, steps, 1, lr, seed)  # the task's points, network, grid and equation
        self.task, equation = trainer.task, trainer.task.equation
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import deepxde as dde  # (it prints its backend on import)

        torch.set_num_threads(1)
        dde.config.set_random_seed(seed)
        points = self.task.train_points
        axes = len(self.task.input_names)
        lo, hi = zip(*self.task.ranges)
        geometry = dde.geometry.Interval(lo[0], hi[0]) if axes == 1 else dde.geometry.Rectangle(list(lo), list(hi))

        def pde(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            laplacian = sum(dde.grad.hessian(u, x, i=a, j=a) for a in range(axes))
            return laplacian + forcing(equation, x)

        # the residual at the interior points (anchors), u = u_exact at the boundary points (a point-set condition)
        condition = dde.icbc.PointSetBC(points.boundary.cpu().numpy(),
                                        equation.exact(points.boundary).cpu().numpy())
        data = dde.data.PDE(geometry, pde, [condition], num_domain=0, num_boundary=0,
                            anchors=points.interior.cpu().numpy())
        network = dde.nn.FNN([axes] + [50] * 4 + [1], "tanh", "Glorot normal")
        network.apply_feature_transform(self.task.model.input_scaler)  # the toolkit's scaling to [-1, 1]
        start_from(network.linears, trainer.trainable)
        self.model = dde.Model(data, network)
        with contextlib.redirect_stdout(io.StringIO()):
            self.model.compile("adam", lr=lr)
        self.points = (len(points.interior), len(points.boundary))

    def train(self, steps: int) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # DeepXDE's own progress lines
            self.model.train(iterations=steps, display_every=steps, verbose=0)  # continues where it stopped

    def error(self) -> float:
        import torch

        predicted = torch.as_tensor(self.model.predict(self.task.grid.double().cpu().numpy()), dtype=torch.float64)
        exact_u = self.task.exact.double().cpu()
        return float(torch.linalg.norm(predicted - exact_u) / torch.linalg.norm(exact_u))


SIDES = {"toolkit": ToolkitSide, "deepxde": DeepXDESide}


def serve(side: str, arguments: tuple, connection: Any) -> None:
    """A side in its own process: built, then trains the steps the parent sends (timing each request, wall
    clock and CPU time), until None; then sends its error. A failure is sent as its message."""
    try:
        import torch

        torch.set_num_threads(1)
        runner = SIDES[side](*arguments)
        connection.send(runner.points)
        while (steps := connection.recv()) is not None:
            began, cpu = time.perf_counter(), time.process_time()
            runner.train(steps)
            connection.send((time.perf_counter() - began, time.process_time() - cpu))
        connection.send(runner.error())
    except BaseException as exc:  # report, never leave the parent waiting
        connection.send(f"{side}: {exc.__class__.__name__}: {exc}")


def rounds_of(steps: int, passes: int) -> list[int]:
    """The steps of each round: :data:`ROUNDS` rounds of whole epochs (the last one takes what is left)."""
    per_round = max(passes, math.ceil(steps / ROUNDS / passes) * passes)
    chunks = [per_round] * (steps // per_round)
    return chunks + ([steps % per_round] if steps % per_round else [])


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
    """Both sides on `table` (DeepXDE only when installed), each in its own fresh process, taking turns."""
    import multiprocessing

    from ..datasets import open_dataset
    from ..errors import UserError

    problem = dict(open_dataset(table).problem or {})
    if problem.get("name") not in CASES or problem.get("constraints", "soft") != "soft":
        raise UserError(f"{table}: bench pinn compares Poisson problems with soft boundary conditions "
                        f"({', '.join(CASES)}); this dataset holds {problem.get('name')!r} "
                        f"({problem.get('constraints', 'soft')} constraints)")
    context = multiprocessing.get_context("spawn")
    names = ["toolkit", "deepxde"] if deepxde_available() else ["toolkit"]
    connections, processes = {}, []
    for name in names:
        parent, child = context.Pipe()
        process = context.Process(target=serve, args=(name, (table, steps, passes, lr, seed), child), daemon=True)
        process.start()
        connections[name] = parent
        processes.append(process)

    def answer(name: str) -> Any:
        try:
            value = connections[name].recv()
        except EOFError:
            raise UserError(f"bench pinn: the {name} process ended without an answer (killed? out of "
                            "memory?)") from None
        if isinstance(value, str):
            raise UserError(f"bench pinn: {value}")
        return value

    try:
        points = {name: answer(name) for name in names}
        wall, cpu = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
        for chunk in rounds_of(steps, passes):
            for name in names:
                connections[name].send(chunk)
                seconds, cpu_seconds = answer(name)
                wall[name] += seconds
                cpu[name] += cpu_seconds
        for name in names:
            connections[name].send(None)
        sides = {name: PinnSide(wall[name] / steps, cpu[name] / steps, answer(name), steps) for name in names}
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    interior, boundary = points["toolkit"]
    return PinnComparison(table, str(problem["name"]), interior, boundary, sides["toolkit"], sides.get("deepxde"))
