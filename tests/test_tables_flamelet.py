"""h2-flamelet tables: physics of the S-curve, the schema, resumption, built once per module (real Cantera)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from cantera_tables import structured
from cantera_tables.checks import counterflow_checks
from cantera_tables.flamelet import solve_from_scratch, turning_point
from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from cantera_tables.refine import next_interval
from surrogate.chemistry import BilgerMixtureFraction
from surrogate.chunks import work_dir_for
from surrogate.table import Table
from tests.h5_compare import assert_same_h5

SMALL = SMALL_OPTIONS
INTERRUPTS = (4, 13)  # once on the stable branch (strain continuation), once on the two-point-control branch


class Interrupted(Exception):
    """Stands for a kill in the middle of a build."""


def interrupt_after(count, seen):
    def on_flamelet(index, flamelet):
        seen.append(index)
        if index + 1 == count:
            raise Interrupted

    return on_flamelet


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small table built in three goes: killed twice, each time resumed with the same command."""
    path = tmp_path_factory.mktemp("flamelet") / "h2.h5"
    work = work_dir_for(path) / "curve-00"
    runs: list[list[int]] = []
    for count in INTERRUPTS:
        runs.append([])
        with pytest.raises(Interrupted):
            H2FlameletTable.build(path, on_flamelet=interrupt_after(count, runs[-1]), progress=False, **SMALL)
        saved_T = []
        for i in range(count):
            with np.load(work / f"flamelet-{i:05d}.npz") as saved:
                saved_T.append(saved["T"])
    runs.append([])
    report = H2FlameletTable.build(path, on_flamelet=lambda i, f: runs[-1].append(i), progress=False, **SMALL)
    table = Table(path)
    with h5py.File(path, "r") as h5:
        raw = {name: {key: g[key][()] for key in g} | dict(g.attrs) for name, g in h5["flamelets"].items()}
        curve = {name: h5["s_curve"][name][()] for name in h5["s_curve"]}
        grid = {name: h5["structured"][name][()] for name in ("Z", "Lambda", "C_min", "C_max")}
        grid_outputs = {name: h5["structured/outputs"][name][()] for name in h5["structured/outputs"]}
        grid_units = {name: h5["structured/outputs"][name].attrs["units"] for name in h5["structured/outputs"]}
    curve["branch"] = np.array([b.decode() for b in curve["branch"]])
    return SimpleNamespace(path=path, report=report, runs=runs, saved_T=saved_T, table=table,
                           raw=raw, curve=curve, grid=grid, grid_outputs=grid_outputs, grid_units=grid_units)


def branch(built, name):
    sel = built.curve["branch"] == name
    return built.curve["chi_st"][sel], built.curve["T_max"][sel], built.curve["strain_rate"][sel]


def test_interrupted_build_resumes_without_recomputing_finished_flamelets(built, tmp_path):
    first, second, last = built.runs
    assert first == list(range(INTERRUPTS[0]))
    assert second == list(range(INTERRUPTS[0], INTERRUPTS[1]))
    assert last[0] == INTERRUPTS[1] and built.report.resumed == INTERRUPTS[1]
    assert built.report.numbers["flamelets"] == INTERRUPTS[1] + len(last)
    methods = [built.raw[f"{i:05d}"]["method"] for i in (INTERRUPTS[0] - 1, INTERRUPTS[1] - 1)]
    assert methods == ["strain-continuation", "two-point-control"]
    for i, T in enumerate(built.saved_T):
        np.testing.assert_array_equal(built.raw[f"{i:05d}"]["T"], T)
    assert not work_dir_for(built.path).exists()
    # resuming from the saved Cantera state gives the table of one uninterrupted build, bit for bit
    fresh = H2FlameletTable.build(tmp_path / "fresh.h5", progress=False, **SMALL)
    assert fresh.numbers["flamelets"] == built.report.numbers["flamelets"] and fresh.resumed == 0
    assert built.report.numbers["solves"] < fresh.numbers["solves"]  # the last run only solved what was left
    assert_same_h5(built.path, fresh.path)


def test_stable_branch_T_max_falls_with_chi_st_and_ends_at_extinction(built):
    chi_st, T_max, _ = branch(built, "stable")
    assert len(chi_st) >= 5
    order = np.argsort(chi_st)
    assert np.all(np.diff(T_max[order]) < 0)
    assert T_max.max() > 2300.0  # near-equilibrium H2/air at low strain
    assert 50.0 < built.table.attrs["extinction_chi_st"] < 200.0  # H2/air, 300 K, 1 atm: chi_st,ext ~ 1e2 1/s
    # the branch ends at extinction: a fresh flame at half the last continuation strain burns, at 1.5x it does not
    setup = H2FlameletTable.setups(H2FlameletTable.resolve(SMALL))[0]
    widths = [f["grid"][-1] - f["grid"][0] for f in built.raw.values() if f["method"] == "strain-continuation"]
    a_last = setup.initial_strain * (setup.width / min(widths)) ** 2  # grid ∝ a^-1/2 along the continuation
    assert solve_from_scratch(setup, 0.5 * a_last)[0]
    assert not solve_from_scratch(setup, 1.5 * a_last)[0]


def test_branch_labels_follow_the_position_along_the_s_curve(built):
    burning = built.curve["branch"] != "extinguished"
    along = np.argsort(-built.curve["T_max"][burning])  # T_max falls monotonically along the whole curve
    labels = built.curve["branch"][burning][along]
    chi_st = built.curve["chi_st"][burning][along]
    n_stable = int((labels == "stable").sum())
    assert n_stable >= 5 and list(labels) == ["stable"] * n_stable + ["unstable"] * (len(labels) - n_stable)
    assert np.all(np.diff(chi_st[:n_stable]) > 0) and np.all(np.diff(chi_st[n_stable:]) < 0)
    # extinction: the turning point, between the last stable and the first unstable flamelet, at or above the
    # largest stored chi_st (a parabola in T_max through the three flamelets around it)
    chi_ext = built.table.attrs["extinction_chi_st"]
    assert chi_st.max() <= chi_ext <= chi_st.max() * 1.01
    T_max = built.curve["T_max"][burning][along]
    turn = turning_point(*(built.curve[k][burning] for k in ("chi_st", "T_max", "strain_rate", "global_strain_rate")))
    assert turn.chi_st == chi_ext and T_max[n_stable] < turn.T_max <= T_max[n_stable - 1]


def test_turning_point_is_the_vertex_of_chi_st_over_T_max_or_the_last_flamelet_without_a_middle_branch():
    T = np.array([1500.0, 1430.0, 1380.0, 1300.0])
    chi = 100.0 - 0.01 * (T - 1400.0) ** 2  # a fold at chi_st 100 1/s, T_max 1400 K
    turn = turning_point(chi, T, 2.0 * chi, 3.0 * chi)
    assert turn.chi_st == pytest.approx(100.0, rel=1e-12) and turn.T_max == pytest.approx(1400.0, rel=1e-12)
    assert turn.strain_rate == pytest.approx(200.0, rel=1e-12) and turn.global_strain_rate == pytest.approx(300.0)
    stable_only = turning_point(chi[:2], T[:2], chi[:2], chi[:2])
    assert (stable_only.chi_st, stable_only.T_max) == (chi[1], 1430.0)


def test_unstable_branch_lies_below_stable(built):
    chi_s, T_s, _ = branch(built, "stable")
    chi_u, T_u, _ = branch(built, "unstable")
    assert len(chi_u) >= 3
    order = np.argsort(chi_s)
    inside = (chi_u >= chi_s.min()) & (chi_u <= chi_s.max())
    assert inside.sum() >= 3
    assert np.all(T_u[inside] < np.interp(chi_u[inside], chi_s[order], T_s[order]) - 50.0)
    assert T_u.max() < T_s.min()  # both branches meet only at the turning point


def test_extinguished_flamelet_is_frozen_mixing(built):
    _, T_max, _ = branch(built, "extinguished")
    assert len(T_max) == 1 and T_max[0] == pytest.approx(300.0, abs=1.0)
    index = int(built.curve["flamelet"][built.curve["branch"] == "extinguished"][0])
    assert np.max(built.raw[f"{index:05d}"]["C"]) < 1e-12
    assert built.table.defaults.train_groups == [index]  # a grouped split never holds out the frozen bound


def test_mixture_fraction_is_one_in_fuel_and_zero_in_oxidizer(built):
    attrs = built.table.attrs
    Z = BilgerMixtureFraction.from_table_attrs(attrs)
    species = attrs["species"]
    for stream, expected in (("fuel", 1.0), ("oxidizer", 0.0)):
        Y = np.array([[attrs[stream]["Y"].get(s, 0.0) for s in species]])
        assert Z(Y, species)[0] == pytest.approx(expected, abs=1e-12)
    for name, flamelet in built.raw.items():
        if flamelet["branch"] == "stable":
            assert flamelet["Z"][0] > 0.999 and flamelet["Z"][-1] < 1e-3, name
    assert 0.02 < attrs["Z_st"] < 0.035  # H2/air: Z_st = 0.0285


def test_mass_fractions_are_nonnegative_and_sum_to_one(built):
    Y_names = [n for n in built.table.output_names if n.startswith("Y_")]
    Y = built.table.read_matrix(Y_names)
    assert Y.min() >= 0.0
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, atol=1e-10)
    for flamelet in built.raw.values():
        np.testing.assert_allclose(flamelet["Y"].sum(axis=1), 1.0, atol=1e-10)
    structured_Y = sum(built.grid_outputs[n] for n in Y_names)
    np.testing.assert_allclose(structured_Y, 1.0, atol=1e-10)


def test_bilger_mixture_fraction_recomputed_from_stored_Y_matches_stored_Z(built):
    table = built.table
    Y_names = [n for n in table.output_names if n.startswith("Y_")]
    Z = BilgerMixtureFraction.from_table_attrs(table.attrs)(table.read_matrix(Y_names), [n[2:] for n in Y_names])
    np.testing.assert_allclose(Z, table.read("Z"), atol=1e-10)


def test_progress_variable_and_chi_st_are_consistent_with_profiles(built):
    attrs = built.table.attrs
    for flamelet in built.raw.values():
        species = attrs["species"]
        np.testing.assert_allclose(flamelet["C"], flamelet["Y"][:, species.index("H2O")], atol=1e-15)
        if flamelet["branch"] != "extinguished":
            x_st = np.interp(attrs["Z_st"], flamelet["Z"][::-1], flamelet["grid"][::-1])
            assert flamelet["chi_st"] == pytest.approx(np.interp(x_st, flamelet["grid"], flamelet["chi"]), rel=0.02)
    chi = built.table.read("chi")
    assert chi.min() >= 0.0 and chi.max() > 100.0


def test_table_schema_round_trip(built):
    table = built.table
    attrs = table.attrs
    assert table.kind == "h2-flamelet"
    assert table.input_names == ["Z", "C", "chi"]
    species = attrs["species"]
    assert set(species) == {"H2", "H", "O", "O2", "OH", "H2O", "HO2", "H2O2", "N2"}  # AR is absent in H2/air
    assert table.output_names == [f"Y_{s}" for s in species] + ["T", "omega_C"]
    assert table.units("chi") == "1/s" and table.units("T") == "K" and table.units("omega_C") == "kg/m^3/s"
    assert table.n_rows == built.report.rows > 1000
    for key in ("mechanism", "pressure", "fuel", "oxidizer", "cantera_version", "progress_variable",
                "mixture_fraction_definition", "chi_definition", "refine_criteria", "species_composition",
                "species_molecular_weights", "element_atomic_weights", "bilger_beta_fuel", "bilger_beta_oxidizer"):
        assert key in attrs, key
    assert attrs["progress_variable"] == {"H2O": 1.0}
    assert attrs["mixture_fraction_definition"] == "Bilger"
    assert "thermal diffusivity" in attrs["chi_definition"]
    assert attrs["refine_criteria"] == {"ratio": 3.0, "slope": 0.2, "curve": 0.4, "prune": 0.05}
    assert attrs["species_composition"]["H2O"] == {"H": 2.0, "O": 1.0}
    assert attrs["pressure"] == 101325.0
    assert len(built.curve["chi_st"]) == attrs["n_flamelets"] == built.report.numbers["flamelets"] == len(built.raw)
    assert built.report.numbers["extinction chi_st [1/s]"] == attrs["extinction_chi_st"]


def test_declared_defaults_name_existing_columns(built):
    table = built.table
    defaults = table.defaults
    mass_fractions = [name for name in table.output_names if name.startswith("Y_")]
    assert defaults.default_inputs == table.input_names == ["Z", "C", "chi"]
    assert defaults.default_outputs == defaults.softmax_outputs == mass_fractions
    assert defaults.log_inputs == ["chi"]
    assert defaults.group_column == "flamelet" and sorted(table.label_names) == ["curve", "flamelet"]


def test_every_row_is_labelled_with_the_flamelet_it_was_resampled_from(built):
    table = built.table
    flamelet, curve = table.read_labels("flamelet"), table.read_labels("curve")
    assert np.unique(flamelet).tolist() == list(range(table.attrs["n_flamelets"]))
    assert np.all(curve == 0)  # one pressure, one S-curve
    nodes = structured.z_nodes(H2FlameletTable.default("points_per_flamelet"), table.attrs["Z_st"])
    rows = table.read_matrix(table.columns)
    for k in range(table.attrs["n_flamelets"]):
        raw = built.raw[f"{k:05d}"]
        profile = SimpleNamespace(**{key: raw[key] for key in ("Z", "C", "chi", "Y", "T", "omega_C")})
        sample = structured.resample(profile, nodes, range(raw["Y"].shape[1]))
        expected = np.column_stack([sample["Z"], sample["C"], sample["chi"], sample["outputs"]])
        np.testing.assert_array_equal(rows[flamelet == k], expected)


def test_structured_table_layout_and_limits(built):
    grid, outputs = built.grid, built.grid_outputs
    nZ, nL = SMALL["structured_nz"], SMALL["structured_nlambda"]
    assert grid["Z"].shape == (nZ,) and grid["Lambda"].shape == (nL,)
    assert grid["Z"][0] == 0.0 and grid["Z"][-1] == 1.0 and np.all(np.diff(grid["Z"]) > 0)
    assert set(outputs) == set(built.table.output_names)
    assert all(v.shape == (nZ, nL) for v in outputs.values())
    assert built.grid_units["T"] == "K"
    assert np.all(grid["C_max"] >= grid["C_min"])
    i_st = int(np.argmin(abs(grid["Z"] - built.table.attrs["Z_st"])))
    assert grid["C_min"][i_st] < 1e-8  # the frozen-mixing flamelet is the least burning
    assert outputs["T"][i_st, 0] < 400.0 and outputs["T"][i_st, -1] > 2000.0
    from scipy.interpolate import RegularGridInterpolator

    T = RegularGridInterpolator((grid["Z"], grid["Lambda"]), outputs["T"])
    assert T([[grid["Z"][i_st], 1.0]])[0] == pytest.approx(outputs["T"][i_st, -1])


def test_structured_table_reproduces_the_flamelet_points(built):
    from scipy.interpolate import RegularGridInterpolator

    grid, table = built.grid, built.table
    Z, C = table.read("Z"), table.read("C")
    C_min, C_max = np.interp(Z, grid["Z"], grid["C_min"]), np.interp(Z, grid["Z"], grid["C_max"])
    span = C_max - C_min
    Lambda = np.clip(np.divide(C - C_min, span, out=np.zeros_like(span), where=span > 0), 0.0, 1.0)
    for name, min_r2 in (("T", 0.98), ("Y_H2O", 0.99), ("Y_OH", 0.95), ("omega_C", 0.95)):
        lookup = RegularGridInterpolator((grid["Z"], grid["Lambda"]), built.grid_outputs[name])
        truth = table.read(name)
        predicted = lookup(np.column_stack([Z, Lambda]))
        r2 = 1.0 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2)
        assert r2 > min_r2, (name, r2)


@pytest.mark.parametrize("tie", ["at zero", "between flamelets"])
def test_lambda_nodes_move_continuously_when_flamelets_tie(tie):
    """The Λ axis is shared by every Z node: 1e-13 noise that makes two samples equal (a C clipped at zero like
    C_min's, two flamelets of one C) must move it by round-off, not by 1 / n_samples (an ECDF's step)."""
    samples = np.random.default_rng(3).uniform(0.0, 1.0, 400)
    apart, tied = samples.copy(), samples.copy()
    if tie == "at zero":
        apart[0], tied[0] = 1e-13, 0.0
    else:  # pairs of flamelets
        apart[1::2], tied[1::2] = samples[::2] + 1e-13, samples[::2]
    nodes = structured.lambda_nodes(51, apart)
    assert np.all(np.diff(nodes) > 0) and nodes[[0, -1]].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(structured.lambda_nodes(51, tied), nodes, rtol=0, atol=1e-12)


ADAPTIVE = {**SMALL, "tolerance": 0.013, "max_refine": 10}
FIRST_ADDED = 17  # the sweep of SMALL gives 16 flamelets: a kill after the first one the refinement adds


def leave_one_out_error(path):
    """Independently of cantera_tables.refine: the largest error of T and the major species (Y >= 0.05) of each
    interior burning flamelet against the linear interpolation in T_max between its neighbours along the S-curve,
    at 200 mixture fractions they all span, relative to each output's range over the curve."""
    with h5py.File(path, "r") as h5:
        Z_st = h5.attrs["Z_st"]
        raw = [(g.attrs["T_max"], g["Z"][()], g["T"][()], g["Y"][()]) for _, g in sorted(h5["flamelets"].items())
               if g.attrs["branch"] != "extinguished"]
    raw.sort(key=lambda f: -f[0])
    major = np.max([f[3].max(axis=0) for f in raw], axis=0) >= 0.05
    outputs = [np.column_stack([f[2], f[3][:, major]]) for f in raw]
    scale = np.max([o.max(axis=0) for o in outputs], axis=0) - np.min([o.min(axis=0) for o in outputs], axis=0)
    Z = structured.z_nodes(200, Z_st)
    worst = 0.0
    for j in range(1, len(raw) - 1):
        three = raw[j - 1:j + 2]
        z = Z[(Z >= max(f[1].min() for f in three)) & (Z <= min(f[1].max() for f in three))]
        at = [np.column_stack([np.interp(z, f[1][::-1], o[::-1, q]) for q in range(o.shape[1])])
              for f, o in zip(three, outputs[j - 1:j + 2])]
        w = (three[1][0] - three[0][0]) / (three[2][0] - three[0][0])
        worst = max(worst, float((np.abs((1 - w) * at[0] + w * at[2] - at[1]) / scale).max()))
    return worst


@pytest.fixture(scope="module")
def adaptive(tmp_path_factory):
    """The small table refined to a tolerance, killed once during the refinement and resumed, and built again in
    one go."""
    root = tmp_path_factory.mktemp("adaptive")
    with pytest.raises(Interrupted):
        H2FlameletTable.build(root / "resumed.h5", on_flamelet=interrupt_after(FIRST_ADDED, []), progress=False,
                              **ADAPTIVE)
    resumed = H2FlameletTable.build(root / "resumed.h5", progress=False, **ADAPTIVE)
    fresh = H2FlameletTable.build(root / "fresh.h5", progress=False, **ADAPTIVE)
    return SimpleNamespace(resumed=resumed, fresh=fresh)


def test_adaptive_table_meets_its_tolerance_where_the_sweep_did_not(built, adaptive):
    assert leave_one_out_error(built.path) > ADAPTIVE["tolerance"]
    report = adaptive.fresh
    added = report.numbers["adaptive: flamelets added"]
    assert 1 <= added <= ADAPTIVE["max_refine"]
    assert report.numbers["flamelets"] == built.report.numbers["flamelets"] + added
    reached = leave_one_out_error(report.path)
    assert reached <= ADAPTIVE["tolerance"]
    assert report.numbers["adaptive: largest leave-one-out error"] == pytest.approx(reached, rel=1e-9)
    note = next(n for n in report.notes if n.startswith("adaptive"))
    assert "met;" in note and f"{added} added" in note
    history = Table(report.path).attrs["refinement"]["curves"][0]["flamelets_error_T_max"]
    sizes = range(built.report.numbers["flamelets"], report.numbers["flamelets"] + 1)
    assert [entry[0] for entry in history] == list(sizes)
    info = dict(H2FlameletTable.summary(report.path))["adaptive at p=101325 Pa"]
    assert info.startswith(f"{sizes[0]} -> {sizes[-1]} flamelets") and f"-> {reached:.3g} (tolerance" in info
    assert "met;" in info and "adaptive at p=101325 Pa" not in dict(H2FlameletTable.summary(built.path))


def test_table_check_recomputes_the_adaptive_error_against_the_tolerance(adaptive, tmp_path):
    def check(path):
        return next((value, passed) for label, value, passed in counterflow_checks(path)
                    if label == "adaptive tolerance at p=101325 Pa")

    reached = leave_one_out_error(adaptive.fresh.path)
    value, passed = check(adaptive.fresh.path)
    assert passed and f"error along the S-curve {reached:.3g}" in value
    strict = tmp_path / "strict.h5"  # the same flamelets held to a tolerance below the error they reach
    shutil.copy(adaptive.fresh.path, strict)
    with h5py.File(strict, "r+") as h5:
        h5.attrs["refinement"] = json.dumps({**json.loads(h5.attrs["refinement"]), "tolerance": 0.9 * reached})
    value, passed = check(strict)
    assert not passed and f"{reached:.3g}" in value


def test_refinement_splits_the_wider_interval_beside_the_worst_flamelet_unless_it_cannot():
    curve = [SimpleNamespace(T_max=T) for T in (2400.0, 2300.0, 2250.0, 2000.0, 1999.0, 1998.0)]
    along = [0, 1, 2, 3, 4, 5]
    errors = np.array([np.nan, 0.02, 0.05, 0.03, 0.04, np.nan])
    assert next_interval(curve, along, errors, 0.01, []) == (2, 3)  # 250 K wide against 50 K
    assert next_interval(curve, along, errors, 0.01, [[2, 3]]) == (1, 2)
    # flamelets beside failed or sub-noise (< MIN_INTERVAL_T) intervals only give way to the next worst
    assert next_interval(curve, along, errors, 0.01, [[2, 3], [1, 2]]) == (0, 1)
    assert next_interval(curve, along, errors, 0.06, []) is None  # all within the tolerance


def test_adaptive_refinement_resumes_after_a_kill_to_the_same_table(adaptive):
    assert adaptive.resumed.resumed == FIRST_ADDED
    assert_same_h5(adaptive.resumed.path, adaptive.fresh.path)
