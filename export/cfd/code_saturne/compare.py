"""``surrogate bench cfd`` (``make cfd-compare``): the surrogate against the table it replaces, a posteriori, inside
Code_Saturne.

One hydrogen flamelet table gives both thermochemistry backends, with the same inputs (Z, C), outputs, bounds and
runtime calls (:mod:`export.fpv`): the table itself, looked up bilinearly in (Z, Λ), and a softmax MLP trained on
that table's (Z, Λ) interpolant. The planar jet flame runs to a steady state with each backend, one-way (constant
density) and with variable density (the density update under-relaxed by 0.5); the table run is the reference. Each run takes ``--steps`` steps and the cell
values are averaged over the last ``--average-steps``: the edge flame that anchors the flame at the slot's lip
flickers periodically in a few cells (with either backend), so an instantaneous field never settles there.
Steady state: the averages of T over the two halves of that window differ by at most ``--steady-tolerance``
kelvin in every cell (``statistically_steady``); ``steady`` says whether the instantaneous T also changed by at
most that over the last 100 steps.

``compare.json`` holds per case (``one_way``, ``variable_density``):

- ``mean_abs_dT_K``, ``max_abs_dT_K``: |T_surrogate − T_table| over the cells where the table run has T > 500 K;
- ``flame_length_rel_err``: relative difference of the flame lengths, the flame length being the largest x at
  which T = 1500 K (crossings interpolated linearly between cell centres along each row of cells; a flame that
  is hot at the outlet has the length of the domain, and ``flame_reaches_outlet`` says so);
- ``flame_area_rel_err``: relative difference of the areas where T > 1500 K (the flame's size when its length
  is the domain's);
- ``heat_release_rel_err``: relative difference of the domain integrals of the heat release rate (per unit depth);
- ``peak_Y_OH_rel_err``: relative difference of the largest Y_OH;
- ``T_min_K``, ``T_max_K``: the surrogate run's extremes (the table run's under ``table``);
- ``element_Z_max_err``: the largest |Z_Bilger(Y_k) − Z| of the surrogate's species against the solver's Z (also
  for the table run, and on the table's own nodes in ``element_Z_max_err_on_table``);
- ``clipped_cells_per_step``: cells the runtime found off the valid domain, per step, on average (after the case
  moved C onto C_min(Z)..C_max(Z), which ``projected_cells_per_step`` counts);
- ``stream_cells``, ``stream_max_rel_err``: cells at a pure stream (Z or 1 − Z at most 1e-12) and the largest
  difference of their outputs from the table's stream state, relative to each output's scale;
- ``inference_share``: the share of a time step spent in the thermochemistry call (``surrogate_run``);
- ``steps``, ``mean_T_drift_K``, ``statistically_steady``, ``steady``: steps taken, the largest change of the
  averaged T between the window's halves, whether it meets the criterion, and whether the instantaneous T did;
  plus the table run's numbers under ``table`` and the surrogate run's under ``surrogate``.

Side-by-side maps (table | surrogate | difference, diverging colours for signed fields) go to ``OUT/*.png``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from surrogate.atomic import write_json
from surrogate.cli.common import overwrite_option
from surrogate.errors import UserError
from surrogate.outputs import check_output_file, check_output_folder

from .case import FlameSettings, assemble_case, build_wrapper, code_saturne, read_timing, run_case
from .mesh import JetGeometry
from .post import as_grid, colour_style, field_label, panel_size, pyplot, read_fields, save_png

HOT_K = 500.0
FLAME_K = 1500.0
CASES = {"one_way": 0, "variable_density": 1}
RHO_RELAX = 0.5  # under-relaxation of the density update in the variable-density runs
LBFGS_EPOCHS = 100  # full-batch L-BFGS epochs after Adam (default H2 fpv table: validation score 5.2e-4 -> 3.4e-4 in 60)
TARGETS = {"mean_abs_dT_K": 10.0, "max_abs_dT_K": 100.0, "flame_length_rel_err": 0.02,
           "heat_release_rel_err": 0.02, "peak_Y_OH_rel_err": 0.05, "inference_share": 0.15}


@dataclass(frozen=True)
class Models:
    """The two backends of one table, and the table they come from."""

    table: Path      # the fpv table (HDF5)
    lookup: Path     # its table backend (ONNX)
    surrogate: Path  # the surrogate of it (ONNX)


def prepare_models(out: Path, epochs: int | None, width: int, flamelets: Path | None,
                   echo: Callable[[str], None] = click.echo, seed: int = 0, lbfgs_epochs: int = 0) -> Models:
    """Build (or reuse) the H2 flamelet table, its fpv table, the table backend and the trained surrogate in OUT."""
    from export.onnx_export import export_run
    from export.table_model import export_table
    from surrogate.provenance import build_table
    from surrogate.config import TrainOptions
    from surrogate.run import load_run
    from surrogate.trainer import train

    out.mkdir(parents=True, exist_ok=True)
    source = flamelets or out / "h2_flamelets.h5"
    if not source.is_file():
        echo(f"  H2 flamelet table (default options) -> {source}")
        build_table("h2-flamelet", source, {})
    models = Models(out / "h2_fpv.h5", out / "table.onnx", out / "surrogate.onnx")
    if not models.table.is_file():
        build_table("fpv", models.table, {"source": str(source)})
    if not models.lookup.is_file():
        export_table(models.table, models.lookup, echo=echo)
    if not models.surrogate.is_file():
        run_dir = out / "run"
        echo(f"  training the surrogate of the table -> {run_dir}")
        train(TrainOptions(table=str(models.table), epochs=epochs, model_options={"width": width}, seed=seed,
                           lbfgs_epochs=lbfgs_epochs), run_dir, resume=True)
        export_run(load_run(run_dir), models.surrogate, echo=echo)
    return models


def flame_length(columns: dict[str, np.ndarray]) -> tuple[float, bool]:
    """Largest x where T crosses FLAME_K along a row of cells (linear between centres), and whether T > FLAME_K
    at the outlet (then the length is the last centre's x)."""
    x, _, T = as_grid(columns, "T")
    length, at_outlet = 0.0, False
    for row in T:
        hot = np.flatnonzero(row > FLAME_K)
        if len(hot) == 0:
            continue
        last = hot[-1]
        if last == len(x) - 1:
            at_outlet = True
            length = max(length, float(x[-1]))
            continue
        t = (row[last] - FLAME_K) / (row[last] - row[last + 1])
        length = max(length, float(x[last] + t * (x[last + 1] - x[last])))
    return length, at_outlet


def integral(columns: dict[str, np.ndarray], name: str) -> float:
    """Domain integral per unit depth (sum of value times cell area) of a field."""
    x, y, grid = as_grid(columns, name)
    return float(np.nansum(grid) * np.diff(x).mean() * np.diff(y).mean())


def element_z_error(columns: dict[str, np.ndarray], attrs: dict[str, Any]) -> float:
    """Largest |Z_Bilger(Y_k) − Z| over the cells."""
    from surrogate.chemistry import BilgerMixtureFraction

    species = [n[2:] for n in columns if n.startswith("Y_")]
    Y = np.column_stack([columns[f"Y_{s}"] for s in species])
    return float(np.abs(BilgerMixtureFraction.from_table_attrs(attrs)(Y, species) - columns["Z"]).max())


def table_element_error(table: Path) -> float:
    """Largest |Z_Bilger(Y_k) − Z| over the fpv table's nodes (the table's own consistency)."""
    from export.fpv import read_grid
    from surrogate.table import Table

    grid = read_grid(table)
    Z = np.broadcast_to(grid.Z[:, None], grid.values.shape[:2]).ravel()
    columns = {n: grid.values[..., j].ravel() for j, n in enumerate(grid.names) if n.startswith("Y_")}
    return element_z_error({**columns, "Z": Z}, Table(table).attrs)


def run_numbers(columns: dict[str, np.ndarray], timing: dict[str, Any], attrs: dict[str, Any],
                tolerance: float) -> dict[str, Any]:
    """What one run gives on its own (`tolerance`: the steady criterion's, in K)."""
    length, at_outlet = flame_length(columns)
    steps = max(timing["updates"], 1)
    return {"T_min_K": float(columns["T"].min()), "T_max_K": float(columns["T"].max()),
            "flame_length_mm": 1e3 * length, "flame_reaches_outlet": at_outlet,
            "flame_area_mm2": 1e6 * integral({**columns, "hot": (columns["T"] > FLAME_K).astype(float)}, "hot"),
            "heat_release_W_per_m": integral(columns, "heat_release"), "peak_Y_OH": float(columns["Y_OH"].max()),
            "element_Z_max_err": element_z_error(columns, attrs),
            "clipped_cells_per_step": timing["out_of_range_cells_total"] / steps,
            "projected_cells_per_step": timing["projected_cells_total"] / steps,
            "inference_share": timing["run_share"], "step_ms": 1e3 * timing["step_seconds"] / max(timing["timed_steps"], 1),
            "steps": timing["steps"], "steady": bool(timing["steady"]),
            "max_dT_last_interval_K": timing["max_dT_last_interval"], "backend": timing["backend"],
            "averaged_steps": timing["average_steps"], "mean_T_drift_K": timing["mean_T_drift"],
            "statistically_steady": 0 <= timing["mean_T_drift"] <= tolerance}


def compare_runs(table: dict[str, np.ndarray], surrogate: dict[str, np.ndarray], numbers_table: dict[str, Any],
                 numbers_surrogate: dict[str, Any]) -> dict[str, Any]:
    """The surrogate run against the table run (module docstring)."""
    hot = table["T"] > HOT_K
    dT = np.abs(surrogate["T"] - table["T"])[hot]

    def rel(key: str) -> float:
        return abs(numbers_surrogate[key] - numbers_table[key]) / max(abs(numbers_table[key]), 1e-300)

    return {"mean_abs_dT_K": float(dT.mean()) if dT.size else 0.0, "max_abs_dT_K": float(dT.max()) if dT.size else 0.0,
            "hot_cells": int(hot.sum()), "flame_length_rel_err": rel("flame_length_mm"),
            "flame_area_rel_err": rel("flame_area_mm2"),
            "heat_release_rel_err": rel("heat_release_W_per_m"), "peak_Y_OH_rel_err": rel("peak_Y_OH"),
            **{k: numbers_surrogate[k] for k in ("T_min_K", "T_max_K", "element_Z_max_err", "clipped_cells_per_step",
                                                  "projected_cells_per_step", "stream_cells", "stream_max_rel_err",
                                                  "inference_share", "steps", "steady", "mean_T_drift_K",
                                                  "statistically_steady")},
            "table": numbers_table, "surrogate": numbers_surrogate}


STREAM_Z = 1e-12  # a cell with Z (or 1 - Z) at most this is at a pure stream


def stream_exactness(columns: dict[str, np.ndarray], table: Path) -> dict[str, Any]:
    """At the cells on a pure stream (Z or 1 − Z at most STREAM_Z): how many, and the largest difference of any
    output from the table's stream row, relative to that output's scale over the table."""
    from export.fpv import read_grid

    grid = read_grid(table)
    z = columns["Z"]
    error = 0.0
    for at, row in ((z <= STREAM_Z, grid.values[0, 0]), (1 - z <= STREAM_Z, grid.values[-1, 0])):
        for j, name in enumerate(grid.names):
            if at.any() and name in columns:
                scale = max(float(np.abs(grid.values[..., j]).max()), 1e-300)
                error = max(error, float(np.abs(columns[name][at] - row[j]).max()) / scale)
    return {"stream_cells": int(((z <= STREAM_Z) | (1 - z <= STREAM_Z)).sum()), "stream_max_rel_err": error}


def plot_pair(table: dict[str, np.ndarray], surrogate: dict[str, np.ndarray], names: list[str],
              path: Path, title: str) -> Path:
    """:func:`pair_figure` saved as PNG to `path`."""
    return save_png(pair_figure(table, surrogate, names, title), path, dpi=110)


def pair_figure(table: dict[str, np.ndarray], surrogate: dict[str, np.ndarray], names: list[str],
                title: str) -> Any:
    """One row per field: table | surrogate | surrogate − table, each colour bar labelled with the field's units;
    sequential colours for the fields (diverging and centred at 0 for signed ones), diverging for the
    differences. Returns the matplotlib Figure."""
    plt = pyplot()
    width, height = panel_size(table, 4.2)
    fig, axes = plt.subplots(len(names), 3, figsize=(3 * width, height * len(names)), squeeze=False,
                             constrained_layout=True)
    for row, name in zip(axes, names):
        x, y, a = as_grid(table, name)
        b = as_grid(surrogate, name)[2]
        limits = colour_style(a, b)
        diff = b - a
        label = field_label(name)
        for ax, field, text, style in ((row[0], a, "table", limits), (row[1], b, "surrogate", limits),
                                       (row[2], diff, "surrogate − table", colour_style(diff, signed=True))):
            image = ax.pcolormesh(1e3 * x, 1e3 * y, field, shading="nearest", **style)
            ax.set_aspect("equal")
            ax.set_title(f"{name}, {text}", fontsize=9)
            ax.set_xlabel("x [mm]")
            ax.set_ylabel("y [mm]")
            fig.colorbar(image, ax=ax, shrink=0.85, label=("Δ" if field is diff else "") + label)
    fig.suptitle(title, fontsize=10)
    return fig


FIELDS = ["T", "Y_OH", "omega_C", "heat_release"]


def compare(out: Path, settings: FlameSettings, geometry: JetGeometry, epochs: int | None = None, width: int = 64,
            flamelets: Path | None = None, echo: Callable[[str], None] = click.echo, seed: int = 0,
            lbfgs_epochs: int = 0) -> dict[str, Any]:
    """Both backends in both cases (averaged over the last steps); compare.json and the plots in OUT."""
    from surrogate.table import Table

    if code_saturne() is None:
        raise UserError("code_saturne is not installed: run export/cfd/code_saturne/install.sh "
                        "(apt-get install --no-install-recommends code-saturne)")
    click.secho("[1/3] the table and its surrogate", bold=True)
    models = prepare_models(out, epochs, width, flamelets, echo, seed, lbfgs_epochs)
    attrs = Table(models.table).attrs
    click.secho("[2/3] the C wrapper", bold=True)
    wrapper = build_wrapper(out / "wrapper-build")
    result: dict[str, Any] = {"settings": asdict(settings), "geometry": asdict(geometry), "targets": TARGETS,
                              "element_Z_max_err_on_table": table_element_error(models.table),
                              "definitions": __doc__.split("``compare.json`` holds", 1)[1].split("Side-by-side")[0]
                              .strip()}
    click.secho("[3/3] Code_Saturne runs", bold=True)
    for case, variable in CASES.items():
        runs = {}
        for backend, model in (("table", models.lookup), ("surrogate", models.surrogate)):
            echo(f"  {case}, {backend} backend ...")
            case_dir = assemble_case(out / f"case-{case}-{backend}", model, wrapper,
                                     replace(settings, variable_density=variable,
                                             rho_relax=RHO_RELAX if variable else 1.0), geometry)
            folder = run_case(case_dir, "run", timeout=3600)
            averaged = folder / "fields_mean.csv"
            columns = read_fields(averaged if averaged.is_file() else folder / "fields.csv")
            timing = read_timing(folder)
            runs[backend] = (columns, {**run_numbers(columns, timing, attrs, settings.steady_tolerance),
                                       **stream_exactness(columns, models.table)})
        entry = compare_runs(runs["table"][0], runs["surrogate"][0], runs["table"][1], runs["surrogate"][1])
        title = (f"H2/air planar jet in Code_Saturne, {case.replace('_', ' ')}: T averaged over the last "
                 f"{settings.average_steps} of {settings.n_steps} steps")
        entry["plots"] = [str(plot_pair(runs["table"][0], runs["surrogate"][0], FIELDS[:2], out / f"{case}_T_Y_OH.png",
                                        title)),
                          str(plot_pair(runs["table"][0], runs["surrogate"][0], FIELDS[2:],
                                        out / f"{case}_sources.png", title))]
        result[case] = entry
    write_json(out / "compare.json", result)
    for line in report_lines(result):
        echo(line)
    echo(f"  wrote {out / 'compare.json'} and the plots beside it")
    return result


def report_lines(result: dict[str, Any]) -> list[str]:
    """The comparison as a text table, with the targets."""
    rows = [("mean |ΔT| [K], T_table > 500 K", "mean_abs_dT_K", "{:.1f}", "<= 10"),
            ("max |ΔT| [K]", "max_abs_dT_K", "{:.0f}", "<= 100"),
            ("flame length rel. error", "flame_length_rel_err", "{:.2%}", "<= 2 %"),
            ("flame area (T > 1500 K) rel. error", "flame_area_rel_err", "{:.2%}", ""),
            ("heat release rel. error", "heat_release_rel_err", "{:.2%}", "<= 2 %"),
            ("peak Y_OH rel. error", "peak_Y_OH_rel_err", "{:.2%}", "<= 5 %"),
            ("T min / max [K]", None, "", ""),
            ("element Z max error", "element_Z_max_err", "{:.2e}", ""),
            ("clipped cells per step", "clipped_cells_per_step", "{:.1f}", "0 at the streams"),
            ("stream cells: max rel. error", "stream_max_rel_err", "{:.1e}", "1e-6"),
            ("inference share of a step", "inference_share", "{:.1%}", "<= 15 %"),
            ("steps (instantaneous steady)", None, "", ""),
            ("mean T drift [K]", "mean_T_drift_K", "{:.2f}", "<= 1")]
    cases = [c for c in CASES if c in result]
    lines = [f"{'':34}" + "".join(f"{c.replace('_', ' '):>20}" for c in cases) + f"{'target':>18}"]
    for label, key, fmt, target in rows:
        cells = []
        for case in cases:
            entry = result[case]
            if label.startswith("T min"):
                cells.append(f"{entry['T_min_K']:.0f} / {entry['T_max_K']:.0f}")
            elif label.startswith("steps"):
                cells.append(f"{entry['steps']} ({'yes' if entry['steady'] else 'no'})")
            else:
                cells.append(fmt.format(entry[key]))
        lines.append(f"{label:34}" + "".join(f"{c:>20}" for c in cells) + f"{target:>18}")
    for case in cases:
        t = result[case]["table"]
        lines.append(f"table backend, {case.replace('_', ' ')}: T {t['T_min_K']:.0f}..{t['T_max_K']:.0f} K, "
                     f"flame length {t['flame_length_mm']:.1f} mm, inference share {t['inference_share']:.1%}, "
                     f"mean T drift {t['mean_T_drift_K']:.2f} K over {t['averaged_steps']} averaged steps")
    return lines


@click.command("cfd")
@click.option("-o", "--output", "out_dir", default="cfd-compare", show_default=True,
              type=click.Path(), help="Directory for the tables, models, cases, plots, compare.json.")
@click.option("--flamelets", type=click.Path(dir_okay=False, exists=True),
              help="H2 flamelet table to start from. [default: build one with the default options]")
@click.option("--steps", default=3000, show_default=True, help="Time steps of 1e-4 s per run.")
@click.option("--average-steps", default=1200, show_default=True,
              help="Average the cell values over this many last steps.")
@click.option("--steady-tolerance", default=1.0, show_default=True,
              help="Steady state: the averages of T over the two halves of the window differ by at most this [K].")
@click.option("--epochs", type=int, default=None, help="Training epochs of the surrogate. [default: the trainer's]")
@click.option("--width", default=64, show_default=True, help="Neurons per hidden layer of the surrogate (4 layers).")
@click.option("--lbfgs-epochs", default=LBFGS_EPOCHS, show_default=True,
              help="Full-batch L-BFGS epochs after the Adam epochs of the surrogate's training.")
@click.option("--cells", default="60x72", show_default=True, help="Mesh cells along x and y, e.g. 30x36.")
@click.option("--seed", default=0, show_default=True, help="Seed of the surrogate's training.")
@click.option("--json", "json_path", type=click.Path(), help="Also write compare.json to this file.")
@overwrite_option
def main(out_dir: str, flamelets: str | None, steps: int, average_steps: int, steady_tolerance: float,
         epochs: int | None, width: int, lbfgs_epochs: int, cells: str, seed: int, json_path: str | None,
         overwrite: bool) -> None:
    """The H2 jet flame in Code_Saturne with the table and with its surrogate, one-way and with variable density:
    compare.json (mean and max |dT|, flame length and area, heat release, peak Y_OH, bounds, streams, clipping,
    inference share) and side-by-side plots."""
    try:
        nx, ny = (int(n) for n in cells.lower().split("x"))
        geometry = replace(JetGeometry(), nx=nx, ny=ny)
        geometry.y_nodes()
    except ValueError as error:
        raise click.BadParameter(f"{cells!r}: expected NXxNY with NY putting the slot edges on nodes ({error})",
                                 param_hint="--cells") from None
    if not 2 <= average_steps <= steps:
        raise click.BadParameter(f"{average_steps}: must lie between 2 and --steps ({steps})",
                                 param_hint="--average-steps")
    settings = replace(FlameSettings(), n_steps=steps, steady_tolerance=steady_tolerance, average_steps=average_steps)
    try:
        inputs = {"the --flamelets table": flamelets}
        folder = check_output_folder(out_dir, inputs=inputs, overwrite=None)  # reused: tables and runs stay
        if json_path is not None:
            check_output_file(json_path, inputs=inputs, overwrite=overwrite, flag="--json")
        result = compare(folder, settings, geometry, epochs, width, Path(flamelets) if flamelets else None,
                         seed=seed, lbfgs_epochs=lbfgs_epochs)
        if json_path:
            write_json(Path(json_path), result)
    except UserError as error:
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
