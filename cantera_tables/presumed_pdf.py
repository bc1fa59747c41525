"""Presumed-PDF means of a piecewise-linear profile: the β-PDF integrated exactly, with its δ limits.

A flamelet table is a function φ(Z) known at nodes z_0 = 0 < … < z_n = 1 and interpolated linearly between
them (that is how the table is looked up). Its mean over a β-PDF of mean m and normalized variance
S = σ² / (m (1 − m)),

    P(Z) = Z^(a−1) (1 − Z)^(b−1) / B(a, b),   a = m (1/S − 1),   b = (1 − m) (1/S − 1),

is then a finite sum with no quadrature at all. On the segment [z_i, z_i+1] write φ = φ_i + (Z − z_i) B_i with
slope B_i; since Z P(Z; a, b) = m P(Z; a + 1, b),

    ∫ φ P dZ = φ_i ΔI_i(a, b) + B_i [m ΔI_i(a + 1, b) − z_i ΔI_i(a, b)],

where ΔI_i(a, b) = I_z_i+1(a, b) − I_z_i(a, b) are differences of the regularized incomplete beta function
(``scipy.special.betainc``). The mean is a weighted sum W φ of the nodal values with weights that are
non-negative and sum to one, so mass fractions that sum to one at every node still do after integration.
The integrable singularities of P at Z = 0 and 1 (a < 1 or b < 1) never meet a quadrature rule. The limits
are taken exactly:

- S = 0, or m at 0 or 1: P = δ(Z − m), the laminar value φ(m);
- S = 1: P = (1 − m) δ(Z) + m δ(Z − 1), the two pure streams (unmixed, largest variance).

:func:`beta_weights` gives W for many (m, S) at once; :func:`monte_carlo_mean` is the brute-force reference
that the generator and the tests compare against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def beta_parameters(mean: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape parameters (a, b) of the β-PDF of mean `mean` and normalized variance `S`, both in (0, 1)."""
    scale = 1.0 / S - 1.0
    return mean * scale, (1.0 - mean) * scale


def delta_weights(nodes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(len(at), len(nodes)) weights of linear interpolation at the points `at`: the mean over δ(Z − at)."""
    nodes = np.asarray(nodes, dtype=float)
    at = np.clip(np.asarray(at, dtype=float), nodes[0], nodes[-1])
    j = np.clip(np.searchsorted(nodes, at, side="right") - 1, 0, len(nodes) - 2)
    t = (at - nodes[j]) / (nodes[j + 1] - nodes[j])
    weights = np.zeros((len(at), len(nodes)))
    rows = np.arange(len(at))
    weights[rows, j] = 1.0 - t
    weights[rows, j + 1] += t
    return weights


def beta_weights(nodes: np.ndarray, mean: np.ndarray, S: np.ndarray) -> np.ndarray:
    """(n_points, len(nodes)) weights W such that W @ φ is the exact mean of the piecewise-linear profile with
    nodal values φ over the β-PDF of each (mean, S) pair (module docstring). `nodes` must run from 0 to 1;
    `mean` and `S` broadcast to one shape and lie in [0, 1]."""
    from scipy.special import betainc

    nodes = np.asarray(nodes, dtype=float)
    if nodes.ndim != 1 or len(nodes) < 2 or nodes[0] != 0.0 or nodes[-1] != 1.0 or np.any(np.diff(nodes) <= 0):
        raise ValueError("nodes must increase strictly from 0 to 1")
    mean, S = (a.ravel() for a in np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(S, dtype=float)))
    if np.any((mean < 0) | (mean > 1) | (S < 0) | (S > 1)):
        raise ValueError("mean and S must lie in [0, 1]")
    weights = delta_weights(nodes, mean)  # S = 0 and the pure streams
    unmixed = (S >= 1.0) & (mean > 0.0) & (mean < 1.0)
    weights[unmixed] = 0.0
    weights[unmixed, 0] = 1.0 - mean[unmixed]
    weights[unmixed, -1] = mean[unmixed]
    inside = (S > 0.0) & (S < 1.0) & (mean > 0.0) & (mean < 1.0)
    if np.any(inside):
        m = mean[inside, None]
        a, b = beta_parameters(m, S[inside, None])
        dI0 = np.diff(betainc(a, b, nodes), axis=1)
        dI1 = np.diff(betainc(a + 1.0, b, nodes), axis=1)
        h = np.diff(nodes)
        # E_i = ∫_segment (Z − z_i) P dZ, in [0, h_i ΔI0_i]; the clip only removes round-off
        E = np.clip(m * dI1 - nodes[:-1] * dI0, 0.0, h * np.maximum(dI0, 0.0))
        upper = E / h
        w = np.zeros((len(m), len(nodes)))
        w[:, :-1] = np.maximum(dI0, 0.0) - upper
        w[:, 1:] += upper
        weights[inside] = w / w.sum(axis=1, keepdims=True)  # closes round-off of I at the ends to exactly one
    return weights


def monte_carlo_mean(axes: Sequence[np.ndarray], values: np.ndarray, moments: Sequence[tuple[float, float]],
                     samples: int, seed: int = 0, batch: int = 250_000) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force reference: the mean of the multilinear interpolant of `values` (len(axis) for each axis, then
    n_columns) on the grid `axes` over `samples` draws of independent β-PDFs, one (mean, S) per axis with both
    in (0, 1), and its standard error, per column."""
    from scipy.interpolate import RegularGridInterpolator

    rng = np.random.default_rng(seed)
    interpolate = RegularGridInterpolator(tuple(axes), values)
    total = np.zeros(values.shape[len(axes):])
    squares = np.zeros_like(total)
    for start in range(0, samples, batch):
        n = min(batch, samples - start)
        draws = np.column_stack([rng.beta(*beta_parameters(np.float64(m), np.float64(S)), n) for m, S in moments])
        at = interpolate(draws)
        total += at.sum(axis=0)
        squares += (at ** 2).sum(axis=0)
    mean = total / samples
    variance = np.maximum(squares / samples - mean ** 2, 0.0)
    return mean, np.sqrt(variance / samples)
