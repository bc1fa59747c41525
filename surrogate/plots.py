"""Training plots as PNG: parity per output, training curves, weight evolution, strategy comparison."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    _pyplot().close(fig)


def unit_label(units: str | None) -> str:
    """'[K]' for an axis label; '[-]' for a dimensionless column (units '1' or none given)."""
    return f"[{units}]" if units and units != "1" else "[-]"


def compact_ticks(ax) -> None:
    """At most four ticks per axis, and a shared power of ten beside the axis (×10⁻⁵) instead of long labels, so
    the tick labels of small values (Y_HO2, Y_H2O2) never run into each other."""
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=4))
    ax.ticklabel_format(axis="both", style="sci", scilimits=(-2, 4), useMathText=True)


def parity(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str], metrics: Mapping[str, Mapping[str, float]],
           path: Path, title: str = "", units: Mapping[str, str] | None = None) -> Figure:
    """Predicted against true for each output, in physical units (labelled on both axes), with R² in each panel
    and the line of perfect prediction; returns the (closed) matplotlib Figure after saving it to `path`."""
    plt = _pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), squeeze=False)
    for ax, (j, name) in zip(axes.flat, enumerate(names)):
        ax.scatter(y_true[:, j], y_pred[:, j], s=2, alpha=0.4)
        lo, hi = float(np.min(y_true[:, j])), float(np.max(y_true[:, j]))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        r2 = metrics[name]["r2"]
        ax.set_title(f"{name}  R²={r2:.4f}" if r2 is not None else f"{name}  R² undefined", fontsize=9)
        unit = unit_label((units or {}).get(name))
        ax.set_xlabel(f"true {unit}", fontsize=8)
        ax.set_ylabel(f"predicted {unit}", fontsize=8)
        compact_ticks(ax)
        ax.tick_params(labelsize=7)
        for offset in (ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()):
            offset.set_fontsize(7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Parity: predicted vs true ({title})" if title else "Parity: predicted vs true")
    fig.tight_layout()
    _save(fig, path)
    return fig


def training_curves(history: Sequence[Mapping[str, float]], path: Path) -> Figure:
    """Weighted training loss and validation score (mean MSE/variance) per epoch, both dimensionless (computed on
    the scaled outputs); returns the saved (closed) Figure."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(epochs, [row["train_loss"] for row in history], label="train loss (weighted)")
    ax.semilogy(epochs, [row["val_score"] for row in history], label="val score (mean MSE/var)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss, score [-] (scaled outputs, log)")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig


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


def metric_comparison(table: Mapping[str, Mapping[str, float]], metric: str, path: Path) -> Figure:
    """Grouped bars per output for each strategy ({strategy: {output: value}}), log scale, lower is better;
    returns the saved (closed) Figure.

    R² is drawn as 1 − R², uncapped: bars near 1 − R² = 0 separate 0.99 from 0.9999, and an R² of 0 or below
    (no better than predicting the training mean) reaches the line at 1 or beyond it, each at its own height
    (R² = 0.11, 0.015 and −0.196 draw as 0.89, 0.985 and 1.196). An error metric (a PINN's relative L2 error)
    is drawn as it is.
    """
    plt = _pyplot()
    strategies = list(table)
    outputs = list(next(iter(table.values())))
    width = 0.8 / max(1, len(strategies))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(outputs)), 4))
    x = np.arange(len(outputs))
    for i, name in enumerate(strategies):
        values = [max(1e-7, 1.0 - table[name][o]) if metric == "r2" else max(1e-12, table[name][o])
                  for o in outputs]
        ax.bar(x + i * width, values, width, label=name)
    if metric == "r2":
        ax.axhline(1e-3, color="k", lw=0.8, ls="--", label="R² = 0.999")
        ax.axhline(1.0, color="tab:red", lw=0.8, ls=":", label="R² = 0 (training mean)")
    ax.set_xticks(x + width * (len(strategies) - 1) / 2, outputs, rotation=30, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("1 − test R² (lower is better;\nabove 1: R² < 0)" if metric == "r2"
                  else f"test {metric} (lower is better)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return fig
