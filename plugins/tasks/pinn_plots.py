"""Figures of a PINN's solution against the exact one: curves for one input, images for two."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from surrogate.atomic import atomic_path


def solution(names: Sequence[str], points: np.ndarray, shape: Sequence[int], exact: np.ndarray,
             predicted: np.ndarray, rel_l2: float, path: Path) -> None:
    """1-D: u and u_exact over the input, and the error below; 2-D (space or space-time): exact, predicted
    and |error| as images over the grid (first input across, second up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title = f"relative L2 error {rel_l2:.3e}"
    if len(names) == 1:
        x = points[:, 0]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5), sharex=True)
        top.plot(x, exact, "k", lw=1.2, label="exact")
        top.plot(x, predicted, "C1--", lw=1.0, label="PINN")
        top.set_ylabel("u")
        top.legend(fontsize=8)
        bottom.plot(x, predicted - exact, "C3", lw=0.8)
        bottom.set_ylabel("u - u_exact")
        bottom.set_xlabel(names[0])
    else:
        extent = [points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max()]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, values, label in zip(axes, (exact, predicted, np.abs(predicted - exact)),
                                     ("exact", "PINN", "|error|")):
            image = ax.imshow(values.reshape(shape).T, origin="lower", extent=extent, aspect="auto", cmap="viridis")
            ax.set_title(label)
            ax.set_xlabel(names[0])
            ax.set_ylabel(names[1])
            fig.colorbar(image, ax=ax)
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
