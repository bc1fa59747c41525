"""Results of the jet flame: the cell dump (fields.csv) as grids, PNG maps of the fields, a one-paragraph summary.

``fields.csv`` holds one row per cell with its centre (x, y), the model inputs as the C wrapper received them
(float32 values, 9 significant digits, exact) and the model outputs it returned, then rho_surrogate (the model's
density), rho_flow (the flow's) and the velocity; ``fields_mean.csv`` the same averaged over the run's last steps.
The mesh is one structured layer, so cell centres form an nx-by-ny grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.atomic import atomic_path
from surrogate.errors import UserError


def read_fields(path: Path) -> dict[str, np.ndarray]:
    """Columns of fields.csv by name (float64 arrays, one value per cell)."""
    if not path.is_file():
        raise UserError(f"{path}: no such file (the case writes it at its last time step)")
    header = path.read_text().split("\n", 1)[0].strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if values.shape[1] != len(header):
        raise UserError(f"{path}: {values.shape[1]} columns of numbers under {len(header)} names")
    return {name: values[:, i] for i, name in enumerate(header)}


def as_grid(columns: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x nodes of cell centres, y ..., field[ny, nx]) of a structured single-layer mesh."""
    x, y = np.unique(columns["x"].round(12)), np.unique(columns["y"].round(12))
    if len(x) * len(y) != len(columns["x"]):
        raise UserError(f"cell centres do not form a grid ({len(x)} x {len(y)} != {len(columns['x'])} cells)")
    grid = np.full((len(y), len(x)), np.nan)
    grid[np.searchsorted(y, columns["y"].round(12)), np.searchsorted(x, columns["x"].round(12))] = columns[name]
    return x, y, grid


def plot_fields(columns: dict[str, np.ndarray], names: list[str], path: Path, title: str) -> Path:
    """One map per field name (x streamwise, y across, millimetres), stacked, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    missing = [n for n in names if n not in columns]
    if missing:
        raise UserError(f"fields.csv has no column {', '.join(missing)}")
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        x, y, grid = as_grid(columns, name)
        image = ax.pcolormesh(1e3 * x, 1e3 * y, grid, shading="nearest", cmap="inferno")
        ax.set_aspect("equal")
        ax.set_ylabel("y [mm]")
        fig.colorbar(image, ax=ax, label=name, shrink=0.9)
    axes[-1, 0].set_xlabel("x [mm]")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def flame_summary(columns: dict[str, np.ndarray]) -> dict[str, float]:
    """Numbers that describe the flame: peak T and Y_OH and where T peaks, the flame length (last x where T >
    1500 K), the burning cells' share, and the inputs' ranges."""
    t = columns["T"]
    hot = t > 1500.0
    k = int(np.argmax(t))
    summary = {"T_max": float(t.max()), "T_max_x": float(columns["x"][k]), "T_max_y": float(columns["y"][k]),
               "T_max_Z": float(columns["Z"][k]), "hot_cells": int(hot.sum()), "cells": int(len(t)),
               "flame_length": float(columns["x"][hot].max()) if hot.any() else 0.0}
    if "Y_OH" in columns:
        summary["Y_OH_max"] = float(columns["Y_OH"].max())
    return summary
