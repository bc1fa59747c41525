"""Faults around the paths commands write, the same rule for every command: an output that is one of the
command's inputs (also spelled otherwise or through a link, or a folder holding one) is refused even with
--overwrite; an output that already exists is refused without --overwrite and replaced with it; an empty output
path is one line; inputs without rows are one line naming the file. Each refusal leaves every file as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest

from surrogate.run import HISTORY, METRICS, SCALERS

from .helpers import assert_one_error, equilibrium_args, run_cli, train_args, trained_run, tree_state

TINY_SUITE = """\
title: tiny
tables:
  k2: {kind: poisson-multiscale, options: {k: 2, points: 64}}
runs:
  - {label: uniform, table: k2, train: {model: mlp, epochs: 1, weighting: uniform}}
metrics:
  error: {path: test.u.rel_l2}
seeds: [0]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny table, a 2-epoch run on it exported to ONNX, conditions as .npy, a mechanism file, a suite file."""
    folder = tmp_path_factory.mktemp("output-faults")
    trained_run(folder / "t.h5", folder / "run")
    code, output = run_cli("export", folder / "run", "-o", folder / "model.onnx")
    assert code == 0, output
    with h5py.File(folder / "t.h5", "r") as h5:
        np.save(folder / "c.npy", np.stack([h5["inputs"][n][:5] for n in ("Z", "C", "chi")], axis=1))
    shutil.copyfile(folder / "t.h5", folder / "mech.yaml")  # any file: the refusal comes before it is read
    (folder / "suites").mkdir()
    (folder / "suites" / "tiny.yaml").write_text(TINY_SUITE)
    return folder


def spelled(path: Path) -> Path:
    """`path` spelled another way: through its folder's parent and back."""
    return path.parent / ".." / path.parent.name / path.name


# --- an output that is an input --------------------------------------------------------------------------------

def link(tmp_path: Path, target: Path) -> Path:
    made = tmp_path / f"link-{target.name}"
    made.symlink_to(target)
    return made


# (arguments of the command given the fixture folder and a scratch folder, what the error says it is)
AS_INPUT: dict[str, tuple[Callable[[Path, Path], list[object]], str]] = {
    "presumed-pdf over its --source": (
        lambda f, t: ["table", "build", "presumed-pdf", "-o", f / "t.h5", "--source", f / "t.h5"],
        "is the --source file"),
    "presumed-pdf over its --source spelled otherwise": (
        lambda f, t: ["table", "build", "presumed-pdf", "-o", spelled(f / "t.h5"), "--source", f / "t.h5"],
        "is the --source file"),
    "fpv over its --source through a link": (
        lambda f, t: ["table", "build", "fpv", "-o", link(t, f / "t.h5"), "--source", f / "t.h5"],
        "is the --source file"),
    "fpv over its --source with --overwrite": (
        lambda f, t: ["table", "build", "fpv", "-o", f / "t.h5", "--source", f / "t.h5", "--overwrite"],
        "is the --source file"),
    "equilibrium over its --mechanism": (
        lambda f, t: [*equilibrium_args(f / "mech.yaml"), "--mechanism", f / "mech.yaml"],
        "is the --mechanism file"),
    "sample over its --conditions": (
        lambda f, t: ["sample", f / "run", "--conditions", f / "c.npy", "-n", "3", "-o", f / "c.npy"],
        "is the --conditions file"),
    "sample into a file of the run": (
        lambda f, t: ["sample", f / "run", "--conditions", f / "c.npy", "-o", f / "run" / METRICS],
        "is file metrics.json of run"),
    "export of a table over the table": (
        lambda f, t: ["export", f / "t.h5", "-o", spelled(f / "t.h5"), "--overwrite"], "is the table"),
    "train into the table": (lambda f, t: train_args(f / "t.h5", f / "t.h5"), "is the table"),
    "train into the folder that holds the table": (lambda f, t: train_args(f / "t.h5", f), "holds the table"),
    "compare into the folder that holds the table": (
        lambda f, t: ["compare", f / "t.h5", "--weighting", "uniform", "--weighting", "inverse-variance", "-o", f],
        "holds the table"),
    "plots into the table": (lambda f, t: ["table", "plot", f / "t.h5", "-o", f / "t.h5"], "is the table"),
    "plots into the folder that holds the table": (
        lambda f, t: ["table", "plot", f / "t.h5", "-o", f, "--overwrite"], "holds the table"),
    "bench train report over the table": (
        lambda f, t: ["bench", "train", f / "t.h5", "--json", f / "t.h5", "--overwrite"], "is the table"),
    "bench infer report over a file of the run": (
        lambda f, t: ["bench", "infer", "--run", f / "run", "--json", f / "run" / SCALERS], "is file scalers.json"),
    "bench infer report over the model": (
        lambda f, t: ["bench", "infer", "--model", f / "model.onnx", "--json", link(t, f / "model.onnx")],
        "is the --model file"),
    "bench resample over its source": (
        lambda f, t: ["bench", "resample", f / "t.h5", "-o", f / "t.h5", "--rows", "10"], "is the source table"),
    "bench cfd report over its --flamelets": (
        lambda f, t: ["bench", "cfd", "--flamelets", f / "t.h5", "-o", t / "cfd", "--json", f / "t.h5"],
        "is the --flamelets table"),
    "bench gpu report into its --prepared folder": (
        lambda f, t: ["bench", "gpu", "-o", f, "--prepared", f, "--overwrite"], "is the --prepared folder"),
}


@pytest.mark.parametrize("case", list(AS_INPUT))
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(folder, tmp_path, case) -> None:
    make, what = AS_INPUT[case]
    args = make(folder, tmp_path)
    before = tree_state(folder)
    assert_one_error(*run_cli(*args), what)
    assert tree_state(folder) == before
    assert [p.name for p in tmp_path.iterdir() if not p.is_symlink()] == []


def test_the_error_names_both_paths(folder) -> None:
    source = folder / "t.h5"
    line = assert_one_error(*run_cli("table", "build", "presumed-pdf", "-o", spelled(source), "--source", source))
    assert f"-o/--output {spelled(source)}: is the --source file {source}; writing there would destroy it" in line


# --- an output that exists -------------------------------------------------------------------------------------

# (arguments writing over `existing` given the fixture folder, the flag the error names)
EXISTING: dict[str, tuple[Callable[[Path, Path], list[object]], str]] = {
    "table build kdv": (lambda f, o: ["table", "build", "kdv", "-o", o, "--trajectories", "2"], "-o/--output"),
    "table build equilibrium": (lambda f, o: equilibrium_args(o), "-o/--output"),
    "infer": (lambda f, o: ["infer", f / "model.onnx", f / "t.h5", "-o", o], "-o/--output"),
    "export": (lambda f, o: ["export", f / "run", "-o", o], "-o/--output"),
    "sample": (lambda f, o: ["sample", f / "run", "--conditions", f / "c.npy", "-o", o], "-o/--output"),
    "bench resample": (lambda f, o: ["bench", "resample", f / "t.h5", "-o", o, "--rows", "10"], "-o/--output"),
    "bench train": (lambda f, o: ["bench", "train", f / "t.h5", "--json", o, "--steps", "1"], "--json"),
    "bench infer": (lambda f, o: ["bench", "infer", "--run", f / "run", "--json", o], "--json"),
    "bench cfd": (lambda f, o: ["bench", "cfd", "--flamelets", f / "t.h5", "-o", o.parent / "cfd", "--json", o],
                  "--json"),
}


@pytest.mark.parametrize("command", list(EXISTING))
def test_an_existing_output_file_is_refused_without_overwrite_and_kept(folder, tmp_path, command) -> None:
    make, flag = EXISTING[command]
    existing = tmp_path / {"infer": "out.npy", "export": "m.onnx", "sample": "draws.npy"}.get(command, "out.h5")
    existing.write_bytes(b"the user's earlier result")
    before, fixture = tree_state(tmp_path), tree_state(folder)
    assert_one_error(*run_cli(*make(folder, existing)), f"{flag} {existing}: already exists",
                     "pass --overwrite to replace it")
    assert tree_state(tmp_path) == before and tree_state(folder) == fixture


def test_overwrite_replaces_an_existing_table_once_the_new_one_is_complete(tmp_path) -> None:
    output = tmp_path / "eq.h5"
    assert run_cli(*equilibrium_args(output, lines=2))[0] == 0
    first = output.read_bytes()
    assert_one_error(*run_cli(*equilibrium_args(output, lines=3)), "already exists")
    assert output.read_bytes() == first
    code, text = run_cli(*equilibrium_args(output, lines=3), "--overwrite")
    assert code == 0, text
    assert "wrote" in text and output.read_bytes() != first
    with h5py.File(output, "r") as h5:
        assert len(h5["inputs/Z"]) == 15  # 3 lines of 5 mixture fractions: the new table, not the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eq.h5"]


def test_overwrite_replaces_predictions_and_an_onnx_file(folder, tmp_path) -> None:
    predictions, model = tmp_path / "out.npy", tmp_path / "m.onnx"
    predictions.write_bytes(b"old")
    model.write_bytes(b"old")
    code, text = run_cli("infer", folder / "model.onnx", folder / "t.h5", "-o", predictions, "--overwrite")
    assert code == 0, text
    assert np.load(predictions).shape == (300, 6)
    code, text = run_cli("export", folder / "run", "-o", model, "--overwrite")
    assert code == 0, text
    assert model.read_bytes()[:1] != b"o" and model.stat().st_size > 1000


def test_a_folder_of_figures_or_reports_must_be_new_or_empty_unless_overwrite(tmp_path) -> None:
    table = tmp_path / "eq.h5"
    assert run_cli(*equilibrium_args(table, lines=2))[0] == 0
    figures = tmp_path / "figs"
    figures.mkdir()
    (figures / "notes.txt").write_text("mine")
    before = tree_state(tmp_path)
    assert_one_error(*run_cli("table", "plot", table, "-o", figures), f"-o/--output {figures}: is a folder that is "
                     "not empty", "--overwrite")
    assert_one_error(*run_cli("bench", "gpu", "-o", figures, "--device", "cpu"), "is a folder that is not empty")
    assert tree_state(tmp_path) == before
    code, text = run_cli("table", "plot", table, "-o", figures, "--overwrite")
    assert code == 0, text
    assert (figures / "notes.txt").read_text() == "mine" and any(p.suffix == ".png" for p in figures.iterdir())


def test_a_results_file_of_a_suite_is_refused_before_any_run(folder, tmp_path) -> None:
    results, work = tmp_path / "results", tmp_path / "work"
    results.mkdir()
    (results / "tiny.json").write_text("{}")
    code, output = run_cli("bench", "suite", "tiny", "--suites", folder / "suites", "-o", results, "--work", work)
    assert_one_error(code, output, f"{results / 'tiny.json'}: already exists", "--overwrite")
    assert (results / "tiny.json").read_text() == "{}" and not work.exists()


def test_a_finished_run_is_replaced_only_with_overwrite(folder, tmp_path) -> None:
    run = Path(shutil.copytree(folder / "run", tmp_path / "run"))
    (run / "notes.txt").write_text("mine")
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "t.h5", run)), f"{run}: already holds a finished run",
                     "--overwrite to replace it")
    assert_one_error(*run_cli(*train_args(folder / "t.h5", run, "--resume", "--overwrite")),
                     "--resume and --overwrite: choose one")
    assert tree_state(run) == before
    code, output = run_cli(*train_args(folder / "t.h5", run, "--overwrite", "--epochs", "1"))
    assert code == 0, output
    assert len((run / HISTORY).read_text().splitlines()) == 2  # header and the one epoch of the new run
    assert json.loads((run / "config.json").read_text())["trainer"]["epochs"] == 1
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files were replaced


# --- empty output paths ------------------------------------------------------------------------------------------

EMPTY_OUTPUT: dict[str, Callable[[Path], list[object]]] = {
    "table build": lambda f: equilibrium_args(""),
    "train": lambda f: train_args(f / "t.h5", ""),
    "compare": lambda f: ["compare", f / "t.h5", "--weighting", "uniform", "--weighting", "power", "-o", ""],
    "export": lambda f: ["export", f / "run", "-o", ""],
    "infer": lambda f: ["infer", f / "model.onnx", f / "t.h5", "-o", ""],
    "sample": lambda f: ["sample", f / "run", "--conditions", f / "c.npy", "-o", ""],
    "table plot": lambda f: ["table", "plot", f / "t.h5", "-o", ""],
    "demo": lambda f: ["demo", "-o", ""],
    "bench resample": lambda f: ["bench", "resample", f / "t.h5", "-o", "", "--rows", "10"],
    "bench train --json": lambda f: ["bench", "train", f / "t.h5", "--json", ""],
    "bench infer --json": lambda f: ["bench", "infer", "--run", f / "run", "--json", ""],
    "bench gpu": lambda f: ["bench", "gpu", "-o", "", "--device", "cpu"],
    "bench cfd": lambda f: ["bench", "cfd", "-o", "", "--flamelets", f / "t.h5"],
    "bench cfd --json": lambda f: ["bench", "cfd", "-o", "cfd", "--flamelets", f / "t.h5", "--json", ""],
    "bench suite": lambda f: ["bench", "suite", "tiny", "--suites", f / "suites", "-o", ""],
}


@pytest.mark.parametrize("command", list(EMPTY_OUTPUT))
def test_an_empty_output_path_is_one_line_and_writes_nothing(folder, tmp_path, monkeypatch, command) -> None:
    monkeypatch.chdir(tmp_path)  # where an empty path would land
    args = EMPTY_OUTPUT[command](folder)
    before = tree_state(folder)
    line = assert_one_error(*run_cli(*args), "'': an empty path")
    assert "--json" in line if "--json" in command else "-o/--output" in line
    assert list(tmp_path.iterdir()) == [] and tree_state(folder) == before


# --- inputs without rows -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generative(folder: Path) -> Path:
    """A one-epoch CVAE run on the tiny table: `surrogate sample` draws from it."""
    run = folder.parent / "cvae-run"
    code, output = run_cli(*train_args(folder / "t.h5", run, "--task", "cvae", "--task-option", "frame=none",
                                       "--model", "cvae", "--model-option", "latent_dim=2", "--model-option",
                                       "hidden_dim=8", "--epochs", "1"))
    assert code == 0, output
    return run


EMPTY_INPUTS = {
    "empty.npy": (lambda p: p.write_bytes(b""), "not a readable .npy array (the file is empty or truncated)"),
    "zero-rows.npy": (lambda p: np.save(p, np.zeros((0, 3))), "no cells to evaluate (0 data rows)"),
    "header-only.csv": (lambda p: p.write_text("Z,C,chi\n"), "no cells to evaluate (0 data rows)"),
}


@pytest.mark.parametrize("name", list(EMPTY_INPUTS))
@pytest.mark.parametrize("command", ["infer", "sample"])
def test_an_input_without_rows_is_one_line_naming_the_file(folder, generative, tmp_path, name, command) -> None:
    make, message = EMPTY_INPUTS[name]
    source = tmp_path / name
    make(source)
    content = source.read_bytes()
    args = (["infer", folder / "model.onnx", source, "-o", tmp_path / "out.npy"] if command == "infer" else
            ["sample", generative, "--conditions", source, "-n", "3", "-o", tmp_path / "out.npy"])
    assert_one_error(*run_cli(*args), f"{source}: {message}")
    assert [p.name for p in tmp_path.iterdir()] == [name] and source.read_bytes() == content
