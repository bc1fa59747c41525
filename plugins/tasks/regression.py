"""Regression on rows: a scattered table's inputs -> outputs, one squared-error data term per output.

What a flamelet, FGM, equilibrium or PDF table needs: inputs min-max scaled (log10 first where the table or
the user says so), outputs standardized, mass fractions closed by a softmax when the model asks for it and the
table declares them, a random or a grouped (held-out flamelets) split.

Where the rows come from is the task's row source: :class:`MemoryRows` holds the training table on the device;
:class:`~plugins.tasks.regression_stream.StreamedRows` (``surrogate train --stream-memory MB``) reads a table
larger than memory block by block. The loss terms, score, scalers and exports are the task's, the same for both.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from surrogate.baselines import Baselines, row_baselines
from surrogate.closure import SoftmaxClosure
from surrogate.contracts import Batch, DataStatistics, Task, TaskSettings
from surrogate.training_data import TrainingData, split_groups, split_indices
from surrogate.errors import UserError
from surrogate.metrics import metrics_table
from surrogate.options import Option
from surrogate.ranges import NON_NEGATIVE, Range
from surrogate.run import row_signature
from surrogate.scaling import InputScaler, OutputScaler, PhysicalModel
from surrogate.table import Table
from surrogate.terms import LossTerms, data_term

from .log_species import LogSpeciesError
from .regression_stream import StreamedRows

PREDICT_CHUNK = 65536


class Regression(Task):
    """L_j = (ŷ_j - y_j)² per sample in model space for each output j (``data/<output>``); the validation score
    is the mean over outputs of MSE_j / Var(y_j) (≈ mean of 1 - R²), the same yardstick for every strategy.
    With ``log_species`` λ > 0, each softmax-closed mass fraction's term also carries λ times its error in
    ln(Y + ε), scaled to Y's variance (:class:`~plugins.tasks.log_species.LogSpeciesError`)."""

    description: ClassVar[str] = "rows of a scattered table: inputs -> outputs, one data term per output"
    options: ClassVar[tuple[Option, ...]] = (
        Option("log_species", 0.0, "λ: weight of the ln(Y + ε) error of each softmax-closed mass fraction beside "
               "its squared error (0: off); relative accuracy for trace species such as NO2", bounds=NON_NEGATIVE),
        Option("log_floor", 1e-4, "ε of each species as a share of its largest training value: below it a "
               "species counts as absent", bounds=Range(0, 1, low_open=True)),
    )
    datasets: ClassVar[tuple[str, ...]] = ("scattered",)
    streams: ClassVar[bool] = True

    def __init__(self, dataset: Table, settings: TaskSettings, processes: Any, *, log_species: float,
                 log_floor: float, **options: Any):
        super().__init__(dataset, settings, processes)
        self.log_species, self.log_floor = log_species, log_floor
        table, defaults = dataset, dataset.defaults
        self.input_names = list(settings.inputs or defaults.default_inputs or table.input_names)
        self.output_names = list(settings.outputs or defaults.default_outputs or table.output_names)
        # units of every column, which is also the one-line error for unknown columns, before any work
        self.units = {name: table.units(name) for name in [*self.input_names, *self.output_names]}
        declared_log = [name for name in defaults.log_inputs or () if name in self.input_names]
        self.log_inputs = declared_log if settings.log_inputs is None else list(settings.log_inputs)
        unknown = [name for name in self.log_inputs if name not in self.input_names]
        if unknown:
            raise UserError(f"--log-input {unknown[0]!r} is not one of the inputs ({', '.join(self.input_names)})")
        floors = settings.log_floors or {}
        stray = [name for name in floors if name not in self.log_inputs]
        if stray:
            raise UserError(f"--log-floor {stray[0]}: not a log input (log inputs: {', '.join(self.log_inputs) or 'none'}"
                            "; add it with --log-input)")
        self.given_floors: list[float | None] = [floors.get(name) for name in self.input_names]
        self.softmax_outputs = [name for name in defaults.softmax_outputs or () if name in self.output_names]
        self.source = self.row_source(settings)
        if log_species and not isinstance(self.source, MemoryRows):
            raise UserError("--task-option log_species needs the table in memory (leave out --stream-memory)")

    def row_source(self, settings: TaskSettings) -> "MemoryRows | StreamedRows":
        """Where the rows come from: the device (:class:`MemoryRows`), or the table read block by block within
        ``settings.stream_memory_mb`` (> 0; :class:`StreamedRows`); either draws the split. A subclass that builds
        its own tensors in `setup` (the CVAE) holds its rows in memory and says so with ``streams = False``."""
        if settings.stream_memory_mb and self.streams:
            return StreamedRows(self, settings)
        return MemoryRows(self, settings)

    def group_column(self) -> str:
        """The label a grouped split holds out whole groups of (a one-line error when the table has none)."""
        if not self.dataset.defaults.group_column:
            raise UserError(f"{self.dataset.path}: --split-by group needs a table that declares a group column "
                            "(root attribute group_column); this one declares none")
        return self.dataset.defaults.group_column

    @property
    def index_splits(self) -> dict[str, np.ndarray]:
        """The row indices of train, val and test (empty for a streamed source, which decides per block)."""
        return self.source.index_splits

    @property
    def index(self) -> dict[str, torch.Tensor]:
        """The split indices on the device, from which training and evaluation batches are drawn (a subclass that
        builds its own device tensors in `setup`, as the CVAE does, sets them here)."""
        return self.source.index

    @index.setter
    def index(self, value: dict[str, torch.Tensor]) -> None:
        self.source.index = value

    def epoch_size(self) -> int:
        return self.source.epoch_size()

    def setup(self, network: nn.Module, closure: str) -> None:
        """The source fits the scalers, valid ranges and statistics on the training rows and builds ``model``
        around the network (softmax-closed over the declared mass fractions when the model asks for it)."""
        self.mask = [closure == "softmax" and name in self.softmax_outputs for name in self.output_names]
        self.source.setup(network, self.mask)
        self.variance = torch.tensor([max(self.stats.variance[n], 1e-30) for n in self.output_names])
        self.log_error = self.source.log_error(self.mask) if self.log_species else None

    def statistics(self) -> DataStatistics:
        return self.stats

    def term_names(self) -> list[str]:
        return [data_term(name) for name in self.output_names]

    # -------------------------------------------------------------------------------------- batches
    def batches(self, split: str, batch_size: int | None,
                generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        return self.source.batches(split, batch_size, generator)

    def for_ranks(self, split: str, chunks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Evaluation chunks as they are; training batches shared between data-parallel ranks."""
        for chunk in chunks:
            if split != "train":
                yield chunk
            elif len(chunk) >= self.processes.world:
                yield self.processes.share(chunk)

    def columns(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, x_phys, y) of a batch as :meth:`batches` yields it."""
        return self.split_columns(self.source.rows_of(batch))

    def split_columns(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, x_phys, y): views of a [x | x_phys | y] matrix."""
        n_in = len(self.input_names)
        return rows[:, :n_in], rows[:, n_in:2 * n_in], rows[:, 2 * n_in:]

    def loss_terms(self, forward: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor) -> tuple[LossTerms, Batch]:
        x, x_phys, y = self.columns(rows)
        y_pred = forward(x)
        # one fused squared error for all outputs (the same numbers as (y_pred - y) ** 2)
        errors = torch.nn.functional.mse_loss(y_pred, y, reduction="none")
        if self.log_error is not None:
            errors = errors.index_add(1, self.log_error.columns, self.log_error(y_pred, y))
        columns = errors.unbind(dim=1)  # one backward node for all outputs, not one per slice
        terms: LossTerms = {data_term(name): column for name, column in zip(self.output_names, columns)}
        batch = Batch(x=x, x_phys=x_phys, y=y, y_pred=y_pred,
                      y_pred_phys=functools.partial(self.model.output_scaler, y_pred), input_names=self.input_names,
                      output_names=self.output_names, model=self.trainable)
        return terms, batch

    def score(self, means: Mapping[str, float]) -> float:
        return float(np.mean([means[data_term(n)] / float(v) for n, v in zip(self.output_names, self.variance)]))

    # ------------------------------------------------------------------------------------ results
    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        return self.source.final_metrics()

    def baselines(self, split: str) -> Baselines:
        return self.source.baselines(split)

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        self.source.write_plots(metrics, plot_dir)

    def state(self) -> dict[str, Any]:
        return {"input": self.model.input_scaler.to_dict(), "output": self.model.output_scaler.to_dict(),
                "softmax_mask": self.mask}

    def splits(self) -> dict[str, np.ndarray]:
        return self.source.splits()

    def config(self) -> dict[str, Any]:
        return {"inputs": self.input_names, "outputs": self.output_names, "units": self.units,
                "input_ranges": self.input_ranges, "log_inputs": self.log_inputs,
                "softmax_outputs": [n for n, m in zip(self.output_names, self.mask) if m],
                "signature": self.signature(), **self.source.config()}

    def signature(self) -> dict[str, Any]:
        return row_signature(self.input_names, self.output_names, self.units, self.input_ranges)

    @classmethod
    def assemble(cls, network: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> nn.Module:
        mask = state.get("softmax_mask") or [False] * len(config["outputs"])
        wrapped = SoftmaxClosure(network, mask) if any(mask) else network
        return PhysicalModel(InputScaler.from_dict(state["input"]), wrapped, OutputScaler.from_dict(state["output"]))


class MemoryRows:
    """The row source of a table that fits in memory: one device matrix [x | x_phys | y] of all rows in model
    space, batches drawn as shuffled row indices of a random or a grouped split."""

    def __init__(self, task: Regression, settings: TaskSettings):
        self.task = task
        table, defaults = task.dataset, task.dataset.defaults
        if settings.split_by == "group":
            self.index_splits = split_groups(table.read_labels(task.group_column()), settings.val_fraction,
                                             settings.test_fraction, settings.seed, defaults.train_groups or ())
        else:
            self.index_splits = split_indices(table.n_rows, settings.val_fraction, settings.test_fraction,
                                              settings.seed)
        self.index: dict[str, torch.Tensor] = {}

    def epoch_size(self) -> int:
        return len(self.index_splits["train"])

    def setup(self, network: nn.Module, mask: list[bool]) -> None:
        task = self.task
        device, dtype = task.settings.device, task.settings.dtype
        self.data = TrainingData.from_table(task.dataset, task.input_names, task.output_names, task.log_inputs,
                                            mask, self.index_splits, task.given_floors)
        task.trainable = SoftmaxClosure(network, mask) if any(mask) else network
        task.input_ranges = self.data.input_ranges()  # the surrogate's valid range: training rows' min and max
        task.model = PhysicalModel(self.data.input_scaler, task.trainable, self.data.output_scaler).to(device, dtype)
        with torch.no_grad():
            x_phys = torch.as_tensor(self.data.x, dtype=dtype, device=device)
            y = task.model.output_scaler.inverse(torch.as_tensor(self.data.y, dtype=dtype, device=device))
            # one matrix [x | x_phys | y]: a batch is one gather per step, not three
            self.rows = torch.cat([task.model.input_scaler(x_phys), x_phys, y], dim=1)
        task.x, task.x_phys, task.y = task.split_columns(self.rows)  # views, as a subclass's setup sets them
        self.index = {k: torch.as_tensor(v, device=device) for k, v in self.index_splits.items()}
        if isinstance(task.trainable, SoftmaxClosure):  # float64 mean of the targets, in model space
            scaler = self.data.output_scaler
            mean = self.data.y[self.index_splits["train"]].mean(axis=0)
            task.trainable.start_at_mean(torch.as_tensor((mean - scaler.offset.double().numpy())
                                                         / scaler.scale.double().numpy()))
        task.stats = self.data.statistics(task.y[self.index["train"]].double().cpu().numpy())

    def batches(self, split: str, batch_size: int | None,
                generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Row indices on the device: shuffled by `generator`, in chunks of `batch_size` (None: all rows);
        training batches are shared between data-parallel ranks."""
        rows = self.index[split]
        if generator is not None:
            rows = rows[torch.randperm(len(rows), generator=generator).to(rows.device)]
        yield from self.task.for_ranks(split, [rows] if batch_size is None else rows.split(batch_size))

    def log_error(self, mask: list[bool]) -> LogSpeciesError:
        """The task's log-space term of the closed mass fractions, from the training rows."""
        task = self.task
        term = LogSpeciesError.for_task(self.data.y[self.index_splits["train"]], mask, task.log_species,
                                        task.log_floor, "--task-option log_species")
        return term.to(task.settings.device, task.settings.dtype)

    def rows_of(self, batch: torch.Tensor) -> torch.Tensor:
        """The device rows [x | x_phys | y] of a batch of row indices (``index_select`` copies whole rows; indexing
        with ``rows[batch]`` gathers element by element, a tenth of a small training step on a CPU)."""
        return self.rows.index_select(0, batch)

    @torch.no_grad()
    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Physical predictions of the current model for table rows."""
        model, x_phys = self.task.model.eval(), self.task.x_phys
        parts = [model(x_phys[torch.as_tensor(rows[s:s + PREDICT_CHUNK], device=x_phys.device)]).double().cpu()
                 for s in range(0, len(rows), PREDICT_CHUNK)]
        return torch.cat(parts).numpy() if parts else np.empty((0, len(self.task.output_names)))

    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        self.predictions = {split: self.predict(rows) for split, rows in self.index_splits.items() if len(rows)}
        return {split: metrics_table(self.data.y[self.index_splits[split]], predicted, self.task.output_names)
                for split, predicted in self.predictions.items()}

    def baselines(self, split: str) -> Baselines:
        """The training mean, and the table's structured lookup or else linear interpolation of the training
        rows (:func:`surrogate.baselines.row_baselines`), on `split`'s rows in physical units."""
        task, train, rows = self.task, self.index_splits["train"], self.index_splits[split]
        return row_baselines(self.data.x[train], self.data.y[train], self.data.x[rows], self.data.y[rows],
                             task.input_names, task.output_names, task.log_inputs, task.dataset.path,
                             task.settings.seed, held_out_groups=task.settings.split_by == "group")

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        from surrogate import plots

        split = "test" if "test" in self.predictions else "train"
        plots.parity(self.data.y[self.index_splits[split]], self.predictions[split], self.task.output_names,
                     metrics[split], plot_dir / "parity.png", title=f"{split} split ({self.task.settings.split_by})",
                     units=self.task.units)

    def splits(self) -> dict[str, np.ndarray]:
        return self.index_splits

    def config(self) -> dict[str, Any]:
        return {}
