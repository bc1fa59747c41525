"""``equilibrium``: chemical equilibrium of fuel/oxidizer mixtures over (Z, T_in, p), for any mechanism.

Each row is one mixture of the two streams at Bilger mixture fraction Z (mixed by mass), brought to
equilibrium at constant enthalpy and pressure (Cantera ``equilibrate("HP")``, gas phase only):

- by default the streams are mixed adiabatically, so the enthalpy is h = Z h_fuel + (1 - Z) h_oxidizer and the
  table is the adiabatic equilibrium line T_ad(Z) (the Burke–Schumann limit of a flamelet with finite-rate
  equilibrium chemistry);
- with ``unburnt_temperature`` the unburnt mixture is set to each given temperature T_in instead (one line per
  T_in, input ``T_in``): lower T_in is an enthalpy defect, a simple heat-loss axis.

Several pressures add the input ``p``. One (T_in, p) line is one job on the executor and one label
(``line``), so a grouped split holds out whole lines. Outputs: ``Y_<species>`` of every species present, ``T``
and the mixture enthalpy ``h`` (conserved by the equilibration, so a solver can look the table up by h).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from surrogate.chunks import ChunkWorkDir, remove_work_dir
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option, parse_floats
from surrogate.ranges import POSITIVE, at_least
from surrogate.table import Column, write_table

from .build import build_conditions
from .checks import equilibrium_checks
from .executors import EXECUTOR_OPTION_NAMES, executor_options
from .flamelet import FlameletChemistry, cantera_message, load_gas
from .mixture import (CH4_PROGRESS_VARIABLE, Streams, mixed_Y, mixture_defaults, mixture_provenance,
                      present_species, resolve_stream_options, stream_enthalpies, stream_options, streams_of)
from .structured import z_nodes

KIND = "equilibrium"
ADIABATIC = float("nan")  # the T_in of a line whose streams are mixed adiabatically
NOT_IN_SOLVES = EXECUTOR_OPTION_NAMES


@dataclass(frozen=True)
class EquilibriumLine:
    """One line of the table: every Z node at one unburnt temperature (nan: adiabatic mixing) and pressure."""

    streams: Streams
    Z: np.ndarray
    T_in: float
    work: Path
    index: int


def equilibrium_state(gas: Any, Y: np.ndarray, T_in: float, h: float, pressure: float) -> None:
    """Set `gas` to the HP equilibrium of the unburnt mixture `Y`: at temperature `T_in`, or (T_in nan) at the
    enthalpy `h` of the streams mixed adiabatically."""
    if np.isnan(T_in):
        gas.HPY = h, pressure, Y
    else:
        gas.TPY = T_in, pressure, Y
    gas.equilibrate("HP")


def solve_line(job: EquilibriumLine) -> None:
    """Equilibrate every Z of one line and save T, Y, h to the work directory (picklable, runs on any worker)."""
    import cantera as ct

    gas = load_gas(job.streams.mechanism)
    chemistry = FlameletChemistry(gas, job.streams)
    h_fuel, h_oxidizer = stream_enthalpies(gas, chemistry, job.streams)
    T, Y, h = np.empty(len(job.Z)), np.empty((len(job.Z), gas.n_species)), np.empty(len(job.Z))
    for i, Z in enumerate(job.Z):
        try:
            equilibrium_state(gas, mixed_Y(chemistry, float(Z)), job.T_in, Z * h_fuel + (1.0 - Z) * h_oxidizer,
                              job.streams.pressure)
        except ct.CanteraError as exc:
            raise UserError(f"equilibrium at Z={Z:.4g}, T_in={job.T_in:g} K, p={job.streams.pressure:g} Pa did not "
                            f"converge ({cantera_message(exc)})") from None
        T[i], Y[i], h[i] = gas.T, gas.Y, gas.enthalpy_mass
    ChunkWorkDir(job.work, "condition").save(job.index, {"T": T, "Y": Y, "h": h})


class EquilibriumTable(TableGenerator):
    """Chemical equilibrium (HP) of two-stream mixtures over mixture fraction, unburnt temperature and pressure."""

    name = KIND
    description = "Chemical equilibrium (constant h, p) of fuel/oxidizer mixtures over Z, T_in and p, any mechanism."
    options = (
        *stream_options("gri30.yaml", "CH4:1", CH4_PROGRESS_VARIABLE),
        Option("pressure", [101325.0], "pressure [Pa]; a comma-separated list adds the input p", type=parse_floats,
               bounds=POSITIVE),
        Option("unburnt_temperature", [], "unburnt mixture temperatures T_in [K], one table line each, adding the "
               "input T_in; empty: the streams mixed adiabatically", type=parse_floats, bounds=POSITIVE),
        Option("n_Z", 201, "mixture-fraction nodes from 0 to 1, clustered around Z_st", bounds=at_least(2)),
        *executor_options("lines", "the lines"),
    )

    @classmethod
    def resolve(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in and converted, plus range checks (one-line errors)."""
        return resolve_stream_options(cls.options, given, KIND)

    @staticmethod
    def lines(opts: dict[str, Any], chemistry: FlameletChemistry, work: Path) -> list[EquilibriumLine]:
        """Every (p, T_in) line, T_in varying fastest, each over the Z nodes clustered around Z_st."""
        Z = z_nodes(int(opts["n_Z"]), chemistry.Z_st)
        levels = [float(T) for T in opts["unburnt_temperature"]] or [ADIABATIC]
        return [EquilibriumLine(streams_of(opts, p), Z, T_in, work, i)
                for i, (p, T_in) in enumerate((p, T_in) for p in opts["pressure"] for T_in in levels)]

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, executor: Executor | None = None,
              **options: Any) -> BuildReport:
        """Equilibrate every (Z, T_in, p) and write the table to `output`; resumes finished lines."""
        started = time.perf_counter()
        run = build_conditions(cls, output, options, not_in_solves=NOT_IN_SOLVES, make_jobs=cls.lines,
                               solve=solve_line, desc="lines", progress=progress, executor=executor)
        n_rows = _write(run.target, run.opts, run.chemistry, run.gas, run.jobs, run.saved)
        remove_work_dir(run.target)
        T_max = max(float(line["T"].max()) for line in run.saved)
        return BuildReport(path=run.target, rows=n_rows, seconds=time.perf_counter() - started,
                           resumed=run.resumed, numbers={"lines": len(run.jobs), "T_max [K]": T_max})

    @staticmethod
    def plot(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
        """Equilibrium T against Z, one curve per line."""
        from .plots import plot_equilibrium

        return [plot_equilibrium(path, out_dir)]

    check = staticmethod(equilibrium_checks)  # physics checks for ``surrogate table check``

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """Peak equilibrium temperature of each line and where it sits in Z."""
        from surrogate.table import Table

        table = Table(path)
        Z, T, line = table.read("Z"), table.read("T"), table.read_labels("line")
        T_in, p = np.asarray(table.attrs["line_T_in"], dtype=float), np.asarray(table.attrs["line_pressure"])
        lines = []
        for k in range(len(T_in)):
            at = line == k
            i = int(np.argmax(T[at]))
            label = "adiabatic mixing" if np.isnan(T_in[k]) else f"T_in={T_in[k]:g} K"
            lines.append((f"line {k} ({label}, p={p[k]:g} Pa)", f"T_max={T[at][i]:.0f} K at Z={Z[at][i]:.4f}"))
        return lines


def _write(target: Path, opts: dict[str, Any], chemistry: FlameletChemistry, gas: Any,
           jobs: Sequence[EquilibriumLine], lines: Sequence[dict[str, np.ndarray]]) -> int:
    """Stack the lines into rows and write the table atomically."""
    Y = np.concatenate([line["Y"] for line in lines])
    keep = present_species(Y.max(axis=0), chemistry.species)
    species = [chemistry.species[k] for k in keep]
    n = len(jobs[0].Z)
    inputs = [Column("Z", np.concatenate([job.Z for job in jobs]), "1",
                     "Bilger mixture fraction of the unburnt mixture")]
    if len(opts["unburnt_temperature"]) > 0:
        inputs.append(Column("T_in", np.repeat([job.T_in for job in jobs], n), "K", "unburnt mixture temperature"))
    if len(opts["pressure"]) > 1:
        inputs.append(Column("p", np.repeat([job.streams.pressure for job in jobs], n), "Pa", "pressure"))
    outputs = [Column(f"Y_{s}", Y[:, k], "1", f"equilibrium mass fraction of {s}") for s, k in zip(species, keep)]
    outputs += [
        Column("T", np.concatenate([line["T"] for line in lines]), "K", "equilibrium (HP) temperature"),
        Column("h", np.concatenate([line["h"] for line in lines]), "J/kg", "mixture enthalpy, conserved"),
    ]
    labels = [Column("line", np.repeat(np.arange(len(jobs)), n), "1", "index of the row's (T_in, p) line")]
    defaults = mixture_defaults(inputs, species, "line")
    attrs = {
        **mixture_provenance(opts, chemistry, gas, species),
        "equilibrium": "Cantera equilibrate('HP'), gas phase, of the streams mixed by mass at Z",
        "enthalpy_definition": ("streams mixed adiabatically, h = Z h_fuel + (1 - Z) h_oxidizer"
                                if not opts["unburnt_temperature"] else "unburnt mixture at T_in"),
        "line_T_in": [job.T_in for job in jobs],
        "line_pressure": [job.streams.pressure for job in jobs],
    }
    write_table(target, kind=KIND, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults, labels=labels)
    return len(inputs[0].values)
