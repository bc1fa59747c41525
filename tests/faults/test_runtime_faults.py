"""Faults in what a program hands the Python runtime (`Surrogate`): arrays of complex, bool, string or object
dtype, and zero cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export.runtime import InputError, Surrogate
from test_export_runs import OUTPUTS, in_range_points

from .helpers import copy_model


@pytest.fixture(scope="module")
def surrogate(tmp_path_factory: pytest.TempPathFactory) -> Surrogate:
    return Surrogate(copy_model(tmp_path_factory.mktemp("runtime-faults")), provider="cpu", threads=1)


NOT_REAL = {
    "complex128": np.ones((4, 3), dtype=complex),
    "complex64": np.ones((4, 3), dtype=np.complex64),
    "bool": np.ones((4, 3), dtype=bool),
    "<U3": np.full((4, 3), "0.5"),
    "object": np.full((4, 3), 0.5, dtype=object),
}


@pytest.mark.parametrize("dtype", NOT_REAL)
def test_non_real_numpy_arrays_are_refused_naming_the_dtype(surrogate, dtype) -> None:
    with pytest.raises(InputError, match=rf"^inputs of dtype {dtype}: expected real numbers \(float or int\)$"):
        surrogate(NOT_REAL[dtype])


@pytest.mark.parametrize("dtype", [torch.complex64, torch.bool])
def test_non_real_torch_tensors_are_refused_naming_the_dtype(surrogate, dtype) -> None:
    with pytest.raises(InputError, match=rf"^inputs of dtype {dtype}: expected real numbers"):
        surrogate(torch.ones((4, 3), dtype=dtype))


def test_integer_and_float64_cells_are_taken_as_numbers(surrogate) -> None:
    x = in_range_points(20)
    np.testing.assert_array_equal(surrogate(x.astype(np.float64)), surrogate(x))
    cell = np.array([[0, 0, 1]], dtype=np.int64)  # Z = 0: the pure oxidizer, inside the exported range
    np.testing.assert_array_equal(surrogate(cell), surrogate(cell.astype(np.float32)))


def test_zero_cells_give_an_empty_result_of_the_output_width(surrogate) -> None:
    """An MPI rank without cells calls the surrogate like the others and gets (0, n_outputs) back."""
    empty = surrogate(np.zeros((0, 3)))
    assert empty.shape == (0, len(OUTPUTS)) and empty.dtype == np.float32 and surrogate.last_out_of_range == 0
    assert tuple(surrogate(torch.zeros((0, 3))).shape) == (0, len(OUTPUTS))


def test_a_zero_width_or_one_dimensional_array_is_one_line(surrogate) -> None:
    for x in (np.zeros((0, 0)), np.zeros(3), np.zeros((2, 3, 1))):
        with pytest.raises(InputError, match=r"^inputs of shape .*: expected \(batch, 3\) with columns Z, C, chi$"):
            surrogate(x)
