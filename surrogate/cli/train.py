"""``surrogate train``, ``surrogate evaluate`` and ``surrogate compare``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from ..config import CLOSURES, COMPILE_MODES, DTYPES, FIELD_RANGES, LR_SCHEDULES, OPTIMIZERS, PRECISIONS, SPLITS
from ..errors import UserError
from ..threads import CHOSEN_THREADS
from .common import JSON_STDOUT, accept_table_change_option, emit_json, json_flag


def described(name: str, text: str, note: str = "") -> str:
    """`text` with the default of training option `name` as TrainOptions declares it (the one place defaults are
    written; `note` says more of it) and its range, when it has one (checked by TrainOptions.validate)."""
    from ..config import TrainOptions

    shown = f"{text} [default: {getattr(TrainOptions(), name)}{note}]".lstrip()
    return f"{shown} [range: {FIELD_RANGES[name].describe()}]" if name in FIELD_RANGES else shown


def one_of(choices: Sequence[str]) -> str:
    """The metavar of a training option with `choices`, as the help shows it: ``[adam|adamw|...]``. The command
    line does not check the value; TrainOptions.validate does, with the same message as for a YAML config."""
    return f"[{'|'.join(choices)}]"


TRAIN_SETTINGS = [
    click.option("--task", help="Task plugin: how the dataset becomes loss terms. [default: the dataset's, "
                 "regression for tables of rows]"),
    click.option("--task-option", "task_option", multiple=True, metavar="KEY=VALUE", help="Task option."),
    click.option("--model", help=described("model", "Model plugin (see `surrogate plugins`).")),
    click.option("--model-option", "model_option", multiple=True, metavar="KEY=VALUE", help="Model option."),
    click.option("--physics", multiple=True, metavar="NAME", help="Physics/regularization loss plugin (repeatable)."),
    click.option("--physics-option", "physics_option", multiple=True, metavar="NAME.KEY=VALUE",
                 help="Option of a physics plugin, e.g. mixture-fraction.weight=0.1."),
    click.option("--inputs", help="Comma-separated input columns. [default: the table's declared inputs]"),
    click.option("--outputs", help="Comma-separated output columns. [default: the table's declared outputs]"),
    click.option("--log-input", "log_input", multiple=True,
                 help="Input scaled by log10 before min-max (repeat; '' for none). [default: the table's]"),
    click.option("--log-floor", "log_floor", multiple=True, metavar="NAME=VALUE",
                 help="Floor of a log input: smaller values enter as VALUE (repeat). [default: its smallest positive "
                      "training value]"),
    click.option("--closure", metavar=one_of(CLOSURES),
                 help=described("closure", "Close the table's mass fractions with a softmax.", ", as the model asks")),
    click.option("--split-by", "split_by", metavar=one_of(SPLITS),
                 help=described("split_by", "Random rows, or whole groups (flamelets, trajectories) held out.")),
    click.option("--epochs", type=int,
                 help=f"Maximum epochs. [default: about 50,000 optimizer steps, 10 to 2000 epochs] "
                      f"[range: {FIELD_RANGES['epochs'].describe()}]"),
    click.option("--batch-size", "batch_size", type=int, help=described("batch_size", "Batch size.")),
    click.option("--lr", type=float,
                 help=described("lr", "Learning rate (Adam).", ", cosine-annealed to 1e-4")),
    click.option("--optimizer", metavar=one_of(OPTIMIZERS), help=described("optimizer", "")),
    click.option("--lbfgs-epochs", "lbfgs_epochs", type=int,
                 help=described("lbfgs_epochs", "After --epochs, this many full-batch L-BFGS epochs (strong Wolfe) in "
                                "the same run.")),
    click.option("--dtype", metavar=one_of(DTYPES),
                 help=described("dtype", "Floating-point type of training; exports stay float32.")),
    click.option("--precision", metavar=one_of(PRECISIONS),
                 help=described("precision", "Mixed precision of training steps (torch.autocast; fp16 with a gradient "
                                "scaler); weights and evaluation stay float32.")),
    click.option("--compile", "compile", metavar=one_of(COMPILE_MODES),
                 help=described("compile", "torch.compile the model for training steps (reduce-overhead: CUDA graphs "
                                "on a GPU).")),
    click.option("--lr-schedule", "lr_schedule", metavar=one_of(LR_SCHEDULES),
                 help=described("lr_schedule", "Learning-rate schedule.")),
    click.option("--weight-decay", "weight_decay", type=float,
                 help=described("weight_decay", "Optimizer weight decay.")),
    click.option("--patience", type=int,
                 help=described("patience", "Early stopping after this many epochs without improvement (0: off).")),
    click.option("--min-delta", "min_delta", type=float,
                 help=described("min_delta", "Smallest validation-score gain that counts.")),
    click.option("--val-fraction", "val_fraction", type=float,
                 help=described("val_fraction", "Share of rows (groups) held out for validation.")),
    click.option("--test-fraction", "test_fraction", type=float,
                 help=described("test_fraction", "Share of rows (groups) held out for the test.")),
    click.option("--seed", type=int, help=described("seed", "Seed of split, initialization and shuffling.")),
    click.option("--device", help=described("device", "auto (CUDA when present), cpu, or cuda, cuda:N where this "
                                            "machine has them.")),
    click.option("--stream-memory", "stream_memory", type=float, metavar="MB",
                 help=described("stream_memory", "Stream the table in blocks through a shuffle buffer of MB megabytes "
                                "instead of reading it into memory (tables larger than memory).", " MB: in memory")),
    click.option("--threads", type=int,
                 help=described("threads", "Torch intra-op threads, 1 to 4 per CPU.", f", {CHOSEN_THREADS}")),
    click.option("--logger", "logger", multiple=True, metavar="NAME",
                 help="Experiment logger plugin besides history.csv: tensorboard, mlflow, ... (repeatable)."),
    click.option("--logger-option", "logger_option", multiple=True, metavar="NAME.KEY=VALUE",
                 help="Option of a logger, e.g. mlflow.uri=sqlite:///mlflow.db."),
    click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file of training options."),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def train_settings(function: Callable) -> Callable:
    for decorator in reversed(TRAIN_SETTINGS):
        function = decorator(function)
    return function


def split_list(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def per_plugin_options(items: tuple[str, ...], flag: str) -> dict[str, dict[str, str]]:
    """('mixture-fraction.weight=0.1',) -> {'mixture-fraction': {'weight': '0.1'}}."""
    from ..options import parse_key_values

    result: dict[str, dict[str, str]] = {}
    for key, value in parse_key_values(items, flag).items():
        plugin, dot, option = key.rpartition(".")
        if not dot:
            raise UserError(f"{flag} {key}={value}: expected NAME.KEY=VALUE")
        result.setdefault(plugin, {})[option] = value
    return result


def number(text: str, flag: str) -> float:
    """A number given on the command line (its range is checked with the other options)."""
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{flag}={text!r}: expected a number") from None


def load_yaml(path: str) -> dict[str, Any]:
    import yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"--config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"--config {path}: expected a mapping of training options at the top level")
    return data


def build_options(table: str, settings: dict[str, Any], extra: dict[str, Any] | None = None):
    """TrainOptions from defaults, then the YAML config, then options given on the command line; types, ranges and
    choices are checked as the options are made (TrainOptions.from_mapping and validate), once for every source."""
    from ..config import TrainOptions
    from ..options import parse_key_values

    data: dict[str, Any] = load_yaml(settings["config_file"]) if settings.get("config_file") else {}
    log_inputs = settings.get("log_input")
    given = {
        "task": settings.get("task"),
        "task_options": parse_key_values(settings.get("task_option") or (), "--task-option") or None,
        "model": settings.get("model"),
        "model_options": parse_key_values(settings.get("model_option") or (), "--model-option") or None,
        "physics": list(settings.get("physics") or ()) or None,
        "physics_options": per_plugin_options(settings.get("physics_option") or (), "--physics-option") or None,
        "inputs": split_list(settings.get("inputs")),
        "outputs": split_list(settings.get("outputs")),
        "log_inputs": [name for name in log_inputs if name.strip()] if log_inputs else None,
        "log_floors": {name: number(value, f"--log-floor {name}")
                       for name, value in parse_key_values(settings.get("log_floor") or (), "--log-floor").items()}
        or None,
        "loggers": list(settings.get("logger") or ()) or None,
        "logger_options": per_plugin_options(settings.get("logger_option") or (), "--logger-option") or None,
        **{k: settings.get(k) for k in ("closure", "split_by", "epochs", "batch_size", "lr", "optimizer",
                                        "lr_schedule", "weight_decay", "lbfgs_epochs", "dtype",
                                        "patience", "min_delta", "val_fraction", "test_fraction", "seed", "device",
                                        "stream_memory", "threads", "precision", "compile")},
        **(extra or {}),
    }
    data.update({k: v for k, v in given.items() if v is not None})
    data["table"] = table
    return TrainOptions.from_mapping(data, settings.get("config_file") or "options")


RESUME_SETTINGS = ("epochs", "device", "threads", "quiet")  # what --resume may set; the rest is the run's


def resume_options(directory: Any, table: str, settings: dict[str, Any], write: bool = True) -> Any:
    """The options of the run in `directory`, read from its config.json, to continue it: only --epochs (to
    extend it), --device, --threads and --quiet may be given; any other option is refused, not silently ignored.
    With `write`, a new epoch count is recorded in config.json."""
    from dataclasses import replace

    from ..config import TrainOptions
    from ..run import CONFIG

    if directory.state() == "empty" or not directory.file(CONFIG).is_file():
        raise UserError(f"--resume: {directory.path} holds no run to resume (no {CONFIG})")
    if directory.resumable():
        directory.check_resumable()  # before --epochs is written into config.json
    given = [key for key, value in settings.items() if key not in RESUME_SETTINGS and value not in (None, (), False)]
    if given:
        flag = "--config" if given[0] == "config_file" else f"--{given[0].replace('_', '-')}"
        raise UserError(f"{flag}: cannot be changed when resuming (the run's options are in "
                        f"{directory.file(CONFIG)}); only --epochs (to train longer), --device and --threads can")
    config = directory.read_config()
    if not isinstance(config.get("trainer"), dict):
        raise UserError(f"{directory.file(CONFIG)}: trainer: expected the run's training options")
    overrides = {key: settings[key] for key in ("device", "threads") if settings.get(key) is not None}
    options = TrainOptions.from_mapping({**config["trainer"], "table": table, **overrides},
                                        str(directory.file(CONFIG)))
    epochs = settings.get("epochs")
    if epochs is not None and epochs != options.epochs:
        trained = directory.trained_epochs()
        if epochs < max(trained, 1):
            raise UserError(f"--epochs {epochs}: the run has already trained {trained} epochs; give more to "
                            "train it longer")
        if options.lbfgs_epochs and trained > options.epochs:
            raise UserError(f"--epochs {epochs}: the run is in its L-BFGS stage (after epoch {options.epochs}); "
                            "its first stage cannot be extended")
        options = replace(options, epochs=epochs)
        if write:
            directory.update_config({"trainer": {**config["trainer"], "epochs": epochs}})
    return options


METRIC_LABELS = {"r2": "R²", "mse": "MSE", "mre": "MRE", "max_abs": "max |err|"}
METRIC_NOTES = {  # printed under the table for each metric it shows, so every column says what it is
    "r2": "R²: 1 - MSE / variance of the output (1 is exact, 0 is no better than the mean)",
    "mse": "MSE: mean squared error, in the output's units squared",
    "mre": "MRE: mean relative error, mean |predicted - true| / max(|true|, {floor:g} max|true|), dimensionless",
    "max_abs": "max |err|: largest |predicted - true|, in the output's units",
}


def print_metrics(metrics: dict[str, dict[str, dict[str, float]]], split: str) -> None:
    """One line per output, one column per metric the task reported (R² to 5 decimals, counts as integers, the
    rest %.3e), then what each column means and its units."""
    rows = metrics[split]
    keys = list(dict.fromkeys(key for values in rows.values() for key in values))
    width = max([12, *(len(name) + 1 for name in rows)])
    click.echo(f"{'output':<{width}}" + "".join(f" {METRIC_LABELS.get(k, k):>14}" for k in keys) + f"   ({split})")
    for name, values in rows.items():
        cells = [f"{'undefined':>14}" if values.get(k) is None or values[k] != values[k]  # null/NaN: constant
                 else f"{values[k]:>14.5f}" if k == "r2" else f"{values[k]:>14d}" if isinstance(values[k], int)
                 else f"{values[k]:>14.3e}" for k in keys]
        click.echo(f"{name:<{width}} " + " ".join(cells))
    from ..metrics import RELATIVE_FLOOR

    for key in keys:
        if key in METRIC_NOTES:
            click.echo(f"  {METRIC_NOTES[key].format(floor=RELATIVE_FLOOR)}")


@click.command()
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(), help="Run directory.")
@click.option("--weighting", help="Weighting strategy plugin. [default: the recommended one]")
@click.option("--weighting-option", "weighting_option", multiple=True, metavar="KEY=VALUE",
              help="Option of the weighting strategy.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Discard the run the directory holds and train a new one there "
              "(refused otherwise).")
@train_settings
def train(table: str, run_dir: str, weighting: str | None, weighting_option: tuple[str, ...], resume: bool,
          overwrite: bool, **settings: Any) -> None:
    """Train a surrogate on TABLE into the run directory given by -o (one training at a time per directory)."""
    import contextlib

    from ..threads import quiet_openmp

    quiet_openmp()  # before torch loads its OpenMP runtime
    from ..locks import exclusive
    from ..options import parse_key_values
    from ..outputs import check_output_folder
    from ..run import RunDirectory
    from ..trainer import train as run_training

    if resume and overwrite:
        raise UserError("--resume and --overwrite: choose one (continue the run, or discard it and train anew)")
    target = check_output_folder(run_dir, inputs={"the table": table}, overwrite=None)
    directory = RunDirectory(target)
    owner = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone locks, checks and cleans the run
    target.parent.mkdir(parents=True, exist_ok=True)  # for the lock file next to the run directory
    with exclusive(target, "a training into this run directory") if owner else contextlib.nullcontext():
        if resume:
            settings.update(weighting=weighting, weighting_option=weighting_option)
            options = resume_options(directory, table, settings, write=owner)
            guard: Any = contextlib.nullcontext()  # a failed resume keeps the run as it was
        else:
            extra: dict[str, Any] = {}
            if weighting:
                extra["weighting"] = weighting
            if weighting or weighting_option:  # a new strategy starts from its own defaults, not the config's
                extra["weighting_options"] = parse_key_values(weighting_option, "--weighting-option")
            options = build_options(table, settings, extra)  # checked before --overwrite discards a run
            if owner:
                directory.check_new(overwrite)
            guard = directory.removed_on_failure() if owner else contextlib.nullcontext()
        with guard:
            result = run_training(options, target, resume=resume, progress=not settings.get("quiet"))
    from ..baselines import report_lines

    print_metrics(result.metrics, "test" if "test" in result.metrics else "train")
    for line in report_lines(result.metrics):
        click.echo(line)
    click.echo(f"run written to {target} (best epoch {result.best_epoch}); plots in {target / 'plots'}")
    click.echo(f"peak memory {result.peak_rss_mb:.0f} MB (resident, this process)")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--table", "table_path", type=click.Path(dir_okay=False),
              help="Evaluate on every row of another table instead of the run's own splits.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@accept_table_change_option
@json_flag
def evaluate(run_dir: str, table_path: str | None, split: str, accept_table_change: bool, as_json: bool) -> None:
    """Per-output R², MSE, mean relative error and max error of a trained run, beside its trivial baselines (the
    training mean, and the table lookup or linear interpolation of the training rows) on the same rows."""
    from ..baselines import report_lines
    from ..evaluation import evaluate_run

    metrics, label, verdict = evaluate_run(run_dir, table_path, split, accept_table_change)
    if as_json:
        emit_json(JSON_STDOUT, {"run": run_dir, "rows": label, "metrics": metrics, **verdict})
        return
    print_metrics({label: metrics}, label)
    for line in report_lines(verdict):
        click.echo(line)


@click.command()
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--weighting", "weightings", multiple=True, required=True, metavar="NAME",
              help="A strategy to compare (repeat; at least two).")
@click.option("--weighting-option", "weighting_option", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option of one compared strategy, e.g. power.exponent=2.")
@click.option("-o", "--output", "out_dir", default="compare", show_default=True, type=click.Path(),
              help="Directory for one run per strategy, compare.csv and compare.png.")
@train_settings
def compare(table: str, weightings: tuple[str, ...], weighting_option: tuple[str, ...], out_dir: str,
            **settings: Any) -> None:
    """Train each strategy with the same seed and budget; print and save the task's per-output test metric
    (R² for tables of rows, the relative L2 error for PDE problems)."""
    from ..comparison import compare_weightings
    from ..outputs import check_output_folder

    folder = check_output_folder(out_dir, inputs={"the table": table}, overwrite=None)  # reused: finished runs stay
    strategy_options = per_plugin_options(weighting_option, "--weighting-option")
    unknown = sorted(set(strategy_options) - set(weightings))
    if unknown:
        raise UserError(f"--weighting-option for {unknown[0]!r}, which is not among --weighting {list(weightings)}")
    runs = [(name, build_options(table, settings, {"weighting": name,
                                                   "weighting_options": strategy_options.get(name, {})}))
            for name in weightings]
    result = compare_weightings(runs, folder, progress=not settings.get("quiet"))
    click.echo(result.render())
    click.echo(f"saved {result.csv_path} and {result.png_path}")
