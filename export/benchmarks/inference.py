"""Inference throughput and memory: ONNX Runtime (Python, C), PyTorch eager and the table lookup, one run.

Every engine evaluates the same cells (rows of the training table's inputs, or points drawn in the
model's ranges) at each batch size. Throughput is cells per second over repeated calls after one warm-up
call ("mean"), and of the fastest call ("best"). The C example (export/c) is run as a subprocess in its
``--bench`` mode, which times the same model through ONNX Runtime's C API on cells it generates inside the
trained ranges (and manifold bounds); the headline comparison is Python's best call against C's best call at
batch 4096.

Before/after the graph folding (:mod:`export.folding`): with a run, the model is also exported without folding
and timed through the C API in the same run ("unfolded graph: ..."). The FLOP-bound limit: the network's
multiply-adds per cell (its Gemm/MatMul weights, 2 flops each) against this machine's float32 GEMM rate measured
with NumPy on the same threads, so the C API's best call is stated as a share of what the arithmetic allows.

Table against network: given a table-backend file as well (``--table-model``, :mod:`export.table_model`), the
same run measures it through the same path as the network (the C example, whose wrapper evaluates such a file with
its compiled lookup; without a C example, the Python runtime, which runs the file's ONNX graph) and states
table / network cells/s at every batch size.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from surrogate.lookup import table_lookup

from .kernel_profile import kernel_profile
from ..metadata import TABLE_KEY, read_model_file
from ..runtime import CUDA_PROVIDER, Surrogate

REFERENCE_BATCH = 4096
C_BENCH_LINE = re.compile(r"^bench\s+(.*)$", re.MULTILINE)


@dataclass
class Rate:
    """Cells per second at one batch size: over all timed calls (mean) and of the fastest call (best)."""

    mean: float
    best: float
    calls: int


@dataclass
class EngineResult:
    name: str
    rates: dict[int, Rate] = field(default_factory=dict)
    note: str = ""


def time_calls(call: Callable[[], Any], batch: int, min_time: float, max_calls: int = 10_000) -> Rate:
    """Time `call` (which evaluates `batch` cells) after one warm-up call, until `min_time` seconds pass."""
    call()
    durations: list[float] = []
    while sum(durations) < min_time and len(durations) < max_calls:
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return Rate(batch * len(durations) / sum(durations), batch / min(durations), len(durations))


@dataclass
class Engine:
    """One way to evaluate cells; ``measure(batch)`` times it at one batch size (EngineFailure to give up)."""

    name: str
    measure: Callable[[int], Rate]


class EngineFailure(RuntimeError):
    """An engine that cannot be measured (e.g. the C example exits with an error)."""


def python_engine(name: str, evaluate: Callable[[Any], Any], cells: Any, min_time: float) -> Engine:
    """`evaluate` timed on the first `batch` rows of `cells`."""
    return Engine(name, lambda batch: time_calls(lambda x=cells[:batch]: evaluate(x), batch, min_time))


def c_example_engine(binary: Path, model: Path, threads: int, min_time: float) -> Engine:
    """The C example's own timing (``--bench BATCH``), parsed from the one machine-readable line it prints."""

    def measure(batch: int) -> Rate:
        repeat = int(max(3, min(2000, 2e6 * min_time / batch)))
        command = [str(binary), str(model), "--bench", str(batch), "--threads", str(threads), "--repeat", str(repeat)]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        match = C_BENCH_LINE.search(completed.stdout)
        if completed.returncode != 0 or match is None:
            raise EngineFailure(f"{binary} failed (exit {completed.returncode}): {completed.stderr.strip()[:200]}")
        fields = dict(part.split("=", 1) for part in match.group(1).split())
        return Rate(float(fields["cells_per_second"]), float(fields["best_cells_per_second"]), int(fields["repeat"]))

    return Engine(f"ONNX Runtime C API ({_threads(threads)})", measure)


def measure_all(engines: Sequence[Engine], batches: Sequence[int], echo: Callable[[str], None]) -> list[EngineResult]:
    """Every engine at every batch size, engines interleaved per batch so load from elsewhere hits all alike."""
    results = [EngineResult(engine.name) for engine in engines]
    for batch in batches:
        for engine, result in zip(engines, results):
            if result.note:
                continue
            try:
                result.rates[batch] = engine.measure(batch)
            except EngineFailure as exc:
                result.note = str(exc)
                continue
            echo(f"{engine.name}: batch {batch}: {result.rates[batch].mean:.3g} cells/s")
    return results


def _threads(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def c_build_dirs() -> list[Path]:
    """Where the README's build puts the C programs: export/c/build of the working directory (a source checkout)
    and of this package's own tree (an editable install), each with any build layout below it."""
    dirs = [Path.cwd() / "export" / "c" / "build", Path(__file__).resolve().parents[1] / "c" / "build"]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def find_c_program(name: str) -> Path | None:
    """The built C program `name` (example_c, bench_lookup) under :func:`c_build_dirs`, if there is one."""
    for build in c_build_dirs():
        if build.is_dir():
            found = sorted(p for p in build.rglob(name) if p.is_file() and p.stat().st_mode & 0o111)
            if found:
                return found[0]
    return None


def not_found(name: str, option: str) -> str:
    """One line: `name` was not found, where it was looked for, how to get it."""
    where = " and ".join(str(d) for d in c_build_dirs())
    return (f"C program {name} not found under {where} (build export/c as in export/c/README.md, 'Build', or pass "
            f"{option} PATH)")


def model_memory(model_path: Path) -> dict[str, int]:
    """ONNX file size, and the count and bytes of its stored weights (initializers and constants)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model_path))
    tensors = [numpy_helper.to_array(t) for t in proto.graph.initializer]
    tensors += [numpy_helper.to_array(a.t) for node in proto.graph.node if node.op_type == "Constant"
                for a in node.attribute if a.name == "value"]
    return {"file_bytes": model_path.stat().st_size, "parameters": int(sum(t.size for t in tensors)),
            "parameter_bytes": int(sum(t.nbytes for t in tensors))}


def flops_per_cell(model_path: Path) -> int:
    """2 × the weights of the graph's Gemm and MatMul nodes: the multiply-adds one cell costs in its linear layers."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model_path))
    weights = {t.name: numpy_helper.to_array(t).size for t in proto.graph.initializer}
    return int(sum(2 * weights.get(node.input[1], 0) for node in proto.graph.node
                   if node.op_type in ("Gemm", "MatMul") and len(node.input) > 1))


def gemm_rate(threads: int, size: int = 640, repeat: int = 200) -> float:
    """float32 flop/s of a NumPy (BLAS) square matrix product on `threads` threads: the arithmetic limit. The best
    of many short products (a few ms each): on a shared machine a long product is preempted (five 2048 products gave
    a third of this rate under load, so the network's best call seemed to beat the arithmetic limit)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it, BLAS uses its own thread count (OMP_NUM_THREADS)
        threadpool_limits = None
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)

    def best() -> float:
        a @ a
        return min(_timed(lambda: a @ a) for _ in range(repeat))

    if threadpool_limits is None:
        seconds = best()
    else:
        with threadpool_limits(limits=threads):
            seconds = best()
    return 2 * size**3 / seconds


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def ort_engines(model_path: Path, threads: int) -> list[tuple[str, Callable[[np.ndarray], Any]]]:
    """ONNX Runtime from Python on the CPU: the checked runtime, and the bare session for comparison."""
    surrogate = Surrogate(model_path, provider="cpu", threads=threads, policy="clip")
    session = surrogate.session
    tensor_in, tensor_out = surrogate.info.row_tensors
    label = _threads(threads)
    return [(f"ONNX Runtime Python, Surrogate ({label})", surrogate),
            (f"ONNX Runtime Python, session.run ({label})",
             lambda x: session.run([tensor_out.name], {tensor_in.name: x}))]


def cuda_engine(model_path: Path) -> tuple[str, Callable[[Any], Any], Callable[[np.ndarray], Any]] | str:
    """ONNX Runtime on CUDA fed with device-resident torch tensors, or why it is skipped.

    Untested on the development machine (no GPU); it uses the same IO-binding path as the runtime.
    """
    import onnxruntime as ort

    if CUDA_PROVIDER not in ort.get_available_providers():
        return "skipped: this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu on a GPU machine)"
    import torch

    if not torch.cuda.is_available():
        return "skipped: no CUDA device visible to torch"
    surrogate = Surrogate(model_path, provider="cuda", policy="clip")
    if surrogate.provider != CUDA_PROVIDER:
        return f"skipped: the CUDA session fell back to {surrogate.provider}"
    return ("ONNX Runtime CUDA, device-resident torch tensors", surrogate,
            lambda x: torch.as_tensor(x, device="cuda"))


def bench_cells(input_names: Sequence[str], ranges: dict[str, tuple[float, float]], table: Path | None,
                n_cells: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """`n_cells` shuffled input rows of the table (drawn with replacement), else uniform in the model's ranges."""
    from surrogate.table import Table

    rng = np.random.default_rng(seed)
    if table is not None and table.is_file():
        source = Table(table)
        if all(name in source.columns for name in input_names):
            rows = source.read_matrix(input_names)
            picked = rows[rng.integers(0, len(rows), n_cells)]
            return np.ascontiguousarray(picked, dtype=np.float32), f"rows of {table}"
    cells = np.stack([rng.uniform(*ranges[name], n_cells) for name in input_names], axis=1)
    return np.ascontiguousarray(cells, dtype=np.float32), "points drawn uniformly in the trained ranges"


@dataclass
class BenchReport:
    """Throughput of every engine at every batch size, memory of model and table, and the C comparison."""

    batches: list[int]
    engines: list[EngineResult]
    cells_source: str
    memory: dict[str, Any]
    notes: list[str]
    backends: tuple[str, str] | None = None  # (table engine, network engine) names, with --table-model
    lookup: Any = None  # export.benchmarks.lookup.LookupReport: network against compiled lookups, wrapper against raw
    profile: Any = None  # export.benchmarks.kernel_profile.KernelProfile: where a call's time goes, by operator type

    def engine(self, prefix: str) -> EngineResult | None:
        return next((e for e in self.engines if e.name.startswith(prefix) and e.rates), None)

    def c_ratios(self) -> dict[str, float] | None:
        """Python (checked runtime) over C at batch 4096, mean to mean and best call to best call."""
        python, c = self.engine("ONNX Runtime Python, Surrogate"), self.engine("ONNX Runtime C API")
        if python is None or c is None or REFERENCE_BATCH not in python.rates or REFERENCE_BATCH not in c.rates:
            return None
        p, r = python.rates[REFERENCE_BATCH], c.rates[REFERENCE_BATCH]
        return {"mean": p.mean / r.mean, "best": p.best / r.best}

    def backend_rates(self) -> dict[int, dict[str, float]] | None:
        """Per batch size: cells/s (mean) of the table backend and of the network, and table / network."""
        if self.backends is None:
            return None
        table, network = (next((e for e in self.engines if e.name == name), None) for name in self.backends)
        if table is None or network is None:
            return None
        return {b: {"table": table.rates[b].mean, "network": network.rates[b].mean,
                    "table_over_network": table.rates[b].mean / network.rates[b].mean}
                for b in self.batches if b in table.rates and b in network.rates}

    def backend_lines(self) -> list[str]:
        rates = self.backend_rates()
        if self.backends is None:
            return []
        if not rates:
            return ["table backend vs network: not measured (see the notes)"]
        return [f"table backend vs network ({self.backends[0]} / {self.backends[1]}), cells/s:"] + [
            f"  batch {b:>7d}: table {r['table']:.3g}, network {r['network']:.3g}, table / network "
            f"{r['table_over_network']:.3g}" for b, r in rates.items()]

    def lines(self) -> list[str]:
        width = max(len(e.name) for e in self.engines)
        out = [f"cells: {self.cells_source}", "throughput, cells/s (mean over timed calls after a warm-up):",
               f"{'engine':<{width}} " + " ".join(f"{b:>9d}" for b in self.batches)]
        for engine in self.engines:
            cells = [f"{engine.rates[b].mean:>9.3g}" if b in engine.rates else f"{'-':>9}" for b in self.batches]
            out.append(f"{engine.name:<{width}} " + " ".join(cells) + (f"  ({engine.note})" if engine.note else ""))
        ratios = self.c_ratios()
        if ratios is None:
            out.append(f"ONNX Runtime Python vs C at batch {REFERENCE_BATCH}: no C measurement")
        else:
            out.append(f"ONNX Runtime called from Python, as a share of the same model's cells/s called from C, at "
                       f"batch {REFERENCE_BATCH}: best call {ratios['best']:.2f}, mean {ratios['mean']:.2f} (1: no "
                       "Python overhead)")
        out += self.backend_lines()
        out += self.flop_lines()
        if self.profile is not None:
            out.append(self.profile.line())
        if self.lookup is not None:
            out += self.lookup.lines()
        memory = self.memory
        out.append(f"model: {memory['model']['file_bytes']} bytes ONNX file, {memory['model']['parameters']} "
                   f"stored numbers ({memory['model']['parameter_bytes']} bytes)")
        if "table_bytes" in memory:
            out.append(f"structured table: {memory['table_bytes']} bytes of arrays, {memory['table_over_model']:.3g} "
                       "times the ONNX file that replaces it")
        out += [f"note: {note}" for note in self.notes]
        return out

    def flop_lines(self) -> list[str]:
        """The FLOP-bound limit and the C API's best call against it; folded against unfolded graph."""
        flops, rate = self.memory.get("flops_per_cell"), self.memory.get("gemm_flops_per_second")
        c, unfolded = self.engine("ONNX Runtime C API"), self.engine("unfolded graph: ONNX Runtime C API")
        lines = []
        if flops and rate:
            limit = rate / flops
            lines.append(f"FLOP-bound limit: {flops} flops/cell in the linear layers, float32 GEMM {rate:.3g} flop/s "
                         f"here -> {limit:.3g} cells/s")
            if c is not None:
                best = max(r.best for r in c.rates.values())
                lines.append(f"C API best call {best:.3g} cells/s = {best / limit:.0%} of the FLOP-bound limit")
        if c is not None and unfolded is not None:
            shared = [b for b in c.rates if b in unfolded.rates]
            lines += [f"folded / unfolded graph, C API best call at batch {b}: "
                      f"{c.rates[b].best / unfolded.rates[b].best:.2f}" for b in shared if b >= 1000]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches, "cells": self.cells_source, "memory": self.memory, "notes": self.notes,
            "python_over_c_at_4096": self.c_ratios(),
            "table_vs_network": ({str(b): r for b, r in rates.items()}
                                 if (rates := self.backend_rates()) is not None else None),
            "lookup": self.lookup.to_dict() if self.lookup is not None else None,
            "profile": self.profile.to_dict() if self.profile is not None else None,
            "engines": {e.name: {"note": e.note, "cells_per_second": {str(b): vars(r) for b, r in e.rates.items()}}
                        for e in self.engines},
        }


def backend_engines(table_model: Path, binary: Path | None, network: list[Engine], cells: np.ndarray,
                    input_names: Sequence[str], threads: int, min_time: float) -> tuple[Engine, str]:
    """The table-backend file's engine, measured the way the network is: through the C wrapper (its compiled lookup)
    when the C example is there, else the Python runtime (its ONNX graph) on the Z and C columns of `cells`; and
    the name of the network engine to compare it with."""
    from surrogate.errors import UserError

    info = read_model_file(table_model)[1]
    if "fpv_table" not in info.raw:
        raise UserError(f"--table-model {table_model}: not a table-backend file (no metadata 'fpv_table'; write one "
                        "from a flamelet or fpv table with `surrogate export TABLE.h5 -o TABLE.onnx`)")
    if binary is not None:
        engine = c_example_engine(binary, table_model, threads, min_time)
        return (Engine(f"table backend, C API compiled lookup ({_threads(threads)})", engine.measure),
                next(e.name for e in network if e.name.startswith("ONNX Runtime C API")))
    missing = [name for name in info.input_names if name not in input_names]
    if missing:
        raise UserError(f"--table-model {table_model}: takes {', '.join(missing)}, which the network does not")
    columns = np.ascontiguousarray(cells[:, [list(input_names).index(name) for name in info.input_names]])
    surrogate = Surrogate(table_model, provider="cpu", threads=threads, policy="clip")
    return (python_engine(f"table backend, Python runtime ({_threads(threads)})", surrogate, columns, min_time),
            next(e.name for e in network if e.name.startswith("ONNX Runtime Python, Surrogate")))


def run_benchmark(*, run_dir: Path | None, model: Path | None, table: Path | None, batches: Sequence[int],
                  threads: int, min_time: float, c_bench: Path | None, scratch: Path,
                  echo: Callable[[str], None], table_model: Path | None = None, grid_table: Path | None = None,
                  grid_sizes: Sequence[tuple[int, float]] = ()) -> BenchReport:
    """Every engine on the same cells; a run without a model file is exported to `scratch` first; with
    `table_model` (a table-backend file) the table backend too, against the network; with `grid_sizes`, the
    network against compiled lookups of the 2-D table and of N-D grids (:func:`lookup_comparison`)."""
    import torch

    from surrogate.errors import UserError
    from surrogate.run import load_run

    from ..onnx_export import export_run

    notes: list[str] = []
    run = load_run(run_dir) if run_dir is not None else None
    if model is None:
        model = export_run(run, scratch / "model.onnx").path
        echo(f"exported {run_dir} to a temporary ONNX file for the benchmark")
    info = read_model_file(model)[1]
    table = table if table is not None else (run.table_path if run is not None else None)
    cells, source = bench_cells(info.input_names, info.input_ranges, table, max(batches))
    engines = [python_engine(name, call, cells, min_time) for name, call in ort_engines(model, threads)]

    binary = c_bench or find_c_program("example_c")
    if binary is None:
        notes.append(f"{not_found('example_c', '--c-bench')}: no C comparison")
    else:
        engines.append(c_example_engine(binary, model, threads, min_time))
        if run is not None:  # the graph before folding, timed in the same run
            unfolded = export_run(run, scratch / "unfolded.onnx", fold=False).path
            engine = c_example_engine(binary, unfolded, threads, min_time)
            engines.append(Engine(f"unfolded graph: {engine.name}", engine.measure))
        else:
            notes.append("unfolded graph not timed: needs --run (to export it without folding)")
    backends = None
    if table_model is not None:
        engine, network = backend_engines(table_model, binary, engines, cells, info.input_names, threads, min_time)
        engines.append(engine)
        backends = (engine.name, network)

    if run is None:
        notes.append("PyTorch eager skipped: needs --run")
    else:
        torch.set_num_threads(threads)
        network = run.model.eval()

        def eager(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return network(torch.from_numpy(x)).numpy()

        engines.append(python_engine(f"PyTorch eager ({_threads(threads)})", eager, cells, min_time))

    memory: dict[str, Any] = {"model": model_memory(model)}
    if table is None or not table.is_file():
        notes.append("table lookup skipped: no table file (give --table)")
    else:
        try:
            name, lookup, nbytes, _ = table_lookup(table, info.input_names, info.output_names)
        except UserError as exc:  # e.g. a table without a structured group: say so, bench the rest
            notes.append(f"table lookup skipped: {exc}")
        else:
            engines.append(python_engine(name, lookup, cells, min_time))
            memory["table_bytes"] = nbytes
            memory["table_over_model"] = nbytes / memory["model"]["file_bytes"]

    gpu = cuda_engine(model)
    if isinstance(gpu, str):
        notes.append(f"CUDA provider {gpu}")
    else:
        name, call, to_device = gpu
        engines.append(python_engine(name, call, to_device(cells), min_time))
    flops = flops_per_cell(model)
    memory["flops_per_cell"] = flops
    memory["gemm_flops_per_second"] = gemm_rate(threads)
    lookup = None
    if grid_sizes:  # first: a grid that cannot be made is refused before minutes of timing
        lookup = lookup_comparison(model, table_model, table, grid_table, grid_sizes, batches, threads, min_time,
                                   memory["gemm_flops_per_second"] / flops if flops else None, scratch, notes, echo,
                                   c_bench.parent if c_bench is not None else None)
    results = measure_all(engines, batches, echo)
    profile = kernel_profile(model, cells[:REFERENCE_BATCH], threads, scratch)
    return BenchReport(list(batches), results, source, memory, notes, backends, lookup, profile)


def lookup_comparison(model: Path, table_model: Path | None, table: Path | None, grid_table: Path | None,
                      grid_sizes: Sequence[tuple[int, float]], batches: Sequence[int], threads: int, min_time: float,
                      flop_limit: float | None, scratch: Path, notes: list[str], echo: Callable[[str], None],
                      beside: Path | None = None) -> Any:
    """The network against the compiled lookups (export/c/bench_lookup, found in `beside` first, the folder of
    --c-bench): the table backend (`table_model`, else one exported from `table`'s (Z, Λ) grid) and the grids of
    `grid_sizes` made from `grid_table` (else from a presumed-PDF table built from `table`); None, with a note,
    without bench_lookup."""
    from surrogate.errors import UserError

    from .grid_file import enlarge, read_grid, write_grid
    from .lookup import run_lookup_bench
    from ..table_model import export_table

    binary = beside / "bench_lookup" if beside is not None and (beside / "bench_lookup").is_file() else None
    binary = binary or find_c_program("bench_lookup")
    if binary is None:
        notes.append(f"{not_found('bench_lookup', '--c-bench')}: no network against compiled table lookups")
        return None
    if table_model is None and table is not None:
        try:
            written = export_table(table, scratch / "table_backend.onnx")
            table_model = Path(getattr(written, "path", written))
        except UserError as exc:
            notes.append(f"no 2-D table backend: {exc}")
    grids = []
    if grid_sizes:
        source = grid_table or presumed_pdf_from(table, scratch, echo)
        base = read_grid(source)
        for k, (dims, target) in enumerate(grid_sizes):
            grid = enlarge(base, dims, target)
            path = write_grid(grid, scratch / f"grid{k}.bin")
            as_built = dims == len(base.axes) and grid.values.shape == base.values.shape
            origin = (f"as built: {source.name}" if as_built else
                      f"synthetic: {source.name} refined{' and repeated along a 5th axis' if dims > len(base.axes) else ''}"
                      f", values interpolated from it")
            shape = "x".join(str(len(a)) for a in grid.axes)
            grids.append((path, f"{dims}-D presumed-PDF grid {shape}", origin))
            echo(f"grid {k}: {shape} x {len(grid.outputs)} outputs, {grid.nbytes / 1e6:.3g} MB ({origin})")
            del grid
    table_bytes = None
    if table_model is not None:
        shape = json.loads(read_model_file(table_model)[1].raw[TABLE_KEY])["shape"]
        table_bytes = 4 * int(np.prod(shape)) + 8 * (3 * shape[0] + shape[1])
    return run_lookup_bench(binary, model, table_model=table_model, grids=grids, batches=batches, threads=threads,
                            min_time=min_time, model_bytes=model.stat().st_size, table_model_bytes=table_bytes,
                            flop_limit=flop_limit)


def presumed_pdf_from(table: Path | None, scratch: Path, echo: Callable[[str], None]) -> Path:
    """A 4-D presumed-PDF table (beta PDFs of Z and Λ, the generator's default nodes) built from the flamelet
    table `table` into `scratch`: the real table the larger grids are made from."""
    from surrogate import registry
    from surrogate.errors import UserError

    if table is None or not table.is_file():
        raise UserError("--grid-sizes needs --grid-table PRESUMED_PDF.h5, or a flamelet table (--table or the run's)")
    generator, options = registry.configure("tables", "presumed-pdf",
                                            {"source": str(table), "lambda_pdf": "beta", "mc_check": 0})
    echo(f"building a 4-D presumed-PDF table from {table} for the lookup grids")
    generator.build(scratch / "presumed_pdf.h5", progress=False, **options)
    return scratch / "presumed_pdf.h5"
