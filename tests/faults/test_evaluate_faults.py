"""Faults in a run directory, as `surrogate evaluate` and `surrogate export` read it: config.json with keys
missing or of the wrong type, model.pt truncated, empty, a plain pickle or of other shapes, scalers.json and
splits.npz damaged, a file changed after the run finished, and an empty split. Each is one line naming the file
(and the key), never a traceback or a model that silently predicts wrong numbers."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from surrogate.run import COMPLETE, CONFIG, SCALERS, SPLITS, WEIGHTS

from .helpers import assert_one_error, run_cli, trained_run


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny table and a finished 2-epoch run on it without a validation split."""
    folder = tmp_path_factory.mktemp("evaluate-faults")
    trained_run(folder / "table.h5", folder / "run", "--val-fraction", "0")
    return folder


def edit_config(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        config = json.loads((run / CONFIG).read_text())
        change(config)
        (run / CONFIG).write_text(json.dumps(config))
    return edit


def replace_weights(make: Callable[[dict[str, torch.Tensor]], Any]) -> Callable[[Path], None]:
    """Save `make(state dict)` as model.pt and record its hash: a file that is whole but not the run's model."""
    def edit(run: Path) -> None:
        torch.save(make(torch.load(run / WEIGHTS)), run / WEIGHTS)
        (run / COMPLETE).unlink()
    return edit


def flip_byte(name: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        data = bytearray((run / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (run / name).write_bytes(bytes(data))
    return edit


DAMAGES: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {  # what is done, what the line names
    "config without inputs": (edit_config(lambda c: c.pop("inputs")), (CONFIG, "lacks inputs")),
    "config inputs a number": (edit_config(lambda c: c.update(inputs=5)), (CONFIG, "inputs: expected a non-empty")),
    "config outputs a string": (edit_config(lambda c: c.update(outputs="T")), (CONFIG, "outputs: expected")),
    "config task a string": (edit_config(lambda c: c.update(task="regression")), (CONFIG, "task: expected")),
    "config model a string": (edit_config(lambda c: c.update(model="mlp")), (CONFIG, "model: expected")),
    "config units null": (edit_config(lambda c: c.update(units=None)), (CONFIG, "units: expected")),
    "config range missing": (edit_config(lambda c: c["input_ranges"].pop("Z")), (CONFIG, "input_ranges: expected")),
    "config range reversed": (edit_config(lambda c: c["input_ranges"].update(Z=[1.0, 0.0])),
                              (CONFIG, "input_ranges")),
    "config truncated": (lambda r: (r / CONFIG).write_text((r / CONFIG).read_text()[:90]), (CONFIG, "not valid JSON")),
    "config a list": (lambda r: (r / CONFIG).write_text("[]"), (CONFIG, "expected a JSON object")),
    "model.pt truncated": (lambda r: (r / WEIGHTS).write_bytes((r / WEIGHTS).read_bytes()[:1000]),
                           (WEIGHTS, "changed since the run finished")),
    "model.pt flipped byte": (flip_byte(WEIGHTS), (WEIGHTS, "changed since the run finished")),
    "model.pt truncated, no record": (lambda r: ((r / COMPLETE).unlink(), (r / WEIGHTS).write_bytes(
        (r / WEIGHTS).read_bytes()[:1000])), (WEIGHTS, "not a readable checkpoint")),
    "model.pt empty, no record": (lambda r: ((r / COMPLETE).unlink(), (r / WEIGHTS).write_bytes(b"")),
                                  (WEIGHTS, "not a readable checkpoint of this toolkit (EOFError)")),
    "model.pt a plain pickle": (lambda r: ((r / COMPLETE).unlink(), (r / WEIGHTS).write_bytes(
        pickle.dumps({"weights": object}))), (WEIGHTS, "not a readable checkpoint of this toolkit (UnpicklingError")),
    "model.pt other shapes": (replace_weights(lambda s: {k: torch.zeros(1) for k in s}),
                              (WEIGHTS, "do not fit the model", "size mismatch")),
    "model.pt a list": (replace_weights(lambda s: list(s.values())), (WEIGHTS, "do not fit the model")),
    "model.pt missing": (lambda r: (r / WEIGHTS).unlink(), ("run is incomplete (no model.pt)",)),
    "scalers.json flipped byte": (flip_byte(SCALERS), (SCALERS, "changed since the run finished")),
    "scalers.json a list": (lambda r: ((r / COMPLETE).unlink(), (r / SCALERS).write_text("[1]")),
                            (SCALERS, "expected a JSON object")),
    "scalers.json without keys": (lambda r: ((r / COMPLETE).unlink(), (r / SCALERS).write_text("{}")),
                                  (SCALERS, "do not fit the model", "KeyError")),
    "splits.npz truncated": (lambda r: (r / SPLITS).write_bytes((r / SPLITS).read_bytes()[:100]),
                             (SPLITS, "changed since the run finished")),
    "splits.npz truncated, no record": (lambda r: ((r / COMPLETE).unlink(), (r / SPLITS).write_bytes(
        (r / SPLITS).read_bytes()[:100])), (SPLITS, "unreadable (BadZipFile")),
    "splits.npz beyond the table": (lambda r: ((r / COMPLETE).unlink(), np.savez(
        r / SPLITS, train=np.arange(5), val=np.arange(0), test=np.array([10**6]))), ("names row 1000000", "300 rows")),
    "complete.json damaged": (lambda r: (r / COMPLETE).write_text('{"sha256": 3}'), (COMPLETE, "expected")),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_directory_is_one_line_naming_the_file(folder, tmp_path, damage) -> None:
    run = Path(shutil.copytree(folder / "run", tmp_path / "run"))
    make, fragments = DAMAGES[damage]
    make(run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert_one_error(*run_cli("evaluate", run), *fragments)
    if damage in ("model.pt flipped byte", "config inputs a number", "model.pt other shapes"):
        assert_one_error(*run_cli("export", run, "-o", tmp_path / "model.onnx"), *fragments)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert not (tmp_path / "model.onnx").exists()


def test_an_empty_split_is_one_line_naming_the_option(folder) -> None:
    assert_one_error(*run_cli("evaluate", folder / "run", "--split", "val"),
                     "--split val: the run's val split is empty")


def test_the_finished_run_records_the_hashes_of_what_it_loads(folder) -> None:
    recorded = json.loads((folder / "run" / COMPLETE).read_text())["sha256"]
    assert sorted(recorded) == sorted([WEIGHTS, SCALERS, SPLITS])
    code, output = run_cli("evaluate", folder / "run")
    assert code == 0 and "(test)" in output, output
