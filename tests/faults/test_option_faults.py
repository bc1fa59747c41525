"""Option values out of their declared range, through the real command line: every numeric option of every table
kind, model, weighting, physics loss and task, the training options, --device and --split-by, and the other
commands' numeric options. Each is one "Error: " line naming the option and the value (exit code 2, no traceback)
and leaves no output, work folder or lock file behind."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from surrogate import registry
from surrogate.options import Option, parse_mapping

from .helpers import assert_one_error, run_cli, tiny_table, train_args


def number_text(value: float, integer: bool) -> str:
    return str(int(value)) if integer and math.isfinite(value) else repr(float(value))


def outside(option: Option) -> list[str]:
    """Command-line texts of `option` just outside its declared range: below its lower bound, above its upper one,
    between two whole numbers, NaN; a list holds one such number, a mapping maps a name to it."""
    bounds = option.bounds
    assert bounds is not None
    integer = option.parser is int
    numbers = []
    if bounds.low is not None:
        numbers.append(bounds.low if bounds.low_open else bounds.low - 1)
    if bounds.high is not None:
        numbers.append(bounds.high if bounds.high_open else bounds.high + 1)
    if bounds.whole:
        numbers.append((bounds.low or 0) + 1.5)
    if not integer:
        numbers.append(math.nan)
    texts = [number_text(number, integer) for number in numbers]
    return [f"H2O:{text}" for text in texts] if option.parser is parse_mapping else texts


def cases(kind: str) -> list[tuple[str, str, str]]:
    """(plugin, option, text) for every text outside the range of every numeric option of every `kind` plugin."""
    return [(info.name, option.name, text) for info in registry.describe(kind) for option in info.options
            if option.numeric for text in outside(option)]


def case_id(value: object) -> str:
    return str(value)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_table(tmp_path_factory.mktemp("options") / "table.h5")


def assert_nothing_left(folder: Path, *kept: Path) -> None:
    assert sorted(folder.iterdir()) == sorted(kept), "a failed start left files behind"


# --- table generators ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, name, text", cases("tables"), ids=case_id)
def test_every_generator_option_out_of_its_range_is_one_line(kind, name, text, tmp_path) -> None:
    output = tmp_path / "t.h5"
    code, printed = run_cli("table", "build", kind, "-o", output, f"--{name.replace('_', '-')}", text)
    assert_one_error(code, printed, f"table kind '{kind}'", f"option {name}=", "expected")
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("kind, args, fragments", [
    ("poisson-multiscale", ["--k", "nan"], ["option k=nan: expected a finite number > 0"]),
    ("poisson-multiscale", ["--k", "inf"], ["option k=inf: expected a finite number > 0"]),
    ("sharp-layer", ["--width", "0"], ["option width=0.0: expected a number > 0"]),
    ("sharp-layer", ["--width", "-0.1"], ["option width=-0.1"]),
    ("heat", ["--nu", "-0.05"], ["option nu=-0.05"]),
    ("heat", ["--k", "2.5"], ["option k=2.5: expected a whole number >= 1"]),
    ("cahn-hilliard", ["--gamma", "-0.001"], ["option gamma=-0.001"]),
    ("cahn-hilliard", ["--noise", "-0.05"], ["option noise=-0.05"]),
    ("kdv", ["--k-min", "2", "--k-max", "0.5"], ["options k_min=2.0, k_max=0.5: expected k_min < k_max"]),
    ("kdv", ["--set", "points=3"], ["option points=3: expected an integer >= 5"]),
    ("h2-flamelet", ["--max-unstable", "-1"], ["option max_unstable=-1: expected an integer >= 0"]),
    ("h2-flamelet", ["--refine", "ratio:1"], ["option refine: ratio=1.0: expected a number >= 2"]),
    ("premixed-fgm", ["--refine", "prune:0.2"], ["option refine: prune=0.2: expected at most slope=0.05"]),
    ("equilibrium", ["--pressure", "101325,-1"], ["option pressure=[101325.0, -1.0]: expected comma-separated "
                                                  "numbers, each > 0"]),
    ("coulomb-explosion", ["--steps", "5"], ["option steps=5: expected an integer >= 20"]),
])
def test_bad_generator_options_name_what_was_expected(kind, args, fragments, tmp_path) -> None:
    code, printed = run_cli("table", "build", kind, "-o", tmp_path / "t.h5", *args)
    assert_one_error(code, printed, f"table kind '{kind}'", *fragments)
    assert_nothing_left(tmp_path)


# --- plugins of a training -------------------------------------------------------------------------------------

def plugin_args(kind: str, plugin: str, name: str, text: str) -> list[str]:
    """`surrogate train` arguments that choose `plugin` of `kind` and set its option `name` to `text`."""
    if kind == "physics":
        return ["--physics", plugin, "--physics-option", f"{plugin}.{name}={text}"]
    flag = {"models": "model", "weightings": "weighting", "tasks": "task"}[kind]
    return [f"--{flag}", plugin, f"--{flag}-option", f"{name}={text}"]


@pytest.mark.parametrize("kind, plugin, name, text", [(kind, *case) for kind in ("models", "weightings", "physics",
                                                                                  "tasks") for case in cases(kind)],
                         ids=case_id)
def test_every_training_plugin_option_out_of_its_range_is_one_line(table, kind, plugin, name, text, tmp_path):
    code, printed = run_cli(*train_args(table, tmp_path / "run", *plugin_args(kind, plugin, name, text)))
    assert_one_error(code, printed, f"{registry.KIND_NAMES[kind]} '{plugin}'", f"option {name}=", "expected")
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("args, fragments", [
    (["--model", "mlp", "--model-option", "width=-5"], ["model 'mlp': option width=-5: expected an integer >= 1"]),
    (["--model", "mlp", "--model-option", "width=0"], ["option width=0"]),
    (["--model", "mlp", "--model-option", "depth=-1"], ["option depth=-1: expected an integer >= 0"]),
    (["--model", "fourier-mlp", "--model-option", "frequencies=-3"], ["option frequencies=-3"]),
    (["--weighting", "power", "--weighting-option", "exponent=0"], ["option exponent=0.0: expected a number > 0"]),
    (["--weighting", "power", "--weighting-option", "exponents=Y_H2:-1"], ["option exponents={'Y_H2': -1.0}"]),
    (["--weighting", "gradnorm", "--weighting-option", "lr=-0.5"], ["option lr=-0.5: expected a number > 0"]),
    (["--weighting", "fixed", "--weighting-option", "weights=Y_H2:-2"], ["option weights={'Y_H2': -2.0}"]),
    (["--weighting", "fixed", "--weighting-option", "default=-1"], ["option default=-1.0"]),
    (["--weighting", "performance", "--weighting-option", "rate=-0.5"], ["option rate=-0.5: expected a number in "
                                                                         "(0, 1]"]),
    (["--weighting", "schedule", "--weighting-option", "begin=0.8", "--weighting-option", "finish=0.2"],
     ["options begin=0.8, finish=0.2: expected begin <= finish"]),
    (["--weighting", "schedule", "--weighting-option", "start=power", "--weighting-option",
      "start_options=exponent=-2"], ["weighting 'power': option exponent=-2.0"]),
    (["--physics", "mixture-fraction", "--physics-option", "mixture-fraction.weight=-10"],
     ["physics loss 'mixture-fraction': option weight=-10.0: expected a number >= 0"]),
    (["--task", "cvae", "--model", "cvae", "--task-option", "samples=0"], ["task 'cvae': option samples=0: expected "
                                                                           "an integer >= 2"]),
    (["--task", "cvae", "--model", "cvae", "--task-option", "coverage_rows=-5"], ["option coverage_rows=-5"]),
])
def test_bad_training_plugin_options_name_what_was_expected(table, args, fragments, tmp_path) -> None:
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run", *args)), *fragments)
    assert_nothing_left(tmp_path)


def test_plugin_options_from_a_yaml_config_are_checked_alike(table, tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model: mlp\nmodel_options: {width: -5}\n")
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run", "--config", config)),
                     "model 'mlp': option width=-5: expected an integer >= 1")
    assert_nothing_left(tmp_path, config)


# --- training options, device, split --------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["--seed", "-1"], ["seed=-1: expected an integer in [0, 4294967295]"]),
    (["--seed", str(2 ** 64)], ["seed=18446744073709551616"]),
    (["--epochs", "0"], ["epochs=0: expected an integer >= 1"]),
    (["--batch-size", "0"], ["batch_size=0"]),
    (["--lr", "inf"], ["lr=inf: expected a number > 0"]),
    (["--lr", "nan"], ["lr=nan"]),
    (["--weight-decay", "-1"], ["weight_decay=-1.0"]),
    (["--val-fraction", "nan"], ["val_fraction=nan: expected a number in [0, 1)"]),
    (["--test-fraction", "1"], ["test_fraction=1.0"]),
    (["--val-fraction", "0.6", "--test-fraction", "0.5"], ["val_fraction=0.6, test_fraction=0.5: expected a sum "
                                                           "below 1"]),
    (["--stream-memory", "-5"], ["stream_memory=-5.0"]),
    (["--threads", "-2"], ["threads=-2", "per CPU"]),
    (["--patience", "-1"], ["patience=-1"]),
    (["--device", "mps"], ["--device 'mps': not a device of this machine; expected auto or one of cpu"]),
    (["--device", "meta"], ["--device 'meta'"]),
    (["--device", "cuda:99"], ["--device 'cuda:99'"]),
    (["--device", "gpu"], ["--device 'gpu'"]),
])
def test_bad_training_options_are_one_line(table, args, fragments, tmp_path) -> None:
    # train_args puts --device cpu first: a --device given here comes later on the command line and wins
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run", *args)), *fragments)
    assert_nothing_left(tmp_path)


def test_a_group_split_of_a_collocation_problem_is_refused_naming_the_table(tmp_path) -> None:
    problem = tmp_path / "heat.h5"
    code, printed = run_cli("table", "build", "heat", "-o", problem)
    assert code == 0, printed
    assert_one_error(*run_cli(*train_args(problem, tmp_path / "run", "--split-by", "group")),
                     f"{problem}: --split-by group needs a table of rows with a group column")
    assert_nothing_left(tmp_path, problem)


def test_compare_with_a_bad_option_leaves_no_folder(table, tmp_path) -> None:
    out = tmp_path / "compare"
    assert_one_error(*run_cli("compare", table, "--weighting", "uniform", "--weighting", "power", "-o", out,
                              "--epochs", "1", "--device", "cpu", "--quiet", "--seed", "-3"), "seed=-3")
    assert_nothing_left(tmp_path)


# --- the other commands ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["demo", "--epochs", "0"], ["--epochs", "0 is not in the range x>=1"]),
    (["demo", "--table-option", "width=0"], ["table kind 'h2-flamelet': option width=0.0"]),
    (["sample", "RUN", "--momenta", "m.npy", "-n", "0"], ["-n", "0 is not in the range x>=1"]),
    (["sample", "RUN", "--momenta", "m.npy", "--seed", "-1"], ["--seed"]),
    (["export", "RUN", "-o", "m.onnx", "--tolerance", "nan"], ["--tolerance", "nan is not a finite number"]),
    (["export", "RUN", "-o", "m.onnx", "--tolerance", "0"], ["--tolerance", "0.0 is not in the range x>0"]),
    (["bench", "table", "--min-strain", "nan"], ["--min-strain", "not a finite number"]),
    (["bench", "table", "--min-strain", "100", "--max-strain", "50"], ["expected --min-strain < --max-strain"]),
    (["bench", "table", "--n-flamelets", "1"], ["--n-flamelets"]),
    (["bench", "train", "TABLE", "--steps", "0"], ["--steps"]),
    (["bench", "resample", "SOURCE", "-o", "x.h5", "--rows", "10", "--seed", "-1"], ["--seed"]),
    (["bench", "gpu", "--budget", "inf"], ["--budget", "not a finite number"]),
    (["bench", "infer", "--min-time", "nan"], ["--min-time", "not a finite number"]),
])
def test_numeric_options_of_other_commands_are_one_line(args, fragments, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where demo writes by default, and where the placeholder paths point
    assert_one_error(*run_cli(*args), *fragments)
    assert_nothing_left(tmp_path)
