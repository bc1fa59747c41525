"""The baseline a surrogate replaces: multilinear lookup in the structured (Z, Λ) table.

Flamelet/progress-variable solvers tabulate outputs on a regular grid of mixture fraction Z and normalized
progress variable Λ = (C − C_min(Z)) / (C_max(Z) − C_min(Z)) (Pierce & Moin, J. Fluid Mech. 504, 2004) and
interpolate multilinearly. The table file keeps that grid under ``/structured``: 1-D ``Z`` (nZ), ``Lambda``
(nL), ``C_min`` and ``C_max`` (nZ), and 2-D ``outputs/<name>`` (nZ, nL). Interpolation is SciPy's
``RegularGridInterpolator``; C_min(Z) and C_max(Z) are interpolated linearly in Z.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from surrogate.errors import TableError

GROUP = "structured"


class StructuredLookup:
    """Outputs at (Z, C) points by multilinear interpolation in the table's structured (Z, Λ) grid."""

    def __init__(self, path: str | os.PathLike, output_names: Sequence[str] | None = None):
        import h5py
        from scipy.interpolate import RegularGridInterpolator

        self.path = Path(path)
        try:
            h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise TableError(f"{self.path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
        with h5:
            if GROUP not in h5:
                raise TableError(f"{self.path}: no /{GROUP} group (the structured (Z, Lambda) table)")
            group = h5[GROUP]
            for name in ("Z", "Lambda", "C_min", "C_max", "outputs"):
                if name not in group:
                    raise TableError(f"{self.path}: /{GROUP} has no {name!r}")
            stored = list(group["outputs"].keys())
            names = [n for n in (output_names or stored) if n in stored]
            if not names:
                raise TableError(f"{self.path}: /{GROUP}/outputs has none of {', '.join(output_names or [])}")
            self.z = np.asarray(group["Z"][()], dtype=np.float64)
            self.lam = np.asarray(group["Lambda"][()], dtype=np.float64)
            self.c_min = np.asarray(group["C_min"][()], dtype=np.float64)
            self.c_max = np.asarray(group["C_max"][()], dtype=np.float64)
            values = np.stack([np.asarray(group["outputs"][n][()], dtype=np.float64) for n in names], axis=-1)
            self.nbytes = sum(int(d.size) * d.dtype.itemsize for d in _datasets(group))
        self.output_names = names
        self.interpolator = RegularGridInterpolator((self.z, self.lam), values, method="linear",
                                                    bounds_error=False, fill_value=None)

    def progress(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Normalized progress variable Λ ∈ [0, 1] at (Z, C); 0 where C_max = C_min (the pure streams)."""
        c_min = np.interp(z, self.z, self.c_min)
        span = np.interp(z, self.z, self.c_max) - c_min
        lam = np.divide(c - c_min, span, out=np.zeros_like(span), where=span > 0)
        return np.clip(lam, 0.0, 1.0)

    def __call__(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        """(n, n_outputs) outputs at n points (Z, C), in the order of ``output_names``."""
        z = np.clip(np.asarray(z, dtype=np.float64), self.z[0], self.z[-1])
        points = np.stack([z, self.progress(z, np.asarray(c, dtype=np.float64))], axis=-1)
        return self.interpolator(points)


def _datasets(group: object) -> list:
    """Every dataset below an h5py group."""
    import h5py

    found: list = []
    group.visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset) else None)
    return found
