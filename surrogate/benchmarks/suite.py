"""Benchmark suites: the declaration of a published table, read from a YAML file.

A suite names the tables it builds (a generator and its options), the runs that make its rows (training
options, or a ``surrogate bench`` command), the seeds, and the metrics that make its columns (key paths into
each run's ``metrics.json`` or bench report). Its ``quick`` entry shrinks it to a tier that CI can run: fewer
seeds, a subset of the rows, smaller tables and budgets, merged over the full declaration. File format::

    title: H2/air flamelet surrogate, test R² per species
    description: One paragraph printed above the table.
    tables:
      h2: {kind: h2-flamelet, options: {strain-factor: 1.3}}
      fine: {kind: h2-flamelet, options: {strain-factor: 1.07}}
    runs:
      - {label: random split, table: h2, train: {split-by: random}}
      - {label: trainer vs DataLoader, table: h2, bench: train, bench_options: {batch-sizes: "256"}}
      - {label: h2 against a finer sweep, table: h2, bench: table-error, reference: fine}
    metrics:
      Y_H2: test.Y_H2.r2                                  # a dotted key path ...
      C API cells/s: [engines, ONNX Runtime C API, cells_per_second, "4096", mean]   # ... or a list of keys
      error %: {path: test.u.rel_l2, scale: 100, format: .3g}
      speed-up: {ratio: [a.b, c.d]}                        # value at the first path over the second
    seeds: [0, 1, 2]
    format: .5f
    quick: {seeds: [0], runs: [random split], tables: {h2: {options: {strain-factor: 2}}}, train: {epochs: 20}}

Option mappings become command-line options: ``{split-by: group}`` is ``--split-by group``, ``true`` a bare
flag, a list a repeated option. A run may carry its own ``quick: {train: ..., bench_options: ...}``. A run's
``reference`` names another table of the suite, built like the others and given to its bench command as
``--reference PATH`` (``bench table-error`` judges the run's table against it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

TIERS = ("full", "quick")
BENCH_COMMANDS = ("train", "pinn", "infer", "cfd", "table-error")
UNTRAINED_BENCHES = ("train", "pinn", "table-error")  # benches that train themselves, or judge a table as it is
REFERENCE_BENCHES = ("table-error",)  # benches that take a second suite table as --reference
SUITE_KEYS = {"title", "description", "tables", "runs", "metrics", "seeds", "format", "transpose", "quick"}
RUN_KEYS = {"label", "table", "train", "bench", "bench_options", "reference", "quick"}
QUICK_KEYS = {"seeds", "runs", "tables", "train", "bench_options"}


@dataclass(frozen=True)
class Metric:
    """One column: the number at `path` in a run's result file (over the number at `divide_by`), times `scale`."""

    label: str
    path: tuple[str, ...]
    divide_by: tuple[str, ...] | None = None
    scale: float = 1.0
    format: str | None = None

    def value(self, data: Any, source: str) -> float | None:
        """This metric read from the parsed result file `data` (named `source` in errors); None for JSON null."""
        value = number_at(data, self.path, source)
        if value is not None and self.divide_by is not None:
            divisor = number_at(data, self.divide_by, source)
            value = None if not divisor else value / divisor
        return None if value is None else value * self.scale

    def describe(self) -> str:
        text = ".".join(self.path) + (f" / {'.'.join(self.divide_by)}" if self.divide_by else "")
        return text if self.scale == 1.0 else f"{text} × {self.scale:g}"


@dataclass(frozen=True)
class TableSpec:
    """A table a suite builds: ``surrogate table build KIND -o PATH --OPTION VALUE ...``."""

    name: str
    kind: str
    options: dict[str, Any]

    def key(self) -> str:
        """A short hash of kind and options: equal specs share one built table."""
        text = repr((self.kind, sorted((k, repr(v)) for k, v in self.options.items())))
        return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class RunSpec:
    """One row: a training (options for ``surrogate train``) and/or a ``surrogate bench`` command on a table (and,
    for a bench that compares two, on a `reference` table)."""

    label: str
    table: TableSpec
    train: dict[str, Any] | None
    bench: str | None
    bench_options: dict[str, Any]
    reference: TableSpec | None = None


@dataclass(frozen=True)
class Suite:
    """A suite resolved for one tier."""

    name: str
    tier: str
    title: str
    description: str
    runs: tuple[RunSpec, ...]
    metrics: tuple[Metric, ...]
    seeds: tuple[int, ...]
    format: str
    transpose: bool
    source: Path
    source_sha256: str


def lookup(data: Any, path: tuple[str, ...], source: str) -> Any:
    """The value at `path` in nested dicts/lists (list items by integer index); a one-line error naming the
    first key that is missing and the keys that are there."""
    node = data
    for depth, key in enumerate(path):
        if isinstance(node, list) and key.lstrip("-").isdigit() and -len(node) <= int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            where = ".".join(path[:depth]) or "the top level"
            there = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
            raise UserError(f"{source}: no {key!r} at {where} (there: {there[:300]})")
    return node


def number_at(data: Any, path: tuple[str, ...], source: str) -> float | None:
    """The number at `path` (None for JSON null); a one-line error when something else is there."""
    value = lookup(data, path, source)
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return None if value is None else float(value)
    there = f"keys {', '.join(map(str, value))[:300]}" if isinstance(value, dict) else type(value).__name__
    raise UserError(f"{source}: {'.'.join(path)} is not a number ({there})")


def suite_path(name: str, suites_dir: Path) -> Path:
    """The file of suite `name` in `suites_dir` (or `name` itself when it is a path to a .yaml file)."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    path = suites_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(suite_names(suites_dir)) or "none"
        raise UserError(f"unknown suite {name!r}: no {path} (suites in {suites_dir}: {known})")
    return path


def suite_names(suites_dir: Path) -> list[str]:
    """Names of the suites declared in `suites_dir`, sorted."""
    return sorted(path.stem for path in suites_dir.glob("*.yaml")) if suites_dir.is_dir() else []


def load_suite(path: Path, tier: str = "full") -> Suite:
    """Read and check the suite file `path` and resolve it for `tier` ("full" or "quick")."""
    import yaml

    if tier not in TIERS:
        raise UserError(f"tier {tier!r}: expected one of {', '.join(TIERS)}")
    text = path.read_text()
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or exc.__class__.__name__
        raise UserError(f"{path}: not valid YAML{where}: {reason}") from None
    _check_mapping(spec, SUITE_KEYS, path, "the suite")
    for key in ("title", "tables", "runs", "metrics", "seeds"):
        if key not in spec:
            raise UserError(f"{path}: missing {key!r}")
    quick = spec.get("quick") or {}
    _check_mapping(quick, QUICK_KEYS, path, "quick")
    if tier == "quick" and not quick:
        raise UserError(f"{path}: no 'quick' tier declared")
    is_quick = tier == "quick"

    tables = _tables(spec["tables"], quick.get("tables") if is_quick else None, path)
    runs = _runs(spec["runs"], tables, quick if is_quick else None, path)
    seeds = quick.get("seeds", spec["seeds"]) if is_quick else spec["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: 'seeds' must be a non-empty list of integers")
    return Suite(name=path.stem, tier=tier, title=_text(spec["title"], "title", path),
                 description=_text(spec.get("description", ""), "description", path).strip(), runs=runs,
                 metrics=_metrics(spec["metrics"], path), seeds=tuple(seeds), format=str(spec.get("format", ".4g")),
                 transpose=bool(spec.get("transpose", False)), source=path,
                 source_sha256=hashlib.sha256(text.encode()).hexdigest())


def _check_mapping(value: Any, allowed: set[str], path: Path, what: str) -> None:
    if not isinstance(value, dict):
        raise UserError(f"{path}: {what} must be a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r} in {what} (allowed: {', '.join(sorted(allowed))})")


def _text(value: Any, key: str, path: Path) -> str:
    if not isinstance(value, str):
        raise UserError(f"{path}: {key!r} must be text")
    return value


def _options(value: Any, path: Path, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{path}: {what} must be a mapping of option names to values")
    return dict(value)


def _tables(spec: Any, quick: Any, path: Path) -> dict[str, TableSpec]:
    if not isinstance(spec, dict) or not spec:
        raise UserError(f"{path}: 'tables' must map table names to {{kind: ..., options: ...}}")
    quick = _options(quick, path, "quick.tables")
    unknown = sorted(set(quick) - set(spec))
    if unknown:
        raise UserError(f"{path}: quick.tables names {unknown[0]!r}, which 'tables' does not declare")
    tables = {}
    for name, entry in spec.items():
        _check_mapping(entry, {"kind", "options"}, path, f"table {name!r}")
        if not isinstance(entry.get("kind"), str):
            raise UserError(f"{path}: table {name!r} needs a 'kind' (a table generator, see `surrogate plugins`)")
        options = _options(entry.get("options"), path, f"table {name!r} options")
        options.update(_options((quick.get(name) or {}).get("options"), path, f"quick.tables.{name}.options"))
        tables[name] = TableSpec(str(name), entry["kind"], options)
    return tables


def _runs(spec: Any, tables: dict[str, TableSpec], quick: dict[str, Any] | None, path: Path) -> tuple[RunSpec, ...]:
    if not isinstance(spec, list) or not spec:
        raise UserError(f"{path}: 'runs' must be a non-empty list")
    runs = []
    for entry in spec:
        _check_mapping(entry, RUN_KEYS, path, "a run")
        label = entry.get("label")
        if not isinstance(label, str) or not label:
            raise UserError(f"{path}: every run needs a 'label'")
        if entry.get("table") not in tables:
            raise UserError(f"{path}: run {label!r}: 'table' must be one of {', '.join(tables)}")
        bench = entry.get("bench")
        if bench is not None and bench not in BENCH_COMMANDS:
            raise UserError(f"{path}: run {label!r}: 'bench' must be one of {', '.join(BENCH_COMMANDS)}")
        train = entry.get("train", None if bench in UNTRAINED_BENCHES else {})
        train = None if train is None else _options(train, path, f"run {label!r} train")
        if bench == "infer" and train is None:
            raise UserError(f"{path}: run {label!r}: bench infer needs a training ('train') to time")
        bench_options = _options(entry.get("bench_options"), path, f"run {label!r} bench_options")
        reference = entry.get("reference")
        if (reference is not None) != (bench in REFERENCE_BENCHES):
            raise UserError(f"{path}: run {label!r}: 'reference' (a table of the suite) goes with, and only with, "
                            f"bench {' or '.join(REFERENCE_BENCHES)}")
        if reference is not None and reference not in tables:
            raise UserError(f"{path}: run {label!r}: 'reference' must be one of {', '.join(tables)}")
        if quick is not None:
            own = entry.get("quick") or {}
            _check_mapping(own, {"train", "bench_options"}, path, f"run {label!r} quick")
            if train is not None:
                train.update(_options(quick.get("train"), path, "quick.train"))
                train.update(_options(own.get("train"), path, f"run {label!r} quick.train"))
            bench_options.update(_options(quick.get("bench_options"), path, "quick.bench_options"))
            bench_options.update(_options(own.get("bench_options"), path, f"run {label!r} quick.bench_options"))
        runs.append(RunSpec(label, tables[entry["table"]], train, bench, bench_options,
                            None if reference is None else tables[reference]))
    labels = [run.label for run in runs]
    if len(set(labels)) != len(labels):
        raise UserError(f"{path}: run labels must be unique")
    if quick is not None and "runs" in quick:
        chosen = quick["runs"]
        missing = [label for label in chosen if label not in labels] if isinstance(chosen, list) else [chosen]
        if missing:
            raise UserError(f"{path}: quick.runs names {missing[0]!r}, which is no run's label")
        runs = [run for run in runs if run.label in chosen]
    return tuple(runs)


def _key_path(value: Any, path: Path, label: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return tuple(value.split("."))
    if isinstance(value, list) and value and all(isinstance(key, (str, int)) for key in value):
        return tuple(str(key) for key in value)
    raise UserError(f"{path}: metric {label!r}: a key path is a dotted string or a list of keys")


def _metrics(spec: Any, path: Path) -> tuple[Metric, ...]:
    if not isinstance(spec, dict) or not spec:
        raise UserError(f"{path}: 'metrics' must map column labels to key paths")
    metrics = []
    for label, value in spec.items():
        if isinstance(value, dict):
            _check_mapping(value, {"path", "ratio", "scale", "format"}, path, f"metric {label!r}")
            if ("path" in value) == ("ratio" in value):
                raise UserError(f"{path}: metric {label!r} needs either 'path' or 'ratio'")
            if "ratio" in value:
                pair = value["ratio"]
                if not isinstance(pair, list) or len(pair) != 2:
                    raise UserError(f"{path}: metric {label!r}: 'ratio' is a list of two key paths")
                main, divide_by = _key_path(pair[0], path, label), _key_path(pair[1], path, label)
            else:
                main, divide_by = _key_path(value["path"], path, label), None
            scale = value.get("scale", 1.0)
            if not isinstance(scale, (int, float)):
                raise UserError(f"{path}: metric {label!r}: 'scale' must be a number")
            fmt = value.get("format")
            metrics.append(Metric(str(label), main, divide_by, float(scale), None if fmt is None else str(fmt)))
        else:
            metrics.append(Metric(str(label), _key_path(value, path, label)))
    return tuple(metrics)


def results_file(results_dir: Path, name: str, tier: str) -> Path:
    """Where the results of suite `name` at `tier` are stored: NAME.json (full) or NAME.quick.json."""
    return results_dir / (f"{name}.json" if tier == "full" else f"{name}.{tier}.json")
