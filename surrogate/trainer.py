"""The trainer: named element-wise loss terms per batch, combined by a weighting strategy plugin.

Data lives on the training device as tensors; batches are drawn by shuffled index (no per-sample
DataLoader). Every epoch writes a checkpoint (atomically) so a killed run resumes with ``--resume``;
the best epoch by validation score is kept. The validation score is strategy-independent: the mean over
outputs of validation MSE / training variance (≈ mean of 1 − R²), so runs with different weightings
are selected and early-stopped by the same yardstick.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, registry
from .atomic import atomic_path, write_json
from .data import TrainingData, default_outputs, split_indices
from .distributed import Processes
from .errors import UserError
from .losses import Batch, LossTerms, PhysicsContext, StepContext, TrainingState, data_term
from .metrics import metrics_table
from .run import CHECKPOINT, CONFIG, HISTORY, METRICS, PLOTS, SCALERS, SPLITS, WEIGHTS, build_network
from .scaling import PhysicalModel
from .table import Table

DEFAULT_WEIGHTING = "schedule"
# Without --epochs, train for about this many optimizer steps (clamped to 10..2000 epochs): enough for every
# species of the default H2 table and of a 280k-row one to reach test R² ≥ 0.999 (about a minute on 2 cores).
AUTO_STEPS = 50000
AUTO_EPOCH_RANGE = (10, 2000)
DEFAULT_WEIGHTING_OPTIONS: dict[str, Any] = {}
OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
LR_SCHEDULES = ("none", "cosine", "step", "plateau")
EVAL_CHUNK = 65536


@dataclass
class TrainOptions:
    """Everything that defines a run; saved in config.json, loadable from YAML (same keys)."""

    table: str = ""
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    log_inputs: list[str] = field(default_factory=lambda: ["chi"])
    model: str = "softmax-mlp"
    model_options: dict[str, Any] = field(default_factory=dict)
    weighting: str = DEFAULT_WEIGHTING
    weighting_options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_WEIGHTING_OPTIONS))
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

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"optimizer {self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(f"lr_schedule {self.lr_schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")
        for name, value in (("batch_size", self.batch_size), ("epochs", self.epochs or 1)):
            if int(value) < 1:
                raise UserError(f"{name}={value}: expected a positive integer")
        if not self.lr > 0:
            raise UserError(f"lr={self.lr}: expected a positive number")
        unknown = sorted(set(self.physics_options) - set(self.physics))
        if unknown:
            raise UserError(f"physics options given for {unknown[0]!r}, which is not among --physics {self.physics}")

    def resolved(self, n_rows: int) -> "TrainOptions":
        """These options with the epoch budget fixed: without --epochs, about AUTO_STEPS optimizer steps on a
        table of `n_rows` rows, within AUTO_EPOCH_RANGE."""
        if self.epochs is not None:
            return self
        n_train = n_rows - round(self.val_fraction * n_rows) - round(self.test_fraction * n_rows)
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        low, high = AUTO_EPOCH_RANGE
        return replace(self, epochs=int(min(high, max(low, math.ceil(AUTO_STEPS / steps_per_epoch)))))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str) -> "TrainOptions":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{source}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
        return cls(**data)


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when a GPU is present, else CPU; an unavailable CUDA request is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine (use auto or cpu)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, dict[str, dict[str, float]]]
    history: list[dict[str, float]]
    best_epoch: int


class Trainer:
    """Trains one run described by :class:`TrainOptions` into a run directory."""

    def __init__(self, options: TrainOptions, run_dir: str | Path, progress: bool = True):
        options.validate()
        self.table = Table(options.table)
        options = options.resolved(self.table.n_rows)
        self.options = options
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.inputs = list(options.inputs or self.table.input_names)
        self.outputs = list(options.outputs or default_outputs(self.table))
        for name in [*self.inputs, *self.outputs]:
            self.table.units(name)  # one-line error for unknown columns, before any work
        self.device = resolve_device(options.device)
        self.processes = Processes.from_environment(use_cuda=self.device.type == "cuda")
        if self.processes.parallel and options.optimizer == "lbfgs":
            raise UserError("--optimizer lbfgs runs in one process: its line search would differ between ranks")
        if self.processes.parallel and self.device.type == "cuda":
            self.device = torch.device("cuda", self.processes.local_rank)
            torch.cuda.set_device(self.device)
        self.model_cls, self.model_options = registry.configure("models", options.model, options.model_options)
        self.weighting_cls, self.weighting_options = registry.configure(
            "weightings", options.weighting, options.weighting_options
        )
        self.physics_specs = [
            registry.configure("physics", name, options.physics_options.get(name, {})) for name in options.physics
        ]

    # ----------------------------------------------------------------- set-up
    def config(self, table_sha256: str, data: TrainingData) -> dict[str, Any]:
        return {
            "toolkit_version": __version__,
            "table": str(self.table.path.resolve()),
            "table_sha256": table_sha256,
            "table_kind": self.table.kind,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "units": {name: self.table.units(name) for name in [*self.inputs, *self.outputs]},
            "input_ranges": data.input_ranges(),
            "model": {"name": self.options.model, "options": self.model_options},
            "weighting": {"name": self.options.weighting, "options": self.weighting_options},
            "physics": [{"name": n, "options": o} for n, (_, o) in zip(self.options.physics, self.physics_specs)],
            "trainer": asdict(self.options),
        }

    def build(self) -> None:
        torch.manual_seed(self.options.seed)
        self.network = build_network({"model": {"name": self.options.model, "options": self.model_options},
                                      "inputs": self.inputs, "outputs": self.outputs})
        softmax_mask = list(getattr(self.network, "softmax_mask", [False] * len(self.outputs)))
        splits = split_indices(self.table.n_rows, self.options.val_fraction, self.options.test_fraction,
                               self.options.seed)
        self.data = TrainingData.from_table(self.table, self.inputs, self.outputs, self.options.log_inputs,
                                            softmax_mask, splits)
        self.model = PhysicalModel(self.data.input_scaler, self.network, self.data.output_scaler).to(self.device)
        with torch.no_grad():
            x_phys = torch.as_tensor(self.data.x, dtype=torch.float32, device=self.device)
            y_phys = torch.as_tensor(self.data.y, dtype=torch.float32, device=self.device)
            self.x_phys = x_phys
            self.x = self.model.input_scaler(x_phys)
            self.y = self.model.output_scaler.inverse(y_phys)
        self.index = {k: torch.as_tensor(v, device=self.device) for k, v in splits.items()}
        stats = self.data.statistics(self.y[self.index["train"]].double().cpu().numpy())
        init_bias = getattr(self.network, "init_output_bias", None)
        if callable(init_bias):
            init_bias(self.y[self.index["train"]].mean(dim=0).cpu())
        self.variance = torch.tensor([max(stats.variance[n], 1e-30) for n in self.outputs], device=self.device)
        self.strategy = self.weighting_cls(stats, **self.weighting_options).to(self.device)
        context = PhysicsContext(self.inputs, self.outputs, dict(self.table.attrs), self.device)
        self.physics = [cls(context, **opts) for cls, opts in self.physics_specs]
        self.forward_module: torch.nn.Module = self.network
        if self.processes.parallel:
            self.forward_module = torch.nn.parallel.DistributedDataParallel(self.network)
        shared = getattr(self.network, "shared_parameters", None)
        self.shared_parameters = shared() if callable(shared) else list(self.network.parameters())
        self.optimizer = self.make_optimizer()
        n_train = len(self.index["train"])
        self.steps_per_epoch = 1 if self.options.optimizer == "lbfgs" else math.ceil(n_train / self.options.batch_size)
        self.scheduler = self.make_scheduler()

    def make_optimizer(self) -> torch.optim.Optimizer:
        params = [{"params": list(self.network.parameters())}]
        strategy_params = [p for p in self.strategy.parameters() if p.requires_grad]
        if strategy_params:
            params.append({"params": strategy_params, "weight_decay": 0.0})
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
        return torch.optim.LBFGS([p for group in params for p in group["params"]], lr=o.lr, max_iter=20,
                                 line_search_fn="strong_wolfe")

    def make_scheduler(self) -> Any:
        o = self.options
        if o.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=o.epochs, eta_min=o.lr * 0.01)
        if o.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, o.epochs // 3), gamma=0.3)
        if o.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.3, patience=5)
        return None

    # ---------------------------------------------------------------- loss terms
    def loss_terms(self, rows: torch.Tensor, synchronized: bool = True) -> LossTerms:
        """Named element-wise terms for a set of rows: one data term per output, then physics terms.

        `synchronized`: in training, run through DistributedDataParallel (whose backward averages gradients
        over ranks); off for side computations that are not followed by a backward pass.
        """
        x, y = self.x[rows], self.y[rows]
        y_pred = (self.forward_module if synchronized and self.network.training else self.network)(x)
        columns = ((y_pred - y) ** 2).unbind(dim=1)  # one backward node for all outputs, not one per slice
        terms: LossTerms = {data_term(name): column for name, column in zip(self.outputs, columns)}
        if self.physics:
            batch = Batch(x=x, x_phys=self.x_phys[rows], y=y, y_pred=y_pred,
                          y_pred_phys=self.model.output_scaler(y_pred), input_names=self.inputs,
                          output_names=self.outputs, model=self.network)
            for plugin in self.physics:
                terms.update(plugin.terms(batch))
        return terms

    def random_validation_terms(self) -> LossTerms:
        val = self.index["val"] if len(self.index["val"]) else self.index["train"]
        pick = torch.randint(len(val), (min(self.options.batch_size, len(val)),), device=self.device)
        return self.loss_terms(val[pick], synchronized=False)

    @torch.no_grad()
    def evaluate_terms(self, split: str) -> dict[str, float]:
        """Mean of every term over a split, computed in chunks, without weights."""
        rows = self.index[split]
        if len(rows) == 0:
            return {}
        sums: dict[str, float] = {}
        for start in range(0, len(rows), EVAL_CHUNK):
            chunk = rows[start:start + EVAL_CHUNK]
            for name, value in self.loss_terms(chunk).items():
                sums[name] = sums.get(name, 0.0) + float(value.double().mean()) * len(chunk)
        return {name: total / len(rows) for name, total in sums.items()}

    def score(self, val_means: dict[str, float]) -> float:
        """Strategy-independent validation score: mean over outputs of MSE / variance (≈ 1 − R²)."""
        return float(np.mean([val_means[data_term(n)] / float(v) for n, v in zip(self.outputs, self.variance)]))

    # ------------------------------------------------------------------- training
    def train_epoch(self, state: TrainingState, ctx: StepContext, generator: torch.Generator) -> tuple[float, dict, dict]:
        self.network.train()
        train = self.index["train"]
        if self.options.optimizer == "lbfgs":
            order = [train]
        else:
            order = train[torch.randperm(len(train), generator=generator).to(self.device)].split(self.options.batch_size)
        loss_sum = torch.zeros((), device=self.device)
        term_sums: torch.Tensor | None = None
        weight_sums: dict[str, float] = {}
        names: list[str] = []
        order = [batch for batch in order if len(batch) >= self.processes.world]
        strategy_parameters = list(self.strategy.parameters())
        for global_rows in order:
            ctx.state = state
            result: dict[str, Any] = {}
            rows = self.processes.share(global_rows)

            def closure() -> torch.Tensor:
                self.optimizer.zero_grad(set_to_none=True)
                terms = self.loss_terms(rows)
                loss, weights = self.strategy(terms, ctx)
                loss.backward()
                self.processes.average_gradients(strategy_parameters)
                result.update(loss=loss.detach(), weights=weights, terms=terms)
                return loss

            if self.options.optimizer == "lbfgs":
                self.optimizer.step(closure)
            else:
                closure()
                self.optimizer.step()
            loss_sum += result["loss"]
            for name, weight in result["weights"].items():
                weight_sums[name] = weight_sums.get(name, 0.0) + weight
            means = torch.stack([value.detach().mean() for value in result["terms"].values()])
            term_sums = means if term_sums is None else term_sums + means
            names = list(result["terms"])
            state.step += 1
        n = len(order)
        term_avg = (term_sums / n).tolist() if term_sums is not None else []
        return (float(loss_sum) / n, {k: float(v) / n for k, v in weight_sums.items()},
                dict(zip(names, term_avg)))

    def fit(self, resume: bool = False) -> TrainResult:
        """Train (or resume) and write the complete run directory."""
        from tqdm.auto import tqdm

        main = self.processes.is_main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.processes.barrier()
        self.build()
        table_sha256 = self.table.sha256()
        config = self.config(table_sha256, self.data)
        state = TrainingState(steps_per_epoch=self.steps_per_epoch, max_epochs=self.options.epochs)
        generator = torch.Generator().manual_seed(self.options.seed)
        history: list[dict[str, float]] = []
        best = {"score": math.inf, "epoch": -1, "state": None}
        bad_epochs = 0
        if resume and (self.run_dir / CHECKPOINT).is_file():
            best, bad_epochs = self.load_checkpoint(state, generator, table_sha256)
            history = self.read_history(upto=state.epoch)
        elif main:
            write_json(self.run_dir / CONFIG, config)
            with atomic_path(self.run_dir / SPLITS) as tmp:
                with open(tmp, "wb") as handle:
                    np.savez(handle, **self.data.splits)
            write_json(self.run_dir / SCALERS, {"input": self.data.input_scaler.to_dict(),
                                                "output": self.data.output_scaler.to_dict()})
        ctx = StepContext(state=state, shared_parameters=self.shared_parameters,
                          validation=None, validation_terms=self.random_validation_terms)
        if history:
            ctx.validation = {k[4:]: v for k, v in history[-1].items() if k.startswith("val/")}
        bar = tqdm(total=self.options.epochs, initial=state.epoch, desc=f"train {self.run_dir.name}",
                   unit="epoch", disable=not (self.progress and main), dynamic_ncols=True)
        while state.epoch < self.options.epochs:
            started = time.perf_counter()
            train_loss, weights, train_means = self.train_epoch(state, ctx, generator)
            val_means = self.evaluate_terms("val") or train_means
            score = self.score(val_means)
            ctx.validation = val_means
            self.strategy.observe_epoch(train_means, val_means, state)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(score)
            elif self.scheduler is not None:
                self.scheduler.step()
            row = {"epoch": state.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
                   "val_score": score, "time_s": time.perf_counter() - started}
            row.update({f"train/{k}": v for k, v in train_means.items()})
            row.update({f"val/{k}": v for k, v in val_means.items()})
            row.update({f"weight/{k}": v for k, v in weights.items()})
            history.append(row)
            if not math.isfinite(train_loss):
                raise UserError(f"training diverged at epoch {state.epoch + 1} (loss {train_loss}); "
                                f"lower --lr or choose another weighting")
            if score < best["score"] - self.options.min_delta:
                best = {"score": score, "epoch": state.epoch + 1,
                        "state": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}
                bad_epochs = 0
            else:
                bad_epochs += 1
            state.epoch += 1
            if main:
                self.append_history(row, first=state.epoch == 1)
                self.save_checkpoint(state, generator, best, bad_epochs)
            bar.set_postfix(loss=f"{train_loss:.3g}", val=f"{score:.3g}")
            bar.update(1)
            if self.options.patience and bad_epochs >= self.options.patience:
                break
        bar.close()
        if best["state"] is not None:
            self.model.load_state_dict(best["state"])
        predictions = self.final_predictions()
        metrics = self.final_metrics(predictions)
        if main:
            with atomic_path(self.run_dir / WEIGHTS) as tmp:
                torch.save({k: v.cpu() for k, v in self.model.state_dict().items()}, tmp)
            write_json(self.run_dir / METRICS, metrics)
            self.write_plots(history, metrics, predictions)
        self.processes.close()
        return TrainResult(self.run_dir, metrics, history, int(best["epoch"]))

    # --------------------------------------------------------------- persistence
    def save_checkpoint(self, state: TrainingState, generator: torch.Generator, best: dict, bad_epochs: int) -> None:
        checkpoint = {
            "epoch": state.epoch, "step": state.step,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "strategy": self.strategy.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "generator": generator.get_state(),
            "best_score": best["score"], "best_epoch": best["epoch"],
            "best_state": best["state"] or {}, "bad_epochs": bad_epochs,
        }
        with atomic_path(self.run_dir / CHECKPOINT) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, state: TrainingState, generator: torch.Generator, table_sha256: str) -> tuple:
        saved = json.loads((self.run_dir / CONFIG).read_text())
        if saved.get("table_sha256") != table_sha256:
            raise UserError(f"{self.run_dir}: cannot resume, the table changed since this run started "
                            f"(hash {saved.get('table_sha256', '?')[:12]} vs {table_sha256[:12]})")
        checkpoint = torch.load(self.run_dir / CHECKPOINT, map_location=self.device, weights_only=True)
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.strategy.load_state_dict(checkpoint["strategy"])
        if self.scheduler is not None and checkpoint["scheduler"]:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        generator.set_state(checkpoint["generator"])
        state.epoch, state.step = int(checkpoint["epoch"]), int(checkpoint["step"])
        best = {"score": float(checkpoint["best_score"]), "epoch": int(checkpoint["best_epoch"]),
                "state": checkpoint["best_state"] or None}
        return best, int(checkpoint["bad_epochs"])

    def append_history(self, row: dict[str, float], first: bool) -> None:
        """One line per epoch, appended (a rewrite per epoch would cost O(epochs²) over a run)."""
        if first:
            self.history_fields = list(row)
        with open(self.run_dir / HISTORY, "w" if first else "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.history_fields, restval="", extrasaction="ignore")
            if first:
                writer.writeheader()
            writer.writerow(row)

    def read_history(self, upto: int) -> list[dict[str, float]]:
        """Rows of the epochs a checkpoint covers; rewrites the file without later or half-written lines."""
        with open(self.run_dir / HISTORY, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [row for row in reader if None not in row.values() and "" not in row.values()]
            fields = list(reader.fieldnames or [])
        self.history_fields = fields
        history = [{k: float(v) for k, v in row.items()} for row in rows if float(row["epoch"]) <= upto]
        if self.processes.is_main:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)
            with atomic_path(self.run_dir / HISTORY) as tmp:
                tmp.write_text(buffer.getvalue())
        return history

    @torch.no_grad()
    def predict_physical(self, rows: np.ndarray) -> np.ndarray:
        self.model.eval()
        parts = [self.model(self.x_phys[torch.as_tensor(rows[s:s + EVAL_CHUNK], device=self.device)]).double().cpu()
                 for s in range(0, len(rows), EVAL_CHUNK)]
        return torch.cat(parts).numpy() if parts else np.empty((0, len(self.outputs)))

    def final_predictions(self) -> dict[str, np.ndarray]:
        """Physical predictions of the best model on every non-empty split, for metrics and plots alike."""
        return {split: self.predict_physical(rows) for split, rows in self.data.splits.items() if len(rows)}

    def final_metrics(self, predictions: dict[str, np.ndarray]) -> dict[str, dict[str, dict[str, float]]]:
        return {split: metrics_table(self.data.y[self.data.splits[split]], predicted, self.outputs)
                for split, predicted in predictions.items()}

    def write_plots(self, history: list[dict[str, float]], metrics: dict, predictions: dict[str, np.ndarray]) -> None:
        from . import plots

        plot_dir = self.run_dir / PLOTS
        plot_dir.mkdir(exist_ok=True)
        split = "test" if "test" in predictions else "train"
        plots.parity(self.data.y[self.data.splits[split]], predictions[split], self.outputs, metrics[split],
                     plot_dir / "parity.png", title=f"{split} split")
        plots.training_curves(history, plot_dir / "training.png")
        plots.weight_evolution(history, plot_dir / "weights.png")


def train(options: TrainOptions, run_dir: str | Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train one run; the function the CLI, `compare` and the demo share."""
    return Trainer(options, run_dir, progress=progress).fit(resume=resume)
