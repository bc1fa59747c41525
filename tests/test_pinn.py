"""Physics-informed training on the built-in PDE problems: residuals by autograd, grouping, the pinn task,
two-stage optimization (Adam then L-BFGS), float64 training, comparison and export of a PINN."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from plugins.pde.equations import second
from plugins.tasks.collocation import box
from surrogate import registry
from surrogate.cli.main import cli
from surrogate.contracts import Batch, PhysicsContext
from surrogate.datasets import open_dataset
from surrogate.errors import PluginError
from surrogate.trainer import Trainer, TrainOptions, train
from tests.torch_threads import one_thread  # noqa: F401  (small PINNs: one torch thread)

TWO_PI = 2 * math.pi
EQUATIONS = {name: registry.load("problems", name)  # the built-in collocation problems, from the registry
             for name in ("heat", "poisson-2d", "poisson-multiscale", "sharp-layer")}


def problem(tmp_path, name: str, **options) -> str:
    """A collocation dataset of a built-in problem, written by its table generator."""
    generator, resolved = registry.configure("tables", name, {k: str(v) for k, v in options.items()})
    return str(generator.build(tmp_path / f"{name}.h5", progress=False, **resolved).path)


def pde_loss(path: str, **options):
    dataset = open_dataset(path)
    loss_cls, resolved = registry.configure("physics", "pde", {k: str(v) for k, v in options.items()})
    return loss_cls(PhysicsContext(dataset.input_names, dataset.output_names, dict(dataset.attrs)), **resolved)


def batch_of(points: torch.Tensor, u: torch.Tensor, extras: dict | None = None) -> Batch:
    return Batch(x=points, x_phys=points, y=None, y_pred=u, y_pred_phys=u, input_names=[], output_names=["u"],
                 model=torch.nn.Identity(), extras=extras or {})


@pytest.mark.parametrize("name", sorted(EQUATIONS))
def test_exact_solution_has_zero_residual_boundary_and_initial_terms(tmp_path, name):
    loss = pde_loss(problem(tmp_path, name))
    ranges = list(EQUATIONS[name].domain().values())
    points = box(ranges, 500, "random", torch.Generator().manual_seed(0), torch.float64).requires_grad_(True)
    u = loss.equation.exact(points)
    edges = box(ranges, 64, "uniform", None, torch.float64)
    terms = loss.terms(batch_of(points, u, {part: (edges, loss.equation.exact(edges)) for part in loss.conditions}))
    curvature = max(float(second(u, points, axis).detach().abs().max()) for axis in range(len(ranges)))
    assert curvature > 10  # the solution is not trivially flat
    assert math.sqrt(float(terms["pde/residual"].detach().max())) < 1e-10 * curvature
    for part in loss.conditions:
        assert float(terms[f"pde/{part}"].max()) == 0.0


class Polynomial(torch.nn.Module):
    """u(points) given as a formula, standing in for a network whose derivatives are known by hand."""

    def __init__(self, formula):
        super().__init__()
        self.formula = formula

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.formula(p[:, :1], p[:, 1:2])


@pytest.mark.parametrize("name, u, residual", [
    # -u'' = f: r = u'' + f with f = (2π)² sin 2πx + a (2πk)² sin 2πkx (k = 10, a = 0.1)
    ("poisson-multiscale", lambda x, y: x ** 3 - 2 * x ** 2,
     lambda x, y: 6 * x - 4 + TWO_PI ** 2 * torch.sin(TWO_PI * x) + 0.1 * (TWO_PI * 10) ** 2 * torch.sin(TWO_PI * 10 * x)),
    # -(u_xx + u_yy) = f: r = 2y³ + 6x²y + f
    ("poisson-2d", lambda x, y: x ** 2 * y ** 3,
     lambda x, y: 2 * y ** 3 + 6 * x ** 2 * y + 2 * TWO_PI ** 2 * torch.sin(TWO_PI * x) * torch.sin(TWO_PI * y)
     + 0.1 * 2 * (TWO_PI * 4) ** 2 * torch.sin(TWO_PI * 4 * x) * torch.sin(TWO_PI * 4 * y)),
    # u_t = nu u_xx (nu = 0.05): u = x² t + t² gives r = x² + 2t - 0.05 * 2t
    ("heat", lambda x, t: x ** 2 * t + t ** 2, lambda x, t: x ** 2 + 2 * t - 0.05 * 2 * t),
])
def test_autograd_residual_of_a_polynomial_network_equals_the_hand_computed_one(tmp_path, name, u, residual):
    loss = pde_loss(problem(tmp_path, name))
    ranges = list(EQUATIONS[name].domain().values())
    points = box(ranges, 200, "random", torch.Generator().manual_seed(1), torch.float64).requires_grad_(True)
    network = Polynomial(u)
    extras = {part: (points, network(points)) for part in loss.conditions}
    computed = loss.terms(batch_of(points, network(points), extras))["pde/residual"]
    expected = residual(points[:, :1], points[:, 1:2]).detach()[:, 0] ** 2
    assert torch.allclose(computed, expected, rtol=1e-10, atol=1e-9)


def test_grouped_residual_terms_average_over_their_own_subdomain_and_add_up_to_the_ungrouped_residual(tmp_path):
    path = problem(tmp_path, "sharp-layer")
    points = torch.rand(400, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    u = torch.sin(3 * points) + points ** 4
    ends = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    extras = {"boundary": (ends, ends)}
    whole = pde_loss(path).terms(batch_of(points, u, extras))["pde/residual"]
    for options, names in (({"groups": 4}, [f"pde/residual/g{g}" for g in range(4)]),
                           ({"breaks": "0.4,0.6"}, ["pde/residual/g0", "pde/residual/g1", "pde/residual/g2"])):
        loss = pde_loss(path, **options)
        assert loss.term_names() == [*names, "pde/boundary"]
        terms = loss.terms(batch_of(points, u, extras))
        parts = torch.stack([terms[name] for name in names])
        assert ((parts != 0).sum(dim=0) <= 1).all()  # each point belongs to one subdomain
        shares = (parts != 0).double().mean(dim=1, keepdim=True)  # N_g / N (r² is nowhere exactly 0 here)
        assert torch.allclose((shares * parts).sum(dim=0), whole, rtol=1e-14, atol=0)
    middle = pde_loss(path, breaks="0.4,0.6").terms(batch_of(points, u, extras))["pde/residual/g1"]
    inside = ((points[:, 0] >= 0.4) & (points[:, 0] < 0.6)).detach()
    assert torch.equal(middle != 0, inside & (whole != 0))
    # MMPINN's group loss L_g is the mean of r² over the subdomain's own points, not over all N points
    assert 20 < int(inside.sum()) < 200
    assert float(middle.mean()) == pytest.approx(float(whole[inside].mean()), rel=1e-12)


def test_grouping_rejects_breaks_outside_the_domain_in_one_line(tmp_path):
    with pytest.raises(PluginError, match="breaks .* must increase strictly inside x"):
        pde_loss(problem(tmp_path, "sharp-layer"), breaks="0.6,1.2")


def test_power_strategy_gives_each_residual_group_its_own_exponent():
    from surrogate.contracts import DataStatistics, StepContext, TrainingState

    names = ["pde/residual/g0", "pde/residual/g1", "pde/boundary"]
    strategy_cls, options = registry.configure("weightings", "power",
                                               {"exponents": "pde/residual/g0:2,pde/residual/g1:4"})
    strategy = strategy_cls(DataStatistics([], {}, {}, 1), names, **options)
    terms = {"pde/residual/g0": torch.full((8,), 16.0), "pde/residual/g1": torch.full((8,), 81.0),
             "pde/boundary": torch.full((2,), 0.5)}
    loss, weights = strategy.combine(terms, StepContext(TrainingState(), []))
    assert float(loss) == pytest.approx(16 ** 0.5 + 81 ** 0.25 + 0.5)
    assert weights["pde/boundary"] == pytest.approx(1.0)
    one_key, options = registry.configure("weightings", "power", {"exponents": "pde/residual:2"})
    loss, _ = one_key(DataStatistics([], {}, {}, 1), names, **options).combine(terms, StepContext(TrainingState(), []))
    assert float(loss) == pytest.approx(16 ** 0.5 + 81 ** 0.5 + 0.5)  # the parent name covers every group


def small_run(table: str, **overrides) -> TrainOptions:
    options = dict(table=table, epochs=30, batch_size=128, model="mlp", model_options={"depth": 2, "width": 20},
                   lr=1e-2, weighting="uniform", seed=0, dtype="float64")
    return TrainOptions(**{**options, **overrides})


def test_short_training_on_poisson_lowers_the_error_tenfold(tmp_path):
    table = problem(tmp_path, "poisson-multiscale", k=2, points=128)
    trainer = Trainer(small_run(table, lbfgs_epochs=5), tmp_path / "run", progress=False)
    trainer.build()
    initial = trainer.task.errors()["rel_l2"]
    result = trainer.fit()
    assert result.metrics["test"]["u"]["rel_l2"] < initial / 10
    assert result.metrics["test"]["u"]["rel_l2"] < 0.01


def read_history(run_dir) -> list[dict[str, float]]:
    with open(run_dir / "history.csv") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.mark.parametrize("stop_after", [3, 4])  # at the stage boundary, and inside the L-BFGS stage
def test_lbfgs_stage_follows_adam_and_resumes_across_the_boundary(tmp_path, stop_after):
    table = problem(tmp_path, "poisson-multiscale", k=2, points=64)
    options = small_run(table, epochs=3, lbfgs_epochs=3)
    full = train(options, tmp_path / "full", progress=False)
    history = read_history(full.run_dir)
    assert [row["stage"] for row in history] == [1, 1, 1, 2, 2, 2]
    assert history[3]["lr"] == 1.0 and history[-1]["train_loss"] < history[2]["train_loss"]
    short = TrainOptions(**{**options.__dict__, "lbfgs_epochs": stop_after - 3})
    train(short, tmp_path / "resumed", progress=False)
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    config["trainer"]["lbfgs_epochs"] = 3
    (tmp_path / "resumed" / "config.json").write_text(json.dumps(config))
    resumed = train(options, tmp_path / "resumed", resume=True, progress=False)
    assert [row["epoch"] for row in read_history(resumed.run_dir)] == [1, 2, 3, 4, 5, 6]
    a = torch.load(full.run_dir / "model.pt", weights_only=True)
    b = torch.load(resumed.run_dir / "model.pt", weights_only=True)
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-9, atol=1e-12), key


def test_each_problem_trains_from_the_cli_and_writes_its_solution_plot(tmp_path):
    runner = CliRunner()
    for name, options in (("sharp-layer", ["--points", "64"]), ("poisson-2d", ["--points", "64"]),
                          ("heat", ["--points", "64", "--sampling", "resample"])):
        table = tmp_path / f"{name}.h5"
        built = runner.invoke(cli, ["table", "build", name, "-o", str(table), "--boundary-points", "16",
                                    "--initial-points", "16", *options])
        assert built.exit_code == 0, built.output
        result = runner.invoke(cli, ["train", str(table), "-o", str(tmp_path / name), "--epochs", "1", "--quiet",
                                     "--model", "mlp", "--model-option", "width=8", "--task-option", "passes=1",
                                     "--task-option", "grid_points=400"])
        assert result.exit_code == 0, result.output
        assert "rel_l2" in result.output
        assert (tmp_path / name / "plots" / "solution.png").stat().st_size > 1000
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["task"]["name"] == "pinn" and config["trainer"]["physics"] == ["pde"]
        assert config["inputs"] == list(EQUATIONS[name].domain())


def test_compare_tabulates_the_relative_l2_error_on_a_pde_problem(tmp_path):
    table = problem(tmp_path, "poisson-multiscale", k=2, points=64)
    result = CliRunner().invoke(cli, ["compare", table, "--weighting", "uniform", "--weighting", "power",
                                      "--weighting-option", "power.exponents=pde/residual:3", "--epochs", "2",
                                      "--model", "mlp", "--quiet", "-o", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["rel.", "L2", "uniform", "power"]
    baseline = result.output.splitlines()[result.output.splitlines().index("trivial baselines:") + 2]
    assert baseline.split() == ["u", "1.000e+00"]  # sin modes vanish at both ends: the interpolant is zero
    rows = (tmp_path / "cmp" / "compare.csv").read_text().splitlines()
    assert rows[0] == "output,uniform,power" and rows[1].startswith("u,")
    errors = [float(v) for v in rows[1].split(",")[1:]]
    assert all(0 < e < 10 for e in errors)
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 1000


def test_multiscale_fourier_network_shares_one_trunk_across_scales():
    model_cls, options = registry.configure("models", "multiscale-fourier-mlp", {"sigmas": "1,5,20", "width": "16",
                                                                                  "depth": "2"})
    network = model_cls.build(2, 1, output_names=["u"], **options)
    assert [float(f.B.std()) for f in network.features] == sorted(float(f.B.std()) for f in network.features)
    assert network.head.in_features == 3 * 16
    linears = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3  # two trunk layers used by every scale, one head
    assert network(torch.zeros(5, 2)).shape == (5, 1)


def test_float64_training_exports_a_float32_onnx_model_with_parity(tmp_path):
    import onnxruntime

    table = problem(tmp_path, "poisson-multiscale", k=2, points=64)
    train(small_run(table, epochs=2, model="multiscale-fourier-mlp",
                    model_options={"depth": 2, "width": 16, "frequencies": 8}), tmp_path / "run", progress=False)
    assert torch.load(tmp_path / "run" / "model.pt", weights_only=True)["network.head.weight"].dtype == torch.float64
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "u.onnx")])
    assert result.exit_code == 0, result.output
    session = onnxruntime.InferenceSession(str(tmp_path / "u.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("inputs", "tensor(float)")]
    x = np.linspace(0, 1, 11, dtype=np.float32)[:, None]
    from surrogate.run import load_run

    expected = load_run(tmp_path / "run").predict(x)
    assert np.allclose(session.run(None, {"inputs": x})[0], expected, atol=1e-5)


def test_initial_value_normalization_divides_each_term_by_its_first_value_and_keeps_it():
    from surrogate.contracts import DataStatistics, StepContext, TrainingState

    strategy_cls, options = registry.configure("weightings", "initial-value", {})
    names = ["pde/residual", "pde/boundary"]
    strategy = strategy_cls(DataStatistics([], {}, {}, 1), names, **options)
    ctx = StepContext(TrainingState(), [])
    first = {"pde/residual": torch.full((4,), 1e4), "pde/boundary": torch.full((2,), 1e-2)}
    loss, weights = strategy.combine(first, ctx)
    assert float(loss) == pytest.approx(2.0) and weights["pde/residual"] == pytest.approx(1e-4)
    later = {"pde/residual": torch.full((4,), 1e2), "pde/boundary": torch.full((2,), 1e-2)}
    restored = strategy_cls(DataStatistics([], {}, {}, 1), names, **options)
    restored.load_state_dict(strategy.state_dict())
    loss, weights = restored.combine(later, ctx)
    assert float(loss) == pytest.approx(1e-2 + 1.0) and weights["pde/boundary"] == pytest.approx(1e2)


@pytest.mark.parametrize("name", ["poisson-2d", "heat", "sharp-layer"])
def test_hard_constraints_meet_the_boundary_and_initial_data_whatever_the_network(tmp_path, name):
    from plugins.tasks.collocation import boundary, face
    from plugins.tasks.pinn import constrained

    dataset = open_dataset(problem(tmp_path, name, constraints="hard"))
    equation = EQUATIONS[name](dataset.problem)
    ranges = [dataset.domain[n] for n in dataset.input_names]
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(len(ranges), 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    model = constrained(network, dataset.problem, dict(zip(dataset.input_names, ranges)))
    lo, hi = torch.tensor(ranges, dtype=torch.float64).T

    @torch.no_grad()
    def u(points: torch.Tensor) -> torch.Tensor:
        return model(2 * (points - lo) / (hi - lo) - 1)

    spatial = [dataset.input_names.index(n) for n in equation.spatial]
    faces = [boundary(ranges, spatial, 64, "random", torch.Generator().manual_seed(1), torch.float64)]
    if equation.time:
        t = dataset.input_names.index(equation.time)
        faces.append(face(ranges, t, ranges[t][0], 64, "random", torch.Generator().manual_seed(2), torch.float64))
    for points in faces:
        assert float((u(points) - equation.exact(points)).abs().max()) < 1e-12
    inside = box(ranges, 64, "random", torch.Generator().manual_seed(3), torch.float64)
    assert float((u(inside) - equation.exact(inside)).abs().max()) > 1e-3  # the network still shapes the inside
    assert pde_loss(dataset.path).term_names() == ["pde/residual"]  # nothing left for boundary terms to hold


def test_hard_constraints_train_on_the_residual_alone_and_export_with_parity(tmp_path):
    import onnxruntime

    from surrogate.run import load_run

    table = problem(tmp_path, "poisson-multiscale", k=2, points=128, constraints="hard")
    trainer = Trainer(small_run(table), tmp_path / "run", progress=False)
    trainer.build()
    initial = trainer.task.errors()["rel_l2"]
    result = trainer.fit()
    assert result.metrics["test"]["u"]["rel_l2"] < initial / 10
    exported = CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "u.onnx")])
    assert exported.exit_code == 0, exported.output
    session = onnxruntime.InferenceSession(str(tmp_path / "u.onnx"), providers=["CPUExecutionProvider"])
    x = np.linspace(0, 1, 11, dtype=np.float32)[:, None]
    onnx_u = session.run(None, {"inputs": x})[0]
    assert np.allclose(onnx_u, load_run(tmp_path / "run").predict(x), atol=1e-5)
    assert abs(onnx_u[0, 0]) < 1e-6 and abs(onnx_u[-1, 0]) < 1e-5  # u(0) = u(1) = 0 exactly, in the ONNX graph too


def test_the_kept_epoch_is_chosen_without_the_test_grid(tmp_path, monkeypatch):
    """select=error measures on its own validation points: moving the exact solution on the test grid changes
    the reported error, never the validation scores or the kept epoch."""
    from plugins.tasks.pinn import Pinn

    table = problem(tmp_path, "poisson-multiscale", k=2, points=64)
    options = small_run(table, epochs=12, lr=3e-2)
    honest = train(options, tmp_path / "honest", progress=False)
    setup = Pinn.setup

    def perturbed_test_grid(self, network, closure):
        setup(self, network, closure)
        self.exact = self.exact + 0.5 * torch.sin(7 * self.grid[:, :1])

    monkeypatch.setattr(Pinn, "setup", perturbed_test_grid)
    perturbed = train(options, tmp_path / "perturbed", progress=False)
    assert [row["val_score"] for row in perturbed.history] == [row["val_score"] for row in honest.history]
    assert perturbed.best_epoch == honest.best_epoch
    assert perturbed.metrics["test"]["u"]["rel_l2"] != pytest.approx(honest.metrics["test"]["u"]["rel_l2"], rel=1e-3)
    metrics = json.loads((tmp_path / "honest" / "metrics.json").read_text())
    assert metrics["kept_epoch"] == honest.best_epoch and metrics["last_epoch"]["epoch"] == 12
    if honest.best_epoch == 12:
        assert metrics["last_epoch"]["test"] == metrics["test"]


def test_boundary_interpolant_baseline_is_the_line_between_the_boundary_values(tmp_path):
    """Sharp layer at x0 = 0.3: the data alone gives the line from u(0) to u(1); its relative L2 error on the test
    grid, computed by hand, is the baseline the run reports, and a trained model is judged against it."""
    table = problem(tmp_path, "sharp-layer", x0=0.3, width=0.1, points=64)
    trainer = Trainer(small_run(table, epochs=1, task_options={"grid_points": 101}), tmp_path / "run", progress=False)
    trainer.build()
    x = np.linspace(0, 1, 101)
    u = np.tanh((x - 0.3) / 0.1)
    line = u[0] + (u[-1] - u[0]) * x
    baselines = trainer.task.baselines("test")
    assert list(baselines.scores) == ["interpolant of the boundary data"]
    reported = baselines.scores["interpolant of the boundary data"]["u"]
    assert reported["rel_l2"] == pytest.approx(np.linalg.norm(line - u) / np.linalg.norm(u), rel=1e-9)
    assert reported["max_abs"] == pytest.approx(np.abs(line - u).max(), rel=1e-9)
    result = trainer.fit()
    verdict = result.metrics["baselines"]["headline"]["interpolant of the boundary data"]
    assert verdict == {"model": result.metrics["test"]["u"]["rel_l2"], "baseline": reported["rel_l2"]}
    assert result.metrics["beats_baselines"] == (verdict["model"] < verdict["baseline"])


def test_a_dataset_naming_a_problem_that_is_not_installed_is_refused_in_one_line(tmp_path):
    from surrogate.datasets import write_collocation

    write_collocation(tmp_path / "p.h5", kind="mine", domain={"x": (0.0, 1.0)}, outputs=["u"],
                      problem={"name": "no-such-problem"}, attrs={"task": "pinn", "physics": ["pde"]})
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "p.h5"), "-o", str(tmp_path / "run"), "--quiet"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "unknown problem 'no-such-problem'" in lines[0] and "poisson-multiscale" in lines[0]  # lists the installed
    assert not (tmp_path / "run").exists()


def test_building_a_collocation_problem_says_what_it_wrote_not_zero_rows(tmp_path):
    target = tmp_path / "poisson.h5"
    result = CliRunner().invoke(cli, ["table", "build", "poisson-multiscale", "-o", str(target)])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"wrote {target}: a collocation problem on x in [0, 1] for u (no stored rows: the "
                            "collocation points are drawn by the training task)")
    assert "0 rows" not in result.output


def test_a_grid_larger_than_the_batch_is_split_into_equal_batches_not_a_few_points_left_over(tmp_path):
    """50 requested points in 2-D make an 8 x 8 grid: a batch size of 50 gives two batches of 32 (every point once
    per pass), not 50 and then the 14 left over."""
    options = TrainOptions(table=problem(tmp_path, "poisson-2d", points=50), model="mlp", batch_size=50,
                           epochs=1, device="cpu", task_options={"passes": 3})
    trainer = Trainer(options, run_dir=tmp_path / "run", progress=False)
    trainer.build()
    batches = list(trainer.task.batches("train", 50, torch.Generator().manual_seed(0)))
    assert [len(batch.interior) for batch in batches] == [32] * 6
    assert trainer.steps_per_epoch == 6
    grid = {tuple(point.tolist()) for point in trainer.task.train_points.interior}
    assert {tuple(point.tolist()) for batch in batches[:2] for point in batch.interior} == grid
