"""Trajectory generators `kdv` and `cahn-hilliard`: the discrete conservation laws hold, a soliton travels at
its speed, builds are parallel, deterministic and declare what the rollout task needs."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from plugins.pde.functionals import largest_increase, relative_drift
from plugins.pde.kdv import KdV, soliton
from plugins.time_schemes import integrate
from surrogate import registry
from surrogate.cli.main import cli
from surrogate.datasets import open_dataset


def build(kind: str, path, **given):
    generator, options = registry.configure("tables", kind, {"trajectories": 4, "steps": 100, "workers": 1, **given})
    generator.build(path, progress=False, **options)
    return open_dataset(path)


def test_kdv_conserves_mass_and_energy_to_1e_8(tmp_path):
    data = build("kdv", tmp_path / "kdv.h5")
    assert data.attrs["task"] == "rollout" and data.shape == (4, 101, 50) and data.dt == 1e-3
    for name in ("mass", "energy"):
        assert relative_drift(data.read_group("conserved", name)) <= 1e-8
    u, dx = data.read_field("u"), float(data.grid["x"][1])
    problem = registry.problem_for(data.attrs, "test")  # the problem the file names
    energy = problem.functionals()["energy"](u, dx)  # the problem's definition gives the stored values
    np.testing.assert_allclose(energy, data.read_group("conserved", "energy"), rtol=1e-12)
    assert u.max() > 1.0  # two solitons of height 2k² >= 0.5 each, overlapping at times


def test_cahn_hilliard_conserves_mass_and_never_gains_free_energy(tmp_path):
    data = build("cahn-hilliard", tmp_path / "ch.h5")
    mass, energy = data.read_group("conserved", "mass"), data.read_group("conserved", "energy")
    assert np.abs(mass - mass[:, :1]).max() <= 1e-12
    assert largest_increase(energy) <= 1e-12
    assert energy[:, -1].max() < energy[:, 0].min()  # separation lowers the free energy
    assert np.abs(data.read_field("u")[:, -1]).max() > 0.5  # noise of 0.05 has grown into phases


def fitted_position(u: np.ndarray, x: np.ndarray, speed: float, length: float) -> float:
    """Position of the soliton profile of this speed closest to u (least squares over 0.001 shifts)."""
    guesses = x[np.argmax(u)] + np.arange(-0.2, 0.2, 1e-3)
    return float(guesses[np.argmin([np.sum((u - soliton(x, speed, p, length)) ** 2) for p in guesses])])


def test_single_soliton_travels_at_its_speed():
    speed, length, points, dt, steps = 1.0, 20.0, 200, 0.01, 400
    x = length * np.arange(points) / points
    u = np.stack(integrate(lambda v: KdV.rate(v, x[1]), soliton(x, speed, 5.0, length), dt, steps, "rk4", 20))
    exact = soliton(x, speed, 5.0 + speed * dt * steps, length)
    assert np.abs(u[-1] - exact).max() <= 2e-3 * exact.max()  # the shape travels unchanged
    positions = [fitted_position(state, x, speed, length) for state in u[::100]]
    np.testing.assert_allclose(np.diff(positions) / (100 * dt), speed, rtol=3e-3)


def test_build_is_parallel_deterministic_and_reports_conservation(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["table", "build", "kdv", "-o", str(tmp_path / "pool.h5"), "--trajectories", "64",
                                 "--steps", "20", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "worst relative energy drift" in result.output
    serial = build("kdv", tmp_path / "serial.h5", trajectories=64, steps=20)
    np.testing.assert_array_equal(open_dataset(tmp_path / "pool.h5").read_field("u"), serial.read_field("u"))


def test_bad_grid_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["table", "build", "cahn-hilliard", "-o", str(tmp_path / "x.h5"), "--points", "3"])
    assert result.exit_code == 2 and "option points=3: expected an integer >= 5" in result.output
    assert len(result.output.strip().splitlines()) == 1



def test_a_file_written_before_datasets_named_their_problem_is_read_by_its_kind(tmp_path):
    data = build("cahn-hilliard", tmp_path / "ch.h5", gamma=3e-4)
    assert data.attrs["problem"] == {"name": "cahn-hilliard", "gamma": 3e-4, "noise": 0.05}
    older = {name: value for name, value in data.attrs.items() if name != "problem"}  # as such a file reads
    problem = registry.problem_for(older, "test")
    assert problem.gamma == 3e-4  # the physics parameters come from the root attributes
    u, dx = data.read_field("u"), float(data.grid["x"][1])
    np.testing.assert_allclose(problem.functionals()["energy"](u, dx), data.read_group("conserved", "energy"),
                               rtol=1e-12)
