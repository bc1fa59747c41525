"""Results of the jet flame: the cell dump (fields.csv) as grids, PNG maps of the fields, a one-paragraph summary.

``fields.csv`` holds one row per cell with its centre (x, y), the model inputs as the C wrapper received them
(float32 values, 9 significant digits, exact) and the model outputs it returned, then rho_surrogate (the model's
density), rho_flow (the flow's) and the velocity; ``fields_mean.csv`` the same averaged over the run's last steps.
The mesh is one structured layer, so cell centres form an nx-by-ny grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


FIELD_UNITS = {"x": "m", "y": "m", "Z": "1", "C": "1", "T": "K", "rho": "kg/m³", "rho_surrogate": "kg/m³",
               "rho_flow": "kg/m³", "omega_C": "kg/m³/s", "heat_release": "W/m³", "chi": "1/s", "u": "m/s",
               "v": "m/s"}  # Y_* are mass fractions, "1"


def field_label(name: str) -> str:
    """'T [K]', 'omega_C [kg/m³/s]', 'Y_OH [-]': a field of fields.csv with its units."""
    units = FIELD_UNITS.get(name, "1" if name.startswith("Y_") else "")
    return f"{name} [{units if units and units != '1' else '-'}]"


def colour_style(*fields: np.ndarray, signed: bool = False) -> dict:
    """pcolormesh colours shared by `fields`: a sequential map over their range, or for signed values (ω_C with
    a negative lobe, a difference: `signed`) a diverging map symmetric about 0, so white is 0 and red and blue
    read as the two signs."""
    low = min(float(np.nanmin(f)) for f in fields)
    high = max(float(np.nanmax(f)) for f in fields)
    if signed or low < 0:
        top = max(-low, high, 1e-30)  # an all-zero difference still has a scale
        return {"vmin": -top, "vmax": top, "cmap": "RdBu_r"}
    return {"vmin": low, "vmax": high, "cmap": "inferno"}


def panel_size(columns: dict[str, np.ndarray], width: float) -> tuple[float, float]:
    """(width, height) in inches of one map `width` wide at the domain's own aspect ratio (x along, y across),
    with room for the axis labels: no empty band above or below a long, thin domain."""
    extent_x = float(np.ptp(columns["x"])) or 1.0
    extent_y = float(np.ptp(columns["y"])) or 1.0
    return width, max(1.2, width * 0.8 * extent_y / extent_x + 0.7)


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int) -> Path:
    """Write `fig` to `path` atomically, cropped to what is drawn (no empty margin), and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight", pad_inches=0.05)
    pyplot().close(fig)
    return path


def plot_fields(columns: dict[str, np.ndarray], names: list[str], path: Path, title: str) -> Path:
    """:func:`fields_figure` saved as PNG to `path`."""
    return save_png(fields_figure(columns, names, title), path, dpi=120)


def fields_figure(columns: dict[str, np.ndarray], names: list[str], title: str) -> Any:
    """One map per field name (x streamwise, y across, millimetres), stacked; each colour bar is labelled with
    its field's units, signed fields (ω_C) on a diverging scale centred at 0. Returns the matplotlib Figure."""
    plt = pyplot()
    missing = [n for n in names if n not in columns]
    if missing:
        raise UserError(f"fields.csv has no column {', '.join(missing)}")
    width, height = panel_size(columns, 7.0)
    fig, axes = plt.subplots(len(names), 1, figsize=(width, height * len(names)), squeeze=False,
                             constrained_layout=True)
    for ax, name in zip(axes[:, 0], names):
        x, y, grid = as_grid(columns, name)
        image = ax.pcolormesh(1e3 * x, 1e3 * y, grid, shading="nearest", **colour_style(grid))
        ax.set_aspect("equal")
        ax.set_ylabel("y [mm]")
        fig.colorbar(image, ax=ax, label=field_label(name), shrink=0.9)
    axes[-1, 0].set_xlabel("x [mm]")
    fig.suptitle(title, fontsize=10)
    return fig


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
