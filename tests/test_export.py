"""ONNX export: torch.export-based graph, physical IO, dynamic batch, metadata contract, parity, fp16."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from export.metadata import REQUIRED_KEYS, read_model_file
from export.onnx_export import export_run, parity_points
from surrogate.cli.main import cli
from surrogate.errors import UserError
from surrogate.run import load_run
from surrogate.table import Table
from test_export_runs import (INPUTS, OUTPUTS, UNITS, in_range_points, shared_onnx, shared_run, shared_table,
                              write_run)

MODELS = ["softmax-mlp", "mlp", "fourier-mlp"]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_plugin_exports_with_pytorch_parity(model: str) -> None:
    """Each model plugin's ONNX file reproduces the PyTorch run to float32 round-off, physical in and out."""
    path = shared_onnx(model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = in_range_points(500)
    y_onnx = session.run(["outputs"], {"inputs": x})[0]
    y_torch = load_run(shared_run(model)).predict(x)
    scale = np.abs(y_torch).max(axis=0)
    assert np.all(np.abs(y_onnx - y_torch).max(axis=0) / scale < 1e-5)
    assert 300 < y_onnx[:, OUTPUTS.index("T")].mean() < 2100  # physical kelvin, not standardized units
    recorded = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["parity_max_abs_error"])
    assert set(recorded) == set(OUTPUTS) and recorded["T"] < 1e-2


def test_exported_graph_has_float32_io_and_a_dynamic_batch_axis() -> None:
    """One cell and a thousand cells run through the same file; IO is float32 [batch, n]."""
    proto = onnx.load(str(shared_onnx("softmax-mlp")))
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert (graph_input.name, graph_output.name) == ("inputs", "outputs")
    for value, width in ((graph_input, len(INPUTS)), (graph_output, len(OUTPUTS))):
        tensor_type = value.type.tensor_type
        assert tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert tensor_type.shape.dim[0].dim_param == "batch"
        assert tensor_type.shape.dim[1].dim_value == width
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = in_range_points(1000)
    many = session.run(None, {"inputs": x})[0]
    one = session.run(None, {"inputs": x[:1]})[0]
    assert many.shape == (1000, len(OUTPUTS)) and one.shape == (1, len(OUTPUTS))
    np.testing.assert_allclose(one[0], many[0], rtol=1e-6)


def test_metadata_carries_names_units_ranges_and_provenance() -> None:
    """Every key of the contract is there and agrees with the run and its table."""
    _, info = read_model_file(shared_onnx("softmax-mlp"))
    meta = info.decoded()
    run = load_run(shared_run("softmax-mlp"))
    assert set(REQUIRED_KEYS) <= set(meta)
    assert meta["format"] == "thermo-surrogate-onnx" and meta["format_version"] == "1"
    assert meta["inputs"] == INPUTS and meta["outputs"] == OUTPUTS
    assert meta["input_units"] == {n: UNITS[n] for n in INPUTS}
    assert meta["output_units"]["T"] == "K"
    chi = Table(shared_table()).read("chi")
    assert meta["input_ranges"]["chi"] == [0.0, pytest.approx(chi.max())]
    assert meta["table_sha256"] == Table(shared_table()).sha256() == run.table_sha256
    assert (meta["model"], meta["model_options"], meta["weighting"]) == ("softmax-mlp", {"depth": 2, "width": 16},
                                                                         "uniform")
    assert (meta["opset"], meta["precision"]) == ("18", "fp32")
    assert meta["toolkit_version"] and set(meta["parity_max_abs_error"]) == set(OUTPUTS)


def test_fp16_keeps_float32_io_and_reports_the_error_it_costs() -> None:
    """fp16 weights inside, float32 inputs and outputs; the recorded error is above fp32's and honest."""
    proto = onnx.load(str(shared_onnx("softmax-mlp", fp16=True)))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["precision"] == "fp16"
    fp16_error = json.loads(meta["parity_max_abs_error"])
    _, fp32_info = read_model_file(shared_onnx("softmax-mlp"))
    fp32_error = fp32_info.decoded()["parity_max_abs_error"]
    assert all(fp16_error[n] > fp32_error[n] for n in OUTPUTS)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = in_range_points(300, seed=3)
    error = np.abs(session.run(None, {"inputs": x})[0] - load_run(shared_run("softmax-mlp")).predict(x))
    assert np.all(error.max(axis=0) < 4 * np.array([fp16_error[n] for n in OUTPUTS]))
    assert error[:, OUTPUTS.index("T")].max() < 5.0  # kelvin


def test_failed_parity_is_a_one_line_error_and_leaves_no_file(tmp_path) -> None:
    """An fp16 export cannot meet a 1e-9 tolerance: exit 2, one 'Error:' line, nothing written."""
    target = tmp_path / "model.onnx"
    result = CliRunner().invoke(cli, ["export", str(shared_run("mlp")), "-o", str(target), "--fp16",
                                      "--tolerance", "1e-9"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "parity check failed" in error_lines[0]
    assert "Y_" in result.output and "max abs error" in result.output  # the per-output report came first
    assert list(tmp_path.iterdir()) == []


def test_export_cli_writes_a_model_that_info_describes(tmp_path) -> None:
    """`surrogate export` then `surrogate info`: names, ranges with units, parity and provenance printed."""
    target = tmp_path / "m.onnx"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(shared_run("mlp")), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "parity passed" in result.output and target.is_file()
    shown = runner.invoke(cli, ["info", str(target)])
    assert shown.exit_code == 0
    assert "chi" in shown.output and "1/s" in shown.output and "model: mlp" in shown.output
    assert "weighting: uniform" in shown.output and "precision: fp32" in shown.output
    as_json = json.loads(runner.invoke(cli, ["info", str(target), "--json"]).output)
    assert as_json["outputs"] == OUTPUTS and as_json["input_ranges"]["Z"][0] >= 0
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(target.read_bytes()[:1000])
    failed = runner.invoke(cli, ["info", str(truncated)])
    assert failed.exit_code == 2 and failed.output.count("\n") == 1 and "truncated or corrupt" in failed.output


def test_low_opset_and_missing_run_are_user_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="opset >= 18"):
        export_run(load_run(shared_run("mlp")), tmp_path / "m.onnx", opset=13)
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "nope"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and result.output.startswith("Error:") and "not a run directory" in result.output


def test_parity_points_fall_back_to_the_input_ranges_without_the_table(tmp_path) -> None:
    """A run whose table moved away is checked on points drawn inside its trained ranges (χ log-uniform)."""
    table_copy = tmp_path / "table.h5"
    table_copy.write_bytes(shared_table().read_bytes())
    run_dir = write_run(tmp_path / "run", table_copy, "mlp")
    table_copy.unlink()
    run = load_run(run_dir)
    x, source = parity_points(run, n_points=2000)
    assert "sampled in the input ranges" in source and x.shape == (2000, 3)
    for j, name in enumerate(INPUTS):
        lo, hi = run.input_ranges[name]
        assert lo - 1e-6 <= x[:, j].min() and x[:, j].max() <= hi * (1 + 1e-6)
    chi = x[2:, 2]
    assert np.median(chi) < 0.1 * chi.max()  # log-uniform over decades, not uniform
    with torch.no_grad():
        assert np.isfinite(run.model(torch.from_numpy(x)).numpy()).all()


def test_a_trained_run_exports_and_infers_like_pytorch(tmp_path) -> None:
    """End to end with the real trainer: train 2 epochs, export, infer from a file, compare with the run."""
    runner = CliRunner()
    run_dir, model, cells, predictions = (tmp_path / "run", tmp_path / "m.onnx", tmp_path / "cells.npy",
                                          tmp_path / "pred.h5")
    trained = runner.invoke(cli, ["train", str(shared_table()), "-o", str(run_dir), "--epochs", "2", "--quiet",
                                  "--outputs", ",".join(OUTPUTS), "--model-option", "depth=1",
                                  "--model-option", "width=8"])
    assert trained.exit_code == 0, trained.output
    assert runner.invoke(cli, ["export", str(run_dir), "-o", str(model)]).exit_code == 0
    x = in_range_points(200, seed=9)
    np.save(cells, x)
    inferred = runner.invoke(cli, ["infer", str(model), str(cells), "-o", str(predictions)])
    assert inferred.exit_code == 0, inferred.output
    y = Table(predictions).read_matrix(OUTPUTS)
    np.testing.assert_allclose(y, load_run(run_dir).predict(x), rtol=1e-5, atol=1e-6)
    _, info = read_model_file(model)
    assert info.decoded()["table_sha256"] == Table(shared_table()).sha256()
