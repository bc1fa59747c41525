"""The network against compiled table lookups, and the C wrapper against a raw ONNX Runtime session.

One C process (export/c/bench_lookup.c) calls, on one thread, with the same batch sizes and round-robin so that
load from elsewhere hits all alike: the network through the wrapper (``surrogate_run``, with its range and
manifold checks), the same file through a bare ONNX Runtime session with the same session options, the table
backend of the flamelet table (the wrapper's compiled (Z, Λ) lookup) and N-D multilinear lookups of presumed-PDF
grids from tens of MB to GB (:mod:`export.benchmarks.grid_file`). From its lines this module states, per table, the
*crossover*: the smallest batch from which the network's median call evaluates more cells per second than the
table lookup's (or that it never does up to the largest batch), beside table bytes / ONNX file bytes; and the wrapper as a
fraction of the raw session and of the FLOP-bound limit at batch 4096, for the mean, the median and the best call
(the median: what a call takes when the system does not preempt it, on a shared machine).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

REFERENCE_BATCH = 4096
BENCH_LINE = re.compile(r"^bench (.*)$", re.MULTILINE)
GRID_LINE = re.compile(r"^grid (.*)$", re.MULTILINE)
CALLS = ("mean", "median", "best")  # the mean call (all cells over all time), the median call, the fastest call


@dataclass
class LookupTable:
    """One table of the comparison: its engine in bench_lookup, a label, its bytes and how it was made."""

    engine: str
    label: str
    nbytes: int
    origin: str


@dataclass
class LookupReport:
    """cells/s (mean, best) per engine and batch, the tables, and the network's ONNX file and FLOP-bound limit."""

    batches: list[int]
    rates: dict[str, dict[int, dict[str, float]]]
    tables: list[LookupTable]
    model_bytes: int
    flop_limit: float | None = None
    notes: list[str] = field(default_factory=list)

    def crossover(self, table: LookupTable) -> dict[str, Any]:
        """Network (wrapper) against `table` at every batch, median call against median call (what a call takes
        when the system does not preempt it; about the mean on a quiet machine): the first batch from which the
        network stays faster (None: never), and table bytes / ONNX file bytes."""
        network, lookup = self.rates.get("wrapper", {}), self.rates.get(table.engine, {})
        shared = [b for b in self.batches if b in network and b in lookup]
        ratio = {b: network[b]["median"] / lookup[b]["median"] for b in shared}
        faster = [b for b in shared if all(ratio[c] > 1 for c in shared if c >= b)]
        return {"table": table.label, "origin": table.origin, "table_bytes": table.nbytes,
                "table_over_model": table.nbytes / self.model_bytes,
                "network_over_table": {str(b): r for b, r in ratio.items()},
                "crossover_batch": faster[0] if faster else None}

    def size_crossover(self) -> dict[str, Any]:
        """The smallest table from which the network has a crossover against every table as large or larger (the
        tables in order of bytes, whatever their axes); None in every field when it has none against the largest."""
        ranked = sorted(self.tables, key=lambda t: t.nbytes)
        beaten = [self.crossover(t)["crossover_batch"] is not None for t in ranked]
        first = next((k for k in range(len(ranked)) if all(beaten[k:])), None)
        if first is None:
            return {"table": None, "table_bytes": None, "table_over_model": None}
        table = ranked[first]
        return {"table": table.label, "table_bytes": table.nbytes, "table_over_model": table.nbytes / self.model_bytes}

    def wrapper(self) -> dict[str, float] | None:
        """At batch 4096: wrapper / raw session, wrapper / FLOP-bound limit and raw session / FLOP-bound limit, for
        the mean, median and best call."""
        wrapper, raw = self.rates.get("wrapper", {}), self.rates.get("raw", {})
        if REFERENCE_BATCH not in wrapper or REFERENCE_BATCH not in raw:
            return None
        w, r = wrapper[REFERENCE_BATCH], raw[REFERENCE_BATCH]
        out = {f"over_raw_{call}": w[call] / r[call] for call in CALLS}
        if self.flop_limit:  # the raw session's share too: the most a wrapper around it can reach
            out.update({f"of_flop_limit_{call}": w[call] / self.flop_limit for call in CALLS})
            out.update({f"raw_of_flop_limit_{call}": r[call] / self.flop_limit for call in CALLS})
        return out

    def lines(self) -> list[str]:
        out = ["network (C wrapper) against compiled table lookups, same process and thread, cells/s (median call):",
               f"{'engine':<34} " + " ".join(f"{b:>9d}" for b in self.batches)]
        names = {"wrapper": "network, C wrapper", "raw": "network, raw ONNX Runtime session"}
        names.update({t.engine: t.label for t in self.tables})
        for engine, rates in self.rates.items():
            cells = [f"{rates[b]['median']:>9.3g}" if b in rates else f"{'-':>9}" for b in self.batches]
            out.append(f"{names.get(engine, engine)[:34]:<34} " + " ".join(cells))
        for table in self.tables:
            c = self.crossover(table)
            when = (f"the network is faster from batch {c['crossover_batch']}" if c["crossover_batch"] is not None
                    else f"the network is not faster up to batch {self.batches[-1]}")
            out.append(f"crossover, {table.label}: {when}; table {c['table_bytes'] / 1e6:.3g} MB = "
                       f"{c['table_over_model']:.3g} x the ONNX file ({table.origin})")
        if self.tables:
            size = self.size_crossover()
            out.append("crossover in table size: " + (
                f"the network is faster, from some batch on, than the lookup of every table from {size['table']} on "
                f"({size['table_bytes'] / 1e6:.3g} MB = {size['table_over_model']:.3g} x the ONNX file)"
                if size["table"] is not None else "the network is not faster than the lookup of the largest table"))
        w = self.wrapper()
        if w is not None:
            out.append(f"C wrapper / raw ONNX Runtime session at batch {REFERENCE_BATCH}: "
                       + ", ".join(f"{call} call {w[f'over_raw_{call}']:.2f}" for call in CALLS))
            if "of_flop_limit_mean" in w:
                out.append(f"C wrapper at batch {REFERENCE_BATCH}, share of the FLOP-bound limit "
                           f"({self.flop_limit:.3g} cells/s): "
                           + ", ".join(f"{call} call {w[f'of_flop_limit_{call}']:.0%}" for call in CALLS)
                           + "; raw session: " + ", ".join(f"{call} call {w[f'raw_of_flop_limit_{call}']:.0%}"
                                                          for call in CALLS))
        return out + [f"note: {note}" for note in self.notes]

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "model_bytes": self.model_bytes, "flop_limit_cells_per_second": self.flop_limit,
                "cells_per_second": {e: {str(b): r for b, r in rates.items()} for e, rates in self.rates.items()},
                "crossover": [self.crossover(t) for t in self.tables], "size_crossover": self.size_crossover(),
                "wrapper": self.wrapper(), "notes": self.notes}


def parse_output(text: str) -> tuple[dict[str, dict[int, dict[str, float]]], dict[int, int]]:
    """bench_lookup's lines: {engine: {batch: {mean, best, calls}}} and {grid index: bytes}."""
    rates: dict[str, dict[int, dict[str, float]]] = {}
    for match in BENCH_LINE.finditer(text):
        fields = dict(part.split("=", 1) for part in match.group(1).split())
        rates.setdefault(fields["engine"], {})[int(fields["batch"])] = {
            "mean": float(fields["cells_per_second"]), "best": float(fields["best_cells_per_second"]),
            "median": float(fields["median_cells_per_second"]), "calls": float(fields["calls"])}
    grids = {}
    for match in GRID_LINE.finditer(text):
        fields = dict(part.split("=", 1) for part in match.group(1).split(" ", 3))
        grids[int(fields["index"])] = int(fields["bytes"])
    return rates, grids


def run_lookup_bench(binary: Path, network: Path, *, table_model: Path | None, grids: Sequence[tuple[Path, str, str]],
                     batches: Sequence[int], threads: int, min_time: float, model_bytes: int,
                     table_model_bytes: int | None = None, flop_limit: float | None = None) -> LookupReport:
    """Run bench_lookup once; `grids` are (grid file, label, origin)."""
    from .inference import EngineFailure

    command = [str(binary), str(network), "--batches", ",".join(str(b) for b in batches), "--threads", str(threads),
               "--min-time", str(min_time)]
    if table_model is not None:
        command += ["--table", str(table_model)]
    for path, _, _ in grids:
        command += ["--grid", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise EngineFailure(f"{binary} failed (exit {done.returncode}): {done.stderr.strip()[:300]}")
    rates, sizes = parse_output(done.stdout)
    tables = []
    if table_model is not None:
        tables.append(LookupTable("table", "2-D (Z, Lambda) table backend", table_model_bytes or 0,
                                  f"the compiled lookup of {table_model.name}"))
    tables += [LookupTable(f"grid{k}", label, sizes.get(k, 0), origin) for k, (_, label, origin) in enumerate(grids)]
    return LookupReport(list(batches), rates, tables, model_bytes, flop_limit)
