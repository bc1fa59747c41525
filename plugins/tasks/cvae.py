"""The ``cvae`` task: a conditional generative model p(y | c) of a scattered table's outputs y given its inputs c,
trained as a conditional VAE (Sohn et al. 2015) and used by sampling its prior: Coulomb-explosion imaging (Ghanaatian
2024) infers the geometry of a molecule (y) from the momenta of its exploded ions (c).

Training: the encoder gives q(z | y, c) = N(μ, σ²); one reparameterized sample z = μ + σ ε is decoded, and the
terms are ``data/<output>`` = (ŷ_j - y_j)² in model space per output and ``kl`` = ½ Σ_d (σ_d² + μ_d² - 1 -
log σ_d²) per sample, so every weighting strategy (fixed α's as in Ghanaatian 2024, inverse-variance, uncertainty, ...)
balances them with the physics plugins ``energy`` and ``mre`` (to which the batch hands the physical targets);
a schedule strategy anneals the KL weight. Inference and every metric: z drawn from the prior N(0, 1).

Orientation (option ``frame``): ``momenta`` predicts the in-plane coordinates of the targets in the frame the
dataset's problem builds from the condition vectors (``frame()`` of its ``surrogate.problems`` entry, e.g. the
momentum frame of a ``coulomb-explosion`` table) and rotates them back, so the exported decoder still takes lab
vectors and returns lab vectors; ``none`` models the table's columns as they are (any scattered table). A model
with ``latent_dim = 0`` is the deterministic baseline.

Metrics on every split: per output (lab columns) from one prior sample per row; on the test split, when the
problem offers a judge (Coulomb tables: the ``geometry`` entry, with MRE, energy error, MSE, bond-length and angle
errors and the forward check of re-exploding the prediction), its measures for a prior sample and for z = 0, for
the trivial predictions, and the calibration of ``samples`` decoder draws per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from surrogate import registry
from surrogate.baselines import Baselines
from surrogate.contracts import Batch, DataStatistics, PhysicsContext, Problem, TaskSettings, lacking
from surrogate.errors import PluginError, UserError
from surrogate.metrics import metrics_table
from surrogate.options import Option
from surrogate.ranges import COUNT, at_least
from surrogate.scaling import InputScaler, OutputScaler
from surrogate.table import Table
from surrogate.terms import KL, LossTerms, data_term

from .regression import PREDICT_CHUNK, Regression

FRAMES = ("momenta", "none")
AXES = ("e1", "e2")  # the in-plane axes of the frame
FrameOf = Callable[[torch.Tensor], torch.Tensor]  # condition vectors (n, bodies, 3) -> frames (n, 3, 3)


def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per sample: ½ Σ_d (σ_d² + μ_d² - 1 - log σ_d²)."""
    return 0.5 * (log_variance.exp() + mean.pow(2) - 1.0 - log_variance).sum(dim=-1)


def to_frame(vectors: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """In-plane coordinates (n, bodies, 2) of lab vectors (n, bodies, 3) along the first two axes of `frame`."""
    return torch.einsum("nak,njk->naj", vectors, frame[:, :2])


def from_frame(coordinates: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Lab vectors (n, bodies, 3) of in-plane coordinates (n, bodies, 2) along the first two axes of `frame`."""
    return torch.einsum("naj,njk->nak", coordinates, frame[:, :2])


def condition_features(condition: torch.Tensor, frame: FrameOf | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(network features in physical units, the frames or None): with a frame, the in-plane frame coordinates of
    the condition vectors (bodies × 2), else the condition itself."""
    if frame is None:
        return condition, None
    vectors = condition.reshape(-1, condition.shape[1] // 3, 3)  # batch axis as -1: it stays dynamic in ONNX
    frames = frame(vectors)
    return to_frame(vectors, frames).reshape(-1, 2 * vectors.shape[1]), frames


def coverage(true: np.ndarray, samples: np.ndarray, level: float = 0.9) -> dict[str, float]:
    """Calibration of N decoder samples per row, `samples` (N, n, outputs): the share of true values inside the
    central `level` interval of their samples, the mean spread (standard deviation) of the samples, and the mean
    error of the sample mean (both in the outputs' units; the names say bohr, the units of Coulomb geometries). A
    sharp posterior (spread ≪ error) is expected for a deterministic inverse; coverage then measures how far the
    spread is from the error."""
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {
        f"coverage_{int(round(100 * level))}": float(np.mean((true >= lo) & (true <= hi))),
        "sample_std_bohr": float(np.mean(samples.std(axis=0))),
        "sample_mean_error_bohr": float(np.mean(np.abs(samples.mean(axis=0) - true))),
    }


def framing_problem(attrs: Mapping[str, Any], owner: str) -> Problem:
    """The problem `attrs` name (a dataset's root attributes, or ``{"problem": ...}`` of a run's state), which must
    offer a frame."""
    problem = registry.problem_for(attrs, owner)
    if problem is None or lacking(problem, "frame", "frame_columns"):
        raise PluginError(f"{owner}: frame=momenta needs a table whose problem offers frame(condition) and "
                          "frame_columns() (e.g. coulomb-explosion); use frame=none")
    return problem


class ConditionalDecoder(nn.Module):
    """The physical generative model: condition (lab columns) and latent z -> outputs (lab columns).

    With a frame (the problem's ``frame``) the condition (bodies × 3) is turned into in-plane frame coordinates
    before scaling, and the decoded in-plane coordinates are rotated back to lab vectors."""

    def __init__(self, input_scaler: InputScaler, network: nn.Module, output_scaler: OutputScaler,
                 frame: FrameOf | None):
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
                                 "in the frame of the table's problem (momentum frame of Coulomb-explosion tables)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("frame", "momenta", "'momenta': predict in the frame the table's problem builds from the condition "
               "vectors (the momenta of Coulomb tables); 'none': the table's columns as they are", choices=FRAMES),
        Option("samples", 32, "decoder samples per row for the calibration (coverage) metric", bounds=at_least(2)),
        Option("coverage_rows", 1000, "test rows the calibration draws samples for", bounds=COUNT),
    )
    streams: ClassVar[bool] = False  # builds its (framed) tensors in setup: its rows are held in memory

    def __init__(self, dataset: Table, settings: TaskSettings, processes: Any, *, frame: str, samples: int,
                 coverage_rows: int, **options: Any):
        # the regression options at their declared values: the CVAE's own loss terms carry no log-space term
        super().__init__(dataset, settings, processes, **registry.options_for(Regression))
        self.frame, self.samples, self.coverage_rows = frame, samples, coverage_rows
        self.condition_names, self.target_names = list(self.input_names), list(self.output_names)
        self.problem = registry.problem_for(dataset.attrs, "task 'cvae'")
        columns = (self.problem.frame_columns() if self.problem is not None
                   and not lacking(self.problem, "frame_columns") else None)
        self.judging = (columns == (self.condition_names, self.target_names)
                        and not lacking(self.problem, "judge", "trivial"))
        self.frame_of: FrameOf | None = None
        self.problem_record: dict[str, Any] = {}  # names the problem in the run's state, to rebuild the frame
        if frame == "none":
            return
        try:
            self.frame_of = framing_problem(dataset.attrs, "task 'cvae'").frame
        except PluginError as exc:
            raise UserError(f"{dataset.path}: {exc}") from None
        declared = dataset.attrs.get("problem")
        self.problem_record = dict(declared) if isinstance(declared, dict) else {"name": dataset.kind}
        if columns != (self.condition_names, self.target_names):
            raise UserError(f"{dataset.path}: --task-option frame=momenta needs the problem's columns "
                            f"{columns[0][0]}... as inputs and {columns[1][0]}... as outputs (the default columns); "
                            "use frame=none")
        if self.log_inputs:
            raise UserError("--log-input: not with frame=momenta (frame coordinates change sign)")
        self.input_names = [f"{name[:-2]}_{axis}" for name in self.condition_names[::3] for axis in AXES]
        self.output_names = [f"{name[:-2]}_{axis}" for name in self.target_names[::3] for axis in AXES]
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
        features, frames = condition_features(condition, self.frame_of)  # float64 here, whatever the training dtype
        targets = target if frames is None else to_frame(target.reshape(len(target), -1, 3), frames).reshape(len(target), -1)
        self.input_scaler = InputScaler.fit(features[train].numpy(), [n in self.log_inputs for n in self.input_names],
                                            self.given_floors)
        self.output_scaler = OutputScaler.fit(targets[train].numpy(), [False] * targets.shape[1])
        self.input_ranges = {n: [float(c.min()), float(c.max())] for n, c in zip(self.input_names, features[train].T)}
        self.condition_ranges = {n: [float(c.min()), float(c.max())]
                                 for n, c in zip(self.condition_names, condition[train].T)}
        self.trainable = network
        self.model = ConditionalDecoder(self.input_scaler, network, self.output_scaler, self.frame_of).to(device, dtype)
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
        if self.judging:
            metrics[self.problem.judged] = self.judged(split, generator)
        return metrics

    def judged(self, split: str, generator: torch.Generator) -> dict[str, dict[str, float]]:
        """Physical measures of the `split` predictions, by the problem's judge."""
        rows = self.index_splits[split]
        condition, true = self.x_phys[self.index[split]].double().cpu().numpy(), self.target_numpy[rows]
        judge = self.problem.judge
        result = {f"{split}, prior sample": judge(condition, true, self.predictions[split]),
                  f"{split}, z = 0": judge(condition, true, self.sample(rows, None), forward=False),
                  f"{split}, trivial baseline": self.problem.trivial(self.target_numpy[self.index_splits["train"]],
                                                                     true)}
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
        return {"input": self.input_scaler.to_dict(), "output": self.output_scaler.to_dict(), "frame": self.frame,
                "problem": self.problem_record}

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
        framed = state.get("frame", "none") != "none"
        frame = framing_problem({"problem": state.get("problem")}, "task 'cvae' (the run's problem)").frame \
            if framed else None
        return ConditionalDecoder(InputScaler.from_dict(state["input"]), network,
                                  OutputScaler.from_dict(state["output"]), frame)
