"""A separately installed package that declares its own entry points shows up and trains like a built-in.

The package in tests/fixtures/thirdparty_plugin is pip-installed (no dependencies, no build isolation) into a
temporary target directory that is put on the path, so the project's environment is left untouched.
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
from surrogate.losses import DataStatistics, StepContext, TrainingState

FIXTURE = Path(__file__).parent / "fixtures" / "thirdparty_plugin"
SPECIES = ["H2", "O2", "H2O", "OH", "N2"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", reason="building the fixture package without isolation needs setuptools")
    work = tmp_path_factory.mktemp("thirdparty")
    source = shutil.copytree(FIXTURE, work / "source")  # pip builds in place: keep the fixture directory clean
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True)
    return target


@pytest.fixture
def on_path(site):
    """The installed package importable and its entry points visible in this process, then removed."""
    sys.path.insert(0, str(site))
    registry.available.cache_clear()
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("surrogate_plugin_example")]:
        del sys.modules[name]
    registry.available.cache_clear()


def cli(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", "from surrogate.cli.main import cli; cli()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_installed_package_is_listed_by_surrogate_plugins(site):
    weightings = cli(site, "plugins", "--kind", "weightings")
    assert weightings.returncode == 0, weightings.stderr
    line = next(text for text in weightings.stdout.splitlines() if text.strip().startswith("relative "))
    assert "w_i = 1/mean(y_i^2)" in line and "surrogate-plugin-example 0.1.0" in line
    assert "floor=1e-30 (float): smallest mean square allowed" in weightings.stdout
    assert "uniform " in weightings.stdout  # the built-ins are still there
    physics = cli(site, "plugins", "--kind", "physics")
    assert "mass-sum" in physics.stdout and "predicted Y_* must sum to one" in physics.stdout


def test_registry_loads_the_plugin_and_its_weights_are_the_inverse_mean_square(on_path):
    import torch

    cls, options = registry.configure("weightings", "relative", {"floor": "1e-20"})
    assert cls.__module__ == "surrogate_plugin_example" and options == {"floor": 1e-20}
    stats = DataStatistics(["Y_A", "Y_B"], mean={"Y_A": 0.2, "Y_B": 0.01}, variance={"Y_A": 0.01, "Y_B": 1e-4},
                           n_samples=10)
    loss, weights = cls(stats, **options).combine(
        {"data/Y_A": torch.tensor([1.0, 3.0]), "data/Y_B": torch.tensor([0.5])},
        StepContext(state=TrainingState(), shared_parameters=[]))
    assert weights == pytest.approx({"data/Y_A": 1 / 0.05, "data/Y_B": 1 / 2e-4})
    assert float(loss) == pytest.approx(2.0 / 0.05 + 0.5 / 2e-4)
    assert registry.load("physics", "mass-sum").description == "predicted Y_* must sum to one"


def write_equilibrium_table(path: Path) -> np.ndarray:
    """A small real table: HP equilibrium of hydrogen/air blends over Z and the unburnt temperature T0."""
    import cantera as ct

    from surrogate.table import Column, write_table

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
    write_table(path, kind="equilibrium", inputs=inputs, outputs=outputs, attrs={"mechanism": "h2o2.yaml"})
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
