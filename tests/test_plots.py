"""Figures a reviewer accepts: labelled axes with units, tick labels that do not collide, colour scales that
show a sign, and a comparison that draws distinct R² values as distinct bars. Read back from the matplotlib
objects each plotting function returns."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from export.cfd.code_saturne.compare import pair_figure
from export.cfd.code_saturne.post import fields_figure, plot_fields
from surrogate import plots

SPECIES_UNITS = {"Y_H2O": "1", "Y_HO2": "1", "Y_H2O2": "1", "T": "K"}


def overlapping_tick_labels(fig) -> list[str]:
    """Pairs of visible tick labels on one axis whose drawn boxes intersect (the figure drawn again, on a fresh
    Agg canvas: a saved figure is closed)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    clashes = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text()]
            clashes += [f"{a} / {b}" for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
                        if box_a.overlaps(box_b)]
    return clashes


@pytest.fixture(scope="module")
def parity_figure(tmp_path_factory):
    """Parity of four outputs whose magnitudes span 1e-9 (H2O2) to 2000 K, predictions off by 1 %."""
    rng = np.random.default_rng(0)
    scales = np.array([0.25, 3e-6, 4e-9, 2000.0])
    y_true = rng.random((500, 4)) * scales
    y_pred = y_true * (1 + 0.01 * rng.standard_normal((500, 4)))
    names = list(SPECIES_UNITS)
    metrics = {name: {"r2": 0.999} for name in names}
    path = tmp_path_factory.mktemp("plots") / "parity.png"
    return plots.parity(y_true, y_pred, names, metrics, path, title="test split", units=SPECIES_UNITS), path


def test_parity_axes_say_true_and_predicted_with_units(parity_figure):
    fig, path = parity_figure
    assert path.read_bytes()[:4] == b"\x89PNG"
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split()[0] for ax in panels] == list(SPECIES_UNITS)
    for ax, units in zip(panels, SPECIES_UNITS.values()):
        shown = "[-]" if units == "1" else f"[{units}]"
        assert ax.get_xlabel() == f"true {shown}" and ax.get_ylabel() == f"predicted {shown}"
    assert "predicted vs true" in fig._suptitle.get_text()


def test_parity_tick_labels_of_tiny_mass_fractions_do_not_collide(parity_figure):
    fig, _ = parity_figure
    assert overlapping_tick_labels(fig) == []
    small = [ax for ax in fig.axes if ax.get_title().startswith("Y_H2O2")][0]
    assert "10^{−9}" in small.xaxis.get_offset_text().get_text().replace("-", "−")  # one shared power of ten
    shown = [re.sub(r"\$|\\mathdefault|[{}]", "", t.get_text()) for t in small.get_xticklabels()]
    assert shown and all(len(text) <= 4 for text in shown)  # '1.5', not '0.0000000015'



def test_training_curves_have_a_y_label(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_score": 2.0 / e} for e in range(1, 6)]
    fig = plots.training_curves(history, tmp_path / "training.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel() and "score" in ax.get_ylabel()
    assert (tmp_path / "training.png").is_file()


def test_compare_draws_distinct_negative_and_small_r2_as_distinct_bars(tmp_path):
    """R² 0.11, 0.015 and -0.196 are three different bars (1 - R²: 0.89, 0.985, 1.196), none capped."""
    table = {"a": {"Y_HO2": 0.11}, "b": {"Y_HO2": 0.015}, "c": {"Y_HO2": -0.196}, "d": {"Y_HO2": 0.9999}}
    fig = plots.metric_comparison(table, "r2", tmp_path / "compare.png")
    ax = fig.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx([0.89, 0.985, 1.196, 1e-4])
    assert ax.get_ylim()[1] > 1.196  # the worst bar is drawn whole
    assert "1 − test R²" in ax.get_ylabel() and "R² < 0" in ax.get_ylabel()
    assert "R² = 0 (training mean)" in [t.get_text() for t in ax.get_legend().get_texts()]


def jet_columns(n_x: int = 30, n_y: int = 8) -> dict[str, np.ndarray]:
    """A thin planar jet on a 30 mm x 8 mm grid: T peaks on the axis; ω_C is positive in two flame sheets and
    negative between them."""
    x, y = np.meshgrid(np.linspace(0.5e-3, 29.5e-3, n_x), np.linspace(-3.5e-3, 3.5e-3, n_y))
    sheets = np.exp(-((np.abs(y) - 2e-3) / 0.7e-3) ** 2)
    columns = {"x": x.ravel(), "y": y.ravel(), "T": (300 + 1700 * np.exp(-(y / 2e-3) ** 2)).ravel(),
               "Z": np.exp(-(y / 1.5e-3) ** 2).ravel(), "omega_C": (500 * sheets - 40 * (1 - sheets)).ravel(),
               "Y_OH": (3e-3 * sheets).ravel()}
    return columns


def colour_bars(fig) -> dict[str, object]:
    """{colour-bar label: the mappable it shows}."""
    return {ax.get_ylabel(): ax._colorbar.mappable for ax in fig.axes if getattr(ax, "_colorbar", None)}


def test_solver_maps_give_units_and_draw_signed_omega_c_on_a_scale_centred_at_zero(tmp_path):
    columns = jet_columns()
    fig = fields_figure(columns, ["T", "Z", "omega_C"], "jet")
    bars = colour_bars(fig)
    assert set(bars) == {"T [K]", "Z [-]", "omega_C [kg/m³/s]"}
    omega = bars["omega_C [kg/m³/s]"]
    assert omega.get_cmap().name == "RdBu_r" and omega.norm.vmin == pytest.approx(-omega.norm.vmax)
    assert omega.norm.vmax == pytest.approx(np.abs(columns["omega_C"]).max())
    assert bars["T [K]"].get_cmap().name == "inferno"  # one-signed fields keep a sequential map
    assert overlapping_tick_labels(fig) == []


def test_solver_maps_are_cropped_to_the_domain(tmp_path):
    """A 30 mm x 8 mm domain saved without a wide empty band: the PNG's aspect follows the stacked maps."""
    from PIL import Image

    path = plot_fields(jet_columns(), ["T", "omega_C"], tmp_path / "flame.png", "jet")
    width, height = Image.open(path).size
    assert height < 0.9 * width  # two maps of aspect 30:8 and their colour bars, not two 8 x 2.4 inch panels


def test_table_and_surrogate_maps_share_units_and_the_difference_is_centred(tmp_path):
    table = jet_columns()
    surrogate = {**table, "omega_C": table["omega_C"] * 1.02, "T": table["T"] + 5.0}
    bars = colour_bars(pair_figure(table, surrogate, ["T", "omega_C"], "pair"))
    assert {"T [K]", "ΔT [K]", "omega_C [kg/m³/s]", "Δomega_C [kg/m³/s]"} == set(bars)
    difference = bars["ΔT [K]"]  # a one-signed difference is still drawn about 0
    assert difference.get_cmap().name == "RdBu_r" and difference.norm.vmin == pytest.approx(-5.0)
