"""The ``coulomb-explosion`` table: geometries of OCS and the asymptotic momenta of their Coulomb explosion.

One row per molecule: inputs are the 9 momenta ``p_C_x ... p_S_z`` (ħ/bohr), outputs the 9 positions
``C_x ... S_z`` (bohr, centre of mass at the origin) and the check column ``energy_error`` (relative energy error of
the integration, |K(∞) - U(0)| / U(0)); the table declares momenta -> positions as its default columns and ``cvae``
as its task, and records atoms, masses and charges under the root attribute ``coulomb`` for the physics losses.
Imaging inverts the explosion: from measured momenta, infer the geometry.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from surrogate.atomic import check_writable
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option
from surrogate.ranges import COUNT, SEED, at_least
from surrogate.table import Column, DatasetDefaults, Table, write_table

from surrogate.chunks import ChunkWorkDir, solve_missing_chunks, workers_option
from .geometry import DISTRIBUTIONS, bonds_and_angle, sample_geometries
from .physics import ATOMS, CHARGES, END, MASSES, START, STEPS, explode

AXES = ("x", "y", "z")
MOMENTA = [f"p_{atom}_{axis}" for atom in ATOMS for axis in AXES]
POSITIONS = [f"{atom}_{axis}" for atom in ATOMS for axis in AXES]
ENERGY_ERROR = "energy_error"
TOLERANCE = 1e-6  # largest relative energy error a row may have


def coulomb_attrs() -> dict[str, Any]:
    """The root attribute ``coulomb``: what the physics losses and the task need to know about the ions."""
    return {"atoms": list(ATOMS), "masses": MASSES.tolist(), "charges": CHARGES.tolist(), "momenta": MOMENTA,
            "positions": POSITIONS}


@dataclass(frozen=True)
class Chunk:
    """One chunk of rows to draw and explode (picklable for the process pool)."""

    index: int
    rows: int
    seed: int
    distribution: str
    steps: int
    work: ChunkWorkDir


def solve_chunk(chunk: Chunk) -> None:
    """Draw the chunk's geometries from its own seed stream, explode them, save them."""
    rng = np.random.default_rng(np.random.SeedSequence(chunk.seed, spawn_key=(chunk.index,)))
    positions = sample_geometries(rng, chunk.rows, chunk.distribution)
    momenta, energy_error = explode(positions, steps=chunk.steps)
    chunk.work.save(chunk.index, {"positions": positions, "momenta": momenta, "energy_error": energy_error})


class CoulombExplosion(TableGenerator):
    """Rows of (asymptotic momenta, geometry) of C, O, S ions (+2 each) exploding from rest (Ghanaatian 2024)."""

    description: ClassVar[str] = "Coulomb explosion of OCS (C, O, S ions, +2 each): momenta -> geometry rows"
    options: ClassVar[tuple[Option, ...]] = (
        Option("rows", 200000, "number of molecules (rows)", bounds=COUNT),
        Option("distribution", "random", "geometries: 'random' (bonds ±20 %, angle 100-180°) or 'sim' (thermal "
               "vibration and bending around linear OCS)", choices=DISTRIBUTIONS),
        Option("seed", 0, "seed of the geometries (each chunk draws from its own stream of it)", bounds=SEED),
        Option("steps", STEPS, "RK4 steps, equal in log-time, per explosion", bounds=at_least(20)),
        Option("chunk_rows", 10000, "rows per chunk: the unit of parallel work and of resuming", bounds=COUNT),
        workers_option("exploding chunks"),
    )

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """The geometry ranges and the worst energy error of a table, for ``surrogate table info``."""
        table = Table(path)
        r_co, r_cs, angle = bonds_and_angle(table.read_matrix(POSITIONS).reshape(-1, 3, 3))
        return [("distribution", str(table.attrs.get("distribution"))),
                ("r_CO (bohr)", f"{r_co.min():.3f} .. {r_co.max():.3f}, mean {r_co.mean():.3f}"),
                ("r_CS (bohr)", f"{r_cs.min():.3f} .. {r_cs.max():.3f}, mean {r_cs.mean():.3f}"),
                ("angle O-C-S (deg)", f"{angle.min():.1f} .. {angle.max():.1f}, mean {angle.mean():.1f}"),
                ("worst relative energy error", f"{table.read(ENERGY_ERROR).max():.2e}")]

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, rows: int, distribution: str, seed: int,
              steps: int, chunk_rows: int, workers: int, **options: Any) -> BuildReport:
        started = time.perf_counter()
        target = check_writable(output)
        work = ChunkWorkDir.open(target, {"rows": rows, "distribution": distribution, "seed": seed, "steps": steps,
                                          "chunk_rows": chunk_rows})
        sizes = [min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows)]
        jobs = [Chunk(i, size, seed, distribution, steps, work) for i, size in enumerate(sizes)]
        saved, resumed = solve_missing_chunks(work, jobs, solve_chunk, size=lambda job: job.rows, workers=workers,
                                              progress=progress, desc=f"explosions ({distribution})")
        positions = np.concatenate([part["positions"] for part in saved]).reshape(rows, -1)
        momenta = np.concatenate([part["momenta"] for part in saved]).reshape(rows, -1)
        energy_error = np.concatenate([part["energy_error"] for part in saved])
        worst = float(energy_error.max())
        if not worst <= TOLERANCE:
            raise UserError(f"{target}: the integration conserved energy only to {worst:.2e} (relative) on some "
                            f"rows, above {TOLERANCE:g}; raise --steps (now {steps})")
        path = write_table(
            target, kind="coulomb-explosion",
            inputs=[Column(name, momenta[:, k], "hbar/bohr", f"asymptotic momentum component {name[2:]}")
                    for k, name in enumerate(MOMENTA)],
            outputs=[Column(name, positions[:, k], "bohr", f"initial position component {name} (centre of mass at 0)")
                     for k, name in enumerate(POSITIONS)]
            + [Column(ENERGY_ERROR, energy_error, "1", "check: |K(inf) - U(0)| / U(0) of the integration")],
            attrs={"task": "cvae", "distribution": distribution, "seed": seed, "steps": steps,
                   "integration": f"RK4 in ln t, {steps} steps from {START:g} tau to {END:g} tau, straight-line "
                                  "tail impulse, energy-matched final scaling",
                   "coulomb": coulomb_attrs(), "problem": {"name": "coulomb-explosion"}},
            defaults=DatasetDefaults(default_inputs=MOMENTA, default_outputs=POSITIONS))
        work.remove()
        total = momenta.reshape(rows, len(ATOMS), 3).sum(axis=1)
        seconds = time.perf_counter() - started
        return BuildReport(path=path, rows=rows, seconds=seconds, resumed=resumed, numbers={
            "distribution": distribution,
            "worst relative energy error": worst,
            "largest |sum p| (hbar/bohr)": float(np.abs(total).max()),
            "rows per second": rows / max(seconds, 1e-9),
        })
