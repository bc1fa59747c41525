"""Python runtime: NumPy and torch (IO binding) calls, range policies, clear errors, providers, threads."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from export.metadata import ModelFileError
from export.runtime import (CPU_PROVIDER, InputError, OutOfRangeError, OutOfRangeWarning, Surrogate,
                            available_cpus, default_threads)
from surrogate.errors import UserError
from surrogate.run import load_run
from test_export_runs import OUTPUTS, in_range_points, shared_onnx, shared_run


@pytest.fixture(scope="module")
def surrogate() -> Surrogate:
    return Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="warn")


def test_runtime_reproduces_the_trained_run(surrogate: Surrogate) -> None:
    x = in_range_points(400, seed=5)
    y = surrogate(x.astype(np.float64))  # float64 callers are converted
    reference = load_run(shared_run("softmax-mlp")).predict(x)
    assert y.dtype == np.float32 and y.shape == (400, len(OUTPUTS))
    np.testing.assert_allclose(y, reference, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(y[:, :4].sum(axis=1), 1.0, atol=1e-5)  # softmax closure survives export


def test_torch_tensor_through_io_binding_equals_numpy(surrogate: Surrogate) -> None:
    """The IO-bound torch path gives bit-identical results, as a torch tensor, without touching the input."""
    x = in_range_points(257, seed=6)
    tensor = torch.from_numpy(x.copy())
    y_tensor = surrogate(tensor)
    assert isinstance(y_tensor, torch.Tensor) and y_tensor.device.type == "cpu"
    np.testing.assert_array_equal(y_tensor.numpy(), surrogate(x))
    np.testing.assert_array_equal(tensor.numpy(), x)
    column_slice = torch.from_numpy(np.ascontiguousarray(np.concatenate([x, x], axis=1)))[:, :3]  # strided view
    np.testing.assert_array_equal(surrogate(column_slice).numpy(), surrogate(x))


def test_clip_policy_evaluates_the_nearest_trained_cell() -> None:
    """χ far above the trained maximum, under 'clip', gives exactly the output at the maximum."""
    clip = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="clip")
    x = in_range_points(10, seed=7)
    outside = x.copy()
    outside[:, 2] = 1e6
    at_edge = x.copy()
    at_edge[:, 2] = clip.upper[2]
    np.testing.assert_array_equal(clip(outside), clip(at_edge))
    np.testing.assert_array_equal(clip(torch.from_numpy(outside)).numpy(), clip(at_edge))
    np.testing.assert_array_equal(outside[:, 2], 1e6)  # the caller's array is not modified


def test_warn_policy_evaluates_as_given_and_counts_cells(surrogate: Surrogate) -> None:
    x = in_range_points(10, seed=8)
    x[[2, 5], 0] = 1.5  # Z above 1
    with pytest.warns(OutOfRangeWarning, match=r"^2 cell\(s\) outside the trained range: Z in \[.*, 1\.5\]"):
        y = surrogate(x)
    clipped = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="clip")(x)
    assert not np.allclose(y[[2, 5]], clipped[[2, 5]])  # extrapolated, not clamped
    np.testing.assert_array_equal(y[[0, 1, 3]], clipped[[0, 1, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        surrogate(in_range_points(10))  # in range: silent


def test_error_policy_names_the_column_and_its_range() -> None:
    strict = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="error")
    x = in_range_points(5)
    x[3, 1] = -0.5
    with pytest.raises(OutOfRangeError, match=r"1 cell\(s\) outside the trained range: C in \[-0\.5,"):
        strict(x)
    with pytest.raises(OutOfRangeError):
        strict(torch.from_numpy(x))
    assert strict(in_range_points(5)).shape == (5, len(OUTPUTS))


def test_nan_and_wrong_width_are_one_line_input_errors(surrogate: Surrogate) -> None:
    x = in_range_points(6)
    x[4, 2] = np.nan
    for cells in (x, torch.from_numpy(x)):
        with pytest.raises(InputError, match="^NaN in input column chi;") as caught:
            surrogate(cells)
        assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match=r"shape \(6, 2\): expected \(n_cells, 3\) with columns Z, C, chi"):
        surrogate(x[:, :2])
    with pytest.raises(InputError, match="expected \\(n_cells, 3\\)"):
        surrogate(np.zeros(3, dtype=np.float32))
    assert isinstance(InputError("x"), UserError)
    assert surrogate(np.empty((0, 3), dtype=np.float32)).shape == (0, len(OUTPUTS))


def test_truncated_and_foreign_files_are_rejected_with_a_reason(tmp_path) -> None:
    data = shared_onnx("softmax-mlp").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated.onnx: not a readable ONNX file, truncated or corrupt"):
        Surrogate(truncated)
    identity = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])]))
    foreign = tmp_path / "foreign.onnx"
    onnx.save(identity, str(foreign))
    with pytest.raises(ModelFileError, match="ONNX model without thermo-surrogate metadata"):
        Surrogate(foreign)
    with pytest.raises(ModelFileError, match="no such file"):
        Surrogate(tmp_path / "missing.onnx")


def test_provider_auto_reports_what_runs_and_cuda_without_support_is_an_error(surrogate: Surrogate) -> None:
    auto = Surrogate(shared_onnx("softmax-mlp"))
    assert auto.provider in auto.session.get_providers()
    assert auto.provider in repr(auto)
    if "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        assert auto.provider == CPU_PROVIDER
        with pytest.raises(UserError, match="provider 'cuda': this onnxruntime has no CUDA support"):
            Surrogate(shared_onnx("softmax-mlp"), provider="cuda")
    with pytest.raises(UserError, match="expected one of clip, warn, error"):
        Surrogate(shared_onnx("softmax-mlp"), policy="ignore")


def test_default_threads_do_not_oversubscribe_mpi_ranks(monkeypatch) -> None:
    for name in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "PALS_LOCAL_SIZE",
                 "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert default_threads() == available_cpus()
    monkeypatch.setenv("PMI_SIZE", "64")
    assert default_threads() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    assert default_threads() == max(1, available_cpus() // 2)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")
    monkeypatch.delenv("PMI_SIZE")
    monkeypatch.delenv("OMPI_COMM_WORLD_LOCAL_SIZE")
    assert default_threads() == available_cpus()
    session_threads = Surrogate(shared_onnx("mlp"), threads=3).session.get_session_options().intra_op_num_threads
    assert session_threads == 3


@pytest.mark.gpu
def test_cuda_tensors_stay_on_the_device_and_match_the_cpu() -> None:
    """Device-resident inputs through IO binding on the CUDA provider (needs onnxruntime-gpu and a GPU)."""
    import onnxruntime as ort

    if not torch.cuda.is_available() or "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no CUDA GPU with onnxruntime-gpu here")
    gpu = Surrogate(shared_onnx("softmax-mlp"), provider="cuda")
    assert gpu.provider == "CUDAExecutionProvider"
    x = in_range_points(1000)
    y = gpu(torch.from_numpy(x).cuda())
    assert y.device.type == "cuda"
    np.testing.assert_allclose(y.cpu().numpy(), Surrogate(shared_onnx("softmax-mlp"), provider="cpu")(x),
                               rtol=1e-4, atol=1e-6)
