"""Strict JSON: what the toolkit writes (metrics.json, benchmark reports, ONNX metadata) never holds NaN or
Infinity, which JSON does not have and other languages' parsers refuse; an undefined value is null."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from export.metadata import encode
from surrogate.atomic import write_json
from surrogate.errors import UserError
from surrogate.metrics import metrics_table
from surrogate.run import METRICS, RunDirectory


def strict_load(path: Path) -> object:
    """Parse as a strict parser would (JavaScript's JSON.parse, Rust's serde_json): NaN/Infinity are errors."""
    def refuse(token: str) -> None:
        raise ValueError(f"{path}: non-standard JSON number {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_r2_of_a_constant_output_is_written_as_null(tmp_path) -> None:
    """A species absent from the table is constant: its R² is undefined (NaN in memory), null in metrics.json;
    the other metrics of that output stay numbers."""
    y = np.stack([np.linspace(0, 1, 50), np.zeros(50)], axis=1)
    metrics = metrics_table(y, y + 0.01, ["T", "Y_AR"])
    assert math.isnan(metrics["Y_AR"]["r2"]) and metrics["T"]["r2"] < 1
    directory = RunDirectory(tmp_path)
    directory.write_start({}, {}, {"test": np.arange(50)})  # complete.json certifies the scalers and splits too
    directory.write_results({}, {"test": metrics})
    written = strict_load(tmp_path / METRICS)
    assert written["test"]["Y_AR"]["r2"] is None
    assert written["test"]["Y_AR"]["mse"] == pytest.approx(1e-4) and written["test"]["T"]["r2"] == metrics["T"]["r2"]


def test_write_json_turns_every_non_finite_float_into_null(tmp_path) -> None:
    path = tmp_path / "report.json"
    write_json(path, {"a": [1.0, float("nan"), (float("inf"), -float("inf"))], "b": {"c": float("nan")}, "d": 2})
    assert strict_load(path) == {"a": [1.0, None, [None, None]], "b": {"c": None}, "d": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_onnx_metadata_with_nan_is_a_one_line_error_naming_the_key() -> None:
    with pytest.raises(UserError, match=r"^metadata 'parity_max_abs_error': holds NaN or Infinity"):
        encode({"format": "thermo-surrogate-onnx", "parity_max_abs_error": {"outputs": {"T": float("nan")}}})
