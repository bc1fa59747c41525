"""``python -m export.cfd.code_saturne.demo``: the H2/air jet flame in Code_Saturne with the surrogate, end to end.

1. the surrogate of an H2 flamelet/progress-variable table ((Z, C) -> Y_k, T, rho, omega_C, heat_release; reused
   when OUT/surrogate.onnx exists; built from demo/h2_flamelets.h5 when `make demo` left one);
2. the C wrapper (export/c) built with CMake against the ONNX Runtime of export/c/fetch_onnxruntime.sh;
3. the Code_Saturne case OUT/case (mesh, user routines, settings) run on one process;
4. PNG maps of T and Y_OH (and of Z, C, omega_C) from the cells' dump, and the share of the time step the
   surrogate takes; OUT/summary.json keeps the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import click

from surrogate.atomic import write_json
from surrogate.errors import UserError
from surrogate.outputs import check_output_folder
from surrogate.threads import thread_option

from .case import FlameSettings, assemble_case, build_wrapper, code_saturne, read_timing, run_case
from .post import flame_summary, plot_fields, read_fields

def prepare_model(out: Path, epochs: int | None, echo: Callable[[str], None] = click.echo) -> Path:
    """The surrogate of an H2 fpv table (inputs Z, C; outputs Y_k, T, rho, omega_C, heat_release), built in OUT
    from demo/h2_flamelets.h5 when `make demo` left one, else from a default H2 flamelet table built here."""
    from .compare import prepare_models

    flamelets = Path("demo") / "h2_flamelets.h5"
    if flamelets.is_file():
        echo(f"  flamelet table: reusing {flamelets} (from `make demo`)")
    return prepare_models(out, epochs, 64, flamelets if flamelets.is_file() else None, echo).surrogate


@click.command()
@click.option("-o", "--output", "out_dir", default="cfd-demo", show_default=True,
              type=click.Path(), help="Directory for the model, the case and the plots.")
@click.option("--model", type=click.Path(dir_okay=False, exists=True),
              help="Exported model (a surrogate or a table backend) with inputs Z, C and outputs T, Y_k, omega_C. "
                   "[default: build the surrogate of an H2 table]")
@click.option("--epochs", type=int, default=None, help="Training epochs when the model is built here. "
              "[default: the trainer's]")
@click.option("--steps", default=400, show_default=True,
              help="Time steps of 1e-4 s (400: 40 ms, 2.7 passes of the 2 m/s jet over the 30 mm domain).")
@click.option("--variable-density", is_flag=True,
              help="Two-way coupling: the flow's density is the surrogate's ideal-gas density.")
@click.option("--rho-relax", default=0.5, show_default=True, help="Under-relaxation of the density update.")
@click.option("--threads", default=1, show_default=True, callback=thread_option("ONNX Runtime's choice"),
              help="ONNX Runtime threads, up to 4 per CPU.")
def main(out_dir: str, model: str | None, epochs: int | None, steps: int, variable_density: bool, rho_relax: float,
         threads: int) -> None:
    """Run the planar H2/air jet flame in Code_Saturne with the surrogate and plot T and Y_OH."""
    try:
        folder = check_output_folder(out_dir, inputs={"the --model file": model}, overwrite=None)  # reused
        run_demo(folder, Path(model) if model else None, epochs,
                 replace(FlameSettings(), n_steps=steps, variable_density=int(variable_density),
                         rho_relax=rho_relax, n_threads=threads))
    except UserError as error:  # the user's input or machine: one message, exit 2, as the surrogate CLI does
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(2) from None


def run_demo(out: Path, model: Path | None, epochs: int | None, settings: FlameSettings) -> dict:
    if code_saturne() is None:
        raise UserError("code_saturne is not installed: run export/cfd/code_saturne/install.sh "
                        "(apt-get install --no-install-recommends code-saturne)")
    out.mkdir(parents=True, exist_ok=True)
    click.secho("[1/4] surrogate", bold=True)
    model = model or prepare_model(out, epochs)
    click.secho("[2/4] C wrapper", bold=True)
    wrapper = build_wrapper(out / "wrapper-build")
    click.secho(f"[3/4] Code_Saturne: {settings.n_steps} steps, "
                f"{'variable' if settings.variable_density else 'constant'} density -> {out / 'case'}", bold=True)
    result = run_case(assemble_case(out / "case", model, wrapper, settings))
    timing = read_timing(result)
    columns = read_fields(result / "fields.csv")
    click.secho("[4/4] plots", bold=True)
    coupling = "two-way (variable density)" if settings.variable_density else "one-way (constant density)"
    title = f"H2/air planar jet, Code_Saturne + surrogate, {coupling}, t = {settings.n_steps * settings.dt * 1e3:g} ms"
    plots = [plot_fields(columns, ["T", "Y_OH"], out / "flame_T_Y_OH.png", title),
             plot_fields(columns, ["Z", "C", "omega_C"], out / "flame_Z_C_omega.png", title)]
    summary = {"settings": asdict(settings), "timing": timing, "flame": flame_summary(columns),
               "result": str(result), "plots": [str(p) for p in plots]}
    write_json(out / "summary.json", summary)
    f = summary["flame"]
    click.echo(f"  flame: T max {f['T_max']:.0f} K at x = {1e3 * f['T_max_x']:.1f} mm, Z = {f['T_max_Z']:.3f}; "
               f"Y_OH max {f.get('Y_OH_max', float('nan')):.4f}; T > 1500 K up to x = {1e3 * f['flame_length']:.1f} mm")
    step_ms = timing["step_seconds"] / timing["timed_steps"] * 1e3
    click.echo(f"  time step: {step_ms:.2f} ms on {timing['cells']} cells; "
               f"surrogate_run {100 * timing['run_share']:.1f} % of it (C onto its bounds + packing + run + unpacking "
               f"{100 * timing['update_share']:.1f} %), {timing['threads']} ONNX Runtime thread(s)")
    click.echo(f"  cells outside the trained ranges (clipped): at most {timing['out_of_range_cells_max_per_step']} "
               "per step")
    for plot in plots:
        click.echo(f"  wrote {plot}")
    click.echo(f"  wrote {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
