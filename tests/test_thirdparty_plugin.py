"""Separately installed packages that declare their own entry points show up and train like built-ins.

tests/fixtures/thirdparty_plugin holds one example of every plugin kind (table generators for a trajectories
dataset and a collocation problem, the two problems they pose, a row task, a model, a weighting, a physics loss):
trained here from the CLI through the toolkit's one trainer, its PDEs by the built-in ``rollout`` and ``pinn``
tasks, which know them only through the problems registry. tests/fixtures/broken_plugin holds faulty plugins, which must be
skipped, refused or flagged without hiding the others. Each package is pip-installed (no dependencies, no build
isolation) into a temporary target directory that is put on the path, so the project's environment is left
untouched.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from surrogate import registry
from surrogate.contracts import DataStatistics, StepContext, TrainingState
from waits import HANG_S

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "thirdparty_plugin"
SPECIES = ["H2", "O2", "H2O", "OH", "N2"]


def install(package: Path, work: Path) -> Path:
    pytest.importorskip("setuptools", reason="building the fixture package without isolation needs setuptools")
    source = shutil.copytree(package, work / "source")  # pip builds in place: keep the fixture directory clean
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True)
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return install(FIXTURE, tmp_path_factory.mktemp("thirdparty"))


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    return install(FIXTURES / "broken_plugin", tmp_path_factory.mktemp("broken"))


@pytest.fixture
def on_path(site):
    """The installed package importable and its entry points visible in this process, then removed."""
    sys.path.insert(0, str(site))
    registry.refresh()
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("surrogate_plugin_example")]:
        del sys.modules[name]
    registry.refresh()


def cli(site: Path | list[Path], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    sites = [str(path) for path in (site if isinstance(site, list) else [site])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sites, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", "from surrogate.cli.main import cli; cli()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=HANG_S)


def test_installed_package_is_listed_by_surrogate_plugins(site):
    weightings = cli(site, "plugins", "--kind", "weightings")
    assert weightings.returncode == 0, weightings.stderr
    line = next(text for text in weightings.stdout.splitlines() if text.strip().startswith("relative "))
    assert "w_i = 1/mean(y_i^2)" in line and "surrogate-plugin-example 0.1.0" in line
    assert "floor=1e-30 (float, > 0): smallest mean square allowed" in weightings.stdout
    assert "uniform " in weightings.stdout  # the built-ins are still there
    physics = cli(site, "plugins", "--kind", "physics")
    assert "mass-sum" in physics.stdout and "predicted Y_* must sum to one" in physics.stdout
    everything = cli(site, "plugins")
    assert everything.returncode == 0 and not everything.stderr, everything.stderr
    for name in ("heat-trajectories", "poisson-1d", "worst-output", "linear", "regression"):
        assert any(line.strip().startswith(name + " ") for line in everything.stdout.splitlines()), name
    problems = cli(site, "plugins", "--kind", "problems")
    assert "surrogate.problems" in problems.stdout and "k=2.0 (float, > 0)" in problems.stdout
    assert "periodic 1-D heat equation" in problems.stdout and "kdv " in problems.stdout


def test_registry_loads_the_plugin_and_its_weights_are_the_inverse_mean_square(on_path):
    import torch

    cls, options = registry.configure("weightings", "relative", {"floor": "1e-20"})
    assert cls.__module__ == "surrogate_plugin_example" and options == {"floor": 1e-20}
    stats = DataStatistics(["Y_A", "Y_B"], mean={"Y_A": 0.2, "Y_B": 0.01}, variance={"Y_A": 0.01, "Y_B": 1e-4},
                           n_samples=10)
    loss, weights = cls(stats, ["data/Y_A", "data/Y_B"], **options).combine(
        {"data/Y_A": torch.tensor([1.0, 3.0]), "data/Y_B": torch.tensor([0.5])},
        StepContext(state=TrainingState(), shared_parameters=[]))
    assert weights == pytest.approx({"data/Y_A": 1 / 0.05, "data/Y_B": 1 / 2e-4})
    assert float(loss) == pytest.approx(2.0 / 0.05 + 0.5 / 2e-4)
    assert registry.load("physics", "mass-sum").description == "predicted Y_* must sum to one"


def write_equilibrium_table(path: Path) -> np.ndarray:
    """A small real table: HP equilibrium of hydrogen/air blends over Z and the unburnt temperature T0."""
    import cantera as ct

    from surrogate.table import Column, DatasetDefaults, write_table

    gas = ct.Solution("h2o2.yaml")
    gas.TPX = 300.0, ct.one_atm, "H2:1"
    fuel = gas.Y.copy()
    gas.TPX = 300.0, ct.one_atm, "O2:0.21, N2:0.79"
    oxidizer = gas.Y.copy()
    rows = []
    for z in np.linspace(0.002, 0.2, 12):
        for t0 in np.linspace(300.0, 600.0, 5):
            gas.TPY = t0, ct.one_atm, z * fuel + (1.0 - z) * oxidizer
            gas.equilibrate("HP")
            rows.append([z, t0, *(gas.Y[gas.species_index(s)] for s in SPECIES)])
    data = np.array(rows)
    inputs = [Column("Z", data[:, 0], "-", "mixture fraction"), Column("T0", data[:, 1], "K", "unburnt temperature")]
    outputs = [Column(f"Y_{s}", data[:, 2 + k], "-", f"mass fraction of {s}") for k, s in enumerate(SPECIES)]
    closed = DatasetDefaults(softmax_outputs=[column.name for column in outputs])
    write_table(path, kind="equilibrium", inputs=inputs, outputs=outputs, attrs={"mechanism": "h2o2.yaml"},
                defaults=closed)
    return data[:, 2:]


@pytest.mark.slow
def test_surrogate_trains_with_the_plugin_weighting_and_physics_loss(site, tmp_path):
    Y = write_equilibrium_table(tmp_path / "table.h5")
    (tmp_path / "config.yaml").write_text("log_inputs: []\n")
    result = cli(site, "train", "table.h5", "-o", "run", "--weighting", "relative", "--physics", "mass-sum",
                 "--epochs", "2", "--config", "config.yaml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "run" / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) == 2
    train = np.load(tmp_path / "run" / "splits.npz")["train"]
    mean_square = np.mean(Y[train].astype(np.float32).astype(np.float64) ** 2, axis=0)  # trained in float32
    for k, species in enumerate(SPECIES):  # the softmax outputs stay physical: w = 1 / mean(Y^2) over train
        assert float(history[-1][f"weight/data/Y_{species}"]) == pytest.approx(1.0 / mean_square[k], rel=1e-4)
    assert float(history[-1]["train/physics/mass_sum"]) < 1e-10  # the softmax closes the predicted Y_* to one
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["test"]) == {f"Y_{s}" for s in SPECIES}


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_a_third_party_pde_trains_with_the_built_in_rollout_task(site, tmp_path):
    built = cli(site, "table", "build", "heat-trajectories", "-o", "heat.h5", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "trajectories = 12" in built.stdout
    info = cli(site, "table", "info", "heat.h5", cwd=tmp_path)
    assert info.returncode == 0 and "trajectories" in info.stdout, info.stderr
    # the dataset declares the rollout task and its problem; the linear model can represent the exact heat operator
    result = cli(site, "train", "heat.h5", "-o", "run", "--model", "linear", "--weighting", "uniform", "--epochs",
                 "100", "--lr", "1e-2", "--lr-schedule", "none", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"]["name"] == "rollout" and config["dataset"] == "trajectories"
    assert config["signature"]["inputs"][0]["shape"] == ["batch", 16]
    splits = np.load(tmp_path / "run" / "splits.npz")
    assert not set(splits["test"]) & set(splits["train"])  # whole trajectories are held out
    from surrogate.datasets import open_dataset

    truth = open_dataset(tmp_path / "heat.h5").read_field("u")[splits["test"], 1:]
    metrics = metrics_of(tmp_path / "run")["test"]
    assert np.sqrt(metrics["u"]["mse"] / np.mean(truth ** 2)) < 0.15  # 40-step Euler rollouts of unseen trajectories
    assert set(metrics) == {"u", "integral"}  # the state and the functional the third-party problem declares
    # the integral of u (zero: the initial states are sine modes) stays small against the field's own size
    assert np.sqrt(metrics["integral"]["mse"]) < 0.1 * np.sqrt(np.mean(truth ** 2))


def test_a_third_party_pde_trains_with_the_built_in_pinn_task_and_pde_loss(site, tmp_path):
    assert cli(site, "table", "build", "poisson-1d", "-o", "poisson.h5", "--k", "1", cwd=tmp_path).returncode == 0
    result = cli(site, "train", "poisson.h5", "-o", "run", "--weighting", "uniform", "--model", "mlp",
                 "--model-option", "width=20", "--model-option", "depth=2", "--epochs", "20", "--lr", "1e-2",
                 "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"]["name"] == "pinn" and config["dataset"] == "collocation"
    assert metrics_of(tmp_path / "run")["test"]["u"]["rel_l2"] < 0.2  # an untrained network is off by ~100 %
    with open(tmp_path / "run" / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    first, last = history[0], history[-1]
    assert {"train/pde/residual", "train/pde/boundary", "weight/pde/residual"} <= set(last)
    assert float(last["train/pde/residual"]) < 0.1 * float(first["train/pde/residual"])


@pytest.mark.slow
def test_a_third_party_row_task_gets_the_export_checks_of_a_row_model(site, tmp_path):
    write_equilibrium_table(tmp_path / "table.h5")
    (tmp_path / "config.yaml").write_text("log_inputs: []\n")
    trained = cli(site, "train", "table.h5", "-o", "run", "--task", "worst-output", "--epochs", "3",
                  "--config", "config.yaml", "--quiet", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    exported = cli(site, "export", "run", "-o", "model.onnx", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-2000:]
    test_rows = len(np.load(tmp_path / "run" / "splits.npz")["test"])
    assert f"{test_rows} test-split rows of" in exported.stdout  # parity on held-out rows, not sampled points
    assert "manifold bounds:" in exported.stdout  # bounds over the training rows, as for regression
    assert "not a row model" not in exported.stdout


def test_broken_plugins_are_skipped_with_a_warning_and_hide_nothing(site, broken_site, tmp_path):
    listed = cli([site, broken_site], "plugins")
    assert listed.returncode == 0, listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning: ")]
    assert any("'broken-import' from surrogate-broken-example failed to load" in line for line in warnings)
    assert any("'no-terms'" in line and "missing method terms(batch)" in line for line in warnings)
    assert any("'old-signature'" in line and "build(n_inputs, n_outputs, *, output_names)" in line
               for line in warnings)
    for name in ("relative", "inverse-variance", "heat-trajectories", "mass-sum"):  # the rest is all there
        assert name in listed.stdout
    assert "surrogate-broken-example:uniform" in listed.stdout and "thermo-surrogate:uniform" in listed.stdout


def test_a_plugin_that_breaks_its_contract_is_refused_before_any_file_is_written(broken_site, tmp_path):
    from tests.synthetic import synthetic_table

    synthetic_table(tmp_path / "t.h5", n_rows=400)
    for flags, needle in ((["--physics", "no-terms"], "missing method terms(batch)"),
                          (["--model", "old-signature"], "cannot be called as build(n_inputs, n_outputs"),
                          (["--weighting", "broken-import"], "failed to load")):
        result = cli(broken_site, "train", "t.h5", "-o", "run", "--epochs", "1", "--quiet", *flags, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        error = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(error) == 1 and needle in error[0] and "surrogate-broken-example" in error[0], result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "run").exists()


def test_a_bug_in_a_plugin_shows_its_traceback_and_how_to_report_it(broken_site, tmp_path):
    from tests.synthetic import synthetic_table

    synthetic_table(tmp_path / "t.h5", n_rows=400)
    result = cli(broken_site, "train", "t.h5", "-o", "run", "--epochs", "1", "--physics", "crashes", "--quiet",
                 cwd=tmp_path)
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stderr and "surrogate_broken_example" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: this is a bug")


def test_a_name_registered_twice_warns_and_package_prefix_chooses(broken_site, tmp_path):
    from tests.synthetic import synthetic_table

    synthetic_table(tmp_path / "t.h5", n_rows=400)
    plain = cli(broken_site, "train", "t.h5", "-o", "a", "--epochs", "1", "--weighting", "uniform", "--quiet",
                cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert ("weighting 'uniform' is registered by thermo-surrogate and surrogate-broken-example; using "
            "thermo-surrogate") in plain.stderr
    chosen = cli(broken_site, "train", "t.h5", "-o", "b", "--epochs", "1", "--weighting",
                 "surrogate-broken-example:uniform", "--quiet", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr
    with open(tmp_path / "b" / "history.csv") as handle:
        assert float(next(csv.DictReader(handle))["weight/data/Y_H2"]) == 0.5  # the other package's strategy ran


def test_yaml_options_are_type_checked_like_command_line_options(tmp_path):
    from tests.synthetic import synthetic_table

    synthetic_table(tmp_path / "t.h5", n_rows=400)
    for text, needle in (("model_options: {width: 6.5}\n", "option width=6.5: expected int"),
                         ("epochs: 2.5\n", "epochs: expected an integer"),
                         ("weighting_options: {normalize: 3}\nweighting: inverse-variance\n",
                          "option normalize=3: expected str")):
        (tmp_path / "c.yaml").write_text(text)
        result = cli([], "train", "t.h5", "-o", "run", "--config", "c.yaml", "--quiet", cwd=tmp_path)
        assert result.returncode == 2 and needle in result.stderr, result.stderr
        assert not (tmp_path / "run").exists()
