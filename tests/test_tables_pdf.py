"""The presumed-PDF table: exact β-PDF means of piecewise-linear data, its δ limits, conservation after
integration, agreement with brute-force Monte Carlo, resume after a kill, and training on it from the CLI."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.interpolate import RegularGridInterpolator

from cantera_tables import presumed_pdf_table
from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from cantera_tables.presumed_pdf import beta_weights, monte_carlo_mean
from cantera_tables.presumed_pdf_table import PresumedPDFTable
from export.lookup import GridLookup
from surrogate.chemistry import BilgerMixtureFraction
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import (assert_one_line_error, assert_rows_are_closed_mass_fractions,
                                  built_across_a_kill, train_from_cli)

SMALL_PDF = {"n_Z_mean": 17, "n_S": 9, "chunk": 3, "mc_check": 2, "mc_samples": 200_000, "workers": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small H2 flamelet table, its PDF table (killed after 2 of 6 chunks and resumed), and a β-in-Λ table."""
    root = tmp_path_factory.mktemp("pdf")
    source = root / "flamelets.h5"
    H2FlameletTable.build(source, progress=False, **SMALL_OPTIONS)
    path = root / "pdf.h5"
    report, first, second = built_across_a_kill(PresumedPDFTable, presumed_pdf_table, "integrate_chunk", 2, path,
                                                source=str(source), **SMALL_PDF)
    beta = root / "pdf_beta.h5"
    PresumedPDFTable.build(beta, progress=False, source=str(source), lambda_pdf="beta", n_S_Lambda=4, **SMALL_PDF)
    return {"source": source, "path": path, "beta": beta, "report": report, "first": first, "second": second}


def structured(path):
    with h5py.File(path, "r") as h5:
        group = h5["structured"]
        return {name: group[name][()] for name in group if name != "outputs"}, \
            {name: group["outputs"][name][()] for name in group["outputs"]}


@pytest.mark.parametrize("S", [0.0, 1e-12, 1e-6, 1e-3, 0.2, 0.5, 0.9, 0.999999, 1.0])
def test_beta_pdf_of_a_linear_function_gives_its_mean(S):
    nodes = np.linspace(0.0, 1.0, 57) ** 3
    mean = np.array([0.0, 1e-7, 0.0285, 0.3, 0.5, 0.97, 1.0 - 1e-7, 1.0])
    weights = beta_weights(nodes, mean, S)
    assert weights.min() >= 0.0
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(weights @ (2.0 - 3.0 * nodes), 2.0 - 3.0 * mean, atol=1e-13)


def test_beta_pdf_second_moment_is_the_normalized_variance():
    """On a fine grid the mean of Z² is m² + S m (1 − m) (to the O(h²) of its linear interpolant)."""
    nodes = np.linspace(0.0, 1.0, 4001)
    mean, S = np.meshgrid([0.02, 0.3, 0.8], [0.01, 0.3, 0.7, 0.99])
    found = beta_weights(nodes, mean, S) @ nodes ** 2
    np.testing.assert_allclose(found, (mean ** 2 + S * mean * (1 - mean)).ravel(), atol=1e-7)


def test_zero_variance_recovers_the_laminar_table_and_unit_variance_the_unmixed_streams(built):
    axes, out = structured(built["path"])
    source_axes, source = structured(built["source"])
    rho = source_rho(built["source"])
    source["inv_rho"], source["omega_C_over_rho"] = 1 / rho, source["omega_C"] / rho
    out["inv_rho"], out["omega_C_over_rho"] = 1 / out["rho"], out["omega_C"] / out["rho"]
    points = np.stack(np.meshgrid(axes["Z_mean"], axes["Lambda_mean"], indexing="ij"), axis=-1)
    for name in ("T", "Y_H2O", "Y_OH", "inv_rho", "omega_C_over_rho"):  # the integrands, interpolated linearly
        laminar = RegularGridInterpolator((source_axes["Z"], source_axes["Lambda"]), source[name])
        np.testing.assert_allclose(out[name][:, 0, :], laminar(points), rtol=1e-12,
                                   atol=1e-12 * abs(source[name]).max())
    on_nodes = np.isin(axes["Z_mean"], source_axes["Z"])  # where Z_mean is a source node, omega_C is laminar too
    assert on_nodes.sum() >= 3
    at = np.searchsorted(source_axes["Z"], axes["Z_mean"][on_nodes])
    np.testing.assert_allclose(out["omega_C"][on_nodes, 0, :], source["omega_C"][at], rtol=1e-10,
                               atol=1e-10 * abs(source["omega_C"]).max())
    Zm = axes["Z_mean"][:, None]
    for name in ("T", "Y_H2O", "Y_O2", "Y_H2", "inv_rho"):  # S = 1: (1 − Z̃) the Z = 0 row + Z̃ the Z = 1 row
        unmixed = (1 - Zm) * source[name][0] + Zm * source[name][-1]
        np.testing.assert_allclose(out[name][:, -1, :], unmixed, rtol=1e-12, atol=1e-14)
    assert np.all(out["T"][:, -1, :] < 320)  # unmixed streams do not burn
    # a tiny variance is within the table's curvature of the laminar value, never a quadrature blow-up
    weights = beta_weights(source_axes["Z"], axes["Z_mean"], 1e-10)
    tiny = np.einsum("pi,ij->pj", weights, source["T"])
    np.testing.assert_allclose(tiny, out["T"][:, 0, :], rtol=1e-4)


def test_mass_fractions_sum_to_one_and_mixture_fraction_is_conserved(built):
    table = Table(built["path"])
    assert_rows_are_closed_mass_fractions(table)
    # Bilger Z is linear in Y and the weights reproduce Z_mean exactly, so Z(Ỹ) − Z̃ is a weighted mean of the
    # source nodes' own Z(Y) − Z: never larger than the largest of them
    bilger = BilgerMixtureFraction.from_table_attrs(table.attrs)
    species = table.attrs["species"]
    source_axes, source = structured(built["source"])
    Y_nodes = np.stack([source[f"Y_{s}"] for s in species], axis=-1).reshape(-1, len(species))
    source_error = np.abs(bilger(Y_nodes, species).reshape(source["T"].shape) - source_axes["Z"][:, None]).max()
    found = bilger(table.read_matrix([f"Y_{s}" for s in species]), species)
    assert np.abs(found - table.read("Z_mean")).max() <= source_error + 1e-12
    assert source_error < 0.02
    # S spreads the flame: the peak Favre T falls as the variance grows at the stoichiometric Z_mean
    _, out = structured(built["path"])
    peak = out["T"].max(axis=(0, 2))
    assert np.all(np.diff(peak) < 0) and peak[0] > 1500 and peak[-1] == pytest.approx(300.0)


def test_integrated_means_match_brute_force_monte_carlo(built):
    """Exact means against 4 million β-PDF draws of the same piecewise-linear flamelet: relative error ≤ 1e-3."""
    axes, out = structured(built["path"])
    source_axes, source = structured(built["source"])
    names = ("T", "Y_H2O", "Y_O2", "Y_N2", "rho")
    for i, s, j in ((6, 1, 18), (9, 2, 10), (7, 2, 12)):
        Z_mean, S = axes["Z_mean"][i], axes["Z_var_norm"][s]
        values = np.stack([source[n][:, j] if n != "rho" else 1.0 / source_rho(built["source"])[:, j]
                           for n in names], axis=-1)
        mc, error = monte_carlo_mean([source_axes["Z"]], values, [(Z_mean, S)], 4_000_000, seed=i)
        exact = np.array([out[n][i, s, j] if n != "rho" else 1.0 / out[n][i, s, j] for n in names])
        assert np.all(np.abs(exact - mc) < 5 * error), (exact, mc, error)
        resolved = error / np.abs(mc) < 2.5e-4  # where 4 million draws resolve 1e-3 (T, N2, rho at least)
        assert resolved[[0, 3, 4]].all(), error / mc
        assert np.all(np.abs(exact / mc - 1)[resolved] <= 1e-3), (exact, mc)
    report = built["report"].numbers
    assert report["table shape"] == [17, 9, 21]
    assert report["Monte-Carlo check: max |error| / standard error"] < 5


def source_rho(path):
    """Ideal-gas density at the source's structured nodes, from T and the mass fractions."""
    table = Table(path)
    _, out = structured(path)
    W = 1 / sum(out[f"Y_{s}"] / w for s, w in table.attrs["species_molecular_weights"].items())
    return table.attrs["pressure"] * W / (8314.462618 * out["T"])


def test_beta_in_lambda_reduces_to_delta_at_zero_variance_and_matches_monte_carlo(built):
    axes_delta, delta = structured(built["path"])
    axes, beta = structured(built["beta"])
    assert beta["T"].shape == (17, 9, 21, 4)
    np.testing.assert_allclose(beta["T"][..., 0], delta["T"], rtol=1e-12)
    source_axes, source = structured(built["source"])
    i, s, j, k = 6, 3, 10, 2
    moments = [(axes["Z_mean"][i], axes["Z_var_norm"][s]), (axes["Lambda_mean"][j], axes["Lambda_var_norm"][k])]
    mc, error = monte_carlo_mean([source_axes["Z"], source_axes["Lambda"]], source["T"][..., None], moments,
                                 2_000_000, seed=3)
    assert abs(beta["T"][i, s, j, k] - mc[0]) < 5 * error[0] and abs(beta["T"][i, s, j, k] / mc[0] - 1) < 1e-3
    assert Table(built["beta"]).defaults.default_inputs == ["Z_mean", "Z_var_norm", "Lambda_mean", "Lambda_var_norm"]


def test_interrupted_build_resumes_the_chunks_left(built):
    assert built["first"] == [0, 1] and built["second"] == [2, 3, 4, 5]
    assert built["report"].resumed == 2
    table = Table(built["path"])
    assert table.n_rows == 17 * 9 * 21
    assert not (built["path"].parent / "pdf.h5.work").exists()


def test_grid_lookup_returns_the_nodes_and_rows_are_grouped_by_z_s_line(built):
    table = Table(built["path"])
    lookup = GridLookup(built["path"], ["T", "Y_OH"])
    order = ["Lambda_mean", "Z_var_norm", "Z_mean"]
    x = table.read_matrix(order)
    np.testing.assert_allclose(lookup(x, order), table.read_matrix(["T", "Y_OH"]), rtol=1e-12, atol=1e-14)
    line = table.read_labels("line")
    assert len(np.unique(line)) == 17 * 9
    for column in ("Z_mean", "Z_var_norm"):  # one (Z̃, S) node per line
        values = table.read(column)
        assert all(np.ptp(values[line == g]) == 0 for g in (0, 40, 152))
    assert lookup.nbytes > 8 * 17 * 9 * 21 * 13


def test_bad_sources_are_one_line_errors(built, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["table", "build", "presumed-pdf", "-o", str(tmp_path / "x.h5")])
    assert_one_line_error(result, "option source", "h2-flamelet")
    result = runner.invoke(cli, ["table", "build", "presumed-pdf", "-o", str(tmp_path / "x.h5"), "--source",
                                 str(built["path"])])
    assert_one_line_error(result, "no structured (Z, Lambda) group")
    result = runner.invoke(cli, ["table", "build", "presumed-pdf", "-o", str(tmp_path / "x.h5"), "--source",
                                 str(built["source"]), "--n-S", "1"])
    assert_one_line_error(result, "n_S=1", "expected an integer >= 2")


def test_softmax_mlp_trains_on_the_pdf_table_with_held_out_lines(built, tmp_path):
    metrics = train_from_cli(built["path"], tmp_path / "run")
    assert {"Y_H2O", "T", "rho", "omega_C"} <= set(metrics["test"])


def test_table_plot_draws_the_means_of_a_presumed_pdf_table(built, tmp_path):
    result = CliRunner().invoke(cli, ["table", "plot", str(built["path"]), "-o", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    figure = tmp_path / "figs" / "pdf_means.png"
    assert result.output.strip() == f"wrote {figure}"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 20_000
