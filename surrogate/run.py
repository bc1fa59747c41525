"""Run directories: everything needed to reproduce and to use one training run, written and read here only.

Files: ``config.json`` (resolved configuration, task, table hash, names, units, input ranges, signature),
``model.pt`` (state dict of the task's physical model, loaded with ``weights_only=True``), ``scalers.json``
(the task's state: scalers, closure mask), ``splits.npz`` (indices of train/val/test), ``history.csv``
(one line per epoch), ``metrics.json``, ``checkpoint.pt`` (for ``--resume``), ``plots/`` and, written last,
``complete.json``: the SHA-256 of ``model.pt``, ``scalers.json`` and ``splits.npz``.

A directory is a run once ``complete.json`` is there (or, for runs from before it existed, ``model.pt``);
:func:`load_run` checks the recorded hashes (a few milliseconds) and the types in ``config.json``, so a damaged,
truncated or replaced file is a one-line :class:`~surrogate.errors.RunError`, never a wrong model. A new run
that fails removes what it wrote (:meth:`RunDirectory.removed_on_failure`), so a rerun with the same ``-o`` is
not blocked; a killed run keeps its checkpoint for ``--resume``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from . import registry
from .atomic import atomic_path, write_json
from .errors import RunError
from .table import Table, file_sha256, verify_checksums

CONFIG = "config.json"
WEIGHTS = "model.pt"
SCALERS = "scalers.json"
SPLITS = "splits.npz"
HISTORY = "history.csv"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
PLOTS = "plots"
COMPLETE = "complete.json"
VERIFIED = (WEIGHTS, SCALERS, SPLITS)  # the files complete.json holds a SHA-256 of
CARRIED_OVER = (SCALERS, SPLITS)  # written when a run starts; a resume keeps them (and rewrites the model)
RESUMED = (CONFIG, *CARRIED_OVER, HISTORY, CHECKPOINT)  # what a resume reads or carries over
RUN_FILES = (CONFIG, SPLITS, SCALERS, HISTORY, CHECKPOINT, WEIGHTS, METRICS, COMPLETE)
DEFAULT_TASK = "regression"  # runs from before tasks existed


def row_signature(inputs: list[str], outputs: list[str], units: Mapping[str, str],
                  ranges: Mapping[str, list[float]]) -> dict[str, Any]:
    """Signature of a row model: tensor ``inputs`` [batch, n_inputs] in, ``outputs`` [batch, n_outputs] out,
    one component per column with its units (and, for inputs, its trained range)."""
    return {
        "inputs": [{"name": "inputs", "dtype": "float32", "shape": ["batch", len(inputs)],
                    "components": [{"name": n, "units": units.get(n, ""), "range": [float(v) for v in ranges[n]]}
                                   for n in inputs]}],
        "outputs": [{"name": "outputs", "dtype": "float32", "shape": ["batch", len(outputs)],
                     "components": [{"name": n, "units": units.get(n, "")} for n in outputs]}],
    }


def build_network(config: Mapping[str, Any]) -> nn.Module:
    """The bare network (model space) described by a run's configuration, through the model registry."""
    model_cls, options = registry.configure("models", config["model"]["name"], config["model"]["options"])
    return model_cls.build(len(config["inputs"]), len(config["outputs"]), output_names=config["outputs"], **options)


class RunDirectory:
    """Reads and writes the files of one run directory; every write is atomic."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.history_fields: list[str] = []

    def file(self, name: str) -> Path:
        return self.path / name

    def state(self) -> str:
        """'complete' (a finished run), 'unfinished' (a checkpoint to --resume from), 'started' (a start killed
        before its first epoch ended: nothing worth keeping) or 'empty'."""
        if self.file(COMPLETE).exists() or self.file(WEIGHTS).exists():
            return "complete"
        if self.file(CHECKPOINT).exists():
            return "unfinished"
        return "started" if self.file(CONFIG).exists() else "empty"  # config.json is what a start writes first

    def check_new(self, overwrite: bool = False) -> None:
        """Before a new run: refuse a directory that holds a run unless `overwrite` (then its run files go, and
        nothing else the user put there), clear what a start killed before its first epoch left (config, splits,
        scalers: nothing a rerun would not write again)."""
        state = self.state()
        if state == "complete" and not overwrite:
            raise RunError(f"{self.path}: already holds a finished run; use another -o, --resume --epochs N to "
                           "train it longer, or --overwrite to replace it")
        if state == "unfinished" and not overwrite:
            raise RunError(f"{self.path}: holds an unfinished run (a checkpoint, no model.pt); continue it with "
                           "--resume, or pass --overwrite to start over")
        if state != "empty":
            self.remove_files()

    def resumable(self) -> bool:
        """Whether the directory holds a run to continue (a checkpoint, or a finished model)."""
        return self.state() in ("unfinished", "complete")

    def check_resumable(self) -> None:
        """Before continuing a run: every file a resume reads or carries over must be there, and those a finished
        run carries over (scalers, splits; the model and metrics are written again) must still have the SHA-256
        complete.json recorded, so a resume never certifies a damaged run as complete."""
        for name in RESUMED:
            if not self.file(name).is_file():
                raise RunError(f"{self.file(name)}: missing, so the run cannot be resumed (it is damaged); train it "
                               "again, into another directory or with --overwrite")
        if self.file(COMPLETE).exists():
            self.verify(CARRIED_OVER)

    def remove_files(self, keep: frozenset[str] = frozenset()) -> None:
        """Remove the files a run writes (and plots/) but those in `keep`, never anything else the user put in
        the directory."""
        for name in set(RUN_FILES) - keep:
            with contextlib.suppress(FileNotFoundError):
                self.file(name).unlink()
        if PLOTS not in keep:
            shutil.rmtree(self.file(PLOTS), ignore_errors=True)

    @contextlib.contextmanager
    def removed_on_failure(self) -> Iterator[None]:
        """A new run: if the block raises (a bad option found late, divergence, a full disk), remove what it
        wrote, and the directory when it made it, so the same -o works again. A kill (or Ctrl-C) keeps the
        files: the checkpoint is there for --resume."""
        existed = self.path.exists()
        there = frozenset(name for name in (*RUN_FILES, PLOTS) if self.file(name).exists())
        try:
            yield
        except Exception:
            self.remove_files(keep=there)
            if not existed:
                with contextlib.suppress(OSError):
                    self.path.rmdir()
            raise

    def write_start(self, config: Mapping[str, Any], task_state: Mapping[str, Any],
                    splits: Mapping[str, np.ndarray]) -> None:
        """What a new run writes before its first epoch: configuration, task state and splits."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.file(CONFIG), dict(config))
        with atomic_path(self.file(SPLITS)) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **splits)
        write_json(self.file(SCALERS), dict(task_state))

    def inputs(self) -> dict[str, Path]:
        """{what: path} of everything a command that reads this run reads: its files and its training table (when
        config.json names one), for :func:`surrogate.outputs.check_not_input`."""
        found = {f"file {p.name} of run": p for p in self.path.iterdir() if p.is_file()} if self.path.is_dir() else {}
        with contextlib.suppress(OSError, ValueError, AttributeError):
            table = json.loads(self.file(CONFIG).read_text()).get("table")
            if isinstance(table, str) and table:
                found["the run's table"] = Path(table)
        return found

    def read_config(self) -> dict[str, Any]:
        config_file = self.file(CONFIG)
        if not config_file.is_file():
            raise RunError(f"{self.path}: not a run directory (no {CONFIG})")
        try:
            config = json.loads(config_file.read_text())
        except json.JSONDecodeError as exc:
            raise RunError(f"{config_file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(config, dict):
            raise RunError(f"{config_file}: expected a JSON object")
        return config

    def update_config(self, changes: Mapping[str, Any]) -> None:
        """Rewrite config.json (atomically) with the keys of `changes` replaced."""
        write_json(self.file(CONFIG), {**self.read_config(), **changes})

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.file(name).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{self.file(name)}: unreadable ({exc.__class__.__name__}); the run is damaged") from None

    def verify(self, names: tuple[str, ...] | None = None) -> None:
        """The files complete.json lists (those of them in `names`, when given) must have the SHA-256 it recorded
        when the run finished."""
        recorded = self.read_json(COMPLETE)
        hashes = recorded.get("sha256") if isinstance(recorded, dict) else None
        if not isinstance(hashes, dict):
            raise RunError(f"{self.file(COMPLETE)}: expected {{\"sha256\": {{file: hash}}}}; the run is damaged")
        for name, expected in hashes.items():
            if names is not None and name not in names:
                continue
            if not self.file(str(name)).is_file():
                raise RunError(f"{self.path}: {name} is missing; the run is damaged")
            if file_sha256(self.file(str(name))) != expected:
                raise RunError(f"{self.file(str(name))}: its content changed since the run finished (SHA-256 differs "
                               f"from {COMPLETE}); the file is damaged or replaced (after a killed --resume, rerun "
                               "it)")

    def load_tensors(self, name: str, device: torch.device | str = "cpu") -> Any:
        """A torch file saved by this module, loaded with weights_only=True; damage is a one-line RunError."""
        try:
            return torch.load(self.file(name), map_location=device, weights_only=True)
        except FileNotFoundError:
            raise RunError(f"{self.path}: run is incomplete (no {name}); train it or resume with --resume") from None
        except Exception as exc:  # truncated zip, foreign pickle refused by weights_only, empty file, ...
            raise RunError(f"{self.file(name)}: not a readable checkpoint of this toolkit ({_first_line(exc)})") \
                from None

    def save_tensors(self, name: str, data: Any) -> None:
        with atomic_path(self.file(name)) as tmp:  # a full disk is an OSError naming the file
            torch.save(data, tmp)

    def append_history(self, row: Mapping[str, float], first: bool) -> None:
        """One line per epoch, appended (a rewrite per epoch would cost O(epochs²) over a run)."""
        if first:
            self.history_fields = list(row)
        with open(self.file(HISTORY), "w" if first else "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.history_fields, restval="", extrasaction="ignore")
            if first:
                writer.writeheader()
            writer.writerow(row)

    def read_history(self, upto: int, rewrite: bool) -> list[dict[str, float]]:
        """Rows of the epochs a checkpoint covers; with `rewrite`, the file loses later or half-written lines."""
        with open(self.file(HISTORY), newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [row for row in reader if None not in row.values() and "" not in row.values()]
            fields = list(reader.fieldnames or [])
        self.history_fields = fields
        history = [{k: float(v) for k, v in row.items()} for row in rows if float(row["epoch"]) <= upto]
        if rewrite:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)
            with atomic_path(self.file(HISTORY)) as tmp:
                tmp.write_text(buffer.getvalue())
        return history

    def trained_epochs(self) -> int:
        """Epochs the run's history records (0 when it has none)."""
        if not self.file(HISTORY).is_file():
            return 0
        history = self.read_history(upto=math.inf, rewrite=False)
        return int(history[-1]["epoch"]) if history else 0

    def write_results(self, model_state: Mapping[str, torch.Tensor], metrics: Mapping[str, Any]) -> None:
        """The trained model and its metrics, then complete.json, which makes the directory a run; it certifies
        every file of :data:`VERIFIED`, so one that went missing during training is an error, not left out."""
        self.save_tensors(WEIGHTS, {k: v.cpu() for k, v in model_state.items()})
        write_json(self.file(METRICS), dict(metrics))
        missing = [name for name in VERIFIED if not self.file(name).is_file()]
        if missing:
            raise RunError(f"{self.file(missing[0])}: missing at the end of training (removed while the run was "
                           "training?); the run is not complete, train it again")
        write_json(self.file(COMPLETE), {"sha256": {name: file_sha256(self.file(name)) for name in VERIFIED}})


def _first_line(exc: BaseException, count: int = 1) -> str:
    """'TypeName: first `count` lines of the message' (joined, at most 200 characters) for a one-line error."""
    text = " ".join(line.strip() for line in str(exc).splitlines()[:count])
    return f"{exc.__class__.__name__}: {text[:200]}" if text else exc.__class__.__name__


@dataclass
class LoadedRun:
    """A trained run ready for use: the task's physical model on the CPU in eval mode.

    `accept_table_change`: :meth:`table` opens the training table even when its content is no longer the one the
    run recorded (a table rebuilt under the same path), instead of refusing it."""

    path: Path
    config: dict[str, Any]
    model: nn.Module
    accept_table_change: bool = False
    _table_checked: bool = field(default=False, init=False, repr=False)

    @property
    def task(self) -> str:
        return str(self.config.get("task", {}).get("name", DEFAULT_TASK))

    @property
    def input_names(self) -> list[str]:
        return list(self.config["inputs"])

    @property
    def output_names(self) -> list[str]:
        return list(self.config["outputs"])

    @property
    def units(self) -> dict[str, str]:
        return dict(self.config["units"])

    @property
    def input_ranges(self) -> dict[str, list[float]]:
        """{input: [min, max]} seen in training: the valid range of the surrogate."""
        return {k: list(v) for k, v in self.config["input_ranges"].items()}

    @property
    def signature(self) -> dict[str, Any]:
        """The tensors the physical model takes and returns (ONNX contract v2): what the task recorded in
        config.json, or, for a run from before tasks existed, one row tensor in and one out."""
        if "signature" in self.config:
            return self.config["signature"]
        return row_signature(self.input_names, self.output_names, self.units, self.input_ranges)

    @property
    def table_path(self) -> Path:
        return Path(self.config["table"])

    @property
    def table_sha256(self) -> str:
        return str(self.config["table_sha256"])

    def table_file(self) -> Path:
        """The path of the run's training dataset, once its SHA-256 is the ``table_sha256`` config.json recorded:
        the stored splits are row (or trajectory) numbers of that file, so a dataset rebuilt or replaced under the
        same path is a one-line RunError naming both files (a TableError naming the chunk when the file is
        damaged), unless the run was loaded with `accept_table_change`.
        The hash is the one a resume checks (:func:`surrogate.table.file_sha256`), computed once per loaded run."""
        path = self.table_path
        if not path.is_file():
            raise RunError(f"{path}: the training table of run {self.path} is not there")
        if not (self._table_checked or self.accept_table_change):
            actual = file_sha256(path)
            if actual != self.table_sha256:
                verify_checksums(path)  # a damaged file is named as damaged, not as replaced
                raise RunError(f"{path}: its content differs from the table the run was trained on (SHA-256 "
                               f"{actual[:12]}, {self.path / CONFIG} records {self.table_sha256[:12]}); rebuilt "
                               "or replaced? Retrain, or pass --accept-table-change to use it as it is")
            self._table_checked = True
        return path

    def table(self) -> Table:
        """The run's training table of rows, checked as :meth:`table_file` says."""
        return Table(self.table_file())

    def split_rows(self, split: str, table: Table) -> np.ndarray:
        """The row indices of `split` in `table` (the run's own table): refused when one lies past its end, as
        the rows of a table that has changed (never silently dropped)."""
        rows = self.split_indices(split)
        if len(rows) and (rows.min() < 0 or rows.max() >= table.n_rows):
            raise RunError(f"{self.path / SPLITS}: split {split!r} names row {int(rows.max())}, but {table.path} "
                           f"has {table.n_rows} rows; the run or its table is damaged")
        return rows

    def split_indices(self, split: str) -> np.ndarray:
        """Indices (rows of the training table, for row tasks) in split 'train', 'val' or 'test'."""
        try:
            with np.load(self.path / SPLITS) as data:
                if split not in data.files and "val" in data.files:
                    raise RunError(f"{self.path / SPLITS}: the run did not store its {split} rows (a streamed run "
                                   "keeps them only when they fit in --stream-memory); metrics.json has its "
                                   f"{split} metrics")
                indices = np.asarray(data[split])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise RunError(f"{self.path / SPLITS}: unreadable ({_first_line(exc)}); the run is damaged") from None
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise RunError(f"{self.path / SPLITS}: split {split!r} is not a list of row indices; the run is damaged")
        return indices

    @torch.no_grad()
    def predict(self, x_phys: np.ndarray) -> np.ndarray:
        """Physical outputs for physical inputs of a row model, (n, n_inputs) -> (n, n_outputs), float64."""
        tensor = torch.as_tensor(np.asarray(x_phys, dtype=np.float32))
        return self.model(tensor).double().numpy()


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    return RunDirectory(path).read_config()


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, str) for item in value)


def _is_range(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
            and all(math.isfinite(v) for v in value) and value[0] <= value[1])


def check_config(config: Mapping[str, Any], source: Path) -> None:
    """The keys of config.json that loading a run reads, with the types `surrogate train` writes: a one-line
    RunError naming the key otherwise (a hand-edited or foreign file)."""
    missing = [key for key in ("model", "inputs", "outputs", "units", "input_ranges", "table", "table_sha256")
               if key not in config]
    if missing:
        raise RunError(f"{source}: lacks {', '.join(missing)}; not written by `surrogate train`")
    model, task = config["model"], config.get("task", {"name": DEFAULT_TASK})
    ranges, units = config["input_ranges"], config["units"]
    checks = [  # in order, each may rely on the ones before
        ("model", "{\"name\": ..., \"options\": {...}}", lambda: isinstance(model, dict)
         and isinstance(model.get("name"), str) and isinstance(model.get("options", {}), dict)),
        ("task", "{\"name\": ..., \"options\": {...}}", lambda: isinstance(task, dict)
         and isinstance(task.get("name"), str)),
        ("inputs", "a non-empty list of names", lambda: _is_names(config["inputs"])),
        ("outputs", "a non-empty list of names", lambda: _is_names(config["outputs"])),
        ("units", "a mapping of column names to unit strings",
         lambda: isinstance(units, dict) and all(isinstance(v, str) for v in units.values())),
        ("input_ranges", "a [min, max] pair of finite numbers for every input", lambda: isinstance(ranges, dict)
         and all(_is_range(ranges.get(name)) for name in config["inputs"])),
        ("table", "a path", lambda: isinstance(config["table"], str)),
        ("table_sha256", "a SHA-256 in hex", lambda: isinstance(config["table_sha256"], str)),
    ]
    for key, expected, ok in checks:
        if not ok():
            raise RunError(f"{source}: {key}: expected {expected}, got {json.dumps(config.get(key))[:80]}")


def load_run(path: str | os.PathLike, accept_table_change: bool = False) -> LoadedRun:
    """Load a finished run directory; a missing, incomplete or damaged one is a one-line RunError.
    `accept_table_change`: see :class:`LoadedRun`."""
    directory = RunDirectory(path)
    config = directory.read_config()
    check_config(config, directory.file(CONFIG))
    for name in (SCALERS, WEIGHTS):
        if not directory.file(name).is_file():
            raise RunError(f"{directory.path}: run is incomplete (no {name}); train it or resume with --resume")
    if directory.file(COMPLETE).exists():
        directory.verify()
    task_cls = registry.load("tasks", str(config.get("task", {}).get("name", DEFAULT_TASK)))
    state = directory.load_tensors(WEIGHTS)
    scalers = directory.read_json(SCALERS)
    if not isinstance(scalers, dict):
        raise RunError(f"{directory.file(SCALERS)}: expected a JSON object; the run is damaged")
    try:
        model = task_cls.assemble(build_network(config), scalers, config)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RunError(f"{directory.path}: {WEIGHTS} and {SCALERS} do not fit the model its {CONFIG} describes "
                       f"({_first_line(exc, count=2)})") from None  # torch names the mismatch on line 2
    model.eval()
    return LoadedRun(path=directory.path, config=config, model=model, accept_table_change=accept_table_change)
