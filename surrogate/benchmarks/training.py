"""Trainer throughput: device-resident tensors batched by shuffled index (or rows streamed from the table)
against the two loops a user would write by hand, one job alone or several at once, with each job's peak memory.

Every measurement runs in its own fresh process (spawned), so its peak resident memory (``ru_maxrss``) is
that of one training: the in-memory path's holds the whole table, the streamed path's only its buffer. Jobs
of one measurement build their trainers, then start timing together (a barrier), as two trainings started at
once on a node would. The toolkit loop is :meth:`surrogate.trainer.Trainer.train_epoch` (named loss terms,
the weighting strategy, fused Adam) for a fixed number of steps. A job alone and in memory is also timed
against two baselines on a copy of the same network (same initialization), the same training rows and the
same optimizer (Adam, fused where the trainer's is, same learning rate), with an MSE loss on the same targets:

- the **bare loop**: the training rows pre-loaded as two tensors on the device, a shuffled index per epoch and
  index slicing per batch, in one process: what the trainer's speed is judged against (``ratio``);
- the **DataLoader loop**: ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` with nothing more
  (``dataloader_ratio``).

The three loops take turns (``ROUNDS`` rounds of ``steps / ROUNDS`` steps each, after ``WARMUP_STEPS`` warm-up
steps each), and each reports its best round, as ``timeit`` does: on a busy machine the least disturbed round is
the one that measures the loop. Samples/s count the rows the steps really took (an epoch's last batch is short;
a batch larger than the table is the whole table).

Mixed precision (``precision``) and ``torch.compile`` (``compile``) apply to the toolkit loop only; a compiled
loop warms up over a whole epoch first, so the short last batch is compiled before timing starts.
"""

from __future__ import annotations

import copy
import multiprocessing
import sys
import time
from dataclasses import dataclass, field
from typing import Any

WARMUP_STEPS = 30
ROUNDS = 5


@dataclass
class JobResult:
    """One job's measurement."""

    samples_per_s: float
    bare_samples_per_s: float | None
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

    def _over(self, baseline: str) -> float | None:
        first = self.jobs[0]
        rate = getattr(first, baseline)
        return first.samples_per_s / rate if rate and len(self.jobs) == 1 else None

    @property
    def ratio(self) -> float | None:
        """Toolkit over bare-loop samples/s of a job alone (None with several jobs or no baseline)."""
        return self._over("bare_samples_per_s")

    @property
    def dataloader_ratio(self) -> float | None:
        """Toolkit over DataLoader-loop samples/s of a job alone (None with several jobs or no baseline)."""
        return self._over("dataloader_samples_per_s")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "batch_size": self.batch_size, "steps": self.steps, "ratio": self.ratio,
                "dataloader_ratio": self.dataloader_ratio, "total_samples_per_s": self.total_samples_per_s, "jobs": [vars(job) for job in self.jobs]}

    def row(self) -> str:
        first = self.jobs[0]
        per_job = "/".join(f"{job.samples_per_s:.0f}" for job in self.jobs)

        def rate(value: float | None) -> str:
            return f"{value:.0f}" if value else "-"

        def times(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}x"

        return (f"{self.mode:<12} {self.batch_size:>6} {len(self.jobs):>4} {first.threads:>7} {per_job:>21} "
                f"{self.total_samples_per_s:>12.0f} {rate(first.bare_samples_per_s):>10} {times(self.ratio):>7} "
                f"{rate(first.dataloader_samples_per_s):>11} {times(self.dataloader_ratio):>7} "
                f"{max(job.peak_rss_mb for job in self.jobs):>9.0f} {max(job.setup_s for job in self.jobs):>7.1f}")


HEADER = (f"{'mode':<12} {'batch':>6} {'jobs':>4} {'threads':>7} {'samples/s per job':>21} {'total':>12} "
          f"{'bare loop':>10} {'ratio':>7} {'DataLoader':>11} {'ratio':>7} {'peak MB':>9} {'setup s':>7}")


def render(table: str, results: list[TrainingBenchmark]) -> str:
    first = results[0].jobs[0]
    lines = [f"{table}: {first.train_rows} training rows, device {first.device}, {results[0].steps} timed steps "
             f"per loop ({ROUNDS} rounds, best kept) after {WARMUP_STEPS} warm-up steps "
             f"(python {sys.version.split()[0]})", HEADER]
    lines += [result.row() for result in results]
    lines.append("ratio: toolkit / baseline samples/s of a job alone (bare loop: pre-loaded tensors, index slicing, "
                 "MSE, Adam; DataLoader: DataLoader(TensorDataset, shuffle=True), MSE, Adam); peak MB: the largest "
                 "ru_maxrss of the measurement's jobs (whole process: Python, torch, the data)")
    return "\n".join(lines)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_job(table: str, batch_size: int, steps: int, weighting: str, device: str, stream_memory: float,
                threads: int, baseline: bool, barrier: Any = None, precision: str = "fp32",
                compile: str = "none", seed: int = 0) -> JobResult:
    """Build a trainer, warm up, wait for the other jobs, then time `steps` toolkit steps (and as many steps of
    each baseline), the loops taking turns."""
    import torch

    from ..config import TrainOptions
    from ..contracts import StepContext, TrainingState
    from ..trainer import Trainer, peak_rss_mb

    started = time.perf_counter()
    options = TrainOptions(table=table, weighting=weighting, batch_size=batch_size, epochs=1000, device=device,
                           lr_schedule="none", stream_memory=stream_memory, threads=threads, precision=precision,
                           compile=compile, seed=seed)
    trainer = Trainer(options, run_dir="unused", progress=False)
    trainer.build()
    setup_s = time.perf_counter() - started
    try:
        used_threads = trainer.threads.apply()
        state = TrainingState(steps_per_epoch=trainer.steps_per_epoch, max_epochs=options.epochs)
        ctx = StepContext(state=state, shared_parameters=trainer.shared_parameters)
        generator = torch.Generator().manual_seed(seed)
        epoch_rows = trainer.task.epoch_size()

        def toolkit(n: int) -> int:
            done, rows = 0, 0
            while done < n:  # epochs end early on small tables: go on into the next one
                chunk = min(n - done, trainer.steps_per_epoch)
                trainer.train_epoch(state, ctx, generator, steps=chunk)
                done, rows = done + chunk, rows + min(chunk * batch_size, epoch_rows)
            return rows

        loops = {"toolkit": toolkit}
        if baseline:
            loops.update(baseline_loops(trainer, batch_size))
        if compile != "none":  # every batch shape compiled (and CUDA graphs recorded) before timing
            trainer.train_epoch(state, ctx, generator)
        for loop in loops.values():
            loop(WARMUP_STEPS)
        if barrier is not None:
            barrier.wait()
        rates = timed_rounds(loops, steps, trainer.device)
    finally:
        trainer.threads.close()
    return JobResult(rates["toolkit"], rates.get("bare"), rates.get("dataloader"), used_threads, setup_s,
                     peak_rss_mb(), str(trainer.device), epoch_rows)


def timed_rounds(loops: dict[str, Any], steps: int, device: Any) -> dict[str, float]:
    """Samples/s of each loop (a callable taking a number of steps and returning the rows it took): the loops
    take turns for ``ROUNDS`` rounds; each keeps its best round."""
    per_round = max(1, steps // ROUNDS)
    best = dict.fromkeys(loops, 0.0)
    for _ in range(ROUNDS):
        for name, loop in loops.items():
            _sync(device)
            began = time.perf_counter()
            rows = loop(per_round)
            _sync(device)
            best[name] = max(best[name], rows / (time.perf_counter() - began))
    return best


def baseline_loops(trainer: Any, batch_size: int) -> dict[str, Any]:
    """The bare loop and the DataLoader loop (see the module docstring), each on its own copy of the trainer's
    network (called before the trainer's first step: the copies start where it starts) and its own optimizer;
    each a callable that takes a number of steps and returns the rows they took."""
    import torch

    task, dev = trainer.task, trainer.device
    rows = task.index["train"]
    x, y = task.x[rows].contiguous(), task.y[rows].contiguous()
    fused = bool(trainer.optimizer.defaults.get("fused"))

    def learner() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        network = copy.deepcopy(trainer.trainable)
        return network, torch.optim.Adam(network.parameters(), lr=trainer.options.lr, fused=fused or None)

    def step(network: torch.nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor) -> None:
        loss = torch.nn.functional.mse_loss(network(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    bare_network, bare_optimizer = learner()
    order = {"rows": torch.empty(0, dtype=torch.long, device=dev), "at": 0}

    def bare(n: int) -> int:
        taken = 0
        for _ in range(n):
            if order["at"] >= len(order["rows"]):  # a new epoch: a new shuffle
                order["rows"], order["at"] = torch.randperm(len(x), device=dev), 0
            index = order["rows"][order["at"]:order["at"] + batch_size]
            order["at"] += batch_size
            step(bare_network, bare_optimizer, x[index], y[index])
            taken += len(index)
        return taken

    loader_network, loader_optimizer = learner()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size,
                                         shuffle=True)
    batches = iter(())

    def dataloader(n: int) -> int:
        nonlocal batches
        taken = 0
        for _ in range(n):
            batch = next(batches, None)
            if batch is None:  # a new epoch
                batches = iter(loader)
                batch = next(batches)
            xb, yb = batch
            step(loader_network, loader_optimizer, xb.to(dev), yb.to(dev))
            taken += len(xb)
        return taken

    return {"bare": bare, "dataloader": dataloader}


def _job(queue: Any, barrier: Any, index: int, kwargs: dict[str, Any]) -> None:
    try:
        queue.put((index, measure_job(barrier=barrier, **kwargs)))
    except BaseException as exc:  # report, never hang the parent
        queue.put((index, f"{exc.__class__.__name__}: {exc}"))
        barrier.abort()


def run_training_benchmark(table: str, batch_size: int = 256, steps: int = 2000, weighting: str = "uniform",
                           device: str = "auto", stream_memory: float = 0.0, threads: int = 0, jobs: int = 1,
                           baseline: bool = True, precision: str = "fp32", compile: str = "none",
                           seed: int = 0) -> TrainingBenchmark:
    """One measurement: `jobs` fresh processes training at once (the DataLoader baseline only when alone and
    in memory)."""
    from ..errors import UserError

    context = multiprocessing.get_context("spawn")
    queue, barrier = context.Queue(), context.Barrier(jobs)
    kwargs = dict(table=table, batch_size=batch_size, steps=steps, weighting=weighting, device=device,
                  stream_memory=stream_memory, threads=threads, precision=precision, compile=compile, seed=seed,
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
