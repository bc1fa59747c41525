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

from export.checksum import WEIGHTS_KEY
from export.metadata import MANIFOLD_KEY, REQUIRED_KEYS, ModelFileError, parse_signature, read_model_file
from export.onnx_export import Provenance, export_module, export_run, parity_inputs, sample_inputs
from export.validity import snap_signature
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
    assert list(meta) == list(REQUIRED_KEYS[2]) + [MANIFOLD_KEY, WEIGHTS_KEY]  # no table: a network
    assert meta["format"] == "thermo-surrogate-onnx" and meta["format_version"] == "2"
    (inputs,), (outputs,) = meta["signature"]["inputs"], meta["signature"]["outputs"]
    assert (inputs["name"], inputs["dtype"], inputs["shape"]) == ("inputs", "float32", ["batch", 3])
    assert (outputs["name"], outputs["shape"]) == ("outputs", ["batch", len(OUTPUTS)])
    assert [c["name"] for c in inputs["components"]] == INPUTS and [c["name"] for c in outputs["components"]] == OUTPUTS
    assert [c["units"] for c in inputs["components"]] == [UNITS[n] for n in INPUTS]
    assert outputs["components"][OUTPUTS.index("T")] == {"name": "T", "units": "K"}  # no range on outputs
    chi = Table(shared_table()).read("chi")
    assert inputs["components"][2]["range"] == [0.0, pytest.approx(chi.max())]
    # the run's signature, dimensionless ranges reaching their physical limits (Z from 1e-4 to 0, C from 3e-6)
    assert meta["signature"] == snap_signature(parse_signature(run.signature, "run")).to_json()
    assert inputs["components"][0]["range"] == [0.0, 1.0] and inputs["components"][1]["range"][0] == 0.0
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


def test_scaling_folded_into_the_end_layers_keeps_parity(tmp_path) -> None:
    """The mlp's scalers disappear into its first and last Gemm (no Sub/Div/Mul left around the network); the
    numbers stay within float32 rounding of the unfolded graph. Fourier features cannot absorb them: left as is."""
    from export.onnx_export import FOLD_TOLERANCE
    from test_export_runs import in_range_points

    run = load_run(shared_run("mlp"))
    folded = export_run(run, tmp_path / "folded.onnx")
    plain = export_run(run, tmp_path / "plain.onnx", fold=False)
    ops = {name: [n.op_type for n in onnx.load(tmp_path / f"{name}.onnx").graph.node] for name in ("folded", "plain")}
    # the plain columns (Z, C) and the log column (chi) sliced apart (no Where over a column mask), chi's floor a Clip
    assert ops["folded"][:6] == ["Slice", "Clip", "Log", "Slice", "Concat", "Gemm"] and ops["folded"][-1] == "Gemm"
    first = ops["plain"].index("Gemm")
    assert {"Sub", "Div"} <= set(ops["plain"][:first]) and ops["plain"][-2:] == ["Mul", "Add"]
    assert len(ops["folded"]) == len(ops["plain"]) - 5  # Div, Where, Sub, Mul, Div, Sub in, 2 Slices, Concat; Mul, Add
    x = in_range_points(2000, seed=4)
    y = {name: ort.InferenceSession(str(tmp_path / f"{name}.onnx")).run(None, {"inputs": x})[0]
         for name in ("folded", "plain")}
    scale = np.abs(y["plain"]).max(axis=0)
    assert np.all(np.abs(y["folded"] - y["plain"]).max(axis=0) <= 1e-6 * scale)
    assert folded.parity.worst()[1] <= FOLD_TOLERANCE and plain.parity.worst()[1] <= FOLD_TOLERANCE
    fourier = export_run(load_run(shared_run("fourier-mlp")), tmp_path / "fourier.onnx")
    assert "Sub" in [n.op_type for n in onnx.load(fourier.path).graph.node]  # its input scaler is still there


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["bounds"].update(T=m["bounds"]["C"]), "'bounds' names 'T', which is not an input column"),
    (lambda m: m["edges"].reverse(), "'edges' must be at least 2 increasing numbers"),
    (lambda m: m["bounds"]["C"].pop(), "'bounds' of 'C' must be 32 pairs [lo, hi] with lo <= hi"),
])
def test_forged_manifold_bounds_are_refused_with_one_line(edit, message, tmp_path) -> None:
    from test_export_runs import rewrite_metadata

    def forge(metadata: dict[str, str]) -> None:
        manifold = json.loads(metadata["manifold"])
        edit(manifold)
        metadata["manifold"] = json.dumps(manifold)

    forged = rewrite_metadata(shared_onnx("softmax-mlp"), tmp_path / "forged.onnx", forge)
    with pytest.raises(ModelFileError) as caught:
        read_model_file(forged)
    assert str(caught.value) == f"{forged}: metadata 'manifold' is not valid: {message}"


@pytest.mark.parametrize("log, floor", [([True, False, True], [1e-2, 1.0, 1e-3]), ([True, True, True], [1e-2] * 3),
                                        ([False, False, False], [1.0] * 3)],
                         ids=["log columns apart, own floors", "all log, one floor", "none log"])
def test_folding_takes_the_log_columns_in_any_order(log, floor) -> None:
    """The folded module takes the plain columns, then the log columns (a gather where they are not contiguous),
    its first layer's columns in that order, each log column clamped at its own floor: the same numbers as the
    scalers around the network, cells below the floors included."""
    from export.folding import fold_scaling
    from plugins.models import perceptron
    from surrogate.scaling import InputScaler, OutputScaler, PhysicalModel

    torch.manual_seed(5)
    lo, hi = [-2.0 if flag else 0.0 for flag in log], [3.0 if flag else 1.0 for flag in log]
    model = PhysicalModel(InputScaler(lo, hi, log, floor), perceptron(3, 2, 2, 8, "tanh"),
                          OutputScaler([400.0, 2.0], [1500.0, 0.5])).eval()
    folded = fold_scaling(model)
    x = torch.tensor(np.random.default_rng(1).uniform(0, [1000 if flag else 1 for flag in log], (500, 3)),
                     dtype=torch.float32)
    x[:5] = torch.tensor([f * 0.5 if flag else 0.5 for flag, f in zip(log, floor)])  # below the floors
    with torch.no_grad():
        expected, got = model(x), folded(x)
    assert torch.all((got - expected).abs().amax(dim=0) <= 1e-5 * expected.abs().amax(dim=0))


def test_folding_keeps_a_softmax_closure_whose_columns_come_in_any_order() -> None:
    """Outputs T, Y_a, Y_b (softmax over the last two, T standardized): the folded module puts the softmax rows first
    in its last layer and gathers the columns back; the same numbers as the scalers around the network."""
    from export.folding import FoldedModel, fold_scaling
    from plugins.models import perceptron
    from surrogate.closure import SoftmaxClosure
    from surrogate.scaling import InputScaler, OutputScaler, PhysicalModel

    torch.manual_seed(3)
    closure = SoftmaxClosure(perceptron(2, 3, 2, 8, "tanh"), [False, True, True])
    with torch.no_grad():
        closure.bias.copy_(torch.tensor([0.3, -1.0, 0.5]))
    model = PhysicalModel(InputScaler([0.0, -2.0], [1.0, 3.0], [False, True], [1.0, 1e-2]), closure,
                          OutputScaler([400.0, 1.0, 1.0], [1500.0, 0.0, 0.0])).eval()
    folded = fold_scaling(model)
    assert isinstance(folded, FoldedModel) and folded.network.unpermute.tolist() == [2, 0, 1]
    x = torch.tensor(np.random.default_rng(0).uniform([0, 0], [1, 1000], (500, 2)), dtype=torch.float32)
    with torch.no_grad():
        expected, got = model(x), folded(x)
    scale = expected.abs().amax(dim=0)
    assert torch.all((got - expected).abs().amax(dim=0) <= 1e-6 * scale)
    assert torch.allclose(got[:, 1:].sum(dim=1), torch.ones(500))


def test_manifold_bins_follow_the_rows_so_a_lean_flame_side_keeps_its_own_upper_bound() -> None:
    """Rows crowded at small Z, as a flamelet table's around Z_st = 0.03, with C_max rising linearly to Z_st: the
    bins hold equal shares of the rows, so C_max(Z) is resolved on the lean side (equal-width bins of [0, 1] would
    put all of it into one bin with C_max = 0.23 at every lean Z)."""
    from export.validity import manifold_from_rows

    rng = np.random.default_rng(1)
    z = np.concatenate([rng.uniform(0, 0.03, 8000), rng.uniform(0.03, 1, 2000)])
    c = rng.uniform(0, 1, z.size) * 0.23 * np.where(z < 0.03, z / 0.03, (1 - z) / 0.97)
    manifold = manifold_from_rows(np.stack([z, c], axis=1), ["Z", "C"], [(0.0, 1.0), (0.0, 0.23)])
    assert np.all(np.diff(manifold.edges) > 0) and manifold.edges[0] == 0 and manifold.edges[-1] == 1
    assert (manifold.edges < 0.03).sum() >= 20  # most bins where most rows are
    upper = {at: float(manifold.upper[manifold.bins([at])[0], 1]) for at in (0.005, 0.015, 0.029)}
    assert upper[0.005] < 0.08 and upper[0.015] < 0.15 and upper[0.029] > 0.2
    assert manifold.off(np.array([[0.01, 0.2], [0.01, 0.05]], dtype=np.float32)).tolist() == [True, False]


def test_manifold_bounds_of_a_log_scaled_input_follow_its_decades() -> None:
    """χ log-uniform over one decade that moves with Z (10^(3Z) .. 10^(3Z+1)): per Z bin the bounds keep that
    decade; a margin of χ's linear range (up to 10^4) would have erased every lower bound."""
    from export.validity import manifold_from_rows

    rng = np.random.default_rng(0)
    z = rng.uniform(0, 1, 20000)
    chi = 10 ** (3 * z + rng.uniform(0, 1, z.size))
    c = rng.uniform(0, 0.2, z.size)
    box = [(0.0, 1.0), (0.0, 0.2), (float(chi.min()), float(chi.max()))]
    manifold = manifold_from_rows(np.stack([z, c, chi], axis=1), ["Z", "C", "chi"], box,
                                  log_floors=[None, None, float(chi.min())])
    k = manifold.bins([0.5])[0]
    lower, upper = manifold.lower[k, 2], manifold.upper[k, 2]
    # the bin of Z = 0.5 and its neighbours hold Z = edges[k - 1] .. edges[k + 2] (about 0.47 .. 0.56, quantile
    # edges of uniform Z): χ = 10^(3 Z_lo) .. 10^(3 Z_hi + 1), widened by 2 % of log10's 4 decades (0.08)
    z_lo, z_hi = float(manifold.edges[k - 1]), float(manifold.edges[k + 2])
    assert 0.42 < z_lo < 0.5 < z_hi < 0.6
    assert np.log10(lower) == pytest.approx(3 * z_lo - 0.08, abs=0.05)
    assert np.log10(upper) == pytest.approx(3 * z_hi + 1 + 0.08, abs=0.05)
    cells = np.array([[0.5, 0.1, 10.0], [0.5, 0.1, 100.0], [0.5, 0.1, 1000.0]], dtype=np.float32)
    assert manifold.off(cells).tolist() == [True, False, True]
    assert manifold.lower[:, 1].tolist() == [0.0] * 32  # C fills [0, 0.2] at every Z: its bounds are the box
