"""Two HDF5 files compared bit for bit, every dataset and every attribute: what a resumed table build must give
back of the build that was never interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

# attributes that name when a file was written, not what it holds
WRITE_TIME = ("/@created",)


def h5_contents(path: str | Path) -> dict[str, Any]:
    """{'/group/dataset': values, '/group/dataset@attribute': value, '/@attribute': value} of the whole file."""
    with h5py.File(path, "r") as h5:
        contents: dict[str, Any] = {f"/@{key}": value for key, value in h5.attrs.items()}

        def visit(name: str, node: Any) -> None:
            if isinstance(node, h5py.Dataset):
                contents[f"/{name}"] = node[()]
            contents.update({f"/{name}@{key}": value for key, value in node.attrs.items()})

        h5.visititems(visit)
    return contents


def same_bits(a: Any, b: Any) -> bool:
    """Whether two values read from HDF5 are identical: dtype, shape and bytes for numbers (so -0.0 is not 0.0
    and NaN equals the same NaN), equality for strings and objects."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return a.tolist() == b.tolist()
    return a.tobytes() == b.tobytes()


def assert_same_h5(path: str | Path, reference: str | Path, ignore: tuple[str, ...] = WRITE_TIME) -> None:
    """Fail naming every dataset or attribute that is missing, extra or not bitwise equal (largest difference of
    numbers), `ignore` aside."""
    got, expected = h5_contents(path), h5_contents(reference)
    names = sorted((got.keys() | expected.keys()) - set(ignore))
    problems = []
    for name in names:
        if name not in got or name not in expected:
            problems.append(f"{name}: only in {'the reference' if name in expected else path}")
        elif not same_bits(got[name], expected[name]):
            a, b = np.asarray(got[name]), np.asarray(expected[name])
            numeric = a.dtype.kind in "fiu" and a.shape == b.shape
            problems.append(f"{name}: differs" + (f" (max |diff| {np.max(np.abs(a - b)):.3g})" if numeric else ""))
    assert not problems, f"{path} is not {reference} bit for bit:\n" + "\n".join(problems)
