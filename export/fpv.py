"""Flamelet/progress-variable (FPV) models for solvers: the structured table and the surrogate of it, behind the
same inputs (Z, C), outputs, bounds and runtime calls.

An FPV solver transports Z and C and looks its thermochemistry up in a table over (Z, Λ), with the normalized
progress variable Λ = (C − C_min(Z)) / (C_max(Z) − C_min(Z)) (Pierce & Moin, J. Fluid Mech. 504, 2004; Ihme &
Pitsch, Combust. Flame 155, 2008). Both models here share that front end, in this order:

1. Z clamped to [0, 1]; C_min(Z) and C_max(Z) interpolated linearly between the table's Z nodes, so the valid
   domain is continuous in Z (it is also the metadata's linear ``manifold``, which the runtimes clip onto);
2. Λ = (C − C_min) / (C_max − C_min) clamped to [0, 1], and 0 where C_max − C_min ≤ 1e-12 (the pure streams);
3. the table backend (:class:`TableLookup`) interpolates bilinearly in (Z, Λ); the surrogate
   (:class:`SurrogateOfTable`) evaluates a network trained on (Z, Λ) and is then made consistent by
   construction: the pure streams exact (the network's outputs blend into the table's stream rows within the
   first and last Z cell of the table, so Z = 0 and Z = 1 give exactly the streams), ω_C zero at Λ = 1 (a ramp over
   the last ``OMEGA_RAMP`` of Λ: C cannot run past C_max(Z)) and every output other than the mass fractions
   clamped to the table's own range (T never below the coldest stream nor above the hottest table state; ω_C
   never of a sign the table does not hold). The mass fractions stay on the simplex (ΣY = 1, Y ≥ 0): the blend is
   a convex combination of two simplex points.

Every operation is a plain tensor operation (comparisons, gathers, clamps), so the same module runs in PyTorch
and exports to an ONNX graph that ONNX Runtime evaluates; the C wrapper evaluates the table file compiled, from
the grid the metadata entry ``fpv_table`` carries (:mod:`export.table_model`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from surrogate.errors import UserError
from surrogate.lookup import SPAN_FLOOR
OMEGA_RAMP = 1e-3  # ω_C falls linearly to 0 over Λ ∈ [1 − OMEGA_RAMP, 1]
PROGRESS_SOURCE = "omega_C"


@dataclass(frozen=True)
class FpvGrid:
    """The structured (Z, Λ) table: axes, C_min(Z), C_max(Z) and ``values`` (nZ, nΛ, n_outputs) of ``names``."""

    path: Path
    Z: np.ndarray
    Lambda: np.ndarray
    C_min: np.ndarray
    C_max: np.ndarray
    names: list[str]
    values: np.ndarray
    units: dict[str, str]

    def select(self, names: Sequence[str]) -> "FpvGrid":
        """The grid with only the outputs `names`, in that order (a one-line error for one it lacks)."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise UserError(f"{self.path}: the structured table has no output {', '.join(missing)} "
                            f"(it has {', '.join(self.names)})")
        index = [self.names.index(n) for n in names]
        return FpvGrid(self.path, self.Z, self.Lambda, self.C_min, self.C_max, list(names),
                       self.values[..., index], {n: self.units[n] for n in names})

    def c_range(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """C_min(Z), C_max(Z) interpolated linearly in Z."""
        z = np.clip(np.asarray(Z, dtype=np.float64), self.Z[0], self.Z[-1])
        return np.interp(z, self.Z, self.C_min), np.interp(z, self.Z, self.C_max)


def read_grid(path: str | Path) -> FpvGrid:
    """The ``/structured`` (Z, Λ) group of a flamelet or ``fpv`` table; one-line errors otherwise."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such table")
    try:
        h5 = h5py.File(path, "r")
    except OSError:
        raise UserError(f"{path}: not a readable HDF5 table") from None
    with h5:
        group = h5.get("structured")
        if group is None or "C_min" not in group:
            raise UserError(f"{path}: no structured (Z, Lambda) group; a flamelet table of one pressure "
                            "(h2-flamelet, counterflow-flamelet) or an fpv table has one")
        order = json.loads(group["outputs"].attrs["order"]) if "order" in group["outputs"].attrs \
            else list(group["outputs"].keys())
        values = np.stack([np.asarray(group["outputs"][n][()], dtype=np.float64) for n in order], axis=-1)
        units = {n: str(group["outputs"][n].attrs.get("units", "")) for n in order}
        return FpvGrid(path, np.asarray(group["Z"][()], float), np.asarray(group["Lambda"][()], float),
                       np.asarray(group["C_min"][()], float), np.asarray(group["C_max"][()], float), order, values,
                       units)


class Segments(nn.Module):
    """Segment index and weight of values on a fixed increasing axis: a comparison count and a gather, which
    export to plain ONNX (no searchsorted)."""

    def __init__(self, nodes: np.ndarray):
        super().__init__()
        self.register_buffer("nodes", torch.as_tensor(nodes, dtype=torch.float32))
        self.register_buffer("inner", torch.as_tensor(nodes[1:-1], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i = (x.unsqueeze(1) >= self.inner).sum(dim=1)
        lo, hi = self.nodes[i], self.nodes[i + 1]
        return i, torch.clamp((x - lo) / (hi - lo), 0.0, 1.0)


def power_law_exponent(nodes: np.ndarray) -> float | None:
    """p when the nodes are (i / (n − 1))^p, i = 0 .. n − 1 (the flamelet tables' Z axis), else None."""
    n = len(nodes)
    if n < 3 or nodes[0] != 0.0 or nodes[-1] != 1.0 or not 0.0 < nodes[1] < 1.0:
        return None
    p = float(np.log(nodes[1]) / np.log(1.0 / (n - 1)))
    return p if np.allclose(nodes, np.linspace(0.0, 1.0, n) ** p, rtol=1e-9, atol=0.0) else None


class ProgressFrontEnd(nn.Module):
    """(Z, C) -> (Z clamped to the table, Λ) as the module docstring says. The Z segment comes in closed form,
    floor((n − 1) Z^(1/p)), where the Z nodes are a power law (the flamelet tables' axis), else from a comparison
    count; one gather then gives the segment's ends and C_min, C_max there."""

    def __init__(self, grid: FpvGrid):
        super().__init__()
        self.exponent = power_law_exponent(grid.Z)
        self.z_segments = None if self.exponent is not None else Segments(grid.Z)
        self.last = len(grid.Z) - 2
        segment = np.column_stack([grid.Z[:-1], grid.Z[1:], grid.C_min[:-1], grid.C_min[1:], grid.C_max[:-1],
                                   grid.C_max[1:]])
        self.register_buffer("segment", torch.as_tensor(segment, dtype=torch.float32))
        self.z_lo, self.z_hi = float(grid.Z[0]), float(grid.Z[-1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Z, Λ and the Z segment (index, weight) of each row of `x` (n, 2)."""
        z = torch.clamp(x[:, 0], self.z_lo, self.z_hi)
        if self.exponent is not None:  # a Z rounded into the neighbouring segment is clamped onto their shared node
            i = torch.clamp(torch.floor(torch.pow(z, 1.0 / self.exponent) * (self.last + 1)), 0, self.last).long()
        else:
            i = self.z_segments(z)[0]
        row = self.segment[i]
        tz = torch.clamp((z - row[:, 0]) / (row[:, 1] - row[:, 0]), 0.0, 1.0)
        c_min = row[:, 2] + tz * (row[:, 3] - row[:, 2])
        span = row[:, 4] + tz * (row[:, 5] - row[:, 4]) - c_min
        lam = torch.where(span > SPAN_FLOOR, (x[:, 1] - c_min) / torch.clamp(span, min=SPAN_FLOOR),
                          torch.zeros_like(span))
        return z, torch.clamp(lam, 0.0, 1.0), i, tz


class TableLookup(nn.Module):
    """The table backend's graph: (Z, C) -> outputs by the FPV lookup, bilinear in (Z, Λ)."""

    def __init__(self, grid: FpvGrid):
        super().__init__()
        self.front = ProgressFrontEnd(grid)
        self.lambda_segments = Segments(grid.Lambda)
        self.n_lambda = len(grid.Lambda)
        flat = grid.values.reshape(-1, grid.values.shape[-1])
        self.register_buffer("values", torch.as_tensor(flat, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, lam, i, tz = self.front(x)
        j, tl = self.lambda_segments(lam)
        k = i * self.n_lambda + j
        tz, tl = tz.unsqueeze(1), tl.unsqueeze(1)
        v = self.values
        return ((1 - tz) * (1 - tl) * v[k] + tz * (1 - tl) * v[k + self.n_lambda] + (1 - tz) * tl * v[k + 1]
                + tz * tl * v[k + self.n_lambda + 1])


class SurrogateOfTable(nn.Module):
    """The surrogate's graph: (Z, C) -> Λ -> network(Z, Λ) -> outputs made consistent (module docstring).

    `network` maps physical (Z, Λ) to physical outputs `names` (a trained run's model); `species` are the names of
    the mass fractions among them."""

    def __init__(self, network: nn.Module, grid: FpvGrid, names: Sequence[str], species: Sequence[str]):
        super().__init__()
        grid = grid.select(names)
        self.front = ProgressFrontEnd(grid)
        self.network = network
        values = grid.values
        # the table's stream rows (constant along Λ at Z = 0 and Z = 1); ω_C is zero there
        streams = np.stack([values[0, 0], values[-1, 0]])
        if PROGRESS_SOURCE in names:
            streams[:, list(names).index(PROGRESS_SOURCE)] = 0.0
        self.register_buffer("streams", torch.as_tensor(streams, dtype=torch.float32))
        self.z_first, self.z_last = float(grid.Z[1]), float(grid.Z[-2])
        bounded = np.array([n not in species for n in names])
        lower = np.where(bounded, values.reshape(-1, len(names)).min(axis=0), -np.inf)
        upper = np.where(bounded, values.reshape(-1, len(names)).max(axis=0), np.inf)
        self.register_buffer("lower", torch.as_tensor(lower, dtype=torch.float32))
        self.register_buffer("upper", torch.as_tensor(upper, dtype=torch.float32))
        source = torch.zeros(len(names))
        if PROGRESS_SOURCE in names:
            source[list(names).index(PROGRESS_SOURCE)] = 1.0
        self.register_buffer("source_mask", source)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, lam, _, _ = self.front(x)
        y = self.network(torch.stack([z, lam], dim=1))
        y = torch.minimum(torch.maximum(y, self.lower), self.upper)
        ramp = torch.clamp((1.0 - lam) / OMEGA_RAMP, 0.0, 1.0).unsqueeze(1)
        y = y * (1.0 - self.source_mask + self.source_mask * ramp)
        weight = (torch.clamp(z / self.z_first, 0.0, 1.0)
                  * torch.clamp((1.0 - z) / (1.0 - self.z_last), 0.0, 1.0)).unsqueeze(1)
        mixing = (1.0 - z).unsqueeze(1) * self.streams[0] + z.unsqueeze(1) * self.streams[1]
        return weight * y + (1.0 - weight) * mixing


# ------------------------------------------------------------------------------------------------- export
INPUTS = ("Z", "C")


def is_fpv_run(run: Any) -> bool:
    """A run trained on (Z, Λ) rows of a table with a structured (Z, Λ) group (an ``fpv`` table)."""
    return run.input_names == ["Z", "Lambda"] and run.table_path.is_file() and _has_grid(run.table_path)


def _has_grid(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "structured/C_min" in h5
    except OSError:
        return False


def fpv_signature(grid: FpvGrid) -> Any:
    """Inputs (Z, C) over the table's box, outputs the grid's, with units."""
    from .metadata import Component, Signature, Tensor

    inputs = (Component("Z", "1", (0.0, 1.0)), Component("C", "1", (0.0, float(grid.C_max.max()))))
    outputs = tuple(Component(n, grid.units.get(n, "")) for n in grid.names)
    return Signature((Tensor("inputs", ("batch", 2), inputs),), (Tensor("outputs", ("batch", len(outputs)), outputs),))


def fpv_manifold(grid: FpvGrid) -> Any:
    """The linear manifold C_min(Z)..C_max(Z) at the table's Z nodes."""
    from .metadata import LINEAR_SLACK, Manifold

    lower = np.column_stack([np.full(len(grid.Z), -np.inf), grid.C_min]).astype(np.float32)
    upper = np.column_stack([np.full(len(grid.Z), np.inf), grid.C_max]).astype(np.float32)
    slack = (LINEAR_SLACK * np.array([1.0, float(grid.C_max.max())])).astype(np.float32)
    return Manifold(INPUTS, 0, grid.Z.astype(np.float32), lower, upper, True, slack)


def points_on_manifold(grid: FpvGrid, n: int, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 points (Z, C) inside the valid domain: Z uniform in [0, 0.2] for half of them (where the
    flame is) and in [0, 1] for the rest, C uniform in [C_min(Z), C_max(Z)]; the two pure streams first."""
    rng = np.random.default_rng(seed)
    z = np.concatenate([[0.0, 1.0], rng.uniform(0, 0.2, n // 2), rng.uniform(0, 1, n - 2 - n // 2)])
    c_min, c_max = grid.c_range(z)
    c = c_min + rng.random(len(z)) * (c_max - c_min)
    c[:2] = 0.0
    return np.column_stack([z, c]).astype(np.float32)


def export_fpv_run(run: Any, path: str | Path, *, opset: int, tolerance: float | None,
                   echo: Any = lambda line: None) -> Any:
    """Export a run trained on an ``fpv`` table's (Z, Λ) rows behind the table's (Z, C) front end (module
    docstring), with the same inputs, bounds and output order as the table backend of that table. The network's
    scalers are folded into its end layers (:mod:`export.folding`; the call takes a quarter less time) when the
    folded surrogate agrees with the unfolded one within the parity tolerance of each output's scale on the
    parity points, so the file stays within that tolerance of the trained model."""
    from .folding import fold_scaling
    from .metadata import DEFAULT_TOLERANCE
    from .onnx_export import Provenance, export_module

    grid = read_grid(run.table_file()).select(run.output_names)
    species = [n for n in run.output_names if n.startswith("Y_")]
    model = SurrogateOfTable(run.model, grid, run.output_names, species).eval()
    points = points_on_manifold(grid, 4096)
    folded = fold_scaling(run.model)
    if folded is not None:
        candidate = SurrogateOfTable(folded.eval(), grid, run.output_names, species).eval()
        with torch.no_grad():
            x = torch.from_numpy(points)
            reference, found = model(x).double(), candidate(x).double()
        scale = reference.abs().amax(dim=0).clamp(min=float(np.finfo(np.float32).tiny))
        worst = float(((found - reference).abs().amax(dim=0) / scale).max())
        allowed = DEFAULT_TOLERANCE["fp32"] if tolerance is None else tolerance
        if worst <= allowed:
            model = candidate
            echo(f"scaling folded into the end layers: {worst:.2e} of an output's scale from the unfolded network")
        else:
            echo(f"folded network off by {worst:.2e} of an output's scale (> {allowed:g}): exporting it unfolded")
    echo(f"surrogate of the table: (Z, C) -> Lambda -> {run.config['model']['name']} -> streams exact, "
         "omega_C zero at C_max(Z), outputs in the table's range")
    return export_module(model, fpv_signature(grid), path, provenance=Provenance.of_run(run),
                         parity_inputs={"inputs": points}, parity_source=f"{len(points)} points on the manifold",
                         opset=opset, tolerance=tolerance, fold=False, manifold=fpv_manifold(grid), echo=echo)
