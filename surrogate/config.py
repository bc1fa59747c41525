"""The training configuration: what defines a run, loadable from YAML and the command line, type-checked.

Importing this module imports no torch, so the CLI can build and check options before any heavy import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import UserError
from .ranges import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, SEED, Range
from .threads import CHOSEN_THREADS, check_threads

DEFAULT_WEIGHTING = "schedule"
DEFAULT_MODEL = "softmax-mlp"
# Without --epochs, train for about this many optimizer steps (clamped to 10..2000 epochs): enough for every
# species of the default H2 table and of a 280k-row one to reach test R² ≥ 0.999 (about a minute on 2 cores).
AUTO_STEPS = 50000
AUTO_EPOCH_RANGE = (10, 2000)
OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
LR_SCHEDULES = ("none", "cosine", "step", "plateau")
CLOSURES = ("auto", "softmax", "none")
SPLITS = ("random", "group")
DTYPES = ("float32", "float64")
PRECISIONS = ("fp32", "bf16", "fp16")  # fp32: no autocast; bf16/fp16: torch.autocast (fp16 with a GradScaler)
COMPILE_MODES = ("none", "default", "reduce-overhead")  # torch.compile of the model; reduce-overhead: CUDA graphs

# the type each key of a YAML config must have: (python types, name in messages)
_NUMBER = ((int, float), "a number")
_INT = ((int,), "an integer")
_TEXT = ((str,), "a string")
_NAMES = ((list,), "a list of names")
_MAP = ((dict,), "a mapping")
FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "table": _TEXT, "task": _TEXT, "task_options": _MAP, "inputs": _NAMES, "outputs": _NAMES,
    "log_inputs": _NAMES, "closure": _TEXT, "split_by": _TEXT, "model": _TEXT, "model_options": _MAP,
    "weighting": _TEXT, "weighting_options": _MAP, "physics": _NAMES, "physics_options": _MAP, "optimizer": _TEXT,
    "lr": _NUMBER, "weight_decay": _NUMBER, "lr_schedule": _TEXT, "batch_size": _INT, "epochs": _INT,
    "patience": _INT, "min_delta": _NUMBER, "val_fraction": _NUMBER, "test_fraction": _NUMBER, "seed": _INT,
    "device": _TEXT, "lbfgs_epochs": _INT, "dtype": _TEXT,
    "stream_memory": _NUMBER, "threads": _INT, "precision": _TEXT, "compile": _TEXT,
    "loggers": _NAMES, "logger_options": _MAP, "log_floors": _MAP,
}
# the range of each numeric key, checked by TrainOptions.validate and shown in the command line's help
FIELD_RANGES: dict[str, Range] = {
    "lr": POSITIVE, "weight_decay": NON_NEGATIVE, "batch_size": COUNT, "epochs": COUNT, "patience": NON_NEGATIVE,
    "min_delta": NON_NEGATIVE, "val_fraction": FRACTION, "test_fraction": FRACTION, "seed": SEED,
    "lbfgs_epochs": NON_NEGATIVE, "stream_memory": NON_NEGATIVE, "threads": NON_NEGATIVE,
}


@dataclass
class TrainOptions:
    """Everything that defines a run; saved in config.json, loadable from YAML (same keys).

    ``None`` for inputs, outputs, log_inputs and task means "what the dataset declares". ``lbfgs_epochs``
    adds a second stage after ``epochs``: full-batch L-BFGS epochs (two-stage optimization, as PINNs are
    trained: Adam, then L-BFGS). ``dtype`` is the floating-point type of training (exports stay float32).
    """

    table: str = ""
    task: str | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    log_inputs: list[str] | None = None
    log_floors: dict[str, float] = field(default_factory=dict)  # log input -> floor (default: smallest positive)
    closure: str = "auto"
    split_by: str = "random"
    model: str = DEFAULT_MODEL
    model_options: dict[str, Any] = field(default_factory=dict)
    weighting: str = DEFAULT_WEIGHTING
    weighting_options: dict[str, Any] = field(default_factory=dict)
    physics: list[str] = field(default_factory=list)
    physics_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    optimizer: str = "adam"
    lr: float = 1e-2
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    batch_size: int = 256
    epochs: int | None = None
    patience: int = 0
    min_delta: float = 0.0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    lbfgs_epochs: int = 0
    dtype: str = "float32"
    stream_memory: float = 0.0  # MB of the shuffle buffer when the table is streamed; 0: read it into memory
    threads: int = 0  # torch intra-op threads, at most 4 per CPU; 0: chosen from the problem size and the jobs here
    precision: str = "fp32"  # mixed precision of the training steps (weights and evaluation stay in dtype)
    compile: str = "none"  # torch.compile mode of the model in training steps
    loggers: list[str] = field(default_factory=lambda: ["csv"])  # surrogate.loggers plugins; csv is always on
    logger_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """One-line errors for values out of their range (:data:`FIELD_RANGES`, choices) or that do not go together
        (types are checked by :meth:`from_mapping`). Every TrainOptions is checked when it is made (``replace``
        included), so a value is refused before anything is read or written, with one message whether it came
        from the command line, a YAML config, config.json or Python: the command line checks none of these."""
        for name, choices in (("optimizer", OPTIMIZERS), ("lr_schedule", LR_SCHEDULES), ("closure", CLOSURES),
                              ("split_by", SPLITS), ("dtype", DTYPES), ("precision", PRECISIONS),
                              ("compile", COMPILE_MODES)):
            if getattr(self, name) not in choices:
                raise UserError(f"{name} {getattr(self, name)!r}: expected one of {', '.join(choices)}")
        check_threads(self.threads, "threads", CHOSEN_THREADS)  # first: its message gives this machine's limit
        for name, bounds in FIELD_RANGES.items():
            value = getattr(self, name)
            if value is not None and not bounds.contains(value):
                raise UserError(f"{name}={value!r}: expected {FIELD_TYPES[name][1]} {bounds.describe()}")
        if not self.val_fraction + self.test_fraction < 1:
            raise UserError(f"val_fraction={self.val_fraction!r}, test_fraction={self.test_fraction!r}: expected a "
                            "sum below 1 (rows must be left for training)")
        uses_lbfgs = self.optimizer == "lbfgs" or self.lbfgs_epochs > 0
        if self.precision != "fp32" and (self.dtype != "float32" or uses_lbfgs):
            raise UserError(f"precision {self.precision!r}: mixed precision needs dtype float32 and no L-BFGS "
                            "(its line search re-evaluates the loss without a gradient scaler)")
        unknown = sorted(set(self.physics_options) - set(self.physics))
        if unknown:
            raise UserError(f"physics options given for {unknown[0]!r}, which is not among --physics {self.physics}")
        unknown = sorted(set(self.logger_options) - set(self.loggers))
        if unknown:
            raise UserError(f"logger options given for {unknown[0]!r}, which is not among --logger {self.loggers}")
        for name, floor in self.log_floors.items():
            if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 < floor < float("inf"):
                raise UserError(f"log_floors {name}={floor!r}: expected a positive number")
        if len(set(self.outputs or ())) != len(self.outputs or ()):
            raise UserError(f"outputs {self.outputs}: a column is named twice")
        if len(set(self.inputs or ())) != len(self.inputs or ()):
            raise UserError(f"inputs {self.inputs}: a column is named twice")

    def resolved(self, n_train: int) -> "TrainOptions":
        """These options with the epoch budget fixed: without --epochs, about AUTO_STEPS optimizer steps over
        `n_train` training samples per epoch (rows, or what the task counts), within AUTO_EPOCH_RANGE."""
        if self.epochs is not None:
            return self
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        low, high = AUTO_EPOCH_RANGE
        return replace(self, epochs=int(min(high, max(low, math.ceil(AUTO_STEPS / steps_per_epoch)))))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str) -> "TrainOptions":
        """Options from a mapping (YAML, config.json); unknown keys and values of the wrong type are one-line
        errors naming `source` and the key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{source}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
        for key, value in data.items():
            types, what = FIELD_TYPES[key]
            if value is None and key in ("task", "inputs", "outputs", "log_inputs", "epochs"):
                continue
            if isinstance(value, bool) or not isinstance(value, types):
                raise UserError(f"{source}: {key}: expected {what}, got {value!r}")
            if types == (list,) and not all(isinstance(item, str) for item in value):
                raise UserError(f"{source}: {key}: expected a list of names, got {value!r}")
        return cls(**data)
