"""Python runtime: NumPy and torch (IO binding) calls, range policies, clear errors, providers, threads; models
with several tensors (Surrogate.run), fields, version 1 files, and forged version 2 metadata."""

from __future__ import annotations

import os
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from export import runtime
from export.metadata import ModelFileError, MultiTensorError, read_model_file
from export.runtime import (CPU_PROVIDER, InputError, OutOfRangeError, OutOfRangeWarning, Surrogate,
                            available_cpus, default_threads)
from surrogate.errors import UserError
from surrogate.run import load_run
from surrogate.threads import max_threads
from test_export_runs import (FORGERIES, GRID, INPUTS, OUTPUTS, Decoder, Stepper, forge_signature, in_range_points,
                              rewrite_metadata, shared_decoder, shared_onnx, shared_run, shared_stepper, to_version_1)


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


def test_a_large_batch_runs_in_cache_sized_chunks_with_the_same_results(surrogate: Surrogate, monkeypatch) -> None:
    x = in_range_points(1000, seed=8)
    whole = surrogate(x)
    monkeypatch.setattr(runtime, "ROW_CHUNK_CELLS", 64)  # 1000 cells: 16 ONNX Runtime calls, the last one short
    np.testing.assert_allclose(surrogate(x), whole, rtol=1e-6, atol=1e-7)
    assert surrogate.counters.cells >= 2000


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
    with pytest.raises(InputError, match=r"^inputs of shape \(6, 2\): expected \(batch, 3\) with columns Z, C, chi$"):
        surrogate(x[:, :2])
    with pytest.raises(InputError, match="expected \\(batch, 3\\)"):
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
                 "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS", "OMP_NUM_THREADS"):
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


def test_default_threads_follow_omp_num_threads_up_to_the_maximum(monkeypatch) -> None:
    """OMP_NUM_THREADS comes before the share of the node (the C wrapper's order); its first entry counts (a list per
    nesting level), and it is lowered to 4 per CPU, the most any count may be."""
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")
    assert default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "100000")
    assert default_threads() == max_threads() == 4 * (os.cpu_count() or 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "none")
    assert default_threads() == max(1, available_cpus() // 2)


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


def test_a_version_1_file_reads_and_runs_like_its_version_2_twin(tmp_path) -> None:
    """The same graph with the metadata of format version 1: same signature, names, ranges, numbers and policy."""
    v2 = shared_onnx("softmax-mlp")
    v1 = to_version_1(v2, tmp_path / "v1.onnx")
    info_1, info_2 = read_model_file(v1)[1], read_model_file(v2)[1]
    assert (info_1.version, info_2.version) == (1, 2)
    assert info_1.signature == info_2.signature and info_1.parity == info_2.parity
    assert (info_1.input_names, info_1.output_units, info_1.input_ranges) == (INPUTS, info_2.output_units,
                                                                           info_2.input_ranges)
    assert "signature" not in info_1.decoded() and info_1.decoded()["inputs"] == INPUTS
    x = in_range_points(50)
    old, new = (Surrogate(p, provider="cpu", threads=1, policy="error") for p in (v1, v2))
    np.testing.assert_array_equal(old(x), new(x))
    x[7, 0] = 1.5
    with pytest.raises(OutOfRangeError, match="1 cell\\(s\\) outside the trained range: Z in"):
        old(x)
    no_range = rewrite_metadata(v1, tmp_path / "no_range.onnx",
                                lambda meta: meta.update(input_ranges='{"Z": [0, 1], "C": [0, 0.3]}'))
    with pytest.raises(ModelFileError, match="no_range.onnx: metadata 'input_ranges' has no range for "
                                             "input\\(s\\) chi$"):
        Surrogate(no_range)


@pytest.mark.parametrize("forgery", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_forged_version_2_metadata_is_a_one_line_error(forgery, tmp_path) -> None:
    name, edit, message, _ = forgery
    forged = forge_signature(shared_onnx("softmax-mlp"), tmp_path / f"{name}.onnx", edit)
    with pytest.raises(ModelFileError) as caught:
        Surrogate(forged)
    assert str(caught.value) == f"{forged}: metadata 'signature': {message}"


def test_a_signature_that_does_not_describe_the_graph_is_refused(tmp_path) -> None:
    """Valid metadata that names another tensor, or another width, than the graph has; and metadata not JSON."""
    source = shared_onnx("softmax-mlp")
    renamed = forge_signature(source, tmp_path / "renamed.onnx", lambda s: s["inputs"][0].update(name="x"))
    with pytest.raises(ModelFileError, match="^.*renamed.onnx: the graph's inputs are \\(inputs\\) but metadata "
                                             "'signature' names \\(x\\)$"):
        Surrogate(renamed)

    def widen(signature: dict) -> None:
        signature["inputs"][0]["shape"] = ["batch", 4]
        signature["inputs"][0]["components"].append({"name": "T0", "units": "K", "range": [300, 400]})

    wider = forge_signature(source, tmp_path / "wider.onnx", widen)
    with pytest.raises(ModelFileError, match="graph input 'inputs' is float32 \\(\\?, 3\\); metadata 'signature' "
                                             "says float32 \\(batch, 4\\)$"):
        Surrogate(wider)
    broken = rewrite_metadata(source, tmp_path / "broken.onnx", lambda meta: meta.update(signature="{"))
    with pytest.raises(ModelFileError, match="broken.onnx: metadata 'signature' is not valid JSON$"):
        Surrogate(broken)
    newer = rewrite_metadata(source, tmp_path / "newer.onnx", lambda meta: meta.update(format_version="3"))
    with pytest.raises(ModelFileError, match="version '3' is not supported \\(this toolkit reads versions 1 to 2\\)"):
        Surrogate(newer)


def test_run_evaluates_a_model_with_two_input_tensors() -> None:
    """Surrogate.run({condition, latent}) equals the PyTorch module; ranges are checked on the condition only."""
    strict = Surrogate(shared_decoder(), provider="cpu", threads=1, policy="error")
    rng = np.random.default_rng(8)
    condition = np.stack([rng.uniform(0, 1, 30), rng.uniform(0, 100, 30)], axis=1)
    latent = 4 * rng.standard_normal((30, 3))  # no range: large values are fine
    y = strict.run({"condition": condition, "latent": latent})
    with torch.no_grad():
        reference = Decoder().eval()(torch.tensor(condition, dtype=torch.float32),
                                     torch.tensor(latent, dtype=torch.float32)).numpy()
    assert list(y) == ["species"] and y["species"].dtype == np.float32
    np.testing.assert_allclose(y["species"], reference, rtol=1e-5, atol=1e-7)
    outside = condition.copy()
    outside[[3, 9], 1] = 250.0
    with pytest.raises(OutOfRangeError, match="^2 cell\\(s\\) outside the trained range: condition/chi in "):
        strict.run({"condition": outside, "latent": latent})
    clip = Surrogate(shared_decoder(), provider="cpu", threads=1, policy="clip")
    at_edge = outside.copy()
    at_edge[[3, 9], 1] = 100.0
    np.testing.assert_array_equal(clip.run({"condition": outside, "latent": latent})["species"],
                                  clip.run({"condition": at_edge, "latent": latent})["species"])
    with pytest.raises(InputError, match="^inputs 'condition': the model takes condition \\(batch, 2\\) with columns "
                                         "Z, chi, latent \\(batch, 3\\) of field z$"):
        strict.run({"condition": condition})
    with pytest.raises(InputError, match="^latent of shape \\(29, 3\\): expected \\(batch, 3\\) of field z "
                                         "\\(given batch=30\\)$"):
        strict.run({"condition": condition, "latent": latent[1:]})
    nan = latent.copy()
    nan[2, 1] = np.nan
    with pytest.raises(InputError, match="^NaN in input column latent/z; the surrogate is undefined there$"):
        strict.run({"condition": condition, "latent": nan})


def test_per_column_use_of_a_model_with_several_tensors_says_what_to_call() -> None:
    decoder = Surrogate(shared_decoder(), provider="cpu", threads=1)
    expected = ("decoder.onnx: condition (batch, 2), latent (batch, 3) -> species (batch, 4): per-column use "
                "(surrogate(x), surrogate infer, the C wrapper) needs one input and one output tensor; evaluate "
                "this model with Surrogate.run({'condition': ..., 'latent': ...})")
    for call in (lambda: decoder(np.zeros((2, 2))), lambda: decoder.input_names,
                 lambda: decoder(torch.zeros(2, 2))):
        with pytest.raises(MultiTensorError) as caught:
            call()
        assert str(caught.value).endswith(expected) and isinstance(caught.value, UserError)
    assert "condition (batch, 2), latent (batch, 3) -> species (batch, 4)" in repr(decoder)


def test_a_field_model_is_called_like_a_row_model_with_one_range_for_every_element() -> None:
    """state [batch, 6] of field u in [-1, 2]: NumPy and torch calls, the range checked on every grid value."""
    warn = Surrogate(shared_stepper(), provider="cpu", threads=1, policy="warn")
    x = np.random.default_rng(1).uniform(-1, 2, (20, GRID)).astype(np.float32)
    with torch.no_grad():
        reference = Stepper()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(warn(x), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(warn(torch.from_numpy(x)).numpy(), warn(x))
    assert warn.input_names[0] == "u[0]" and warn.lower.tolist() == [-1.0] and warn.upper.tolist() == [2.0]
    x[[4, 11], [2, 5]] = 3.0
    with pytest.warns(OutOfRangeWarning, match="^2 cell\\(s\\) outside the trained range: u in \\[.*, 3\\] "
                                               "\\(trained \\[-1, 2\\]\\)"):
        warn(x)
    assert warn.last_out_of_range == 2 and warn.count_out_of_range(x) == 2
    clip = Surrogate(shared_stepper(), provider="cpu", threads=1, policy="clip")
    np.testing.assert_array_equal(clip(x), clip(np.minimum(x, 2.0)))
    np.testing.assert_array_equal(clip(torch.from_numpy(x)).numpy(), clip(np.minimum(x, 2.0)))
    with pytest.raises(InputError, match="^state of shape \\(20, 5\\): expected \\(batch, 6\\) of field u$"):
        clip(x[:, :5])


# --- validity beyond a box: physical limits, manifold bounds, per-call policy, counters ----------------------------
def off_manifold_cell() -> np.ndarray:
    """Z = 0.5 (fuel-lean side: C_max(0.5) = 0.129 in the fixture table), C = 0.2 and χ = 10: inside the box of ranges
    (C up to 0.244), far above any training row of its Z."""
    return np.array([[0.5, 0.2, 10.0]], dtype=np.float32)


def test_pure_streams_lie_inside_the_trained_range() -> None:
    """Z = 0 (oxidizer) and Z = 1 (fuel) with C = 0 and χ = 0: the training rows only approach them, the ranges
    reach them (dimensionless inputs snapped to their physical limits at export)."""
    strict = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="error")
    streams = np.array([[0, 0, 0], [1, 0, 0]], dtype=np.float32)
    strict(streams)
    assert strict.info.input_ranges["Z"] == (0.0, 1.0) and strict.counters.out_of_range_cells == 0


def test_manifold_bounds_hold_every_training_row_and_follow_c_max() -> None:
    from export.metadata import read_model_file as read
    from surrogate.table import Table
    from test_export_runs import c_max, shared_table

    manifold = read(shared_onnx("softmax-mlp"))[1].manifold
    run = load_run(shared_run("softmax-mlp"))
    x = Table(shared_table()).read_matrix(INPUTS).astype(np.float32)
    assert not manifold.off(x[run.split_indices("train")]).any()
    assert manifold.off(x[run.split_indices("test")]).mean() < 0.01  # held-out rows of the same manifold
    c = INPUTS.index("C")
    centres = 0.5 * (manifold.edges[1:] + manifold.edges[:-1])
    lean = centres > 0.2  # C_max(Z) falls linearly there, well below the box: the bound lies near C_max to its left
    upper = manifold.upper[lean, c]
    assert np.all(upper >= c_max(manifold.edges[1:][lean]) - 1e-6)
    assert np.all(upper <= c_max(manifold.edges[:-1][lean] - (manifold.edges[1] - manifold.edges[0])) + 0.02 * 0.25)


def test_off_manifold_cells_follow_the_policy_of_the_call() -> None:
    surrogate = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="count")
    cell = off_manifold_cell()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        surrogate(cell)  # 'count': evaluated as given, silently
    with pytest.raises(OutOfRangeError, match=r"^1 cell\(s\) off the trained manifold: first cell 0: C = 0\.2 outside "
                                              r"\[0, 0\.1\d*\] at Z = 0\.5"):
        surrogate(cell, policy="error")
    with pytest.warns(OutOfRangeWarning, match="off the trained manifold"):
        as_given = surrogate(cell, policy="warn")
    clipped = surrogate(cell, policy="clip")
    on_bound = cell.copy()
    on_bound[0, 1] = surrogate.manifold.upper[surrogate.manifold.bins([0.5])[0], 1]
    np.testing.assert_array_equal(clipped, surrogate(on_bound))
    assert not np.allclose(clipped, as_given, rtol=1e-3)
    np.testing.assert_array_equal(surrogate(torch.from_numpy(cell), policy="clip").numpy(), clipped)
    counters = surrogate.counters
    assert (counters.calls, counters.cells, counters.off_manifold_cells, counters.refused_calls) == (6, 5, 5, 1)
    assert surrogate.policy == "count"  # a call's policy is the call's only
    box_only = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="error", manifold=False)
    np.testing.assert_array_equal(box_only(cell), as_given)


def test_counters_total_out_of_range_cells_over_calls() -> None:
    surrogate = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1, policy="clip")
    x = in_range_points(50, seed=9)
    x[:7, 0] = 1.5
    for _ in range(3):
        surrogate(x)
    assert (surrogate.counters.calls, surrogate.counters.cells, surrogate.counters.out_of_range_cells) == (3, 150, 21)
    surrogate.reset_counters()
    assert surrogate.counters.cells == 0
    with pytest.raises(UserError, match="expected one of clip, warn, error, count"):
        surrogate(x, policy="ignore")


def test_a_session_without_spinning_gives_the_same_numbers() -> None:
    x = in_range_points(300, seed=12)
    quiet = Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=2, policy="error", spinning=False)
    assert quiet.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    np.testing.assert_array_equal(quiet(x), Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=2,
                                                      policy="error")(x))
