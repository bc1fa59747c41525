"""Resampling a reacting path (an ignition trajectory in time, a premixed flame in space) at nodes of its
progress variable C, the table coordinate of FPV/FGM lookups.

The path is followed through its running maximum of C, so a path on which C dips briefly (differential
diffusion, a species of C consumed late) still maps each C node to one state: the first one that reaches it.
"""

from __future__ import annotations

import numpy as np


def resample_by_progress(C: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(C at the nodes, `values` (n_points, n_columns) at the nodes): `n` nodes uniform in C from its first to
    its largest value along the path, each state interpolated linearly in C between the two path points around it
on the running maximum.

    A path on which C never rises (no reaction) gives its first state alone.
    """
    C = np.asarray(C, dtype=float)
    values = np.asarray(values, dtype=float)
    envelope = np.maximum.accumulate(C)
    rising = np.flatnonzero(np.diff(envelope, prepend=-np.inf) > 0.0)
    if envelope[-1] - envelope[0] <= 1e-12 * max(1.0, abs(envelope[0])):
        return C[:1], values[:1]
    nodes = np.linspace(envelope[0], envelope[-1], n)
    position = np.interp(nodes, envelope[rising], np.arange(len(rising), dtype=float))
    j = np.minimum(np.floor(position).astype(int), len(rising) - 2)
    weight = (position - j)[:, None]
    return nodes, (1.0 - weight) * values[rising[j]] + weight * values[rising[j + 1]]
