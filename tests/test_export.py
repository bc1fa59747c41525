"""ONNX export: torch.export-based graph, physical IO, dynamic axes, metadata contract v2, parity, fp16, and models
with several tensors (a CVAE-like decoder) or a field on a grid (a time-stepper)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from export.metadata import OPTIONAL_KEYS, REQUIRED_KEYS, parse_signature, read_model_file
from export.onnx_export import Provenance, export_module, export_run, parity_inputs, sample_inputs
from surrogate.cli.main import cli
from surrogate.errors import UserError
from surrogate.run import load_run
from surrogate.table import Table
from test_export_runs import (DECODER_SIGNATURE, GRID, INPUTS, OUTPUTS, STEPPER_SIGNATURE, UNITS, Decoder, Stepper,
                              in_range_points, shared_decoder, shared_onnx, shared_run, shared_stepper, shared_table,
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
    assert list(recorded) == ["outputs"] and set(recorded["outputs"]) == set(OUTPUTS)
    assert recorded["outputs"]["T"] < 1e-2


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


def test_metadata_carries_the_signature_and_provenance() -> None:
    """Every key of contract v2 is there; the signature is the run's: names, shapes, units, ranges."""
    _, info = read_model_file(shared_onnx("softmax-mlp"))
    meta = info.decoded()
    run = load_run(shared_run("softmax-mlp"))
    assert list(meta) == list(REQUIRED_KEYS[2] + OPTIONAL_KEYS)  # the optional weights checksum is written
    assert meta["format"] == "thermo-surrogate-onnx" and meta["format_version"] == "2"
    (inputs,), (outputs,) = meta["signature"]["inputs"], meta["signature"]["outputs"]
    assert (inputs["name"], inputs["dtype"], inputs["shape"]) == ("inputs", "float32", ["batch", 3])
    assert (outputs["name"], outputs["shape"]) == ("outputs", ["batch", len(OUTPUTS)])
    assert [c["name"] for c in inputs["components"]] == INPUTS and [c["name"] for c in outputs["components"]] == OUTPUTS
    assert [c["units"] for c in inputs["components"]] == [UNITS[n] for n in INPUTS]
    assert outputs["components"][OUTPUTS.index("T")] == {"name": "T", "units": "K"}  # no range on outputs
    chi = Table(shared_table()).read("chi")
    assert inputs["components"][2]["range"] == [0.0, pytest.approx(chi.max())]
    assert meta["signature"] == run.signature
    assert (info.input_names, info.output_names, info.input_units["chi"]) == (INPUTS, OUTPUTS, "1/s")
    assert info.input_ranges["chi"] == (0.0, pytest.approx(chi.max()))
    assert meta["table_sha256"] == Table(shared_table()).sha256() == run.table_sha256
    assert (meta["model"], meta["model_options"], meta["weighting"]) == ("softmax-mlp", {"depth": 2, "width": 16},
                                                                         "uniform")
    assert (meta["task"], meta["opset"], meta["precision"]) == ("regression", "18", "fp32")
    assert meta["toolkit_version"] and set(meta["parity_max_abs_error"]["outputs"]) == set(OUTPUTS)


def test_fp16_keeps_float32_io_and_reports_the_error_it_costs() -> None:
    """fp16 weights inside, float32 inputs and outputs; the recorded error is above fp32's and honest."""
    proto = onnx.load(str(shared_onnx("softmax-mlp", fp16=True)))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["precision"] == "fp16"
    fp16_error = json.loads(meta["parity_max_abs_error"])["outputs"]
    fp32_error = read_model_file(shared_onnx("softmax-mlp"))[1].parity["outputs"]
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
    lines = shown.output.splitlines()
    assert "format version 2" in lines[0]
    assert "input inputs (batch, 3) float32, valid range from training:" in lines
    assert any(line.split()[0] == "chi" and line.endswith("1/s") and "[0, " in line for line in lines[2:5])
    assert "output outputs (batch, 5) float32, largest |ONNX - PyTorch| at export:" in lines
    assert "model: mlp" in lines and "task: regression" in lines
    assert "weighting: uniform" in lines and "precision: fp32" in lines
    as_json = json.loads(runner.invoke(cli, ["info", str(target), "--json"]).output)
    assert [c["name"] for c in as_json["signature"]["outputs"][0]["components"]] == OUTPUTS
    assert as_json["signature"]["inputs"][0]["components"][0]["range"][0] >= 0
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(target.read_bytes()[:1000])
    failed = runner.invoke(cli, ["info", str(truncated)])
    assert failed.exit_code == 2 and failed.output.count("\n") == 1 and "truncated or corrupt" in failed.output


def test_low_opset_and_missing_run_are_user_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="opset >= 18"):
        export_run(load_run(shared_run("mlp")), tmp_path / "m.onnx", opset=13)
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "nope"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and result.output.startswith("Error:") and "not a run directory" in result.output


def test_parity_inputs_fall_back_to_the_input_ranges_without_the_table(tmp_path) -> None:
    """A run whose table moved away is checked on points drawn inside its trained ranges (χ log-uniform)."""
    table_copy = tmp_path / "table.h5"
    table_copy.write_bytes(shared_table().read_bytes())
    run_dir = write_run(tmp_path / "run", table_copy, "mlp")
    run = load_run(run_dir)
    signature = parse_signature(run.signature, "run")
    with_table, source = parity_inputs(run, signature, n_points=100)
    test_rows = Table(table_copy).read_matrix(INPUTS)[run.split_indices("test")].astype(np.float32)
    assert "100 test-split rows" in source and with_table["inputs"].shape == (100, 3)
    assert np.isin(with_table["inputs"][:, 0], test_rows[:, 0]).all()  # held-out rows, not training rows
    table_copy.unlink()
    inputs, source = parity_inputs(run, signature, n_points=2000)
    x = inputs["inputs"]
    assert "sampled in the input ranges (table not found)" in source and x.shape == (2000, 3)
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


def test_a_two_input_model_exports_with_its_signature_and_matches_torch() -> None:
    """condition [batch, 2] + latent [batch, 3] -> species [batch, 4]: both inputs named as in the signature,
    one shared dynamic axis 'batch', metadata v2 with the hand-written signature, ONNX Runtime == PyTorch."""
    path = shared_decoder()
    proto = onnx.load(str(path))
    graph_inputs = [(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
                    for v in proto.graph.input]
    assert graph_inputs == [("condition", ["batch", 2]), ("latent", ["batch", 3])]
    (output,) = proto.graph.output
    assert output.name == "species" and [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim] == [
        "batch", 4]
    _, info = read_model_file(path)
    assert info.signature.to_json() == DECODER_SIGNATURE and info.decoded()["task"] == "cvae"
    assert set(info.parity["species"]) == {"Y_H2", "Y_O2", "Y_H2O", "Y_N2"}
    rng = np.random.default_rng(4)
    condition = np.stack([rng.uniform(0, 1, 77), rng.uniform(0, 100, 77)], axis=1).astype(np.float32)
    latent = rng.standard_normal((77, 3)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y_onnx,) = session.run(None, {"condition": condition, "latent": latent})
    with torch.no_grad():
        y_torch = Decoder().eval()(torch.from_numpy(condition), torch.from_numpy(latent)).numpy()
    np.testing.assert_allclose(y_onnx, y_torch, rtol=1e-5, atol=1e-7)


def test_a_field_model_exports_and_records_one_parity_entry_per_component() -> None:
    """A time-stepper state [batch, 6] of the one field u -> dudt [batch, 6]; parity per component (the field)."""
    path = shared_stepper()
    _, info = read_model_file(path)
    assert info.signature.to_json() == STEPPER_SIGNATURE
    assert info.input_names == [f"u[{i}]" for i in range(GRID)] and info.output_names[-1] == f"dudt[{GRID - 1}]"
    assert info.input_ranges["u[3]"] == (-1.0, 2.0) and info.output_units["dudt[0]"] == "1/s"
    assert list(info.parity) == ["dudt"] and list(info.parity["dudt"]) == ["dudt"]
    x = np.random.default_rng(2).uniform(-1, 2, (40, GRID)).astype(np.float32)
    (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"state": x})
    with torch.no_grad():
        np.testing.assert_allclose(y, Stepper()(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_sampled_parity_inputs_follow_ranges_and_fill_unranged_tensors_with_normal_noise() -> None:
    signature = parse_signature(DECODER_SIGNATURE, "test")
    inputs = sample_inputs(signature, 5000, seed=1)
    condition, latent = inputs["condition"], inputs["latent"]
    assert condition.shape == (5000, 2) and latent.shape == (5000, 3)
    np.testing.assert_array_equal(condition[:2], [[0, 0], [1, 100]])  # the corners of the range box first
    assert condition[:, 1].min() >= 0 and condition[:, 1].max() <= 100 and condition[:, 1].mean() > 40
    assert abs(latent.mean()) < 0.05 and 0.95 < latent.std() < 1.05 and latent.min() < -3
    field = sample_inputs(parse_signature(STEPPER_SIGNATURE, "test"), 100)["state"]
    assert field.shape == (100, GRID) and field.min() == -1 and field.max() == 2


def test_a_signature_that_does_not_fit_the_module_or_fp16_is_a_one_line_error(tmp_path) -> None:
    """Two output tensors named for a module that returns one; --fp16 on a module that is not a row model."""
    two_outputs = json.loads(json.dumps(DECODER_SIGNATURE))
    two_outputs["outputs"].append({"name": "extra", "dtype": "float32", "shape": ["batch", 1],
                                   "components": [{"name": "e", "units": "1"}]})
    signature = parse_signature(two_outputs, "test")
    provenance = Provenance("", "test", {}, "cvae", "uniform")
    with pytest.raises(UserError, match=r"^the model returns 1 tensor\(s\) but its signature names 2 \(species, "
                                        r"extra\)$"):
        export_module(Decoder(), signature, tmp_path / "m.onnx", provenance=provenance,
                      parity_inputs=sample_inputs(signature, 8), parity_source="sampled")
    signature = parse_signature(DECODER_SIGNATURE, "test")
    with pytest.raises(UserError, match="--fp16 needs a row model .* this model is a Decoder"):
        export_module(Decoder(), signature, tmp_path / "m.onnx", provenance=provenance, fp16=True,
                      parity_inputs=sample_inputs(signature, 8), parity_source="sampled")
    assert list(tmp_path.iterdir()) == []
