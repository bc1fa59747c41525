"""The flamelets a flamelet table stores (``/flamelets/NNNNN``), read back as :class:`Flamelet` objects, so checks
recompute from the solutions themselves what the build derived from them (the structured table's monotonicity,
its lookup error, the turning point)."""

from __future__ import annotations

import json
import os

from .flamelet import Flamelet


def read_curve(path: str | os.PathLike, curve: int = 0) -> tuple[list[Flamelet], list[str]]:
    """The stored flamelets of S-curve `curve` in their stored order, and the names of their Y columns (the
    table's species: the stored Y holds only those)."""
    import h5py

    flamelets, species = [], []
    with h5py.File(path, "r") as h5:
        for _, group in sorted(h5["flamelets"].items()):
            if int(group.attrs["curve"]) != curve:
                continue
            data = {name: group[name][()] for name in Flamelet.PROFILES}
            data.update({name: group.attrs[name] for name in Flamelet.SCALARS})
            flamelets.append(Flamelet.from_arrays(data))
            species = json.loads(group["Y"].attrs["species"])
    return flamelets, species

