"""Python runtime: load a thermo-surrogate ONNX file once, then call it on arrays of cells.

``Surrogate(path)`` checks the file against the contract of :mod:`export.metadata` (version 1 or 2), opens
one ONNX Runtime session and evaluates it:

- ``surrogate(x)``, for a model with one input and one output tensor (a row model ``(n_cells, n_inputs) ->
  (n_cells, n_outputs)``, a time-stepper ``state -> du/dt``): NumPy arrays go through ``session.run``; torch
  tensors (CPU or CUDA) and CuPy arrays are bound in place through ONNX Runtime's IO binding: the input
  buffer is handed to the session by pointer and the output is written into a tensor/array allocated on
  the same device, so no host copy is made. The result has the caller's type and device.
- ``surrogate.run({name: array, ...})`` for any model, e.g. a CVAE decoder (condition + latent in): NumPy
  arrays in, ``{output name: array}`` out.

Provider ``auto`` picks ``CUDAExecutionProvider`` when the installed ONNX Runtime has it (onnxruntime-gpu)
and a GPU is visible, else the CPU. ``providers`` tells what the session really runs on: an onnxruntime-gpu
whose CUDA or cuDNN libraries do not load silently falls back to the CPU, and we warn about that.

Threads: ``threads=None`` uses :func:`default_threads`: OMP_NUM_THREADS when set, else a share of the CPUs that
avoids oversubscription when each MPI rank of a solver loads its own surrogate (the C wrapper's order too); a count
is 1 to :func:`surrogate.threads.max_threads` (4 per CPU), anything else a one-line error. ``spinning=False`` lets
idle ONNX Runtime threads sleep at once (the C wrapper's default in surrogate_open).

Out-of-range inputs (outside the training ranges of the signature's components; input tensors without
ranges, such as a latent, are not checked): ``policy`` ``clip`` clamps them to the range, ``warn`` evaluates
them as given and warns with a count, ``count`` evaluates them as given silently, ``error`` raises
:class:`OutOfRangeError`; a call may override the handle's policy (``surrogate(x, policy="error")``). NaN inputs
are always an error. Files with manifold bounds (metadata ``manifold``, e.g. C_min(Z)..C_max(Z)) have cells
inside the box but off those bounds handled by the same policy (``manifold=False`` checks the box only).
:attr:`Surrogate.counters` totals the cells evaluated and those out of range or off the manifold over all calls,
so a solver can report them once instead of a warning per call (the C wrapper's surrogate_get_counters). A "cell" is one entry of an input's first axis; a one-entry field component (``u`` on a grid) is
checked on every element against its one range.

Inputs are real numbers (float or int, cast to float32); complex, bool, string and object arrays are refused
with an :class:`InputError` naming the dtype, never cast. Zero cells give an empty result of the output's shape
(``(0, n_outputs)`` for a row model), as NumPy would, so an MPI rank without cells needs no special case.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from surrogate.errors import UserError
from surrogate.threads import available_cpus, check_threads, env_threads

from .metadata import MANIFOLD_KEY, POLICIES, PROVIDERS, REAL_KINDS, Manifold, Tensor, read_model_file

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
ROW_CHUNK_CELLS = 4096  # cells per ONNX Runtime call and thread on the CPU (as the C wrapper's)
LOCAL_RANKS_ENV = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "PALS_LOCAL_SIZE")
WORLD_RANKS_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


class InputError(UserError):
    """Inputs the model cannot take: wrong width or dtype, NaN values."""


class OutOfRangeError(InputError):
    """Inputs outside the trained range under policy 'error'."""


class OutOfRangeWarning(UserWarning):
    """Inputs outside the trained range were evaluated as given (policy 'warn')."""


class ProviderFallbackWarning(UserWarning):
    """CUDA was requested or available, but the session runs on the CPU."""


def _env_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        value = os.environ.get(name, "").split("(")[0]  # SLURM writes e.g. "4(x2)"
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def default_threads() -> int:
    """Intra-op threads when none are given: OMP_NUM_THREADS when set (its first entry, at most
    :func:`surrogate.threads.max_threads`), else a fair share of the node between MPI ranks.

    Ranks on this node known (Open MPI, MPICH, Slurm, PALS): the available CPUs divided among them.
    Only the world size known and > 1: one thread per rank. No MPI: all available CPUs.
    """
    chosen = env_threads("OMP_NUM_THREADS")
    if chosen is not None:
        return chosen
    cpus = available_cpus()
    local = _env_int(LOCAL_RANKS_ENV)
    if local is not None:
        return max(1, cpus // local)
    world = _env_int(WORLD_RANKS_ENV)
    if world is not None and world > 1:
        return 1
    return cpus


def gpu_visible() -> bool:
    """A CUDA GPU is visible: torch says so (if the caller already imported it) or the NVIDIA device exists."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    return os.path.exists("/dev/nvidiactl") and os.environ.get("CUDA_VISIBLE_DEVICES", "0") not in ("", "-1")


def _check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise UserError(f"out-of-range policy {policy!r}: expected one of {', '.join(POLICIES)}")
    return policy


def _warn(message: str, category: type[Warning]) -> None:
    """Warn at the caller's line: the first frame outside this module."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _kind(array: Any) -> str:
    module = type(array).__module__.split(".")[0]
    if module == "torch":
        return "torch"
    if module == "cupy":
        return "cupy"
    return "numpy"


def _check_real(tensor: Tensor, kind: str, dtype: Any) -> None:
    """Real numbers only: a complex array would lose its imaginary part and a bool array become 0/1 without a
    word; strings and objects are no numbers at all. `kind` is the dtype's one-letter NumPy kind."""
    if kind not in REAL_KINDS:
        raise InputError(f"{tensor.name} of dtype {dtype}: expected real numbers (float or int)")


def _rows_outside(x: Any, lower: Any, upper: Any) -> int:
    """Entries of the first axis of `x` (NumPy, torch or CuPy) with an element outside [lower, upper]."""
    outside = (x < lower) | (x > upper)
    return int(outside.reshape(len(x), -1).any(1).sum())


@dataclass(frozen=True)
class _Limits:
    """The trained range of one input tensor per component, float32 (the precision of the inputs); -inf..inf
    for a tensor without ranges, where only NaN is refused. A field's one range broadcasts over its last axis."""

    labels: list[str]  # component names, with the tensor's name in front when the model has several inputs
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, tensor: Tensor, prefix: str) -> "_Limits":
        ranges = [c.range or (-np.inf, np.inf) for c in tensor.components]
        return cls([prefix + c.name for c in tensor.components], np.array([r[0] for r in ranges], dtype=np.float32),
                   np.array([r[1] for r in ranges], dtype=np.float32))

    def columns(self, flat_width: int) -> int:
        """Columns to reduce a (cells × elements, width) view to: one per component."""
        return len(self.labels) if len(self.labels) == flat_width else 1


@dataclass
class RangeCounters:
    """Totals over the calls of one Surrogate (the C wrapper's surrogate_counters)."""

    calls: int = 0               # calls that evaluated or refused cells
    cells: int = 0               # cells evaluated
    out_of_range_cells: int = 0  # cells with an input outside its box range
    off_manifold_cells: int = 0  # cells inside the box, outside the manifold bounds
    refused_calls: int = 0       # calls refused under policy 'error'
    by_tensor: dict[str, int] = field(default_factory=dict)  # out-of-range cells per input tensor


class Surrogate:
    """One loaded ONNX surrogate: ``surrogate(x)`` / ``surrogate.run({...})`` map physical inputs to outputs.

    ``path``: an ONNX file written by ``surrogate export`` (a network or a table backend); its weights'
    checksum is verified on load. ``provider``: ``auto`` (CUDA when onnxruntime-gpu and a GPU are present,
    else the CPU), ``cpu`` or ``cuda``; :attr:`provider` says which one really runs. ``threads``: ONNX
    Runtime's intra-op threads (default: :func:`default_threads`, a fair share of the node between MPI ranks).
    ``policy``: what a call does with cells outside the trained ranges or off the manifold bounds: ``clip``
    them onto the domain, evaluate them as given with a warning (``warn``) or silently (``count``), or refuse
    the call (``error``); every call adds them to :attr:`counters` (:class:`RangeCounters`). ``device_id``:
    the CUDA device. ``manifold``: check the manifold bounds as well as the box of input ranges.
    ``spinning``: let idle intra-op threads spin between calls (``False`` leaves the cores to a solver).

    NumPy arrays come back as NumPy arrays; torch tensors (CPU or CUDA) and CuPy arrays go through ONNX
    Runtime's IO binding without host copies and come back in the caller's array type.
    """

    def __init__(self, path: str | os.PathLike, *, provider: str = "auto", threads: int | None = None,
                 policy: str = "warn", device_id: int = 0, manifold: bool = True, spinning: bool = True):
        import onnxruntime as ort

        if provider not in PROVIDERS:
            raise UserError(f"provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
        _check_policy(policy)
        self.path = Path(path)
        data, self.info = read_model_file(self.path)
        self.signature = self.info.signature
        self.policy = policy
        self.threads = default_threads() if threads is None else check_threads(int(threads), "threads")
        available = ort.get_available_providers()
        want_cuda = provider == "cuda" or (provider == "auto" and CUDA_PROVIDER in available and gpu_visible())
        if provider == "cuda" and CUDA_PROVIDER not in available:
            raise UserError(f"provider 'cuda': this onnxruntime has no CUDA support (providers: "
                            f"{', '.join(available)}); install onnxruntime-gpu (`make gpu-setup`)")
        if provider == "auto" and CUDA_PROVIDER not in available and gpu_visible():
            _warn("a CUDA GPU is visible but this onnxruntime is CPU-only (is `onnxruntime` installed over "
                  "`onnxruntime-gpu`?); running on the CPU", ProviderFallbackWarning)
        requested = [(CUDA_PROVIDER, {"device_id": device_id}), CPU_PROVIDER] if want_cuda else [CPU_PROVIDER]
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:  # idle intra-op threads sleep at once, leaving the cores to a solver between calls
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(data, sess_options=options, providers=requested)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for graphs it cannot load
            raise UserError(f"{self.path}: ONNX Runtime cannot load this model ({str(exc).splitlines()[0]})") from None
        self.providers: list[str] = list(self.session.get_providers())
        if want_cuda and CUDA_PROVIDER not in self.providers:
            _warn(f"{self.path}: CUDA was requested but the session runs on {self.providers[0]}: the CUDA or "
                  "cuDNN libraries onnxruntime-gpu needs did not load", ProviderFallbackWarning)
        several = len(self.signature.inputs) > 1
        self.limits = {t.name: _Limits.of(t, f"{t.name}/" if several else "") for t in self.signature.inputs}
        self.last_out_of_range = 0  # cells outside the ranges or off the manifold in the last call
        self.counters = RangeCounters()
        self.manifold: Manifold | None = self.info.manifold if manifold and MANIFOLD_KEY in self.info.raw else None
        tensors = [*self.signature.inputs, *self.signature.outputs]
        # large CPU batches may run in chunks when every tensor's first axis is the one batch axis
        self._chunkable = self.provider == CPU_PROVIDER and isinstance(tensors[0].shape[0], str) and all(
            t.shape[0] == tensors[0].shape[0] for t in tensors)

    @property
    def provider(self) -> str:
        """The execution provider the session runs on first ('CUDAExecutionProvider' or 'CPUExecutionProvider')."""
        return self.providers[0]

    @property
    def input_names(self) -> list[str]:
        """Columns of the one input tensor (see :attr:`export.metadata.ModelInfo.input_names`)."""
        return self.info.input_names

    @property
    def output_names(self) -> list[str]:
        """Columns of the one output tensor."""
        return self.info.output_names

    @property
    def lower(self) -> np.ndarray:
        """Lower range of the one input tensor per component (float32); -inf when it has no ranges."""
        return self.limits[self.info.row_tensors[0].name].lower

    @property
    def upper(self) -> np.ndarray:
        """Upper range of the one input tensor per component (float32); +inf when it has no ranges."""
        return self.limits[self.info.row_tensors[0].name].upper

    def __repr__(self) -> str:
        return (f"Surrogate({str(self.path)!r}, {self.signature.describe()}, provider={self.provider}, "
                f"threads={self.threads}, policy={self.policy!r})")

    def __call__(self, x: Any, policy: str | None = None) -> Any:
        """Physical outputs for physical inputs of the model's one input tensor, in the caller's array type;
        `policy` overrides the handle's out-of-range policy for this call."""
        tensor_in, tensor_out = self.info.row_tensors
        kind = _kind(x)
        if kind == "numpy":
            return self.run({tensor_in.name: x}, policy)[tensor_out.name]
        return self._run_bound(x, kind, tensor_in, tensor_out, policy or self.policy)

    def reset_counters(self) -> None:
        self.counters = RangeCounters()

    def run(self, inputs: Mapping[str, Any], policy: str | None = None) -> dict[str, np.ndarray]:
        """{output name: float32 array} for {input name: array} (NumPy or anything np.asarray takes), every input
        tensor of the signature given, after the shape checks and the out-of-range policy of each (`policy`
        overrides the handle's for this call)."""
        policy = _check_policy(policy or self.policy)
        expected = [t.name for t in self.signature.inputs]
        if sorted(inputs) != sorted(expected):
            raise InputError(f"inputs {', '.join(map(repr, inputs)) or '(none)'}: the model takes "
                             f"{', '.join(f'{t.name} {t.layout()}' for t in self.signature.inputs)}")
        sizes: dict[str, int] = {}
        feed = {}
        self.last_out_of_range = 0
        self.counters.calls += 1
        for tensor in self.signature.inputs:
            feed[tensor.name] = self._prepare(tensor, inputs[tensor.name], sizes, policy)
        names = [t.name for t in self.signature.outputs]
        result = self._evaluate(names, feed)
        self.counters.cells += len(next(iter(feed.values())))
        return result

    def _evaluate(self, names: list[str], feed: dict[str, Any]) -> dict[str, np.ndarray]:
        """The session's outputs `names` for `feed`; on the CPU, a batch larger than ROW_CHUNK_CELLS per thread
        runs in such chunks, whose activations stay in cache (one call on 1e5 cells ran at 0.6 of the rate at
        4096 on one thread), when every tensor's first axis is the one batch axis."""
        step, n = ROW_CHUNK_CELLS * self.threads, len(next(iter(feed.values())))
        if not self._chunkable or n <= step:
            return dict(zip(names, self.session.run(names, feed)))
        parts = [self.session.run(names, {k: v[s:s + step] for k, v in feed.items()}) for s in range(0, n, step)]
        return {name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(names)}

    # --- checks -------------------------------------------------------------------------------------------
    def _check_shape(self, tensor: Tensor, shape: tuple[int, ...], sizes: dict[str, int]) -> None:
        """Rank and fixed sizes of the signature; a named axis has one size across all inputs (kept in `sizes`)."""
        fits = len(shape) == len(tensor.shape) and all(
            n == sizes.setdefault(axis, n) if isinstance(axis, str) else n == axis
            for n, axis in zip(shape, tensor.shape))
        if not fits:
            named = ", ".join(f"{axis}={n}" for axis, n in sizes.items())
            raise InputError(f"{tensor.name} of shape {tuple(shape)}: expected {tensor.layout()}"
                             + (f" (given {named})" if named and len(self.signature.inputs) > 1 else ""))

    def _range_verdict(self, limits: _Limits, lo: np.ndarray, hi: np.ndarray, count_outside: Callable[[], int],
                       policy: str, tensor: str) -> bool:
        """Apply the policy to per-component minima/maxima; True when the inputs must be clipped."""
        if np.isnan(lo).any() or np.isnan(hi).any():
            bad = [n for n, a, b in zip(limits.labels, lo, hi) if np.isnan(a) or np.isnan(b)]
            raise InputError(f"NaN in input column {', '.join(bad)}; the surrogate is undefined there")
        outside = (lo < limits.lower) | (hi > limits.upper)
        if not outside.any():
            return False
        count = count_outside()
        self._count(count, tensor)
        if policy == "clip":
            return True
        columns = ", ".join(f"{name} in [{a:.4g}, {b:.4g}] (trained [{l:.4g}, {u:.4g}])"
                            for name, a, b, l, u, out in zip(limits.labels, lo, hi, limits.lower, limits.upper,
                                                             outside) if out)
        self._report(policy, f"{count} cell(s) outside the trained range: {columns}")
        return False

    def _count(self, count: int, tensor: str, off_manifold: bool = False) -> None:
        self.last_out_of_range += count
        counters = self.counters
        counters.by_tensor[tensor] = counters.by_tensor.get(tensor, 0) + count
        if off_manifold:
            counters.off_manifold_cells += count
        else:
            counters.out_of_range_cells += count

    def _report(self, policy: str, message: str) -> None:
        """What policy warn / error do with cells outside (count does nothing more than counting them)."""
        if policy == "error":
            self.counters.refused_calls += 1
            raise OutOfRangeError(message + "; use policy 'clip' or 'warn' to evaluate them")
        if policy == "warn":
            _warn(message, OutOfRangeWarning)

    def _manifold_verdict(self, x: Any, policy: str, xp: Any) -> Any:
        """Cells of the row tensor `x` (NumPy/CuPy module `xp`, or torch when None) inside the box but off the
        manifold bounds, under the policy; returns `x`, clipped to the bounds under 'clip'. Cells out of the box
        were already counted (and under 'clip' clamped into it)."""
        m = self.manifold
        slack = m.slack if m.slack is not None else np.zeros(len(m.names), np.float32)
        if xp is np:
            off = m.off(x)
            if not off.any():  # the usual case: one pass over the bounded columns, nothing else
                return x
            lower, upper = m.bounds(x[:, m.along])
        elif xp is None:  # torch: the bounds are found on the host from the one binned column
            import torch

            lower, upper = (torch.as_tensor(b, device=x.device) for b in m.bounds(x[:, m.along].cpu().numpy()))
            margin = torch.as_tensor(slack, device=x.device)
            off = ((x < lower - margin) | (x > upper + margin)).any(1)
        else:
            lower, upper = (xp.asarray(b) for b in m.bounds(xp.asnumpy(x[:, m.along])))
            margin = xp.asarray(slack)
            off = ((x < lower - margin) | (x > upper + margin)).any(1)
        limits = self.limits[self.info.row_tensors[0].name]
        box = [limits.lower, limits.upper] if xp is not None else [torch.as_tensor(b, device=x.device)
                                                                    for b in (limits.lower, limits.upper)]
        off = off & ~((x < box[0]) | (x > box[1])).any(1)
        count = int(off.sum())
        if count == 0:
            return x
        self._count(count, self.info.row_tensors[0].name, off_manifold=True)
        if policy == "clip":
            return torch.clamp(x, lower, upper) if xp is None else xp.clip(x, lower, upper)
        first = int(off.nonzero()[0][0]) if xp is not None else int(off.nonzero()[0, 0])
        row = [float(v) for v in x[first]]
        column = next(i for i, v in enumerate(row)
                      if not float(lower[first, i]) - float(slack[i]) <= v <= float(upper[first, i]) + float(slack[i]))
        names = self.input_names
        self._report(policy, f"{count} cell(s) off the trained manifold: first cell {first}: {names[column]} = "
                             f"{row[column]:.4g} outside [{float(lower[first, column]):.4g}, "
                             f"{float(upper[first, column]):.4g}] at {names[m.along]} = {row[m.along]:.4g}")
        return x

    def count_out_of_range(self, x: np.ndarray) -> int:
        """Number of cells (entries of the first axis) of the one input tensor with an input outside the range."""
        limits = self.limits[self.info.row_tensors[0].name]
        return _rows_outside(np.asarray(x), limits.lower, limits.upper)

    # --- NumPy --------------------------------------------------------------------------------------------
    def _prepare(self, tensor: Tensor, x: Any, sizes: dict[str, int], policy: str) -> np.ndarray:
        """Checked, C-contiguous float32 inputs after the out-of-range policy (a copy only when needed)."""
        x = np.asarray(x)
        self._check_shape(tensor, x.shape, sizes)
        _check_real(tensor, x.dtype.kind, x.dtype)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.size == 0:
            return x
        limits = self.limits[tensor.name]
        # one contiguous row per component: reductions along contiguous rows are ~30x faster
        columns = np.ascontiguousarray(x.reshape(-1, limits.columns(x.shape[-1])).T)
        lo, hi = columns.min(axis=1), columns.max(axis=1)  # NaN propagates into min/max: this finds both
        if self._range_verdict(limits, lo, hi, lambda: _rows_outside(x, limits.lower, limits.upper), policy,
                               tensor.name):
            x = np.clip(x, limits.lower, limits.upper)
        if self.manifold is not None:
            x = self._manifold_verdict(x, policy, np)
        return x

    # --- device arrays through IO binding ------------------------------------------------------------------
    def _run_bound(self, x: Any, kind: str, tensor_in: Tensor, tensor_out: Tensor, policy: str) -> Any:
        """torch tensors / CuPy arrays bound by pointer: inputs read and outputs written in place, same device.

        The CUDA branches (torch on CUDA, CuPy) follow ONNX Runtime's IO-binding documentation but were not
        run on the development machine, which has no GPU.
        """
        sizes: dict[str, int] = {}
        self._check_shape(tensor_in, tuple(x.shape), sizes)
        unknown = [axis for axis in tensor_out.shape if isinstance(axis, str) and axis not in sizes]
        if unknown:
            raise InputError(f"output {tensor_out.name} {tensor_out.dims()}: the size of axis {unknown[0]!r} is not "
                             "known before the call, so device arrays cannot be bound; pass a NumPy array")
        out_shape = tuple(sizes[axis] if isinstance(axis, str) else axis for axis in tensor_out.shape)
        limits = self.limits[tensor_in.name]
        self.last_out_of_range = 0
        _check_policy(policy)
        self.counters.calls += 1
        if kind == "torch":
            import torch

            _check_real(tensor_in, "c" if x.is_complex() else "b" if x.dtype == torch.bool else "f", x.dtype)
            x = x.detach().to(torch.float32).contiguous()
            on_cuda = x.device.type == "cuda"
            device_id = (x.device.index or 0) if on_cuda else 0
            if x.numel():  # only 2 numbers per component travel to the host
                lower = torch.as_tensor(limits.lower, device=x.device)
                upper = torch.as_tensor(limits.upper, device=x.device)
                flat = x.reshape(-1, limits.columns(x.shape[-1]))
                lo, hi = flat.amin(dim=0).cpu().numpy(), flat.amax(dim=0).cpu().numpy()
                if self._range_verdict(limits, lo, hi, lambda: _rows_outside(x, lower, upper), policy,
                                       tensor_in.name):
                    x = torch.clamp(x, lower, upper)
                if self.manifold is not None:
                    x = self._manifold_verdict(x, policy, None)
            y = torch.empty(out_shape, dtype=torch.float32, device=x.device)
            x_ptr, y_ptr = x.data_ptr(), y.data_ptr()
            if on_cuda:
                torch.cuda.current_stream(x.device).synchronize()  # the producer must have finished writing x
        else:
            import cupy

            _check_real(tensor_in, x.dtype.kind, x.dtype)
            x = cupy.ascontiguousarray(x, dtype=cupy.float32)
            on_cuda, device_id = True, x.device.id
            if x.size:
                lower, upper = cupy.asarray(limits.lower), cupy.asarray(limits.upper)
                flat = x.reshape(-1, limits.columns(x.shape[-1]))
                lo, hi = cupy.asnumpy(flat.min(axis=0)), cupy.asnumpy(flat.max(axis=0))
                if self._range_verdict(limits, lo, hi, lambda: _rows_outside(x, lower, upper), policy,
                                       tensor_in.name):
                    x = cupy.clip(x, lower, upper)
                if self.manifold is not None:
                    x = self._manifold_verdict(x, policy, cupy)
            y = cupy.empty(out_shape, dtype=cupy.float32)
            x_ptr, y_ptr = x.data.ptr, y.data.ptr
            cupy.cuda.get_current_stream().synchronize()
        if x.shape[0] == 0:
            return y
        if on_cuda and CUDA_PROVIDER not in self.providers:
            raise InputError(f"inputs on CUDA device {device_id} but the session runs on {self.provider}; "
                             "load the surrogate with provider 'cuda' or 'auto' (needs onnxruntime-gpu)")
        device_type = "cuda" if on_cuda else "cpu"
        binding = self.session.io_binding()
        binding.bind_input(tensor_in.name, device_type, device_id, np.float32, tuple(x.shape), x_ptr)
        binding.bind_output(tensor_out.name, device_type, device_id, np.float32, out_shape, y_ptr)
        self.session.run_with_iobinding(binding)  # returns after the device work has finished
        self.counters.cells += int(x.shape[0])
        return y
