"""The plugin contracts: one documented base class per plugin kind, and the check the registry runs on load.

==================  ==========================  ================================================================
entry-point group   base class                  what the plugin provides
==================  ==========================  ================================================================
surrogate.tables    :class:`TableGenerator`     ``build(output, **options) -> BuildReport`` writing one dataset;
                                                optional ``summary``, ``plot`` and ``check`` hooks
surrogate.tasks     :class:`Task`               how a dataset and a model become named loss terms, how a run is
                                                evaluated, what is exported
surrogate.models    :class:`ModelFactory`       ``build(n_inputs, n_outputs, *, output_names, **options)``
                                                returning a ``torch.nn.Module`` in model (scaled) space
surrogate.weightings :class:`~surrogate.weighting.WeightingStrategy` ``combine(terms, ctx) -> (loss, {term: weight})``
surrogate.physics   :class:`PhysicsLoss`        ``term_names()`` declared when built, ``terms(batch)`` per batch
surrogate.loggers   :class:`RunLogger`          where a run's options, history, final metrics and files go
                                                (``start``, ``log_epoch``, ``log_summary``, ``log_artifact``)
surrogate.problems  :class:`Problem`            what a dataset is about: domain, conditions, residual, exact
                                                solution, conserved functionals, frame and judge, each optional
==================  ==========================  ================================================================

Every plugin also has a one-line ``description`` and typed ``options`` (a tuple of
:class:`~surrogate.options.Option`); the core resolves and type-checks the options (defaults applied) before
the plugin sees them. Subclassing the base class is the easy way to follow a contract, but the registry checks
the shape, not the ancestry: :func:`check_plugin` names the plugin, its package and what is missing or has the
wrong signature, before any file is written.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Mapping, Sequence

from .errors import PluginError
from .options import Option
from .terms import LossTerms, output_of

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .baselines import Baselines
    from .weighting import WeightingStrategy  # for type checkers and IDEs; at run time :func:`__getattr__`


# ------------------------------------------------------------------------------------------------ tables
@dataclass
class BuildReport:
    """What a table build did. ``numbers`` holds kind-specific results (e.g. extinction χ_st) that the CLI
    prints as ``name = value``; ``notes`` are lines the user should read (skipped solves, warnings)."""

    path: Path
    rows: int
    seconds: float
    resumed: int = 0
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


class TableGenerator:
    """Writes one dataset file (scattered rows, trajectories or a collocation problem) from typed options.

    ``build`` receives options already resolved and type-checked by the core (every declared option present,
    defaults applied); it writes atomically (:func:`surrogate.table.write_table` or
    :func:`surrogate.datasets.write_trajectories` / ``write_collocation``), shows progress when ``progress``
    is true, resumes an interrupted build where it can, and returns a :class:`BuildReport`.
    ``summary(path)`` returns extra ``(label, value)`` lines for ``surrogate table info``; ``plot(path,
    out_dir)`` writes PNG figures and returns their paths; ``check(path)`` returns ``(label, value, passed)``
    content checks for ``surrogate table check`` (passed None: a figure without a bound; a hook with a keyword
    ``max_T_error`` receives that command's ``--max-T-error``); ``restructure(path, output, **options)`` writes
    the table at `path` to `output` with the grid it derives from its stored solutions rebuilt under the given
    options (its others as the table was built), without solving again, and returns a :class:`BuildReport`
    (``surrogate table restructure``); ``saved_work(output)``
    counts the solved results (flamelets, conditions) an unfinished build of `output` left in its work directory
    for a rerun to resume from: after a failed write (a full disk) ``surrogate table build`` keeps that directory
    only when there are some (default: the chunk files of :class:`surrogate.chunks.ChunkWorkDir`). All are optional.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, **options: Any) -> BuildReport:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------ models
class ModelFactory:
    """Builds the network a task trains: model-space inputs ``(batch, n_inputs)`` to raw model-space outputs
    ``(batch, n_outputs)``.

    The network does not scale and does not close mass fractions: the task wraps it in its scalers and, where
    the dataset declares mass fractions, in :class:`surrogate.closure.SoftmaxClosure` (which makes them
    positive and sum to one, for any network). ``closure`` says what the model wants by default (``softmax``
    or ``none``); the user overrides it with ``--closure``. A network may define ``shared_parameters()`` (the
    last layer shared by all outputs, which gradient-based strategies differentiate); otherwise
    :func:`shared_parameters` picks a sensible default.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    closure: ClassVar[str] = "none"

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], **options: Any) -> nn.Module:
        raise NotImplementedError


def shared_parameters(network: nn.Module) -> list[nn.Parameter]:
    """The parameters gradient-based strategies compare term gradients on.

    The network's own ``shared_parameters()`` when it defines one; otherwise the next-to-last module that
    holds parameters (the last hidden layer before an output layer); all parameters for a one-layer network.
    """
    hook = getattr(network, "shared_parameters", None)
    if callable(hook):
        return list(hook())
    layers = [m for m in network.modules() if not list(m.children()) and any(True for _ in m.parameters(False))]
    if len(layers) >= 2:
        return list(layers[-2].parameters())
    return list(network.parameters())


# ---------------------------------------------------------------------------------------- weightings
@dataclass
class TrainingState:
    """Where training stands: strategies schedule on step or epoch."""

    step: int = 0
    epoch: int = 0
    steps_per_epoch: int = 1
    max_epochs: int = 1

    @property
    def total_steps(self) -> int:
        return max(1, self.steps_per_epoch * self.max_epochs)

    def progress(self, by: str = "step") -> float:
        """Fraction of training done, in [0, 1], counted in steps or whole epochs."""
        if by == "epoch":
            return min(1.0, self.epoch / max(1, self.max_epochs - 1)) if self.max_epochs > 1 else 1.0
        return min(1.0, self.step / max(1, self.total_steps - 1))


@dataclass
class DataStatistics:
    """Statistics of the training targets in model space, computed once by the task before training:
    one entry per data term's output (``data/<output>``)."""

    output_names: list[str]
    mean: dict[str, float]
    variance: dict[str, float]
    n_samples: int

    def variance_of_term(self, term: str) -> float | None:
        """Variance of the targets behind a data term; None for other terms."""
        output = output_of(term)
        return self.variance.get(output) if output is not None else None


@dataclass
class StepContext:
    """What a strategy may look at when combining one batch's terms.

    ``shared_parameters``: the last shared layer's parameters, for gradient-based strategies
    (``torch.autograd.grad(term.mean(), shared_parameters, retain_graph=True)``).
    ``validation``: the latest per-term mean validation losses (unweighted), None before the first epoch ends.
    ``validation_terms``: computes element-wise terms on a random validation batch, with the graph through
    the model, for strategies that learn weights toward lower validation loss.
    """

    state: TrainingState
    shared_parameters: list[nn.Parameter]
    validation: dict[str, float] | None = None
    validation_terms: Callable[[], LossTerms] | None = None


def __getattr__(name: str) -> Any:
    """``from surrogate.contracts import WeightingStrategy`` keeps working: the class is defined in
    :mod:`surrogate.weighting` (a torch module), imported here only when asked for, so that importing this module
    (as table generators do, which know nothing of torch) does not import torch."""
    if name == "WeightingStrategy":
        from . import weighting

        return weighting.WeightingStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------- physics
class ReadOnce:
    """A :class:`Batch` field a task may give as a function of no arguments instead of a value: it is called
    on the first read and its value kept. A row task's physical predictions then cost a training step nothing
    when no physics loss reads them."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, batch: Any, owner: type | None = None) -> Any:
        if batch is None:
            raise AttributeError(self.slot)  # no class-level default: the field stays required
        value = getattr(batch, self.slot)
        if callable(value):
            value = value()
            setattr(batch, self.slot, value)
        return value

    def __set__(self, batch: Any, value: Any) -> None:
        setattr(batch, self.slot, value)


@dataclass
class Batch:
    """One batch as physics losses see it. ``x``, ``y`` and ``y_pred`` are in model (scaled) space;
    ``x_phys`` and ``y_pred_phys`` are physical and differentiable (a task may give ``y_pred_phys`` as a
    function computing it, called when a physics loss first reads it). ``y`` is None where there are no
    targets (collocation points); ``extras`` carries what a task adds (time, latent sample, boundary points)."""

    x: torch.Tensor
    x_phys: torch.Tensor
    y: torch.Tensor | None
    y_pred: torch.Tensor
    y_pred_phys: torch.Tensor | Callable[[], torch.Tensor] = ReadOnce()  # type: ignore[assignment]
    input_names: list[str]
    output_names: list[str]
    model: nn.Module
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class PhysicsContext:
    """What a physics loss knows about the problem when it is built."""

    input_names: list[str]
    output_names: list[str]
    table_attrs: dict[str, Any] = field(default_factory=dict)
    device: "torch.device" = field(default_factory=lambda: _cpu())


def _cpu() -> "torch.device":
    import torch

    return torch.device("cpu")


class PhysicsLoss:
    """Adds named loss terms computed from a batch and the model (conservation laws, PDE residuals, penalties).

    ``__init__(context, **options)`` checks that the problem fits (one-line :class:`PluginError` otherwise; a
    ValueError is shown as one line too, naming the plugin); ``term_names()`` lists the terms ``terms(batch)``
    will return, so strategies know them from the start. Each term is element-wise, as :mod:`surrogate.terms`
    says; the trainer checks the first batch's against this (:mod:`surrogate.plugin_checks`).
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, context: PhysicsContext, **options: Any):
        self.context = context

    def term_names(self) -> list[str]:
        raise NotImplementedError

    def terms(self, batch: Batch) -> LossTerms:
        raise NotImplementedError


# -------------------------------------------------------------------------------------------- loggers
class RunLogger:
    """Where a run's history goes besides its own files (history.csv, plots): TensorBoard, MLflow, ...

    The trainer attaches the run's loggers through a callback (:class:`surrogate.tracking.Tracking`) on the main
    process only. ``__init__(run_dir, **options)`` may refuse its options or a missing dependency with a
    ValueError (shown as one line naming the plugin). Then, in order: ``start(config, resumed)`` once, with the
    run's resolved configuration (config.json: options, table path, hash and kind, plugins, versions) and
    whether the run continues from a checkpoint (a logger then appends to what it logged before);
    ``log_epoch(row)`` after every epoch, with that epoch's row of the history (``epoch``, ``train_loss``,
    ``val_score``, ``lr``, per-term means ``train/<term>`` and ``val/<term>``, weights ``weight/<term>``, ...);
    ``log_summary(metrics)`` once with the final metrics flattened to ``split/output/metric`` keys;
    ``log_artifact(path)`` for each file worth keeping (plots, the model, later the exported ONNX file); and
    ``close()``. Nothing is called per optimizer step.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, run_dir: Path, **options: Any):
        self.run_dir = Path(run_dir)

    def start(self, config: Mapping[str, Any], resumed: bool) -> None:
        raise NotImplementedError

    def log_epoch(self, row: Mapping[str, float]) -> None:
        raise NotImplementedError

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        raise NotImplementedError

    def log_artifact(self, path: Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------- problems
class Problem:
    """What a dataset is about, so that generic tasks and physics losses need no dataset's code.

    A dataset names its problem in its root attribute ``problem``: JSON ``{"name": <entry-point name>, <parameter>:
    value, ...}`` (:func:`surrogate.registry.problem_for` finds and builds it). ``__init__(parameters)`` receives
    that mapping; the base class sets each declared option (the problem's parameters, typed like any plugin
    option) as an attribute, missing ones at their default. Everything else is optional: a problem offers what it
    has, and a task that needs a member the problem lacks says so in one line (:func:`lacking`).

    - domain: ``spatial`` (the space inputs, in order), ``time`` (the time input or None) and ``outputs`` (the
      solution's fields); ``inputs()`` is space then time. Collocation datasets store the box in ``domain``.
    - ``residual(points, u)``: the PDE's residual per point, (n,), with derivatives of u (computed from
      ``points``, which require grad) by automatic differentiation; zero for the exact solution.
    - ``exact(points)``: the exact solution (n, len(outputs)) at physical points (n, len(inputs())).
    - ``conditions(points)``: the Dirichlet data on the spatial faces and the initial state at those points;
      by default the exact solution there.
    - ``functionals()``: ``{name: functional}`` where ``functional(u, dx)`` maps states (..., M) on a 1-D grid
      of spacing dx to values (...), and ``functional.law`` says what the exact dynamics does with it
      (``conserved`` or ``dissipated``).
    - frame: ``frame_columns()`` gives (condition columns, target columns), each one 3-vector per body in
      columns ``<body>_x``, ``<body>_y``, ``<body>_z``; ``frame(condition)`` maps the condition vectors (n, bodies,
      3) to orthonormal frames (n, 3, 3) whose first two rows span the plane every vector lies in, so a model
      predicts the targets' in-plane coordinates and the orientation is exact by construction.
    - judge: ``judge(condition, true, predicted, *, forward)`` (physical measures of predicted targets, rows of
      the frame columns; ``forward`` false skips the costly ones) and ``trivial(train, true)`` (the same
      measures of trivial predictions from the training targets); ``judged`` names them in a run's metrics.
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    spatial: ClassVar[tuple[str, ...]] = ()
    time: ClassVar[str | None] = None
    outputs: ClassVar[tuple[str, ...]] = ("u",)
    judged: ClassVar[str] = "judged"

    def __init__(self, parameters: Mapping[str, Any]):
        owner = f"problem {parameters.get('name', type(self).__name__)!r}"
        for option in self.options:
            setattr(self, option.name, option.convert(parameters.get(option.name, option.default), owner))

    @classmethod
    def inputs(cls) -> list[str]:
        return [*cls.spatial, *([cls.time] if cls.time else [])]

    def residual(self, points: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def exact(self, points: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def conditions(self, points: torch.Tensor) -> torch.Tensor:
        return self.exact(points)

    def functionals(self) -> Mapping[str, Callable[..., Any]]:
        raise NotImplementedError

    def frame_columns(self) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def frame(self, condition: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def judge(self, condition: Any, true: Any, predicted: Any, *, forward: bool = True) -> dict[str, float]:
        raise NotImplementedError

    def trivial(self, train: Any, true: Any) -> dict[str, float]:
        raise NotImplementedError


PROBLEM_MEMBERS = {  # what each optional member of a Problem is called in messages
    "residual": "residual(points, u)", "exact": "exact(points)", "functionals": "functionals()",
    "frame": "frame(condition)", "frame_columns": "frame_columns()", "judge": "judge(condition, true, predicted)",
    "trivial": "trivial(train, true)",
}


def lacking(problem: Problem, *members: str) -> list[str]:
    """The members of `members` the problem does not define itself (the base class only raises), as
    ``residual(points, u)``, ..., for a one-line error of the task that needs them."""
    return [PROBLEM_MEMBERS.get(name, name) for name in members if _defined(type(problem), Method(name), Problem) is None]


# ---------------------------------------------------------------------------------------------- tasks
@dataclass
class TaskSettings:
    """The user's choices a task reads: columns, scaling, split, batching, seed, device, and the floating-point
    type the task creates its tensors in (the trainer converts the network to it)."""

    inputs: list[str] | None
    outputs: list[str] | None
    log_inputs: list[str] | None
    closure: str
    split_by: str
    val_fraction: float
    test_fraction: float
    batch_size: int
    seed: int
    device: torch.device
    dtype: torch.dtype = field(default_factory=lambda: _float32())
    stream_memory_mb: float = 0.0  # > 0: read the dataset in blocks through a buffer of this size (``streams``)
    log_floors: dict[str, float] = field(default_factory=dict)  # log input -> the value below which it is clamped


def _float32() -> "torch.dtype":
    import torch

    return torch.float32


class Task:
    """How a dataset and a network become named loss terms, a validation score, metrics and an export.

    The trainer is only the loop; it calls, in order:

    1. ``Task(dataset, settings, processes, **options)``: check the dataset kind (``datasets``) and columns;
    2. ``input_names`` / ``output_names``: the network's columns, given to the model factory;
    3. ``epoch_size()``: training samples per epoch (rows, trajectory steps, collocation points), which fixes
       the default epoch budget, and ``batches_per_epoch(batch_size)`` (optional), the steps per epoch;
    4. ``setup(network, closure)``: fit scalers on the training split, put the data on the device, and set
       ``self.trainable`` (the model-space module the optimizer trains: the network, wrapped in a
       :class:`~surrogate.closure.SoftmaxClosure` when ``closure`` is ``softmax`` and the data has mass
       fractions) and ``self.model`` (the physical module around it that is saved and exported);
    5. ``statistics()`` and ``term_names()``: for the weighting strategy;
    6. per step: ``batches("train", batch_size, generator)`` then ``loss_terms(network_forward, batch)``,
       which returns the named terms and the :class:`Batch` physics losses see;
    7. per epoch: ``batches("val", ...)`` for mean terms and ``score(means)``, a strategy-independent number,
       lower is better (selects the best epoch, drives early stopping);
    8. at the end: ``final_metrics()`` ({split: {output: {metric: value}}}) of the kept epoch (and of the last
       one, when they differ), ``baselines(split)``: trivial predictions scored like the model on the split
       its metrics are judged on (optional: a task without any reports none), and ``write_plots(...)``;
       ``state()`` (JSON) is saved with the run so ``assemble(network, state, config)`` rebuilds ``model``
       for inference and export; ``signature()`` describes the exported tensors (ONNX contract v2).
    """

    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    datasets: ClassVar[tuple[str, ...]] = ("scattered",)
    differentiates_inputs: ClassVar[bool] = False  # terms take derivatives w.r.t. inputs (PINN residuals)
    streams: ClassVar[bool] = False  # can train within settings.stream_memory_mb, never holding the whole dataset

    model: nn.Module
    trainable: nn.Module
    input_names: list[str]
    output_names: list[str]

    def __init__(self, dataset: Any, settings: TaskSettings, processes: Any, **options: Any):
        self.dataset = dataset
        self.settings = settings
        self.processes = processes

    def epoch_size(self) -> int:
        raise NotImplementedError

    def batches_per_epoch(self, batch_size: int) -> int:
        """Training steps in one epoch of ``batches("train", batch_size)``, which learning-rate and weighting
        schedules count in: ⌈epoch_size() / batch_size⌉ unless the task batches otherwise (optional)."""
        return -(-self.epoch_size() // batch_size)

    def setup(self, network: nn.Module, closure: str) -> None:
        raise NotImplementedError

    def statistics(self) -> DataStatistics:
        raise NotImplementedError

    def term_names(self) -> list[str]:
        raise NotImplementedError

    def physics_context(self) -> PhysicsContext:
        return PhysicsContext(list(self.input_names), list(self.output_names), dict(self.dataset.attrs),
                              self.settings.device)

    def batches(self, split: str, batch_size: int | None, generator: torch.Generator | None = None) -> Iterator[Any]:
        raise NotImplementedError

    def loss_terms(self, forward: Callable[[torch.Tensor], torch.Tensor], batch: Any) -> tuple[LossTerms, Batch]:
        raise NotImplementedError

    def score(self, means: Mapping[str, float]) -> float:
        raise NotImplementedError

    def final_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        raise NotImplementedError

    def baselines(self, split: str) -> Baselines:
        """Trivial predictions (training mean, keep the initial state, ...) scored on `split` exactly as
        ``final_metrics`` scores the model, so the trainer can say whether the model beats them."""
        from .baselines import Baselines

        return Baselines()

    def write_plots(self, metrics: Mapping[str, Any], plot_dir: Path) -> None:
        """Task-specific figures (parity, rollouts); the trainer draws training curves and weights itself."""

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def splits(self) -> dict[str, Any]:
        """Arrays saved as splits.npz (row or trajectory indices per split), for reproducibility."""
        return {}

    def config(self) -> dict[str, Any]:
        """Task entries of config.json: columns, units, valid ranges, signature."""
        raise NotImplementedError

    def signature(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def assemble(cls, network: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> nn.Module:
        raise NotImplementedError


# -------------------------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Method:
    """A callable a contract requires: its name, the arguments a caller passes, and whether it is optional."""

    name: str
    positional: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    instance: bool = False  # called on an instance (self is bound by the caller), not on the class
    optional: bool = False

    def text(self) -> str:
        args = [*self.positional, *(["*"] if self.keywords else []), *self.keywords]
        return f"{self.name}({', '.join(args)})"


def weighting_contract() -> type[WeightingStrategy]:
    """The weighting strategies' base class, imported when asked for (it is a torch module)."""
    return __getattr__("WeightingStrategy")


def contracts() -> dict[str, tuple[type, tuple[Method, ...]]]:
    """Each plugin kind's base class and the methods the registry checks."""
    return {
        "tables": (TableGenerator, (
            Method("build", ("output",), ("progress",)),
            Method("summary", ("path",), optional=True),
            Method("plot", ("path", "out_dir"), optional=True),
            Method("check", ("path",), optional=True),
        )),
        "models": (ModelFactory, (Method("build", ("n_inputs", "n_outputs"), ("output_names",)),)),
        "weightings": (weighting_contract(), (
            Method("__init__", ("stats", "terms"), instance=True),
            Method("combine", ("terms", "ctx"), instance=True),
        )),
        "loggers": (RunLogger, (
            Method("__init__", ("run_dir",), instance=True), Method("start", ("config", "resumed"), instance=True),
            Method("log_epoch", ("row",), instance=True), Method("log_summary", ("metrics",), instance=True),
            Method("log_artifact", ("path",), instance=True), Method("close", (), instance=True),
        )),
        "physics": (PhysicsLoss, (
            Method("__init__", ("context",), instance=True),
            Method("term_names", (), instance=True),
            Method("terms", ("batch",), instance=True),
        )),
        "tasks": (Task, tuple(Method(name, args, instance=True) for name, args in (
            ("__init__", ("dataset", "settings", "processes")), ("epoch_size", ()), ("setup", ("network", "closure")),
            ("statistics", ()), ("term_names", ()), ("batches", ("split", "batch_size", "generator")),
            ("loss_terms", ("forward", "batch")), ("score", ("means",)), ("final_metrics", ()), ("state", ()),
            ("config", ()), ("signature", ()),
        )) + (Method("baselines", ("split",), instance=True, optional=True),
              Method("batches_per_epoch", ("batch_size",), instance=True, optional=True),
              Method("assemble", ("network", "state", "config")))),
        "problems": (Problem, (Method("__init__", ("parameters",), instance=True),) + tuple(
            Method(name, args, instance=True, optional=True) for name, args in (
                ("residual", ("points", "u")), ("exact", ("points",)), ("conditions", ("points",)),
                ("functionals", ()), ("frame_columns", ()), ("frame", ("condition",)),
                ("judge", ("condition", "true", "predicted")), ("trivial", ("train", "true"))))),
    }


def _defined(plugin: Any, method: Method, base: type) -> Any:
    """The plugin's own callable for `method`, or None when it is missing or only the base's placeholder."""
    function = getattr(plugin, method.name, None)
    if not callable(function):
        return None
    own = inspect.getattr_static(plugin, method.name, None)
    inherited = inspect.getattr_static(base, method.name, None)
    if own is inherited and method.name != "__init__":
        return None  # the base class raises NotImplementedError
    return function


def _accepts(function: Any, method: Method, static: Any, option_names: Sequence[str]) -> bool:
    """Whether `function` can be called with the arguments the core passes (for ``build`` and ``__init__``,
    every declared option as a keyword too)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True  # builtins and C extensions: cannot tell, let the call decide
    unbound = method.instance and not isinstance(static, (staticmethod, classmethod))
    args = [object()] * (len(method.positional) + (1 if unbound and inspect.isfunction(function) else 0))
    try:
        passed = [*method.keywords, *(option_names if method.name in ("build", "__init__") else ())]
        signature.bind(*args, **{name: object() for name in passed})
    except TypeError:
        return False
    return True


def check_plugin(kind: str, name: str, plugin: Any, package: str) -> None:
    """Raise a one-line PluginError when `plugin` does not fulfil the contract of `kind`."""
    base, methods = contracts()[kind]
    owner = f"{kind.rstrip('s')} plugin {name!r} from {package}"
    if not isinstance(getattr(plugin, "description", ""), str):
        raise PluginError(f"{owner}: 'description' must be a one-line string")
    options = getattr(plugin, "options", ())
    if not isinstance(options, (tuple, list)) or not all(isinstance(o, Option) for o in options):
        raise PluginError(f"{owner}: 'options' must be a tuple of surrogate.options.Option")
    for option in options:
        option.check_default(owner)
    if kind in ("weightings",) and not (isinstance(plugin, type) and issubclass(plugin, base)):
        raise PluginError(f"{owner}: must subclass surrogate.contracts.{base.__name__} (it is a torch module "
                          "whose parameters the trainer optimizes)")
    for method in methods:
        function = _defined(plugin, method, base)
        if function is None:
            if method.optional:
                continue
            raise PluginError(f"{owner}: missing method {method.text()} of the {base.__name__} contract")
        keywords = [option.name for option in options] if kind != "problems" else []  # a problem gets a mapping
        if not _accepts(function, method, inspect.getattr_static(plugin, method.name, None), keywords):
            raise PluginError(f"{owner}: {method.name}{inspect.signature(function)} cannot be called as "
                              f"{method.text()} ({base.__name__} contract)")
