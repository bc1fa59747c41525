"""Trainer throughput: device-resident tensors batched by shuffled index (or rows streamed from the table)
against a per-sample DataLoader, one job alone or several at once, with each job's peak memory.

Every measurement runs in its own fresh process (spawned), so its peak resident memory (``ru_maxrss``) is
that of one training: the in-memory path's holds the whole table, the streamed path's only its buffer. Jobs
of one measurement build their trainers, then start timing together (a barrier), as two trainings started at
once on a node would. The toolkit loop is :meth:`surrogate.trainer.Trainer.train_epoch` (named loss terms,
the weighting strategy, fused Adam) for a fixed number of steps; the baseline is the textbook
``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` loop with an MSE loss on the same network
(same initialization) and the same rows, in the same process right after it. Samples/s count the rows the
steps really took (an epoch's last batch is short; a batch larger than the table is the whole table).

Mixed precision (``precision``) and ``torch.compile`` (``compile``) apply to the toolkit loop only; a compiled
loop warms up over a whole epoch first, so the short last batch is compiled before timing starts.
"""

from __future__ import annotations

import copy
import itertools
import multiprocessing
import sys
import time
from dataclasses import dataclass, field
from typing import Any

WARMUP_STEPS = 30


@dataclass
class JobResult:
    """One job's measurement."""

    samples_per_s: float
    dataloader_samples_per_s: float | None
    threads: int
    setup_s: float
    peak_rss_mb: float
    device: str
    train_rows: int


@dataclass
class TrainingBenchmark:
    """One measurement: a mode (in memory or streamed), a batch size, and the jobs that ran it at once."""

    mode: str
    batch_size: int
    steps: int
    jobs: list[JobResult] = field(default_factory=list)

    @property
    def total_samples_per_s(self) -> float:
        return sum(job.samples_per_s for job in self.jobs)

    @property
    def key(self) -> str:
        """``MODE/BATCH/JOBS``, e.g. ``in-memory/256/1``: the measurement's name in the JSON report."""
        return f"{self.mode}/{self.batch_size}/{len(self.jobs)}"

    @property
    def ratio(self) -> float | None:
        """Toolkit over DataLoader samples/s of a job alone (None with several jobs or no baseline)."""
        first = self.jobs[0]
        baseline = first.dataloader_samples_per_s
        return first.samples_per_s / baseline if baseline and len(self.jobs) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "batch_size": self.batch_size, "steps": self.steps, "ratio": self.ratio,
                "total_samples_per_s": self.total_samples_per_s, "jobs": [vars(job) for job in self.jobs]}

    def row(self) -> str:
        first = self.jobs[0]
        per_job = "/".join(f"{job.samples_per_s:.0f}" for job in self.jobs)
        baseline = first.dataloader_samples_per_s
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        return (f"{self.mode:<12} {self.batch_size:>6} {len(self.jobs):>4} {first.threads:>7} {per_job:>21} "
                f"{self.total_samples_per_s:>12.0f} {f'{baseline:.0f}' if baseline else '-':>11} {ratio:>7} "
                f"{max(job.peak_rss_mb for job in self.jobs):>9.0f} {max(job.setup_s for job in self.jobs):>7.1f}")


HEADER = (f"{'mode':<12} {'batch':>6} {'jobs':>4} {'threads':>7} {'samples/s per job':>21} {'total':>12} "
          f"{'DataLoader':>11} {'ratio':>7} {'peak MB':>9} {'setup s':>7}")


def render(table: str, results: list[TrainingBenchmark]) -> str:
    first = results[0].jobs[0]
    lines = [f"{table}: {first.train_rows} training rows, device {first.device}, {results[0].steps} timed steps "
             f"per job after {WARMUP_STEPS} warm-up steps (python {sys.version.split()[0]})", HEADER]
    lines += [result.row() for result in results]
    lines.append("ratio: toolkit / DataLoader samples/s of a job alone; peak MB: the largest ru_maxrss of the "
                 "measurement's jobs (whole process: Python, torch, the data)")
    return "\n".join(lines)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_job(table: str, batch_size: int, steps: int, weighting: str, device: str, stream_memory: float,
                threads: int, baseline: bool, barrier: Any = None, precision: str = "fp32",
                compile: str = "none") -> JobResult:
    """Build a trainer, warm up, wait for the other jobs, time `steps` toolkit steps, then the baseline."""
    import torch

    from ..config import TrainOptions
    from ..contracts import StepContext, TrainingState
    from ..trainer import Trainer, peak_rss_mb

    started = time.perf_counter()
    options = TrainOptions(table=table, weighting=weighting, batch_size=batch_size, epochs=1000, device=device,
                           lr_schedule="none", stream_memory=stream_memory, threads=threads, precision=precision,
                           compile=compile)
    trainer = Trainer(options, run_dir="unused", progress=False)
    trainer.build()
    setup_s = time.perf_counter() - started
    try:
        used_threads = trainer.threads.apply()
        state = TrainingState(steps_per_epoch=trainer.steps_per_epoch, max_epochs=options.epochs)
        ctx = StepContext(state=state, shared_parameters=trainer.shared_parameters)
        generator = torch.Generator().manual_seed(0)
        initial = copy.deepcopy(trainer.trainable.state_dict())
        if compile != "none":  # every batch shape compiled (and CUDA graphs recorded) before timing
            trainer.train_epoch(state, ctx, generator)
        trainer.train_epoch(state, ctx, generator, steps=WARMUP_STEPS)
        dev = trainer.device
        if barrier is not None:
            barrier.wait()
        _sync(dev)
        began, done, rows = time.perf_counter(), 0, 0
        epoch_rows = trainer.task.epoch_size()
        while done < steps:  # epochs end early on small tables: go on into the next one
            chunk = min(steps - done, trainer.steps_per_epoch)
            trainer.train_epoch(state, ctx, generator, steps=chunk)
            done, rows = done + chunk, rows + min(chunk * batch_size, epoch_rows)
        _sync(dev)
        toolkit = rows / (time.perf_counter() - began)
        loader_rate = dataloader_rate(trainer, initial, batch_size, steps) if baseline else None
    finally:
        trainer.threads.close()
    return JobResult(toolkit, loader_rate, used_threads, setup_s, peak_rss_mb(), str(trainer.device),
                     trainer.task.epoch_size())


def dataloader_rate(trainer: Any, initial: dict, batch_size: int, steps: int) -> float:
    """Samples/s of ``DataLoader(TensorDataset(x, y), shuffle=True)`` + MSE + Adam on the trainer's network."""
    import torch

    task = trainer.task
    network = trainer.trainable
    network.load_state_dict(initial)
    optimizer = torch.optim.Adam(network.parameters(), lr=trainer.options.lr)
    rows = torch.as_tensor(task.index_splits["train"])
    dev = trainer.device
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(task.x[rows].cpu(), task.y[rows].cpu()),
                                         batch_size=batch_size, shuffle=True)

    def run(n: int) -> int:
        rows = 0
        for xb, yb in itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), n):
            xb, yb = xb.to(dev), yb.to(dev)
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(network(xb), yb)
            loss.backward()
            optimizer.step()
            rows += len(xb)
        return rows

    run(WARMUP_STEPS)
    _sync(dev)
    began = time.perf_counter()
    rows = run(steps)
    _sync(dev)
    return rows / (time.perf_counter() - began)


def _job(queue: Any, barrier: Any, index: int, kwargs: dict[str, Any]) -> None:
    try:
        queue.put((index, measure_job(barrier=barrier, **kwargs)))
    except BaseException as exc:  # report, never hang the parent
        queue.put((index, f"{exc.__class__.__name__}: {exc}"))
        barrier.abort()


def run_training_benchmark(table: str, batch_size: int = 256, steps: int = 2000, weighting: str = "uniform",
                           device: str = "auto", stream_memory: float = 0.0, threads: int = 0, jobs: int = 1,
                           baseline: bool = True, precision: str = "fp32", compile: str = "none") -> TrainingBenchmark:
    """One measurement: `jobs` fresh processes training at once (the DataLoader baseline only when alone and
    in memory)."""
    from ..errors import UserError

    context = multiprocessing.get_context("spawn")
    queue, barrier = context.Queue(), context.Barrier(jobs)
    kwargs = dict(table=table, batch_size=batch_size, steps=steps, weighting=weighting, device=device,
                  stream_memory=stream_memory, threads=threads, precision=precision, compile=compile,
                  baseline=baseline and jobs == 1 and not stream_memory)
    processes = [context.Process(target=_job, args=(queue, barrier, i, kwargs)) for i in range(jobs)]
    for process in processes:
        process.start()
    results: dict[int, Any] = {}
    while len(results) < jobs:
        try:
            index, value = queue.get(timeout=5)
            results[index] = value
        except Exception:  # queue.Empty: a job killed (out of memory) never reports
            if not any(process.is_alive() for process in processes) and queue.empty():
                raise UserError("bench train: a job ended without a result (killed? out of memory?)") from None
    for process in processes:
        process.join()
    failed = [value for value in results.values() if isinstance(value, str)]
    if failed:
        raise UserError(f"bench train: a job failed: {failed[0]}")
    mode = f"stream {stream_memory:g}MB" if stream_memory else "in-memory"
    mode += "".join(f" {label}" for label, default in ((precision, "fp32"), (f"compile={compile}", "compile=none"))
                    if label != default)
    return TrainingBenchmark(mode, batch_size, steps, [results[i] for i in range(jobs)])
