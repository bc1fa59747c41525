"""Figures of the rollout task: space–time maps of truth, prediction and error for one trajectory, and the
conserved quantities and the state error along the rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from surrogate.plots import _pyplot, _save


def space_time(truth: np.ndarray, predicted: np.ndarray, x: np.ndarray, dt: float, path: Path, title: str) -> None:
    """Three heat maps u(t, x) (time upward): truth, prediction, prediction - truth."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    extent = (float(x[0]), float(x[-1]), 0.0, dt * (len(truth) - 1))
    lo, hi = float(truth.min()), float(truth.max())
    error = predicted - truth
    finite = error[np.isfinite(error)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    panels = ((truth, "truth", "viridis", lo, hi), (predicted, "prediction", "viridis", lo, hi),
              (error, "prediction - truth", "RdBu_r", -bound, bound))
    for ax, (values, label, cmap, vmin, vmax) in zip(axes, panels):
        image = ax.imshow(values, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("x")
        fig.colorbar(image, ax=ax, fraction=0.046)
    axes[0].set_ylabel("t")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def along_rollout(times: np.ndarray, truth: Mapping[str, np.ndarray], predicted: Mapping[str, np.ndarray],
                  state_mse: np.ndarray, path: Path, title: str) -> None:
    """One panel per conserved quantity (truth and prediction of one trajectory), then the state MSE over time
    (mean over the split's trajectories)."""
    plt = _pyplot()
    names = list(truth)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(4 * (len(names) + 1), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(times, truth[name], "k-", lw=1.2, label="truth")
        ax.plot(times, predicted[name], "C1--", lw=1.2, label="prediction")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("t")
        ax.legend(fontsize=8)
    ax = axes[0][-1]
    ax.semilogy(times[1:], np.maximum(state_mse[1:], np.finfo(float).tiny), "C0-")
    ax.set_title("state MSE (mean over trajectories)", fontsize=10)
    ax.set_xlabel("t")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
