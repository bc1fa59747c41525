"""The HTML run report: one self-contained page a user can send to a colleague (``surrogate report``).

Everything is inside the file: the figures are the run's plots inlined as base64 PNG (or SVG), the style is
inline, there is no script and no link to the network. Sections: the options the run was trained with; the
table's provenance (path, SHA-256 recorded at training and whether the file still has it, kind, the generator's
root attributes); the kept epoch's per-output metrics on every split with the task's trivial baselines beside
the model; the loss, weight, parity and task plots; the exported ONNX file's parity with PyTorch (when one is
given or found in the run directory); and the versions of the toolkit and of every plugin the run used.
"""

from __future__ import annotations

import base64
import html
import json
import math
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import __version__
from .run import HISTORY, METRICS, PLOTS, RunDirectory
from .table import file_sha256

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
code { background: #f4f4f4; padding: 0 .2em; word-break: break-all; }
figure { display: inline-block; margin: .5em; vertical-align: top; }
figure img, figure svg { max-width: 34em; height: auto; border: 1px solid #eee; }
figcaption { text-align: center; font-size: .9em; color: #555; }
.good { color: #1a7f37; } .bad { color: #b42318; font-weight: bold; }
"""
PLOT_CAPTIONS = {"training": "Loss curves (training and validation per epoch)",
                 "weights": "Weights the strategy gave each loss term per epoch",
                 "parity": "Parity: predicted against true values on the test split"}
METRIC_NAMES = {"r2": "R²", "mse": "MSE", "mre": "mean relative error", "max_abs": "max |error|",
                "rel_l2": "relative L2 error"}


@dataclass
class ExportedModel:
    """What the report shows of an ONNX file exported from the run: its path, the largest |ONNX Runtime -
    PyTorch| per output component measured at export, and its metadata (precision, opset, table hash, ...)."""

    path: Path
    parity: Mapping[str, Mapping[str, float]]
    metadata: Mapping[str, str]


def escape(value: Any) -> str:
    return html.escape(str(value))


def number(value: Any) -> str:
    """A metric as the report prints it: integers as such, floats to 6 significant digits, undefined as such."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(value)
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: int = 1) -> str:
    """An HTML table: cells of the first `text_columns` columns are HTML the caller escaped (left-aligned), the
    others numbers (:func:`number`)."""
    def kind(index: int) -> str:
        return ' class="text"' if index < text_columns else ""

    head = "".join(f"<th{kind(i)}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{kind(i)}>{v if i < text_columns else number(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_values(items: Mapping[str, Any]) -> str:
    """A two-column table of settings; structures shown as compact JSON."""
    rows = [(escape(k), f"<code>{escape(json.dumps(v) if isinstance(v, (dict, list)) else v)}</code>")
            for k, v in items.items()]
    return table(["setting", "value"], rows, text_columns=2)


def figure(path: Path) -> str:
    """A plot inlined: PNG as a base64 data URI, SVG as its own markup."""
    caption = escape(PLOT_CAPTIONS.get(path.stem, path.stem.replace("_", " ")))
    if path.suffix.lower() == ".svg":
        body = path.read_text()
        body = body[body.find("<svg"):]
    else:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body = f'<img alt="{caption}" src="data:image/png;base64,{data}">'
    return f"<figure>{body}<figcaption>{caption}</figcaption></figure>"


def options_section(config: Mapping[str, Any]) -> str:
    plugins = {"task": config.get("task"), "model": config.get("model"), "weighting": config.get("weighting"),
               "physics": config.get("physics")}
    trainer = {k: v for k, v in (config.get("trainer") or {}).items()
               if k not in ("task_options", "model_options", "weighting_options", "physics_options")}
    return key_values({k: v for k, v in plugins.items() if v}) + key_values(trainer)


def table_section(config: Mapping[str, Any]) -> str:
    """Path, recorded hash and whether the file there still has it, kind, and the table's root attributes."""
    path = Path(str(config.get("table", "")))
    recorded = str(config.get("table_sha256", ""))
    if not path.is_file():
        state = '<span class="bad">the file is not there any more</span>'
    elif file_sha256(path) == recorded:
        state = '<span class="good">the file there still has this hash</span>'
    else:
        state = '<span class="bad">the file there has changed since training (another SHA-256)</span>'
    rows = [("path", f"<code>{escape(path)}</code>"), ("SHA-256 at training", f"<code>{escape(recorded)}</code> "
                                                                               f"({state})"),
            ("kind", escape(config.get("table_kind", ""))), ("dataset", escape(config.get("dataset", "")))]
    attributes = ""
    if path.is_file():
        from .datasets import open_dataset

        attrs = open_dataset(path).attrs
        attributes = "<h3>Table attributes (how it was built)</h3>" + key_values(attrs)
    return table(["", ""], rows, text_columns=2) + attributes


def metrics_section(metrics: Mapping[str, Any]) -> str:
    """Per split, one row per output and one column per metric; then the baselines beside the model on the split
    the run is judged on."""
    parts = []
    for split in ("test", "val", "train"):
        scores = metrics.get(split)
        if not isinstance(scores, Mapping) or not scores:
            continue
        names = list(dict.fromkeys(k for values in scores.values() for k in values))
        parts.append(f"<h3>{escape(split)} split</h3>" + table(
            ["output", *(METRIC_NAMES.get(n, n) for n in names)],
            [(escape(output), *(values.get(n) for n in names)) for output, values in scores.items()]))
    block = metrics.get("baselines") or {}
    if block.get("scores"):
        split, metric = block.get("split", "test"), block.get("metric", "r2")
        model = metrics.get(split) or {}
        baselines = block["scores"]
        rows = [(escape(output), model[output].get(metric),
                 *((baselines[name].get(output) or {}).get(metric) for name in baselines)) for output in model]
        verdict = metrics.get("beats_baselines")
        summary = ("" if verdict is None else '<p class="good">The model beats every baseline.</p>' if verdict
                   else '<p class="bad">The model does not beat every baseline.</p>')
        skipped = "".join(f"<li>{escape(name)}: {escape(reason)}</li>"
                          for name, reason in (block.get("skipped") or {}).items())
        parts.append(f"<h3>Trivial baselines ({escape(split)} split, {escape(METRIC_NAMES.get(metric, metric))})</h3>"
                     + table(["output", "model", *baselines], rows) + summary
                     + (f"<p>Not computed:</p><ul>{skipped}</ul>" if skipped else ""))
    kept = metrics.get("kept_epoch")
    last = (metrics.get("last_epoch") or {}).get("epoch")
    if kept is not None:
        parts.insert(0, f"<p>Metrics of the kept epoch {escape(kept)} (best validation score) of {escape(last)} "
                        "trained; the test split never chose it.</p>")
    return "".join(parts)


def export_section(exported: ExportedModel | None, config: Mapping[str, Any]) -> str:
    if exported is None:
        return "<p>No exported model given (<code>--onnx</code>) or found in the run directory.</p>"
    rows = [(escape(tensor), escape(component), error) for tensor, components in exported.parity.items()
            for component, error in components.items()]
    same = exported.metadata.get("table_sha256") in (None, config.get("table_sha256"))
    facts = {"file": str(exported.path), **{k: v for k, v in exported.metadata.items()
                                            if k in ("precision", "opset", "toolkit_version", "table_sha256")}}
    warning = "" if same else '<p class="bad">This file was exported from a run on another table.</p>'
    return (key_values(facts) + warning + "<p>Largest |ONNX Runtime − PyTorch| on held-out points, measured at "
            "export:</p>" + table(["tensor", "component", "max |error|"], rows, text_columns=2))


def versions_section(config: Mapping[str, Any]) -> str:
    plugins = [(escape(p.get("kind", "")), escape(p.get("name", "")), escape(p.get("package", "")),
                escape(p.get("version", ""))) for p in config.get("plugins") or ()]
    import numpy
    import torch

    now = {"toolkit at training": config.get("toolkit_version", "?"), "toolkit (this report)": __version__,
           "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    return key_values(now) + "<h3>Plugins the run used</h3>" + table(
        ["kind", "name", "package", "version"], plugins, text_columns=4)


def render(run_dir: Path, exported: ExportedModel | None = None) -> str:
    """The report of the finished run in `run_dir` as one HTML document."""
    directory = RunDirectory(run_dir)
    config = directory.read_config()
    metrics = directory.read_json(METRICS)
    plots = sorted(p for p in directory.file(PLOTS).glob("*") if p.suffix.lower() in (".png", ".svg")) \
        if directory.file(PLOTS).is_dir() else []
    order = {name: i for i, name in enumerate(PLOT_CAPTIONS)}
    plots.sort(key=lambda p: (order.get(p.stem, len(order)), p.name))
    epochs = directory.trained_epochs() if directory.file(HISTORY).is_file() else 0
    task = (config.get("task") or {}).get("name", "regression")
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        ("Options", options_section(config)),
        ("Training table", table_section(config)),
        ("Metrics", metrics_section(metrics)),
        ("Plots", "".join(figure(p) for p in plots) or "<p>The run has no plots.</p>"),
        ("Exported model", export_section(exported, config)),
        ("Versions", versions_section(config)),
    ]
    body = "".join(f'<h2 id="{escape(title.lower().replace(" ", "-"))}">{escape(title)}</h2>{content}'
                   for title, content in sections)
    title = f"Run {Path(run_dir).resolve().name}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<p>Task <b>{escape(task)}</b>, {epochs} epochs trained; run directory <code>"
            f"{escape(Path(run_dir).resolve())}</code>; report written {written} by thermo-surrogate "
            f"{escape(__version__)}.</p>{body}</body></html>\n")
