"""Trainer throughput: device-resident tensors batched by shuffled index vs a per-sample DataLoader.

Both loops train the same network (same initialization) with Adam at the same batch size on the same
rows; the baseline is the textbook ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` loop
with an MSE loss, the toolkit loop is :meth:`surrogate.trainer.Trainer.train_epoch` with its named loss
terms, weighting strategy and Adam's fused implementation (the same update rule, one kernel).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from ..config import TrainOptions
from ..contracts import StepContext, TrainingState
from ..trainer import Trainer


@dataclass
class TrainingBenchmark:
    device: str
    rows: int
    batch_size: int
    toolkit_samples_per_s: float
    dataloader_samples_per_s: float

    @property
    def ratio(self) -> float:
        return self.toolkit_samples_per_s / self.dataloader_samples_per_s

    def render(self) -> str:
        return "\n".join([
            f"device {self.device}, {self.rows} training rows, batch {self.batch_size}",
            f"{'loop':<40} {'samples/s':>12}",
            f"{'DataLoader(TensorDataset, shuffle=True)':<40} {self.dataloader_samples_per_s:>12.0f}",
            f"{'toolkit trainer (index batches, fused)':<40} {self.toolkit_samples_per_s:>12.0f}",
            f"speed-up: {self.ratio:.2f}x",
        ])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_training_benchmark(table: str, batch_size: int = 1024, epochs: int = 3, weighting: str = "uniform",
                           device: str = "auto") -> TrainingBenchmark:
    options = TrainOptions(table=table, weighting=weighting, batch_size=batch_size, epochs=epochs + 1,
                           device=device, lr_schedule="none")
    trainer = Trainer(options, run_dir="unused", progress=False)
    trainer.build()
    task = trainer.task
    dev = task.x.device
    initial = copy.deepcopy(trainer.trainable.state_dict())
    train_rows = task.index["train"]
    n = len(train_rows)

    state = TrainingState(steps_per_epoch=trainer.steps_per_epoch, max_epochs=options.epochs)
    ctx = StepContext(state=state, shared_parameters=trainer.shared_parameters)
    generator = torch.Generator().manual_seed(0)
    trainer.train_epoch(state, ctx, generator)  # warm-up
    _sync(dev)
    started = time.perf_counter()
    for _ in range(epochs):
        trainer.train_epoch(state, ctx, generator)
    _sync(dev)
    toolkit = epochs * n / (time.perf_counter() - started)

    network = trainer.trainable
    network.load_state_dict(initial)
    optimizer = torch.optim.Adam(network.parameters(), lr=options.lr)
    x_cpu, y_cpu = task.x[train_rows].cpu(), task.y[train_rows].cpu()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_cpu, y_cpu), batch_size=batch_size,
                                         shuffle=True)

    def baseline_epoch() -> None:
        for xb, yb in loader:
            xb, yb = xb.to(dev), yb.to(dev)
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(network(xb), yb)
            loss.backward()
            optimizer.step()

    baseline_epoch()  # warm-up
    _sync(dev)
    started = time.perf_counter()
    for _ in range(epochs):
        baseline_epoch()
    _sync(dev)
    baseline = epochs * n / (time.perf_counter() - started)
    return TrainingBenchmark(str(dev), n, batch_size, toolkit, baseline)
