"""Training plots as PNG: parity per output, training curves, weight evolution, strategy comparison."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    _pyplot().close(fig)


def parity(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str], metrics: Mapping[str, Mapping[str, float]],
           path: Path, title: str = "") -> None:
    """Predicted vs true for each output, with R² in each panel."""
    plt = _pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax, (j, name) in zip(axes.flat, enumerate(names)):
        ax.scatter(y_true[:, j], y_pred[:, j], s=2, alpha=0.4)
        lo, hi = float(np.min(y_true[:, j])), float(np.max(y_true[:, j]))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(f"{name}  R²={metrics[name]['r2']:.4f}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Parity ({title})")
    _save(fig, path)


def training_curves(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """Weighted training loss and validation score (mean MSE/variance) per epoch."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(epochs, [row["train_loss"] for row in history], label="train loss (weighted)")
    ax.semilogy(epochs, [row["val_score"] for row in history], label="val score (mean MSE/var)")
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)


def weight_evolution(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """The weight the strategy gave each term, per epoch (log scale)."""
    plt = _pyplot()
    names = sorted({k for row in history for k in row if k.startswith("weight/")})
    fig, ax = plt.subplots(figsize=(6.5, 4))
    epochs = [row["epoch"] for row in history]
    for name in names:
        values = [row.get(name, float("nan")) for row in history]
        ax.plot(epochs, values, label=name[len("weight/"):])
    if names and all(v > 0 for row in history for k, v in row.items() if k in names and v == v):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weight")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    _save(fig, path)


def metric_comparison(table: Mapping[str, Mapping[str, float]], metric: str, path: Path) -> None:
    """Grouped bars per output for each strategy ({strategy: {output: value}}), log scale, lower is better.

    R² is drawn as 1 − R² (plain R² bars near 1 all look alike; 1 − R² separates 0.99 from 0.9999; R² ≤ 0 is
    drawn at 1); an error metric (a PINN's relative L2 error) is drawn as it is.
    """
    plt = _pyplot()
    strategies = list(table)
    outputs = list(next(iter(table.values())))
    width = 0.8 / max(1, len(strategies))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(outputs)), 4))
    x = np.arange(len(outputs))
    for i, name in enumerate(strategies):
        values = [min(1.0, max(1e-7, 1.0 - table[name][o])) if metric == "r2" else max(1e-12, table[name][o])
                  for o in outputs]
        ax.bar(x + i * width, values, width, label=name)
    if metric == "r2":
        ax.axhline(1e-3, color="k", lw=0.8, ls="--", label="R² = 0.999")
    ax.set_xticks(x + width * (len(strategies) - 1) / 2, outputs, rotation=30, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(f"{'1 − test R²' if metric == 'r2' else 'test ' + metric}  (lower is better)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
