"""Experiment tracking: a run's loggers (entry-point group ``surrogate.loggers``), attached to the trainer as one
callback, and reopened by ``surrogate export`` to add the ONNX file to the same run.

The ``csv`` logger writes the run's own ``history.csv`` (``--resume`` and the plots read it), so it is always on;
``--logger tensorboard``, ``--logger mlflow`` or a third-party logger add to it. The loggers a run used are
part of its options (config.json ``trainer.loggers``), so a resumed run and a later export log to the same place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from . import registry
from .callbacks import Callback, EpochEnd
from .run import CONFIG, METRICS, PLOTS, WEIGHTS

HISTORY_LOGGER = "csv"  # the run's own history.csv: always on


def logger_names(names: Sequence[str]) -> list[str]:
    """The loggers of a run: csv first (always), then the others given, each once."""
    return list(dict.fromkeys([HISTORY_LOGGER, *names]))


def configure(names: Sequence[str], options: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, type, dict]]:
    """(name, class, typed options) of each logger: unknown names and bad options are one-line errors listing
    the installed loggers, before any file is written."""
    found = []
    for name in logger_names(names):
        cls, typed = registry.configure("loggers", name, options.get(name, {}))
        found.append((name, cls, typed))
    return found


def open_loggers(run_dir: Path, specs: Sequence[tuple[str, type, dict]]) -> list[Any]:
    """One instance of each configured logger, writing for the run in `run_dir`."""
    return [registry.construct(registry.origin("loggers", name), cls, Path(run_dir), **typed)
            for name, cls, typed in specs]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(``a/b/c``, leaf) for every leaf of nested mappings; lists are kept as leaves."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}/")
        else:
            yield name, value


def numeric_leaves(tree: Mapping[str, Any]) -> dict[str, float]:
    """The numbers among the leaves of `tree` (booleans as 0/1), keyed by their ``a/b/c`` path."""
    return {name: float(value) for name, value in flatten(tree)
            if isinstance(value, (int, float)) and value is not None}


def run_artifacts(run_dir: Path) -> list[Path]:
    """The files of a finished run worth keeping with its logs: configuration, metrics, model and plots."""
    plots = sorted((run_dir / PLOTS).glob("*")) if (run_dir / PLOTS).is_dir() else []
    return [path for path in (run_dir / CONFIG, run_dir / METRICS, run_dir / WEIGHTS, *plots) if path.is_file()]


class Tracking(Callback):
    """The trainer's callback for its loggers: options at fit start, one row per epoch, final metrics and the
    run's files at fit end."""

    def __init__(self, run_dir: Path, specs: Sequence[tuple[str, type, dict]]):
        self.run_dir, self.specs = Path(run_dir), specs
        self.loggers: list[Any] = []

    def on_fit_start(self, trainer: Any) -> None:
        self.loggers = open_loggers(self.run_dir, self.specs)
        for logger in self.loggers:
            logger.start(trainer.run_config, trainer.resumed)

    def on_epoch_end(self, trainer: Any, end: EpochEnd) -> None:
        for logger in self.loggers:
            logger.log_epoch(end.row)

    def on_fit_end(self, trainer: Any, metrics: Mapping[str, Any]) -> None:
        summary = numeric_leaves(metrics)
        artifacts = run_artifacts(self.run_dir)
        for logger in self.loggers:
            logger.log_summary(summary)
            for path in artifacts:
                logger.log_artifact(path)
            logger.close()


def log_to_run(run_dir: Path, config: Mapping[str, Any], paths: Sequence[Path]) -> list[str]:
    """Add files made from a finished run (an exported ONNX file) to the loggers it trained with; returns their
    names (those that keep artefacts besides csv)."""
    trainer = config.get("trainer") or {}
    names = [str(name) for name in trainer.get("loggers") or ()]
    if not [name for name in names if name != HISTORY_LOGGER]:
        return []
    loggers = open_loggers(run_dir, configure(names, trainer.get("logger_options") or {}))
    for logger in loggers:
        logger.start(config, True)
        for path in paths:
            logger.log_artifact(Path(path))
        logger.close()
    return [name for name in logger_names(names) if name != HISTORY_LOGGER]
