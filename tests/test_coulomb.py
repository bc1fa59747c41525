"""The coulomb-explosion generator: energy and momentum conservation of every row, the two-body explosion against
its analytic asymptotic momentum, the momentum frame, and the resumable chunked build."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogate.chunks import ChunkWorkDir
from plugins.coulomb.frame import momentum_frame
from plugins.tasks.cvae import from_frame, to_frame
from plugins.coulomb.generator import ENERGY_ERROR, MOMENTA, POSITIONS, Chunk, CoulombExplosion, solve_chunk
from plugins.coulomb.geometry import bonds_and_angle, sample_geometries
from plugins.coulomb.physics import MASSES, explode, kinetic_energy, potential_energy
from surrogate import registry
from surrogate.errors import UserError
from surrogate.table import Table


def build(path, **options) -> Table:
    generator, resolved = registry.configure("tables", "coulomb-explosion", {k: str(v) for k, v in options.items()})
    generator.build(path, progress=False, **resolved)
    return Table(path)


@pytest.mark.parametrize("distribution", ["random", "sim"])
def test_every_row_conserves_energy_and_momentum(tmp_path, distribution):
    table = build(tmp_path / "t.h5", rows=400, chunk_rows=150, workers=1, distribution=distribution)
    p = table.read_matrix(MOMENTA).reshape(-1, 3, 3)
    x = table.read_matrix(POSITIONS).reshape(-1, 3, 3)
    relative = np.abs(kinetic_energy(p) - potential_energy(x)) / potential_energy(x)
    assert relative.max() <= 1e-6
    assert table.read(ENERGY_ERROR).max() <= 1e-6
    assert np.abs(p.sum(axis=1)).max() <= 1e-9 * np.abs(p).max()  # Σ p = 0: the explosion starts at rest
    assert np.abs((MASSES[:, None] * x).sum(axis=1)).max() <= 1e-9  # centre of mass at the origin
    assert table.defaults.default_inputs == MOMENTA and table.defaults.default_outputs == POSITIONS
    assert table.attrs["task"] == "cvae" and table.units("C_x") == "bohr"
    summary = dict(CoulombExplosion.summary(tmp_path / "t.h5"))
    assert summary["distribution"] == distribution and float(summary["worst relative energy error"]) <= 1e-6


def test_two_ions_fly_apart_with_the_analytic_momentum():
    """Two charges q = 2 from rest at distance r: |p| = sqrt(2 μ q² / r) along the separation, equal and opposite
    (the third ion is neutral and far away, so it stays at rest)."""
    rng = np.random.default_rng(3)
    n = 50
    r = rng.uniform(1.5, 4.0, n)
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    positions = np.zeros((n, 3, 3))
    positions[:, 1] = r[:, None] * direction
    positions[:, 2] = 1e6  # the neutral third ion
    masses, charges = MASSES, np.array([2.0, 2.0, 0.0])
    momenta, error = explode(positions, masses=masses, charges=charges)
    mu = masses[0] * masses[1] / (masses[0] + masses[1])
    expected = np.sqrt(2.0 * mu * 4.0 / r)[:, None] * direction
    np.testing.assert_allclose(momenta[:, 1], expected, rtol=1e-6, atol=1e-9 * expected.max())
    np.testing.assert_allclose(momenta[:, 0], -expected, rtol=1e-6, atol=1e-9 * expected.max())
    assert np.abs(momenta[:, 2]).max() == 0.0 and error.max() <= 1e-6


def test_geometry_distributions_keep_their_documented_ranges():
    rng = np.random.default_rng(0)
    r_co, r_cs, angle = bonds_and_angle(sample_geometries(rng, 5000, "random"))
    assert 0.8 * 2.19 - 1e-9 <= r_co.min() and r_co.max() <= 1.2 * 2.19 + 1e-9
    assert 0.8 * 2.95 - 1e-9 <= r_cs.min() and r_cs.max() <= 1.2 * 2.95 + 1e-9
    assert 100 - 1e-6 <= angle.min() and angle.max() <= 180 + 1e-6
    r_co, r_cs, angle = bonds_and_angle(sample_geometries(rng, 5000, "sim"))
    assert abs(r_co.mean() - 2.19) < 0.01 and abs(r_cs.std() - 0.06) < 0.005 and angle.min() > 120


def test_momentum_frame_holds_the_whole_geometry_in_its_plane():
    """From rest, positions and momenta share one plane: every coordinate along e3 vanishes, and the in-plane
    coordinates give the lab positions back."""
    positions = sample_geometries(np.random.default_rng(1), 200, "random")
    momenta, _ = explode(positions)
    frame = momentum_frame(torch.as_tensor(momenta))
    x = torch.as_tensor(positions)
    normal = torch.einsum("nak,nk->na", x, frame[:, 2])
    assert float(normal.abs().max()) < 1e-9
    assert torch.allclose(torch.einsum("nij,nkj->nik", frame, frame), torch.eye(3, dtype=frame.dtype).expand(200, 3, 3))
    assert torch.allclose(from_frame(to_frame(x, frame), frame), x, atol=1e-9)


def test_a_killed_build_resumes_and_gives_the_same_table(tmp_path):
    options = dict(rows=300, chunk_rows=100, workers=1, seed=5, distribution="sim")
    fresh = build(tmp_path / "fresh.h5", **options)
    target = tmp_path / "resumed.h5"
    work = ChunkWorkDir.open(target, {"rows": 300, "distribution": "sim", "seed": 5, "steps": 300, "chunk_rows": 100})
    solve_chunk(Chunk(1, 100, 5, "sim", 300, work))  # the chunk a killed build had saved
    report = CoulombExplosion.build(target, progress=False, **registry.options_for(CoulombExplosion, options))
    assert report.resumed == 100 and not work.root.exists()
    resumed = Table(target)
    np.testing.assert_array_equal(resumed.read_matrix(POSITIONS), fresh.read_matrix(POSITIONS))
    np.testing.assert_array_equal(resumed.read_matrix(MOMENTA), fresh.read_matrix(MOMENTA))


def test_resume_with_other_options_and_bad_options_are_refused(tmp_path):
    target = tmp_path / "t.h5"
    work = ChunkWorkDir.open(target, {"rows": 300, "distribution": "sim", "seed": 5, "steps": 300, "chunk_rows": 100})
    work.save(0, {"positions": np.zeros((100, 3, 3))})  # solved work: only the same options may resume it
    with pytest.raises(UserError, match="other options .*rows"):
        CoulombExplosion.build(target, progress=False, **registry.options_for(CoulombExplosion, {
            "rows": 200, "distribution": "sim", "seed": 5, "chunk_rows": 100, "workers": 1}))
    with pytest.raises(UserError, match="option steps=5: expected an integer >= 20"):
        registry.configure("tables", "coulomb-explosion", {"rows": "10", "steps": "5"})
