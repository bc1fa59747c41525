"""The structured (Z, Λ) table refined where its lookup error is largest (``--lookup-tolerance``), and rebuilt from
a finished table's stored flamelets without solving again (``surrogate table restructure``): a small real H2/air
S-curve (Cantera), its stored rows as the truth."""

from __future__ import annotations

import json
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import structured
from cantera_tables.checks import read_structured
from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from cantera_tables.stored_flamelets import read_curve
from cantera_tables.structured_refine import MIN_WIDTH, refine
from surrogate.cli.main import cli
from surrogate.lookup import StructuredLookup
from surrogate.table import Table

TOLERANCE = 25.0  # K: the small table's 41 x 21 grid looks its flamelets up to tens of K worse
POINTS = 40  # mixture fractions per flamelet in the scattered rows


def restructure(*args: str):
    return CliRunner().invoke(cli, ["table", "restructure", *map(str, args)])


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The small S-curve built with the lookup refinement, and the same table restructured to the fixed 41 x 21
    grid (no refinement) from its stored flamelets."""
    root = tmp_path_factory.mktemp("refine")
    report = H2FlameletTable.build(root / "refined.h5", progress=False, workers=1, points_per_flamelet=POINTS,
                                   **{**SMALL_OPTIONS, "lookup_tolerance": TOLERANCE})
    fixed = restructure(root / "refined.h5", "-o", root / "fixed.h5", "--lookup-tolerance", "0")
    assert fixed.exit_code == 0, fixed.output
    flamelets, species = read_curve(root / "refined.h5")
    return SimpleNamespace(refined=root / "refined.h5", fixed=root / "fixed.h5", report=report,
                           flamelets=flamelets, species=species, root=root)


def grid_of(path) -> dict:
    with h5py.File(path, "r") as h5:
        grid = read_structured(h5["structured"])
        grid["refinement"] = json.loads(h5["structured"].attrs["refinement"])
    return grid


def rows_error(path) -> float:
    """Largest |T| error of the baseline lookup (surrogate.lookup) at the table's own stored rows: the stored
    flamelets sampled at the scattered rows' mixture fractions."""
    table = Table(path)
    lookup = StructuredLookup(path, ["T"])
    return float(np.abs(lookup(table.read("Z"), table.read("C"))[:, 0] - table.read("T")).max())


def test_refined_grid_meets_the_tolerance_that_the_stretched_grid_of_as_many_nodes_misses(tables):
    fixed, refined = grid_of(tables.fixed), grid_of(tables.refined)
    assert fixed["Z"].shape == (SMALL_OPTIONS["structured_nz"],)
    assert fixed["Lambda"].shape == (SMALL_OPTIONS["structured_nlambda"],)
    before, after = rows_error(tables.fixed), rows_error(tables.refined)
    assert before > TOLERANCE >= after
    assert refined["refinement"]["stop"] == "met"
    steps = refined["refinement"]["steps"]  # measured at the rows and between them: never below the rows' error
    assert steps[0][3] >= before and after <= steps[-1][3] <= TOLERANCE
    assert [step[:2] for step in steps][-1] == [len(refined["Z"]), len(refined["Lambda"])]
    # the same node count spread the build's way (Z stretched about Z_st, Lambda following the flamelets) misses it
    Z_st = Table(tables.refined).attrs["Z_st"]
    same_size = structured.structured_table(tables.flamelets, structured.z_nodes(len(refined["Z"]), Z_st),
                                            len(refined["Lambda"]), range(len(tables.species)))
    samples = structured.z_nodes(POINTS, Z_st)
    assert structured.lookup_error(same_size, tables.flamelets, samples, range(len(tables.species)),
                                   tables.species)["T_max_error"] > TOLERANCE


def test_refined_nodes_keep_the_old_ones_and_stay_strictly_increasing_in_0_1(tables):
    fixed, refined = grid_of(tables.fixed), grid_of(tables.refined)
    for axis in ("Z", "Lambda"):
        nodes = refined[axis]
        assert nodes[0] == 0.0 and nodes[-1] == 1.0
        assert np.all(np.diff(nodes) > 0.0) and np.all(np.diff(nodes) >= MIN_WIDTH)
        assert np.all(np.isin(fixed[axis], nodes)), axis  # bisection adds nodes, it moves none
        assert len(nodes) >= len(fixed[axis])


def test_build_report_gives_the_table_size_against_the_error_reached_and_info_shows_it(tables):
    numbers, refined = tables.report.numbers, grid_of(tables.refined)
    nZ, nL = len(refined["Z"]), len(refined["Lambda"])
    assert numbers["structured (Z, Lambda) nodes"] == f"{nZ} x {nL}"
    n_outputs = len(tables.species) + 2
    assert numbers["structured table [bytes]"] == 8 * (2 * nZ + nZ + nL + nZ * nL * n_outputs)
    assert numbers["structured lookup error T max, rms [K]"][0] == pytest.approx(rows_error(tables.refined))
    line = next(note for note in tables.report.notes if note.startswith("structured (Z, Lambda) grid refined"))
    assert f"{nZ} x {nL} (" in line and f"tolerance {TOLERANCE:g} K" in line
    info = CliRunner().invoke(cli, ["table", "info", str(tables.refined)]).output
    assert f"{nZ} x {nL} nodes" in info and f"tolerance {TOLERANCE:g} K, met" in info


def test_table_check_recomputes_the_refined_error_and_passes_the_tolerance(tables):
    refined = CliRunner().invoke(cli, ["table", "check", str(tables.refined), "--max-T-error", f"{TOLERANCE:g}"])
    fixed = CliRunner().invoke(cli, ["table", "check", str(tables.fixed), "--max-T-error", f"{TOLERANCE:g}"])
    line = {r: next(x for x in r.output.splitlines() if x.startswith("FPV lookup error T")) for r in (refined, fixed)}
    assert line[refined].split()[4] == "ok" and line[fixed].split()[4] == "FAIL"


def test_restructure_copies_rows_and_flamelets_and_rebuilds_the_same_grid_as_the_build(tables, tmp_path):
    again = tmp_path / "again.h5"
    result = restructure(tables.fixed, "-o", again, "--lookup-tolerance", f"{TOLERANCE:g}")
    assert result.exit_code == 0, result.output
    ours, built = grid_of(again), grid_of(tables.refined)
    for name in ("Z", "Lambda", "C_min", "C_max", "outputs"):
        np.testing.assert_array_equal(ours[name], built[name])
    source, copy = Table(tables.refined), Table(again)
    for name in source.columns:
        np.testing.assert_array_equal(copy.read(name), source.read(name))
    assert copy.attrs["build_options"]["lookup_tolerance"] == TOLERANCE
    with h5py.File(tables.refined, "r") as a, h5py.File(again, "r") as b:
        assert sorted(a["flamelets"]) == sorted(b["flamelets"])
        np.testing.assert_array_equal(a["flamelets/00003/T"][()], b["flamelets/00003/T"][()])


def test_table_backend_looks_up_the_refined_nonuniform_grid_as_the_python_lookup(tables, tmp_path):
    """The table backend's ONNX graph (float32) locates points on Z nodes that no power law gives."""
    from export.fpv import power_law_exponent
    from export.runtime import Surrogate
    from export.table_model import export_table

    grid = grid_of(tables.refined)
    assert power_law_exponent(grid["Z"]) is None
    model = export_table(tables.refined, tmp_path / "table.onnx")
    table = Table(tables.refined)
    cells = np.column_stack([table.read("Z"), table.read("C")]).astype(np.float32)
    onnx = Surrogate(getattr(model, "path", model), provider="cpu", threads=1, policy="clip")(cells)
    T = json.loads(h5py.File(tables.refined, "r")["structured/outputs"].attrs["order"]).index("T")
    python = structured.lookup(grid, cells[:, 0].astype(float), cells[:, 1].astype(float), [T])[:, 0]
    assert np.abs(onnx[:, T] - python).max() < 0.5  # K, float32 graph against the double lookup


def test_unreachable_tolerance_under_the_node_cap_is_one_warning_line(tables, tmp_path):
    out = tmp_path / "capped.h5"
    result = restructure(tables.fixed, "-o", out, "--lookup-tolerance", "0.01", "--max-structured-nodes", "1000")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: structured lookup")]
    assert len(warnings) == 1
    assert "tolerance 0.01 K not met" in warnings[0] and "--max-structured-nodes 1000" in warnings[0]
    grid = grid_of(out)
    assert len(grid["Z"]) * len(grid["Lambda"]) <= 1000 and grid["refinement"]["stop"] == "node cap"


@pytest.mark.parametrize("args, words", [
    (["--lookup-tolerance", "5", "--max-structured-nodes", "100"], "max_structured_nodes=100: below the starting grid"),
    (["--lookup-tolerance", "-1"], "lookup_tolerance"),
    (["--set", "strain_factor=2"], "'strain_factor' is not a grid option"),
])
def test_bad_restructure_options_are_one_line_errors(tables, tmp_path, args, words):
    result = restructure(tables.fixed, "-o", tmp_path / "x.h5", *args)
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1 and words in result.output, result.output
    assert not (tmp_path / "x.h5").exists()


def test_restructure_refuses_to_overwrite_without_the_flag_and_kinds_without_a_grid(tables, tmp_path):
    taken = tmp_path / "taken.h5"
    taken.write_bytes(b"mine")
    result = restructure(tables.fixed, "-o", taken)
    assert result.exit_code == 2 and "already exists" in result.output and taken.read_bytes() == b"mine"
    assert restructure(tables.fixed, "-o", taken, "--overwrite").exit_code == 0
    result = restructure(tables.fixed, "-o", tables.fixed, "--overwrite")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1


def test_refine_says_when_no_cell_may_be_split_any_narrower(tables, monkeypatch):
    """Cells already at the smallest width end the refinement with the tolerance not met, and the note says why."""
    from cantera_tables import structured_refine

    monkeypatch.setattr(structured_refine, "MIN_WIDTH", 0.6)  # no interval of [0, 1] may be halved
    Z_st = Table(tables.refined).attrs["Z_st"]
    Z, Lambda = structured.z_nodes(41, Z_st), np.linspace(0.0, 1.0, 21)
    grid, refinement = refine(tables.flamelets, Z, Lambda, range(len(tables.species)),
                              structured.z_nodes(POINTS, Z_st), TOLERANCE, 10 ** 6)
    assert refinement.stop == "smallest width" and not refinement.met and len(refinement.steps) == 1
    np.testing.assert_array_equal(grid["Z"], Z)
    assert "cells too narrow to halve (below 1.2 on both sides)" in refinement.notes()[-1]
