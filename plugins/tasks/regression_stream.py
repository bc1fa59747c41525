"""The streamed row source of the ``regression`` task: tables larger than memory.

Chosen by ``surrogate train --stream-memory MB``. The task's loss terms, score, scalers and exports are those of
:class:`~plugins.tasks.regression.Regression`; what changes is where rows come from (:mod:`surrogate.streaming`):
the split is decided per row (a hash of the row number, or whole groups), the scalers, weighting statistics,
valid ranges and final metrics come from streaming passes, and training batches from a shuffle buffer of at most
MB megabytes. The validation split is kept on the device when it fits in a quarter of the budget, else it is
streamed each epoch too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from surrogate.baselines import Baselines
from surrogate.closure import SoftmaxClosure
from surrogate.contracts import DataStatistics, TaskSettings
from surrogate.errors import UserError
from surrogate.metrics import RELATIVE_FLOOR
from surrogate.scaling import InputScaler, OutputScaler, PhysicalModel, log_floors
from surrogate.streaming import (CODES, BlockReader, MetricSums, Moments, RowSplit, StreamStatistics,
                                 buffer_rows, distinct_labels, ordered_chunks, shuffled_batches, shuffled_fills)
from surrogate.table import CHUNK_ROWS

PLOT_ROWS = 20000  # rows of the plotted split kept for the parity plot
RESIDENT_SHARE = 0.25  # share of the budget the validation split may occupy on the device


def chunk_rows(table: Any) -> int:
    """Rows per HDF5 chunk of the table's first column: the block that is cheap to read."""
    import h5py

    first = table.input_names[0]
    with h5py.File(table.path, "r") as h5:
        chunks = h5["inputs"][first].chunks
    return int(chunks[0]) if chunks else CHUNK_ROWS


def input_scaler(moments: Moments, log: list[bool], given_floors: list[float | None]) -> InputScaler:
    """:meth:`InputScaler.fit` from moments: log10(max(x, floor)) is monotone, so its range is that of x."""
    assert moments.low is not None and moments.high is not None and moments.min_positive is not None
    floor = np.asarray(log_floors(moments.min_positive.tolist(), log, given_floors))
    low, high = np.maximum(moments.low, floor), np.maximum(moments.high, floor)
    lo = np.where(log, np.log10(low), moments.low)
    hi = np.where(log, np.log10(high), moments.high)
    return InputScaler(lo.tolist(), hi.tolist(), list(log), floor.tolist())


def output_scaler(moments: Moments, identity: list[bool]) -> OutputScaler:
    """:meth:`OutputScaler.fit` from moments: standardization, identity for softmax outputs."""
    assert moments.mean is not None
    std = np.sqrt(moments.variance)
    std = np.where(std > 0, std, 1.0)
    return OutputScaler(np.where(identity, 1.0, std).tolist(), np.where(identity, 0.0, moments.mean).tolist())


class StreamedRows:
    """The row source of a regression task whose table is read block by block within
    ``settings.stream_memory_mb``: `task` is the :class:`~plugins.tasks.regression.Regression` it serves."""

    def __init__(self, task: Any, settings: TaskSettings):
        self.task = task
        self.index_splits: dict[str, np.ndarray] = {}  # the split is decided per block, never held as indices
        self.index: dict[str, torch.Tensor] = {}
        table, defaults = task.dataset, task.dataset.defaults
        self.block_rows = chunk_rows(table)
        group = None
        if settings.split_by == "group":
            group = task.group_column()
            split = RowSplit.grouped(distinct_labels(table.path, group, table.n_rows, self.block_rows),
                                     settings.val_fraction, settings.test_fraction, settings.seed,
                                     defaults.train_groups or ())
        else:
            split = RowSplit.random(settings.val_fraction, settings.test_fraction, settings.seed)
        columns = [("inputs" if name in table.input_names else "outputs", name)
                   for name in [*task.input_names, *task.output_names]]
        self.reader = BlockReader(table.path, columns, split, table.n_rows, self.block_rows, group)
        self.moments = StreamStatistics.collect(self.reader)

    def epoch_size(self) -> int:
        return self.moments.count("train")

    # ------------------------------------------------------------------------------------------ set-up
    def setup(self, network: nn.Module, mask: list[bool]) -> None:
        task = self.task
        settings, n_in = task.settings, len(task.input_names)
        device, dtype = settings.device, settings.dtype
        train = self.moments.splits["train"]
        if train.count < 2:
            raise UserError(f"{task.dataset.path}: only {train.count} training rows; need more data or smaller "
                            "val/test")
        inputs, outputs = train.columns(slice(0, n_in)), train.columns(slice(n_in, None))
        scale_in = input_scaler(inputs, [name in task.log_inputs for name in task.input_names], task.given_floors)
        scale_out = output_scaler(outputs, mask)
        task.trainable = SoftmaxClosure(network, mask) if any(mask) else network
        assert inputs.low is not None and inputs.high is not None
        task.input_ranges = {name: [float(lo), float(hi)]
                             for name, lo, hi in zip(task.input_names, inputs.low, inputs.high)}
        task.model = PhysicalModel(scale_in, task.trainable, scale_out).to(device, dtype)
        assert outputs.mean is not None
        scale, offset = np.asarray(scale_out.scale.tolist()), np.asarray(scale_out.offset.tolist())
        model_mean, model_var = (outputs.mean - offset) / scale, outputs.variance / scale**2
        if isinstance(task.trainable, SoftmaxClosure):
            task.trainable.start_at_mean(torch.as_tensor(model_mean, dtype=dtype, device=device))
        task.stats = DataStatistics(output_names=list(task.output_names),
                                    mean={n: float(v) for n, v in zip(task.output_names, model_mean)},
                                    variance={n: float(v) for n, v in zip(task.output_names, model_var)},
                                    n_samples=train.count)
        itemsize = torch.empty((), dtype=dtype).element_size()
        self.row_bytes = (2 * n_in + len(task.output_names)) * itemsize + 8  # device row + its shuffle index
        # a refill holds the float64 rows read, the device rows and their shuffled copy: count them all
        fill_bytes = 8 * len(self.reader.columns) + 2 * self.row_bytes
        self.capacity = buffer_rows(settings.stream_memory_mb, fill_bytes, settings.batch_size)
        self.resident: dict[str, torch.Tensor] = {}
        budget = RESIDENT_SHARE * settings.stream_memory_mb * (1 << 20)
        if 0 < self.moments.count("val") * self.row_bytes <= budget:
            self.resident["val"] = torch.cat(list(map(self.convert, ordered_chunks(self.reader, "val", 1 << 16))))

    @torch.no_grad()
    def convert(self, rows: np.ndarray) -> torch.Tensor:
        """Physical rows (inputs, outputs; float64) -> the device matrix [x | x_phys | y] in model space."""
        task = self.task
        n_in = len(task.input_names)
        x_phys = torch.as_tensor(rows[:, :n_in], dtype=task.settings.dtype, device=task.settings.device)
        y = torch.as_tensor(rows[:, n_in:], dtype=task.settings.dtype, device=task.settings.device)
        return torch.cat([task.model.input_scaler(x_phys), x_phys, task.model.output_scaler.inverse(y)], dim=1)

    # -------------------------------------------------------------------------------------- batches
    def batches(self, split: str, batch_size: int | None,
                generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Device matrices [x | x_phys | y]: training batches from the shuffle buffer (shared between
        data-parallel ranks); evaluation chunks in table order; with a generator outside training, the
        shuffled rows of one random block (a random validation batch)."""
        if batch_size is None:
            raise UserError("full-batch steps (L-BFGS) need the whole table in memory; train without "
                            "--stream-memory")
        if split in self.resident:
            data = self.resident[split]
            if generator is not None:
                data = data[torch.randperm(len(data), generator=generator).to(data.device)]
            yield from data.split(batch_size)
            return
        if generator is None:
            yield from map(self.convert, ordered_chunks(self.reader, split, batch_size))
            return
        capacity = self.capacity if split == "train" else 1
        fills = shuffled_fills(self.reader, split, capacity, generator)
        yield from self.task.for_ranks(split, shuffled_batches(fills, batch_size, generator, self.convert))

    def rows_of(self, batch: torch.Tensor) -> torch.Tensor:
        return batch  # the batch is the device rows themselves

    # ------------------------------------------------------------------------------------ results
    @torch.no_grad()
    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per-output metrics of every split from one ordered pass (the model predicts each block once); the
        first rows of the plotted split are kept for the parity plot."""
        task = self.task
        model = task.model.eval()
        n_in = len(task.input_names)
        sums = {split: MetricSums(moments.columns(slice(n_in, None)))
                for split, moments in self.moments.splits.items() if moments.count}
        self.plotted = "test" if "test" in sums else "train"
        kept: list[tuple[np.ndarray, np.ndarray]] = []
        held = 0
        for block in range(self.reader.n_blocks):
            matrix, codes = self.reader.read(block)
            x = torch.as_tensor(matrix[:, :n_in], dtype=task.settings.dtype, device=task.settings.device)
            predicted = model(x).double().cpu().numpy()
            for split, accumulator in sums.items():
                chosen = codes == CODES[split]
                accumulator.add(matrix[chosen, n_in:], predicted[chosen], RELATIVE_FLOOR)
                if split == self.plotted and held < PLOT_ROWS:
                    kept.append((matrix[chosen, n_in:][:PLOT_ROWS - held], predicted[chosen][:PLOT_ROWS - held]))
                    held += len(kept[-1][0])
        self.reader.close()
        self.plot_rows = (np.concatenate([k[0] for k in kept]), np.concatenate([k[1] for k in kept]))
        return {split: accumulator.table(task.output_names) for split, accumulator in sums.items()}

    def baselines(self, split: str) -> Baselines:
        """None: the training rows are never held together, as the interpolation would need; `surrogate evaluate`
        scores the baselines when the run kept its training rows (splits.npz)."""
        reason = "a streamed run holds no training rows in memory (see `surrogate evaluate`)"
        return Baselines(skipped={"training mean": reason, "table lookup or interpolation": reason})

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        from surrogate import plots

        true, predicted = self.plot_rows
        plots.parity(true, predicted, self.task.output_names, metrics[self.plotted], plot_dir / "parity.png",
                     title=f"{self.plotted} split ({self.task.settings.split_by}, first {len(true)} rows, streamed)",
                     units=self.task.units)

    def splits(self) -> dict[str, np.ndarray]:
        """The row indices of val and test (for ``surrogate evaluate``), from the split codes block by block,
        and those of train when they fit in the memory budget (the bulk of a table larger than memory does
        not); the rule itself is in config.json (``streaming``)."""
        found: dict[str, list[np.ndarray]] = {"val": [], "test": []}
        if 8 * self.moments.count("train") <= self.task.settings.stream_memory_mb * (1 << 20):
            found["train"] = []
        reader = self.reader
        for block in range(reader.n_blocks):
            start, stop = reader.bounds(block)
            codes = reader.split.codes(start, stop, reader.labels(block) if reader.split.by_group else None)
            for split, parts in found.items():
                parts.append(start + np.flatnonzero(codes == CODES[split]))
        return {split: np.concatenate(parts) for split, parts in found.items()}

    def config(self) -> dict[str, Any]:
        """What the task's config.json records of the streaming: budget, blocks, buffer, split rule, rows."""
        rule = "whole groups" if self.reader.split.by_group else "splitmix64 hash of (seed, row)"
        return {"streaming": {
            "memory_mb": self.task.settings.stream_memory_mb, "block_rows": self.block_rows,
            "buffer_rows": self.capacity, "split_rule": rule,
            "rows": {split: self.moments.count(split) for split in CODES}}}
