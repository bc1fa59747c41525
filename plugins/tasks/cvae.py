"""The ``cvae`` task: a conditional generative model p(y | c) of a scattered table's outputs y given its inputs c,
trained as a conditional VAE (Sohn et al. 2015) and used by sampling its prior: Coulomb-explosion imaging (seed
002) infers the geometry of a molecule (y) from the momenta of its exploded ions (c).

Training: the encoder gives q(z | y, c) = N(μ, σ²); one reparameterized sample z = μ + σ ε is decoded, and the
terms are ``data/<output>`` = (ŷ_j - y_j)² in model space per output and ``kl`` = ½ Σ_d (σ_d² + μ_d² - 1 -
log σ_d²) per sample, so every weighting strategy (fixed α's as in the seed, inverse-variance, uncertainty, ...)
balances them with the physics plugins ``energy`` and ``mre`` (to which the batch hands the physical targets);
a schedule strategy anneals the KL weight. Inference and every metric: z drawn from the prior N(0, 1).

Orientation (option ``frame``): ``momenta`` (tables of the ``coulomb-explosion`` generator) predicts the in-plane
coordinates of the geometry in the frame built from the momenta (:mod:`plugins.coulomb.frame`) and rotates them
back, so the exported decoder still takes lab momenta and returns lab positions; ``none`` models the table's
columns as they are (any scattered table). A model with ``latent_dim = 0`` is the deterministic baseline.

Metrics on every split: per output (lab columns) from one prior sample per row; on the test split, for
Coulomb tables, the ``geometry`` entry: the seed's MRE, energy error, MSE, bond-length and angle errors and the
forward check (re-exploding the prediction) for a prior sample and for z = 0, the trivial baselines, and the
calibration of ``samples`` decoder draws per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from plugins.coulomb.frame import from_frame, momentum_frame, to_frame
from plugins.coulomb.judge import baselines, coverage, geometry_metrics
from surrogate.baselines import Baselines
from surrogate.contracts import Batch, DataStatistics, PhysicsContext, TaskSettings
from surrogate.errors import UserError
from surrogate.metrics import metrics_table
from surrogate.options import Option
from surrogate.ranges import COUNT, at_least
from surrogate.scaling import InputScaler, OutputScaler
from surrogate.table import Table
from surrogate.terms import KL, LossTerms, data_term

from .regression import PREDICT_CHUNK, Regression

FRAMES = ("momenta", "none")
AXES = ("e1", "e2")  # the in-plane axes of the momentum frame


def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per sample: ½ Σ_d (σ_d² + μ_d² - 1 - log σ_d²)."""
    return 0.5 * (log_variance.exp() + mean.pow(2) - 1.0 - log_variance).sum(dim=-1)


def condition_features(condition: torch.Tensor, frame: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(network features in physical units, the momentum frames or None): for frame ``momenta`` the in-plane
    frame coordinates of the momenta (atoms × 2), else the condition itself."""
    if frame == "none":
        return condition, None
    momenta = condition.reshape(-1, condition.shape[1] // 3, 3)  # batch axis as -1: it stays dynamic in ONNX
    frames = momentum_frame(momenta)
    return to_frame(momenta, frames).reshape(-1, 2 * momenta.shape[1]), frames


class ConditionalDecoder(nn.Module):
    """The physical generative model: condition (lab columns) and latent z -> outputs (lab columns).

    In the momentum frame the condition (momenta, atoms × 3) is turned into in-plane frame coordinates before
    scaling, and the decoded in-plane coordinates are rotated back to lab positions."""

    def __init__(self, input_scaler: InputScaler, network: nn.Module, output_scaler: OutputScaler, frame: str):
        super().__init__()
        self.input_scaler, self.network, self.output_scaler = input_scaler, network, output_scaler
        self.frame = frame
        self.latent_dim = int(getattr(network, "latent_dim", 0))

    def to_lab(self, y_model: torch.Tensor, frame: torch.Tensor | None) -> torch.Tensor:
        """Physical lab outputs of model-space network outputs."""
        y = self.output_scaler(y_model)
        if frame is None:
            return y
        return from_frame(y.reshape(-1, y.shape[1] // 2, 2), frame).reshape(-1, 3 * (y.shape[1] // 2))

    def forward(self, condition: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        features, frame = condition_features(condition, self.frame)
        if latent is None:
            latent = condition.new_zeros(len(condition), self.latent_dim)
        return self.to_lab(self.network.decode(latent, self.input_scaler(features)), frame)


class CVAETask(Regression):
    """Conditional VAE on rows: terms data/<output> (reconstruction, model space) and kl; prior sampling to use."""

    description: ClassVar[str] = "conditional VAE on rows (c -> y with latent z), kl term, prior sampling; " \
                                 "momentum frame for Coulomb-explosion tables"
    options: ClassVar[tuple[Option, ...]] = (
        Option("frame", "momenta", "'momenta': predict in the frame built from the momenta (Coulomb tables); "
               "'none': the table's columns as they are", choices=FRAMES),
        Option("samples", 32, "decoder samples per row for the calibration (coverage) metric", bounds=at_least(2)),
        Option("coverage_rows", 1000, "test rows the calibration draws samples for", bounds=COUNT),
    )

    def __init__(self, dataset: Table, settings: TaskSettings, processes: Any, frame: str = "momenta",
                 samples: int = 32, coverage_rows: int = 1000, **options: Any):
        super().__init__(dataset, settings, processes)
        self.frame, self.samples, self.coverage_rows = frame, samples, coverage_rows
        self.condition_names, self.target_names = list(self.input_names), list(self.output_names)
        self.ions = dataset.attrs.get("coulomb") if isinstance(dataset.attrs.get("coulomb"), dict) else None
        if frame == "none":
            return
        if self.ions is None or self.condition_names != self.ions["momenta"] or \
                self.target_names != self.ions["positions"]:
            raise UserError(f"{dataset.path}: --task-option frame=momenta needs a coulomb-explosion table with its "
                            "momenta as inputs and positions as outputs (the default columns); use frame=none")
        if self.log_inputs:
            raise UserError("--log-input: not with frame=momenta (frame coordinates change sign)")
        atoms = self.ions["atoms"]
        self.input_names = [f"p_{atom}_{axis}" for atom in atoms for axis in AXES]
        self.output_names = [f"{atom}_{axis}" for atom in atoms for axis in AXES]
        for name in self.input_names:
            self.units[name] = self.units[self.condition_names[0]]
        for name in self.output_names:
            self.units[name] = self.units[self.target_names[0]]

    # ------------------------------------------------------------------------------------------ set-up
    def setup(self, network: nn.Module, closure: str) -> None:
        device, dtype = self.settings.device, self.settings.dtype
        self.latent_dim = int(getattr(network, "latent_dim", -1))
        if self.latent_dim < 0 or not callable(getattr(network, "decode", None)):
            raise UserError("task 'cvae': the model must be a conditional VAE (--model cvae)")
        condition = torch.as_tensor(self.dataset.read_matrix(self.condition_names))
        target = torch.as_tensor(self.dataset.read_matrix(self.target_names))
        train = self.index_splits["train"]
        features, frames = condition_features(condition, self.frame)  # float64 here, whatever the training dtype
        targets = target if frames is None else to_frame(target.reshape(-1, 3, 3), frames).reshape(len(target), -1)
        self.input_scaler = InputScaler.fit(features[train].numpy(), [n in self.log_inputs for n in self.input_names])
        self.output_scaler = OutputScaler.fit(targets[train].numpy(), [False] * targets.shape[1])
        self.input_ranges = {n: [float(c.min()), float(c.max())] for n, c in zip(self.input_names, features[train].T)}
        self.condition_ranges = {n: [float(c.min()), float(c.max())]
                                 for n, c in zip(self.condition_names, condition[train].T)}
        self.trainable = network
        self.model = ConditionalDecoder(self.input_scaler, network, self.output_scaler, self.frame).to(device, dtype)
        with torch.no_grad():
            self.x_phys = condition.to(device, dtype)
            self.y_phys = target.to(device, dtype)
            self.frames = frames.to(device, dtype) if frames is not None else None
            self.x = self.model.input_scaler(features.to(device, dtype))
            self.y = self.model.output_scaler.inverse(targets.to(device, dtype))
        self.target_numpy = target.numpy()
        self.index = {k: torch.as_tensor(v, device=device) for k, v in self.index_splits.items()}
        y_train = self.y[self.index["train"]].double().cpu().numpy()
        self.stats = DataStatistics(output_names=list(self.output_names), n_samples=len(y_train),
                                    mean={n: float(v) for n, v in zip(self.output_names, y_train.mean(axis=0))},
                                    variance={n: float(v) for n, v in zip(self.output_names, y_train.var(axis=0))})
        self.variance = torch.tensor([max(self.stats.variance[n], 1e-30) for n in self.output_names])

    def term_names(self) -> list[str]:
        return super().term_names() + ([KL] if self.latent_dim else [])

    def physics_context(self) -> PhysicsContext:
        """Physics losses see lab columns: the condition as inputs, the lab outputs as outputs."""
        return PhysicsContext(list(self.condition_names), list(self.target_names), dict(self.dataset.attrs),
                              self.settings.device)

    # -------------------------------------------------------------------------------------- batches
    def loss_terms(self, forward: Callable[..., Any], rows: torch.Tensor) -> tuple[LossTerms, Batch]:
        x, y = self.x[rows], self.y[rows]
        passed = forward(x, y)
        y_pred = passed[0]
        columns = ((y_pred - y) ** 2).unbind(dim=1)
        terms: LossTerms = {data_term(name): column for name, column in zip(self.output_names, columns)}
        if self.latent_dim:
            terms[KL] = kl_divergence(passed[1], passed[2])
        frames = self.frames[rows] if self.frames is not None else None
        batch = Batch(x=x, x_phys=self.x_phys[rows], y=y, y_pred=y_pred, y_pred_phys=self.model.to_lab(y_pred, frames),
                      input_names=self.condition_names, output_names=self.target_names, model=self.trainable,
                      extras={"y_phys": self.y_phys[rows]})
        return terms, batch

    # ------------------------------------------------------------------------------------ results
    @torch.no_grad()
    def sample(self, rows: np.ndarray, generator: torch.Generator | None) -> np.ndarray:
        """Physical lab outputs for table rows, z from the prior (drawn by `generator`; None: z = 0)."""
        self.model.eval()
        parts = []
        for start in range(0, len(rows), PREDICT_CHUNK):
            index = torch.as_tensor(rows[start:start + PREDICT_CHUNK], device=self.x_phys.device)
            latent = torch.zeros(len(index), self.latent_dim, dtype=self.x_phys.dtype)
            if generator is not None:
                latent = torch.randn(len(index), self.latent_dim, generator=generator, dtype=self.x_phys.dtype)
            parts.append(self.model(self.x_phys[index], latent.to(self.x_phys.device)).double().cpu())
        return torch.cat(parts).numpy() if parts else np.empty((0, len(self.target_names)))

    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        generator = torch.Generator().manual_seed(self.settings.seed + 2)
        self.predictions = {split: self.sample(rows, generator)
                            for split, rows in self.index_splits.items() if len(rows)}
        metrics = {split: metrics_table(self.target_numpy[self.index_splits[split]], predicted, self.target_names)
                   for split, predicted in self.predictions.items()}
        split = "test" if "test" in self.predictions else "train"
        if self.ions is not None and self.target_names == self.ions["positions"]:
            metrics["geometry"] = self.geometry(split, generator)
        return metrics

    def geometry(self, split: str, generator: torch.Generator) -> dict[str, dict[str, float]]:
        """Physical measures of the `split` predictions (see :mod:`plugins.coulomb.judge`)."""
        rows = self.index_splits[split]
        momenta, true = self.x_phys[self.index[split]].double().cpu().numpy(), self.target_numpy[rows]
        result = {f"{split}, prior sample": geometry_metrics(momenta, true, self.predictions[split]),
                  f"{split}, z = 0": geometry_metrics(momenta, true, self.sample(rows, None), forward=False),
                  f"{split}, trivial baseline": baselines(self.target_numpy[self.index_splits["train"]], true)}
        if self.latent_dim:
            some = rows[:self.coverage_rows]
            draws = np.stack([self.sample(some, generator) for _ in range(self.samples)])
            result[f"{split}, calibration ({self.samples} samples)"] = coverage(self.target_numpy[some], draws)
        return result

    @torch.no_grad()
    def baselines(self, split: str) -> Baselines:
        """The training mean of the targets in the frame the model predicts in, turned to lab columns with each
        row's own frame (with frame ``momenta``: the mean training geometry, oriented as the momenta say), and
        the deterministic decoder z = 0 (none for a model without latent: that is the model itself)."""
        rows, index = self.index_splits[split], self.index[split]
        frames = self.frames[index] if self.frames is not None else None
        mean = self.y[self.index["train"]].mean(dim=0, keepdim=True).expand(len(rows), -1)
        mean_lab = self.model.to_lab(mean, frames).double().cpu().numpy()
        true = self.target_numpy[rows]
        name = "mean training geometry" if self.frame == "momenta" else "training mean"
        result = Baselines({name: metrics_table(true, mean_lab, self.target_names)})
        if self.latent_dim:
            result.scores["z = 0 decoder"] = metrics_table(true, self.sample(rows, None), self.target_names)
        else:
            result.skipped["z = 0 decoder"] = "the model has no latent (latent_dim 0): it is its own z = 0 decoder"
        return result

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        from surrogate import plots

        split = "test" if "test" in self.predictions else "train"
        plots.parity(self.target_numpy[self.index_splits[split]], self.predictions[split], self.target_names,
                     metrics[split], plot_dir / "parity.png", title=f"{split} split, one prior sample per row",
                     units=self.units)

    def state(self) -> dict[str, Any]:
        return {"input": self.input_scaler.to_dict(), "output": self.output_scaler.to_dict(), "frame": self.frame}

    def config(self) -> dict[str, Any]:
        return {"inputs": self.input_names, "outputs": self.output_names, "units": self.units,
                "input_ranges": self.input_ranges, "condition": self.condition_names, "targets": self.target_names,
                "frame": self.frame, "latent_dim": self.latent_dim, "signature": self.signature()}

    def signature(self) -> dict[str, Any]:
        """condition [batch, n_condition] (+ latent [batch, latent_dim], standard normal) -> outputs."""
        condition = {"name": "condition", "dtype": "float32", "shape": ["batch", len(self.condition_names)],
                     "components": [{"name": n, "units": self.units[n], "range": self.condition_ranges[n]}
                                    for n in self.condition_names]}
        latent = {"name": "latent", "dtype": "float32", "shape": ["batch", self.latent_dim],
                  "components": [{"name": f"z{d}", "units": "1"} for d in range(self.latent_dim)]}
        outputs = {"name": "outputs", "dtype": "float32", "shape": ["batch", len(self.target_names)],
                   "components": [{"name": n, "units": self.units[n]} for n in self.target_names]}
        return {"inputs": [condition, latent] if self.latent_dim else [condition], "outputs": [outputs]}

    @classmethod
    def assemble(cls, network: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> nn.Module:
        return ConditionalDecoder(InputScaler.from_dict(state["input"]), network,
                                  OutputScaler.from_dict(state["output"]), state.get("frame", "none"))
