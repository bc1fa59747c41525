"""A small synthetic table shaped like the H2 flamelet table, for trainer tests that need no Cantera.

Mass fractions are a softmax of smooth functions of (Z, C, log χ), scaled so two species are trace
species (~1e-5), which is what makes uniform MSE weighting fail on them. Like a flamelet table, it declares
its defaults (mass fractions as outputs, closed by a softmax; log10 of χ) and groups rows into 20 bands of χ
(label ``band``), standing in for flamelets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.table import Column, DatasetDefaults, write_table

SPECIES = ["H2", "O2", "H2O", "OH", "HO2", "N2"]


def synthetic_table(path: Path, n_rows: int = 4000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Z = rng.uniform(0, 1, n_rows)
    C = rng.uniform(0, 0.25, n_rows) * np.sin(np.pi * Z)
    chi = 10 ** rng.uniform(-2, 2, n_rows)
    logits = np.stack([
        3 * Z, 3 * (1 - Z), 12 * C, 8 * C - 2 * (Z - 0.3) ** 2 - 4, 6 * C - 0.3 * np.log10(chi) - 9, 2.5 + 0 * Z,
    ], axis=1)
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    T = 300 + 2000 * C / 0.25
    inputs = [Column("Z", Z, "-", "mixture fraction"), Column("C", C, "-", "progress variable"),
              Column("chi", chi, "1/s", "scalar dissipation rate")]
    outputs = [Column(f"Y_{s}", Y[:, k], "-", f"mass fraction of {s}") for k, s in enumerate(SPECIES)]
    outputs.append(Column("T", T, "K", "temperature"))
    mass_fractions = [f"Y_{s}" for s in SPECIES]
    defaults = DatasetDefaults(default_outputs=mass_fractions, log_inputs=["chi"], softmax_outputs=mass_fractions,
                               group_column="band")
    band = np.minimum(19, ((np.log10(chi) + 2) / 4 * 20).astype(int))
    write_table(path, kind="synthetic", inputs=inputs, outputs=outputs, attrs={"species": SPECIES},
                defaults=defaults, labels=[Column("band", band, "1", "band of log10 chi (a stand-in flamelet)")])
    return path
