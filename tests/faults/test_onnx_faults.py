"""Faults in ONNX model files, as `surrogate info`, `surrogate infer` and the Python runtime meet them: weights
changed after export (bit rot, a bad copy, an edit), a forged or missing checksum, a truncated file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest

from export.checksum import WEIGHTS_KEY, graph_field, weights_sha256
from export.metadata import ModelFileError, read_model_file
from export.runtime import Surrogate
from test_export_runs import flip_weight_bytes, in_range_points, rewrite_metadata, to_version_1

from .helpers import assert_one_error, copy_model, folder_state, run_cli

MISMATCH = "weights checksum mismatch (file corrupted after export?)"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good model and the faulty variants made from it, once for the module."""
    folder = tmp_path_factory.mktemp("onnx-faults")
    model = copy_model(folder)
    flip_weight_bytes(model, folder / "flipped.onnx")
    rewrite_metadata(model, folder / "forged-sum.onnx", lambda meta: meta.update({WEIGHTS_KEY: "0" * 64}))
    rewrite_metadata(folder / "flipped.onnx", folder / "flipped-no-sum.onnx", lambda meta: meta.pop(WEIGHTS_KEY))
    np.save(folder / "cells.npy", in_range_points(50).astype(np.float64))
    return folder


def test_the_checksum_is_the_sha256_of_the_serialized_graph(folder) -> None:
    """The recorded sum is SHA-256 of the graph's bytes: the field walk finds exactly what protobuf serializes."""
    model = folder / "model.onnx"
    proto = onnx.load(str(model))
    recorded = {p.key: p.value for p in proto.metadata_props}[WEIGHTS_KEY]
    assert recorded == hashlib.sha256(proto.graph.SerializeToString()).hexdigest() == weights_sha256(model.read_bytes())


@pytest.mark.parametrize("name", ["flipped.onnx", "forged-sum.onnx"])
def test_info_refuses_a_file_whose_weights_do_not_match_the_checksum(folder, name) -> None:
    before = folder_state(folder)
    assert_one_error(*run_cli("info", folder / name), f"{folder / name}: {MISMATCH}")
    assert folder_state(folder) == before


def test_infer_refuses_flipped_weights_and_writes_nothing(folder) -> None:
    before = folder_state(folder)
    code, output = run_cli("infer", folder / "flipped.onnx", folder / "cells.npy", "-o", folder / "out.h5")
    assert_one_error(code, output, MISMATCH)
    assert folder_state(folder) == before


def test_the_runtime_refuses_flipped_weights(folder) -> None:
    with pytest.raises(ModelFileError, match=r"weights checksum mismatch \(file corrupted after export\?\)$"):
        Surrogate(folder / "flipped.onnx", provider="cpu", threads=1)


def test_without_the_checksum_the_same_damage_goes_unnoticed(folder) -> None:
    """Why the checksum exists: without it the flipped file loads and its predictions silently move. Files
    exported before the checksum existed still load (and `info` says they were not verified)."""
    x = in_range_points(50)
    good = Surrogate(folder / "model.onnx", provider="cpu", threads=1)(x)
    damaged = Surrogate(folder / "flipped-no-sum.onnx", provider="cpu", threads=1)(x)
    assert not np.allclose(good, damaged, equal_nan=True)
    code, output = run_cli("info", folder / "flipped-no-sum.onnx")
    assert code == 0 and f"{WEIGHTS_KEY}: none recorded" in output


def test_info_says_the_checksum_was_verified(folder) -> None:
    code, output = run_cli("info", folder / "model.onnx")
    assert code == 0, output
    assert f"{WEIGHTS_KEY}: {read_model_file(folder / 'model.onnx')[1].raw[WEIGHTS_KEY]} (verified)" in output


def test_a_version_1_file_is_verified_when_it_records_a_checksum_and_loads_without_one(folder, tmp_path) -> None:
    v1 = to_version_1(folder / "flipped.onnx", tmp_path / "v1.onnx")
    with pytest.raises(ModelFileError, match="weights checksum mismatch"):
        read_model_file(v1)
    bare = rewrite_metadata(to_version_1(folder / "model.onnx", tmp_path / "v1-good.onnx"), tmp_path / "v1-bare.onnx",
                            lambda meta: meta.pop(WEIGHTS_KEY))
    assert read_model_file(bare)[1].version == 1


def test_a_second_graph_field_appended_to_the_file_is_refused(folder, tmp_path) -> None:
    """Protobuf merges a repeated message field into the first, so an appended graph would change the model
    while the first graph still hashes right: the walk accepts exactly one graph field."""
    data = (folder / "model.onnx").read_bytes()
    assert graph_field(data) is not None
    appended = tmp_path / "appended.onnx"
    appended.write_bytes(data + bytes([7 << 3 | 2, 0]))  # field 7, length 0: an empty GraphProto to merge
    assert graph_field(appended.read_bytes()) is None
    assert_one_error(*run_cli("info", appended), f"{appended}: {MISMATCH}")


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_a_truncated_file_is_one_line(folder, tmp_path, cut) -> None:
    data = (folder / "model.onnx").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[:int(len(data) * cut)])
    assert_one_error(*run_cli("info", truncated), str(truncated))


@pytest.mark.parametrize("forged", ['[1, 2]', 'null', '{"outputs": 1}', '{"outputs": {"T": "small"}}'])
def test_forged_parity_metadata_is_one_line(folder, tmp_path, forged) -> None:
    path = rewrite_metadata(folder / "model.onnx", tmp_path / "forged.onnx",
                            lambda meta: meta.update(parity_max_abs_error=forged))
    assert_one_error(*run_cli("info", path), f"{path}: metadata 'parity_max_abs_error' is not a JSON "
                     "{output tensor: {component: error}} of numbers")
