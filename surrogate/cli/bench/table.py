"""``surrogate bench table``: S-curve continuation against solving each strain rate from scratch, one run."""

from __future__ import annotations

import click

from ...ranges import POSITIVE, at_least
from ..common import check_json_file, emit_json, json_file_option, overwrite_option, report_echo
from ..types import ranged


@click.command("table")
@click.option("--n-flamelets", default=16, show_default=True, type=ranged(int, at_least(2)),
              help="Stable-branch strain rates solved by each method.")
@click.option("--min-strain", default=20.0, show_default=True, type=ranged(float, POSITIVE),
              help="Lowest nominal strain rate 4 u_ox / L [1/s].")
@click.option("--max-strain", default=12000.0, show_default=True, type=ranged(float, POSITIVE),
              help="Highest nominal strain rate [1/s] (H2/air at 300 K, 1 atm extinguishes near 13000).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any h2-flamelet table option (mechanism, pressure, refine, ...); the first pressure is used.")
@json_file_option("the measurements")
@overwrite_option
def bench_table(n_flamelets: int, min_strain: float, max_strain: float, settings: tuple[str, ...],
                json_path: str | None, overwrite: bool) -> None:
    """Flamelets per second of strain continuation and of solving from scratch, and their ratio."""
    import numpy as np

    from cantera_tables.benchmarks import bench_continuation, bench_from_scratch
    from cantera_tables.flamelet_table import H2FlameletTable

    from ...errors import UserError
    from ...options import parse_key_values

    if not min_strain < max_strain:
        raise UserError(f"--min-strain {min_strain:g}, --max-strain {max_strain:g}: expected --min-strain < "
                        "--max-strain")
    check_json_file(json_path, {}, overwrite)
    echo = report_echo(json_path)
    opts = H2FlameletTable.resolve(parse_key_values(settings, "--set"))
    setup = H2FlameletTable.setups(opts)[0]
    strains = np.geomspace(min_strain, max_strain, n_flamelets)
    echo(f"{n_flamelets} stable-branch flamelets, nominal strain {min_strain:g}..{max_strain:g} 1/s, "
               f"{opts['mechanism']}, p={setup.pressure:g} Pa, refine {opts['refine']}")
    results = [bench_continuation(setup, strains), bench_from_scratch(setup, strains)]
    for result in results:
        echo(f"  {result.method:<13} {result.seconds:8.2f} s  {result.burning:3d}/{n_flamelets} burning  "
                   f"{result.flamelets_per_second:8.2f} flamelets/s")
    continuation, scratch = results
    dT = np.nanmax(np.abs(np.array(continuation.T_max) - np.array(scratch.T_max)))
    echo(f"largest T_max difference between the two methods: {dT:.2f} K")
    ratio = continuation.flamelets_per_second / scratch.flamelets_per_second if scratch.burning else float("inf")
    echo(f"speed-up of continuation over from-scratch: {ratio:.2f}x")
    if json_path is not None:
        emit_json(json_path, {
            "flamelets": n_flamelets, "strain_rates": [float(a) for a in strains], "mechanism": opts["mechanism"],
            "pressure": setup.pressure, "refine": opts["refine"],
            "methods": {r.method: {"seconds": r.seconds, "burning": r.burning,
                                   "flamelets_per_second": r.flamelets_per_second, "T_max": list(r.T_max)}
                        for r in results},
            "largest_T_max_difference_K": float(dT), "speed_up": ratio})
