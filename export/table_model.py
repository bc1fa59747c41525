"""The table backend as a model file: a structured (Z, Λ) table written as a thermo-surrogate ONNX file.

The file has the inputs (Z, C), the outputs, the bounds and the metadata of a surrogate of the same table
(:mod:`export.fpv`), so a solver switches between table and surrogate by the file it opens. Its graph performs
the FPV lookup (:class:`export.fpv.TableLookup`), so ONNX Runtime evaluates it as it evaluates a network; the
metadata entry ``fpv_table`` carries the grid itself, which the C wrapper looks up compiled instead:

    {"Z": B, "Lambda": B, "C_min": B, "C_max": B, "values": B, "shape": [nZ, nL, n_outputs], "dtype": "<f4"}

each B a base64 string of little-endian float32 values; ``values`` in C order [Z][Λ][output], the outputs in the
file's output order.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .fpv import FpvGrid, TableLookup, fpv_manifold, fpv_signature, points_on_manifold, read_grid
from .metadata import TABLE_KEY


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def table_metadata(grid: FpvGrid) -> dict[str, Any]:
    """The metadata entry ``fpv_table``: the grid as base64 little-endian float32 arrays, for compiled lookups
    (the C wrapper); values in C order [Z][Λ][output], outputs in the file's output order."""
    return {"Z": _encode(grid.Z), "Lambda": _encode(grid.Lambda), "C_min": _encode(grid.C_min),
            "C_max": _encode(grid.C_max), "values": _encode(grid.values), "shape": list(grid.values.shape),
            "dtype": "<f4"}


def decode_table(entry: dict[str, Any], path: Path, names: list[str], units: dict[str, str]) -> FpvGrid:
    """The grid of an ``fpv_table`` entry (float32 values widened to float64)."""
    def array(key: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(entry[key]), dtype="<f4").astype(np.float64)

    shape = tuple(entry["shape"])
    return FpvGrid(path, array("Z"), array("Lambda"), array("C_min"), array("C_max"), names,
                   array("values").reshape(shape), units)


def export_table(table: str | Path, path: str | Path, *, outputs: Sequence[str] | None = None,
                 echo: Any = lambda line: None) -> Any:
    """Write the table backend of `table`'s structured (Z, Λ) group to the ONNX file `path`: the lookup graph,
    the linear manifold and the grid itself (``fpv_table``) for compiled lookups."""
    from surrogate.table import file_sha256

    from .onnx_export import Provenance, export_module

    grid = read_grid(table)
    grid = grid.select(list(outputs) if outputs else grid.names)
    signature = fpv_signature(grid)
    points = points_on_manifold(grid, 4096)
    provenance = Provenance(file_sha256(grid.path), "fpv-table", {"shape": list(grid.values.shape)}, "fpv-lookup", "")
    echo(f"table backend: {len(grid.Z)} x {len(grid.Lambda)} (Z, Lambda) grid, {len(grid.names)} outputs")
    return export_module(TableLookup(grid), signature, path, provenance=provenance,
                         parity_inputs={"inputs": points}, parity_source=f"{len(points)} points on the manifold",
                         fold=False, manifold=fpv_manifold(grid), extra_metadata={TABLE_KEY: table_metadata(grid)},
                         echo=echo)
