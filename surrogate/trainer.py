"""The trainer: the loop only. A task turns batches into named element-wise loss terms, physics plugins add
theirs, a weighting strategy combines them; the run directory is written by :mod:`surrogate.run`.

Data lives on the training device (the task puts it there); batches are whatever the task draws (shuffled row
indices, trajectory steps, collocation points), never a per-sample DataLoader. What watches or steers the loop
is a callback (:mod:`surrogate.callbacks`), called once per epoch: the loggers (history.csv first,
:mod:`surrogate.tracking`), a checkpoint every epoch (atomically) so a killed run resumes with ``--resume``, the best
epoch by the task's validation score (validation data only, never the test split), which is kept, and early
stopping; metrics.json reports the last epoch's test metrics beside its own and the task's trivial baselines
(:mod:`surrogate.baselines`).

Two-stage optimization (``lbfgs_epochs``, the :class:`~surrogate.callbacks.LbfgsStage` callback), as
physics-informed networks are trained (e.g. MMPINN, arXiv 2308.06672): after the main optimizer's epochs,
full-batch L-BFGS epochs with a strong-Wolfe line search in the same run directory and history (column ``stage``:
1, then 2). In float32 the line search stalls once the loss
reaches round-off; an L-BFGS epoch that does not lower the loss restarts the L-BFGS history (column
``lbfgs_restarts``); one whose loss is not finite ends training at the best epoch (with a warning). Strategies
see training progress 1.0 during that stage (a schedule has reached its end).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import __version__, registry, tracking
from .amp import StepPrecision, compiled
from .callbacks import BestEpoch, Callback, Callbacks, Checkpoint, EarlyStopping, EpochEnd, LbfgsStage, ProgressBar
from .config import TrainOptions
from .contracts import StepContext, Task, TaskSettings, TrainingState, shared_parameters
from .datasets import open_dataset
from .distributed import Processes
from .errors import PluginError, UserError
from .plugin_checks import Divergence, FirstBatchCheck
from .provenance import run_plugins
from .run import CHECKPOINT, DEFAULT_TASK, PLOTS, RunDirectory
from .table import verify_checksums
from .terms import LossTerms, check_name, stacked
from .threads import ThreadPolicy, step_flops

EVAL_CHUNK = 65536


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when a GPU is present, else CPU; otherwise one of the devices this machine has (cpu, cuda,
    cuda:N): anything else (another machine's GPU, mps, meta, a typo) is a one-line error naming them."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    present = ["cpu", *(["cuda"] if gpus else []), *(f"cuda:{i}" for i in range(gpus))]
    if name not in present:
        raise UserError(f"--device {name!r}: not a device of this machine; expected auto or one of "
                        f"{', '.join(present)}")
    return torch.device(name)


def default_task(dataset: Any) -> str:
    """The task a dataset declares (root attribute ``task``), else regression for rows."""
    declared = dataset.attrs.get("task")
    if declared:
        return str(declared)
    if dataset.dataset_kind == "scattered":
        return DEFAULT_TASK
    raise UserError(f"{dataset.path}: a {dataset.dataset_kind} dataset declares no task; choose one with --task "
                    f"(installed: {', '.join(sorted(registry.available('tasks')))})")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MB; NaN where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not Unix
        return math.nan
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]  # {split: {output: {metric: value}}} of the kept epoch, and the entries of Trainer.judged
    history: list[dict[str, float]]
    best_epoch: int
    peak_rss_mb: float = math.nan


class Trainer:
    """Trains one run described by :class:`TrainOptions` into a run directory.

    Everything a user can get wrong is checked here, before any file is written: the dataset, every plugin
    (loaded and checked against its contract), their options, the columns and the term names. What the plugins
    return is checked on the first training batch (:mod:`surrogate.plugin_checks`); every error about a plugin
    names it by its :class:`~surrogate.registry.Origin`, and config.json records the origins of all it used.
    """

    def __init__(self, options: TrainOptions, run_dir: str | Path, progress: bool = True,
                 callbacks: tuple[Callback, ...] = ()):
        self.extra_callbacks = tuple(callbacks)
        self.dataset = open_dataset(options.table)
        verify_checksums(self.dataset.path)  # damage in any dataset of the file, not only in the columns read
        self.directory = RunDirectory(run_dir)
        self.progress = progress
        self.device = resolve_device(options.device)
        self.processes = Processes.from_environment(use_cuda=self.device.type == "cuda")
        if self.processes.parallel and (options.optimizer == "lbfgs" or options.lbfgs_epochs):
            raise UserError("L-BFGS runs in one process: its line search would differ between ranks")
        self.dtype = getattr(torch, options.dtype)
        if self.processes.parallel and self.device.type == "cuda":
            self.device = torch.device("cuda", self.processes.local_rank)
            torch.cuda.set_device(self.device)
        task_name = options.task or default_task(self.dataset)
        self.plugins_used: dict[tuple[str, str], registry.Origin] = {}
        with registry.recording(self.plugins_used):
            self.task_cls, self.task_options = registry.configure("tasks", task_name, options.task_options)
            if self.dataset.dataset_kind not in self.task_cls.datasets:
                raise UserError(f"{self.dataset.path}: task {task_name!r} trains on "
                                f"{', '.join(self.task_cls.datasets)} datasets, not {self.dataset.dataset_kind}")
            self.model_cls, self.model_options = registry.configure("models", options.model, options.model_options)
            self.weighting_cls, self.weighting_options = registry.configure(
                "weightings", options.weighting, options.weighting_options)
            physics = list(options.physics) or [str(name) for name in self.dataset.attrs.get("physics") or ()]
            self.physics_specs = [registry.configure("physics", name, options.physics_options.get(name, {}))
                                  for name in physics]
        self.task_origin, self.model_origin, self.weighting_origin = (
            registry.origin(kind, name) for kind, name in (("tasks", task_name), ("models", options.model),
                                                           ("weightings", options.weighting)))
        self.physics_origins = [registry.origin("physics", name) for name in physics]
        # loggers watch a run without changing it: not among the plugins a model records as its provenance
        self.logger_specs = tracking.configure(options.loggers, options.logger_options)
        settings = TaskSettings(
            inputs=options.inputs, outputs=options.outputs, log_inputs=options.log_inputs, closure=options.closure,
            split_by=options.split_by, val_fraction=options.val_fraction, test_fraction=options.test_fraction,
            batch_size=options.batch_size, seed=options.seed, device=self.device, dtype=self.dtype,
            stream_memory_mb=options.stream_memory, log_floors=options.log_floors)
        if options.stream_memory and not getattr(self.task_cls, "streams", False):
            raise UserError(f"--stream-memory: task {task_name!r} cannot stream its dataset; train without it")
        if options.stream_memory and (options.optimizer == "lbfgs" or options.lbfgs_epochs):
            raise UserError("--stream-memory: L-BFGS takes full-batch steps over the whole table; train without "
                            "streaming or without L-BFGS")
        with registry.recording(self.plugins_used):  # the task may load the dataset's problem
            self.task = registry.construct(self.task_origin, self.task_cls, self.dataset, settings, self.processes,
                                           **self.task_options)
        self.options = replace(options.resolved(self.task.epoch_size()), task=task_name, physics=physics,
                               loggers=tracking.logger_names(options.loggers))
        self.closure = self.model_cls.closure if options.closure == "auto" else options.closure

    # ----------------------------------------------------------------- set-up
    def config(self, table_sha256: str) -> dict[str, Any]:
        return {
            "toolkit_version": __version__,
            "table": str(self.dataset.path.resolve()),
            "table_sha256": table_sha256,
            "table_kind": self.dataset.kind,
            "dataset": self.dataset.dataset_kind,
            "task": {"name": self.options.task, "options": self.task_options},
            **self.task.config(),
            "closure": self.closure,
            "model": {"name": self.options.model, "options": self.model_options},
            "weighting": {"name": self.options.weighting, "options": self.weighting_options},
            "physics": [{"name": n, "options": o} for n, (_, o) in zip(self.options.physics, self.physics_specs)],
            "plugins": run_plugins(self.plugins_used.values(), self.dataset.attrs),
            "trainer": asdict(self.options),
        }

    def build(self) -> None:
        torch.manual_seed(self.options.seed)
        network = registry.construct(self.model_origin, self.model_cls.build, len(self.task.input_names),
                                     len(self.task.output_names), output_names=list(self.task.output_names),
                                     **self.model_options)
        if not isinstance(network, torch.nn.Module):
            raise PluginError(f"{self.model_origin}: build() must return a torch.nn.Module, got "
                              f"{type(network).__name__}")
        self.network = network
        self.task.setup(network, self.closure)
        self.model, self.trainable = self.task.model.to(dtype=self.dtype), self.task.trainable.to(dtype=self.dtype)
        context = self.task.physics_context()
        with registry.recording(self.plugins_used):  # a weighting may build the strategies it composes
            self.physics = [registry.construct(origin, cls, context, **opts)
                            for origin, (cls, opts) in zip(self.physics_origins, self.physics_specs)]
            self.term_owners = self.owners_of_terms()
            self.term_names = list(self.term_owners)
            if not self.term_names:
                raise UserError(f"task {self.options.task!r} declares no loss term and no physics loss is active; "
                                f"add one with --physics (installed: "
                                f"{', '.join(sorted(registry.available('physics')))})")
            for term in self.term_names:
                check_name(term, "loss terms")
            self.strategy = registry.construct(self.weighting_origin, self.weighting_cls, self.task.statistics(),
                                               list(self.term_names), **self.weighting_options).to(self.device,
                                                                                                   self.dtype)
        self.forward_module: torch.nn.Module = self.trainable
        if self.processes.parallel:
            self.forward_module = torch.nn.parallel.DistributedDataParallel(self.trainable)
        # the first training batch runs eagerly, its plugins checked through a hook on the network; then compiled
        self.compiled_module = compiled(self.forward_module, self.options.compile, str(self.options.task),
                                        self.task.differentiates_inputs)
        self.first_batch_checked = False
        self.step_precision = StepPrecision(self.options.precision, self.device)
        self.shared_parameters = shared_parameters(self.trainable)
        self.trainable_modules = list(self.trainable.modules())
        self.validation_generator = torch.Generator().manual_seed(self.options.seed + 1)
        self.optimizer = self.make_optimizer()
        self.stage = 1  # 2 in the L-BFGS stage of a two-stage run
        batch = None if self.options.optimizer == "lbfgs" else self.options.batch_size
        self.steps_per_epoch = 1 if batch is None else self.batches_per_epoch(batch)
        self.scheduler = self.make_scheduler()
        rows_per_step = math.ceil((batch or self.task.epoch_size()) / self.processes.world)
        n_parameters = sum(p.numel() for p in self.trainable.parameters())
        self.threads = ThreadPolicy(self.options.threads, step_flops(n_parameters, rows_per_step))

    def owners_of_terms(self) -> dict[str, registry.Origin]:
        """The plugin that produces each declared term, in declaration order: the task's, then each physics
        loss's; a name declared twice is a one-line error naming the second plugin."""
        owners = dict.fromkeys(self.task.term_names(), self.task_origin)
        for origin, plugin in zip(self.physics_origins, self.physics):
            for name in plugin.term_names():
                if name in owners:
                    raise PluginError(f"{origin}: term_names() declares {name!r}, which {owners[name]} produces "
                                      "already")
                owners[name] = origin
        return owners

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The model's trainable parameters, and the strategy's (never weight-decayed) when it has any."""
        params = [{"params": [p for p in self.model.parameters() if p.requires_grad]}]
        strategy_params = [p for p in self.strategy.parameters() if p.requires_grad]
        if strategy_params:
            params.append({"params": strategy_params, "weight_decay": 0.0})
        return params

    def make_optimizer(self) -> torch.optim.Optimizer:
        params = self.parameter_groups()
        o = self.options
        if o.optimizer in ("adam", "adamw"):
            # the fused kernel (CPU and CUDA) computes the same update in one pass over all parameters
            adam = torch.optim.Adam if o.optimizer == "adam" else torch.optim.AdamW
            try:
                return adam(params, lr=o.lr, weight_decay=o.weight_decay, fused=True)
            except RuntimeError:
                return adam(params, lr=o.lr, weight_decay=o.weight_decay)
        if o.optimizer == "sgd":
            return torch.optim.SGD(params, lr=o.lr, momentum=0.9, weight_decay=o.weight_decay)
        return self.make_lbfgs(o.lr)

    def make_lbfgs(self, lr: float) -> torch.optim.LBFGS:
        """Full-batch L-BFGS (20 iterations per step) with a strong-Wolfe line search over every parameter."""
        return torch.optim.LBFGS([p for group in self.parameter_groups() for p in group["params"]], lr=lr,
                                 max_iter=20, line_search_fn="strong_wolfe")

    def make_scheduler(self) -> Any:
        o = self.options
        if o.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=o.epochs, eta_min=o.lr * 0.01)
        if o.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, o.epochs // 3), gamma=0.3)
        if o.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.3, patience=5)
        return None

    def step_scheduler(self, score: float) -> None:
        """Advance the learning-rate schedule of the main stage after an epoch."""
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(score)
        elif self.scheduler is not None:
            self.scheduler.step()

    # ---------------------------------------------------------------- loss terms
    def loss_terms(self, batch: Any, synchronized: bool = True, check: FirstBatchCheck | None = None) -> LossTerms:
        """The task's terms for a batch, then every physics plugin's.

        `synchronized`: in training, run through DistributedDataParallel (whose backward averages gradients
        over ranks); off for side computations that are not followed by a backward pass. `check`: on the first
        training batch, what each plugin returns is checked against its contract.
        """
        forward = self.forward_module if synchronized and self.trainable.training else self.trainable
        terms, view = self.task.loss_terms(forward, batch)
        if check is not None:
            check.terms(self.task_origin, "loss_terms()", terms, self.task.term_names(), view)
        for origin, plugin in zip(self.physics_origins, self.physics):
            produced = plugin.terms(view)
            if check is not None:
                check.terms(origin, "terms()", produced, plugin.term_names(), view)
            terms.update(produced)
        return terms

    def random_validation_terms(self) -> LossTerms:
        """Terms of one random validation batch (training rows when there is no validation split)."""
        for split in ("val", "train"):
            batch = next(iter(self.task.batches(split, self.options.batch_size, self.validation_generator)), None)
            if batch is not None:
                return self.loss_terms(batch, synchronized=False)
        raise UserError("no validation or training samples to draw a batch from")

    def batches_per_epoch(self, batch_size: int) -> int:
        """Steps per epoch: the task's own count, or the contract's default for a task that does not derive from
        :class:`Task` and has none."""
        counted = getattr(self.task, "batches_per_epoch", None)
        return int(counted(batch_size)) if counted is not None else Task.batches_per_epoch(self.task, batch_size)

    def evaluate_terms(self, split: str) -> dict[str, float]:
        """Mean of every term over a split, computed in chunks, without weights (autograd stays on only for
        tasks whose terms differentiate with respect to their inputs)."""
        sums: dict[str, float] = {}
        count = 0
        with torch.set_grad_enabled(self.task.differentiates_inputs):
            for batch in self.task.batches(split, EVAL_CHUNK):
                terms = self.loss_terms(batch, synchronized=False)
                size = max(1, next(iter(terms.values())).numel()) if terms else 1
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach().double().mean()) * size
                count += size
        return {name: total / count for name, total in sums.items()} if count else {}

    # ------------------------------------------------------------------- training
    def train_epoch(self, state: TrainingState, ctx: StepContext, generator: torch.Generator,
                    steps: int | None = None) -> tuple[float, dict, dict]:
        """One epoch (or its first `steps` steps, which benchmarks time): (mean loss, mean weights, mean terms)."""
        if not all(module.training for module in self.trainable_modules):  # cheaper than .train() every epoch
            self.trainable.train()
        full_batch = isinstance(self.optimizer, torch.optim.LBFGS)
        batch_size = None if full_batch else self.options.batch_size
        loss_sum = torch.zeros((), device=self.device)
        term_sums: torch.Tensor | None = None
        weight_sums: dict[str, float] = {}
        names: list[str] = []
        strategy_parameters = list(self.strategy.parameters())
        self.divergence = Divergence()  # read when the epoch's loss is not finite
        check = None if self.first_batch_checked else FirstBatchCheck(
            self.network, len(self.task.output_names), self.device, self.model_origin, self.weighting_origin)
        n = 0
        try:
            for batch in self.task.batches("train", batch_size, generator):
                ctx.state = state
                result: dict[str, Any] = {}

                def closure() -> torch.Tensor:
                    nonlocal check
                    self.optimizer.zero_grad(set_to_none=True)
                    with self.step_precision.autocast():
                        terms = self.loss_terms(batch, check=check)
                        combined = self.strategy(terms, ctx)
                        if check is not None:  # before the first backward pass and step
                            check.combined(combined, terms)
                            self.first_batch_passed(check)
                            check = None
                        loss, weights = combined
                    self.step_precision.backward(loss)
                    self.processes.average_gradients(strategy_parameters)
                    result.update(loss=loss.detach(), weights=weights, terms=terms)
                    return loss

                if full_batch:
                    self.optimizer.step(closure)
                else:
                    closure()
                    self.step_precision.step(self.optimizer)
                loss_sum += result["loss"]
                for name, weight in result["weights"].items():
                    weight_sums[name] = weight_sums.get(name, 0.0) + weight
                means = term_means(list(result["terms"].values()))
                term_sums = means if term_sums is None else term_sums + means
                self.divergence.update(result["loss"], means)
                names = list(result["terms"])
                state.step += 1
                n += 1
                if n == steps:
                    break
        finally:
            if check is not None:  # no batch, or a plugin broke its contract: the hook goes
                check.close()
        n = max(n, 1)
        term_avg = (term_sums / n).tolist() if term_sums is not None else []
        return (float(loss_sum) / n, {k: float(v) / n for k, v in weight_sums.items()},
                dict(zip(names, term_avg)))

    def first_batch_passed(self, check: FirstBatchCheck) -> None:
        """The first batch fulfilled the contracts: remove the check's hook, compile from now on (if asked)."""
        check.close()
        self.first_batch_checked = True
        self.forward_module = self.compiled_module

    def fit(self, resume: bool = False) -> TrainResult:
        """Train (or resume) and write the complete run directory."""
        self.build()
        try:
            return self.run(resume)
        finally:
            self.threads.close()

    def make_callbacks(self) -> Callbacks:
        """The callbacks of this run, in the order they are called: the kept epoch, early stopping, the L-BFGS
        stage; on the main process the loggers (history.csv first), the checkpoint and the progress bar; then
        those given to the trainer."""
        o = self.options
        self.best = BestEpoch(o.min_delta)
        found: list[Callback] = [self.best, EarlyStopping(self.best, o.patience, o.epochs, bool(o.lbfgs_epochs))]
        if o.lbfgs_epochs:
            found.append(LbfgsStage(o.epochs))
        if self.processes.is_main:
            found += [tracking.Tracking(self.directory.path, self.logger_specs), Checkpoint()]
            if self.progress:
                found.append(ProgressBar())
        return Callbacks([*found, *self.extra_callbacks])

    def run(self, resume: bool) -> TrainResult:
        """The epochs of a built trainer, then its results. The loop only trains and evaluates; the kept epoch,
        early stopping, the L-BFGS stage, the history, checkpoints and loggers are callbacks
        (:mod:`surrogate.callbacks`)."""
        main = self.processes.is_main
        table_sha256 = self.dataset.sha256()
        self.run_config = self.config(table_sha256)
        self.state = TrainingState(steps_per_epoch=self.steps_per_epoch, max_epochs=self.options.epochs)
        self.generator = torch.Generator().manual_seed(self.options.seed)
        self.total_epochs = self.options.epochs + self.options.lbfgs_epochs
        self.should_stop = False
        self.history: list[dict[str, float]] = []
        self.callbacks = self.make_callbacks()
        self.resumed = resume and self.directory.resumable()
        if self.resumed:
            self.directory.check_resumable()
            self.load_checkpoint(table_sha256)
            self.history = self.directory.read_history(upto=self.state.epoch, rewrite=main)
        elif main:
            self.directory.write_start(self.run_config, self.task.state(), self.task.splits())
        self.processes.barrier()
        ctx = StepContext(state=self.state, shared_parameters=self.shared_parameters,
                          validation=None, validation_terms=self.random_validation_terms)
        if self.history:
            ctx.validation = {k[4:]: v for k, v in self.history[-1].items() if k.startswith("val/")}
        self.callbacks.fit_start(self)
        while self.state.epoch < self.total_epochs and not self.should_stop:
            self.callbacks.epoch_start(self)
            end = self.fit_epoch(ctx)
            self.history.append(end.row)
            self.state.epoch += 1
            self.callbacks.epoch_end(self, end)
        metrics = self.final_metrics()
        if main:
            self.directory.write_results(self.model.state_dict(), metrics)
            self.write_plots(self.history, metrics)
        self.callbacks.fit_end(self, metrics)
        self.processes.close()
        return TrainResult(self.directory.path, metrics, self.history, self.best.epoch, peak_rss_mb())

    def fit_epoch(self, ctx: StepContext) -> EpochEnd:
        """One epoch: train, evaluate on the validation split, let the strategy and the schedule see it; its row of
        the history. A first-stage loss that is not finite is a one-line error naming the terms that diverged."""
        started = time.perf_counter()
        threads = self.threads.apply()  # re-chosen each epoch: other jobs may have started or ended
        train_loss, weights, train_means = self.train_epoch(self.state, ctx, self.generator)
        val_means = self.evaluate_terms("val") or train_means
        score = self.task.score(val_means)
        ctx.validation = val_means
        self.strategy.observe_epoch(train_means, val_means, self.state)
        if self.stage == 1:
            self.step_scheduler(score)
        row = {"epoch": self.state.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
               "val_score": score, "time_s": time.perf_counter() - started, "threads": threads,
               "peak_rss_mb": peak_rss_mb()}
        row.update(self.callbacks.columns(self))
        row.update({f"train/{k}": v for k, v in train_means.items()})
        row.update({f"val/{k}": v for k, v in val_means.items()})
        row.update({f"weight/{k}": v for k, v in weights.items()})
        if not math.isfinite(train_loss) and self.stage == 1:
            culprits = self.divergence.culprits(list(train_means), self.term_owners, self.weighting_origin)
            raise UserError(f"training diverged at epoch {self.state.epoch + 1} (loss {train_loss}): {culprits}; "
                            f"lower --lr or choose another weighting")
        return EpochEnd(row, score, train_loss)

    def final_metrics(self) -> dict[str, Any]:
        """The kept epoch's metrics (its weights loaded into the model), with what :meth:`judged` adds."""
        last_epoch = int(self.history[-1]["epoch"]) if self.history else self.state.epoch
        kept_epoch = self.best.epoch if self.best.weights is not None else last_epoch
        last = self.task.final_metrics() if kept_epoch != last_epoch else None  # before the kept state is loaded
        if self.best.weights is not None:
            self.model.load_state_dict(self.best.weights)
        metrics: dict[str, Any] = self.task.final_metrics()
        metrics.update(self.judged(metrics, last, kept_epoch, last_epoch))
        return metrics

    def judged(self, kept: dict[str, Any], last: dict[str, Any] | None, kept_epoch: int,
               last_epoch: int) -> dict[str, Any]:
        """What metrics.json holds beside the kept epoch's metrics: ``kept_epoch``, ``last_epoch`` (its number and
        the metrics of the judged split, test or else train, at the end of training, which equal the kept ones when
        the last epoch is kept), the task's trivial baselines on that split and whether the model beats them."""
        from .baselines import judge

        split = "test" if "test" in kept else "train"
        return {"kept_epoch": kept_epoch, "last_epoch": {"epoch": last_epoch, split: (last or kept)[split]},
                **judge(kept[split], self.task.baselines(split), split)}

    # --------------------------------------------------------------- persistence
    def save_checkpoint(self) -> None:
        """Everything a resume needs: the loop's position, model, optimizer, strategy, schedule, shuffling and the
        state of every callback (kept epoch, early-stopping count, L-BFGS stage)."""
        self.directory.save_tensors(CHECKPOINT, {
            "epoch": self.state.epoch, "step": self.state.step,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "strategy": self.strategy.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "generator": self.generator.get_state(), "stage": self.stage, **self.callbacks.state_dict(),
            **({"scaler": self.step_precision.state_dict()} if self.step_precision.scaler is not None else {}),
        })

    def load_checkpoint(self, table_sha256: str) -> None:
        saved = self.directory.read_config()
        if saved.get("table_sha256") != table_sha256:
            raise UserError(f"{self.directory.path}: cannot resume, the table changed since this run started "
                            f"(hash {str(saved.get('table_sha256', '?'))[:12]} vs {table_sha256[:12]})")
        checkpoint = self.directory.load_tensors(CHECKPOINT, self.device)
        try:
            self.model.load_state_dict(checkpoint["model"])
            self.callbacks.load_state_dict(self, checkpoint)  # before the optimizer: the L-BFGS stage replaces it
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.strategy.load_state_dict(checkpoint["strategy"])
            self.step_precision.load_state_dict(checkpoint.get("scaler", {}))
            if self.scheduler is not None and checkpoint["scheduler"]:
                self.scheduler.load_state_dict(checkpoint["scheduler"])
                if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
                    self.scheduler.T_max = self.options.epochs  # `--resume --epochs N` anneals to the new end
            self.generator.set_state(checkpoint["generator"])
            self.state.epoch, self.state.step = int(checkpoint["epoch"]), int(checkpoint["step"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise UserError(f"{self.directory.file(CHECKPOINT)}: does not fit this run "
                            f"({exc.__class__.__name__}); delete it to start over") from None

    def write_plots(self, history: list[dict[str, float]], metrics: dict) -> None:
        from . import plots

        plot_dir = self.directory.file(PLOTS)
        plot_dir.mkdir(exist_ok=True)
        self.task.write_plots(metrics, plot_dir)
        plots.training_curves(history, plot_dir / "training.png")
        plots.weight_evolution(history, plot_dir / "weights.png")


def term_means(values: list[torch.Tensor]) -> torch.Tensor:
    """The mean of each term (detached): one reduction over the [batch, term] matrix when the terms are alike (a
    row task's columns, :func:`surrogate.terms.stacked`), not one reduction per term every step."""
    matrix = stacked(values)
    if matrix is not None:
        return matrix.detach().mean(dim=0)
    return torch.stack([v.detach().mean() for v in values])


def train(options: TrainOptions, run_dir: str | Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train one run; the function the CLI, `compare` and the demo share."""
    return Trainer(options, run_dir, progress=progress).fit(resume=resume)
