"""Figures of the Cantera tables as PNG files: a flamelet table's S-curve, profiles and structured (Z, Λ) table;
equilibrium T against Z; ignition delay against 1000/T; premixed flame speed against φ.

Matplotlib is used with the Agg backend (no display needed) and imported only inside the functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import TableError

from .flamelet import turning_point

BRANCH_STYLE = {"stable": ("tab:red", "o", "-"), "unstable": ("tab:blue", "s", "--"), "extinguished": ("0.4", "x", "")}


def read_s_curve(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The ``/s_curve`` columns of a flamelet table (branch decoded to str)."""
    import h5py

    with h5py.File(path, "r") as h5:
        if "s_curve" not in h5:
            raise TableError(f"{path}: no /s_curve group; not a flamelet table")
        group = h5["s_curve"]
        data = {name: np.asarray(group[name][()]) for name in group}
    data["branch"] = np.array([b.decode() if isinstance(b, bytes) else str(b) for b in data["branch"]])
    return data


def s_curve_turning_point(curve: dict[str, np.ndarray], pressure: float) -> tuple[np.ndarray, Any]:
    """(burning-flamelet mask, extinction turning point fitted between them, or None) of the S-curve at
    `pressure` (:func:`cantera_tables.flamelet.turning_point`)."""
    burning = (curve["pressure"] == pressure) & (curve["branch"] != "extinguished")
    if not burning.any():
        return burning, None
    return burning, turning_point(*(curve[name][burning] for name in ("chi_st", "T_max", "strain_rate",
                                                                       "global_strain_rate")))


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, target: Path, dpi: int = 110) -> Path:
    fig.tight_layout()
    fig.savefig(target, dpi=dpi)
    plt.close(fig)
    return target


def plot_s_curve(path: str | os.PathLike, out: Path) -> Path:
    """T_max against χ_st, one line per branch and pressure; both branches meet at the turning point."""
    plt = _figure()
    curve = read_s_curve(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for p in np.unique(curve["pressure"]):
        at_p = curve["pressure"] == p
        _, turn = s_curve_turning_point(curve, p)
        for branch, (color, marker, line) in BRANCH_STYLE.items():
            sel = np.flatnonzero(at_p & (curve["branch"] == branch))
            chi, T = curve["chi_st"][sel], curve["T_max"][sel]
            if branch != "extinguished" and turn is not None and sel.size:  # both branches end at the turning point
                chi, T = np.append(chi, turn.chi_st), np.append(T, turn.T_max)
            order = np.argsort(T)[::-1]
            label = f"{branch}" + (f", p={p:g} Pa" if len(np.unique(curve['pressure'])) > 1 else "")
            ax.plot(chi[order], T[order], color=color, ls=line)
            ax.plot(curve["chi_st"][sel], curve["T_max"][sel], color=color, marker=marker, ls="", ms=4,
                    label=label if sel.size else None)
        if turn is not None:
            ax.annotate(f"extinction\n$\\chi_{{st}}$={turn.chi_st:.3g} 1/s", (turn.chi_st, turn.T_max),
                        textcoords="offset points", xytext=(-230, -10), arrowprops={"arrowstyle": "->"})
    ax.set_xscale("log")
    ax.set_xlabel(r"$\chi_{st}$ [1/s]")
    ax.set_ylabel(r"$T_{max}$ [K]")
    ax.set_title("S-curve")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(plt, fig, out / "s_curve.png", dpi=120)


def plot_profiles(path: str | os.PathLike, out: Path, n_per_branch: int = 4) -> Path:
    """T, Y_H2O and Y_OH against Z for a few flamelets of each branch."""
    import h5py

    plt = _figure()
    curve = read_s_curve(path)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    with h5py.File(path, "r") as h5:
        for branch, (color, _, line) in BRANCH_STYLE.items():
            sel = np.flatnonzero(curve["branch"] == branch)
            picks = sel[np.unique(np.linspace(0, len(sel) - 1, min(n_per_branch, len(sel))).astype(int))]
            for k, index in enumerate(picks):
                g = h5["flamelets"][f"{int(curve['flamelet'][index]):05d}"]
                species = json.loads(g["Y"].attrs["species"])
                Z, T, Y = g["Z"][()], g["T"][()], g["Y"][()]
                label = f"{branch}, $\\chi_{{st}}$={curve['chi_st'][index]:.3g} 1/s"
                axes[0].plot(Z, T, color=color, ls=line or ":", alpha=0.4 + 0.6 * (k + 1) / len(picks), label=label)
                for ax, name in zip(axes[1:], ("H2O", "OH")):
                    if name in species:
                        ax.plot(Z, Y[:, species.index(name)], color=color, ls=line or ":",
                                alpha=0.4 + 0.6 * (k + 1) / len(picks))
    for ax, ylabel in zip(axes, ("T [K]", r"$Y_{H_2O}$ [-]", r"$Y_{OH}$ [-]")):
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_xlabel("Z (Bilger) [-]")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("flamelet profiles in mixture fraction")
    return _save(plt, fig, out / "profiles.png")


def plot_structured(path: str | os.PathLike, out: Path) -> Path | None:
    """Temperature and omega_C on the structured (Z, Λ) table, if the file has one."""
    import h5py

    with h5py.File(path, "r") as h5:
        if "structured" not in h5:
            return None
        Z, Lambda = h5["structured/Z"][()], h5["structured/Lambda"][()]
        T, omega = h5["structured/outputs/T"][()], h5["structured/outputs/omega_C"][()]
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, values, title in ((axes[0], T, "T [K]"), (axes[1], omega, r"$\omega_C$ [kg/m$^3$/s]")):
        mesh = ax.pcolormesh(Z, Lambda, values.T, shading="auto")
        fig.colorbar(mesh, ax=ax)
        ax.set_xscale("log")
        ax.set_xlim(max(Z[1], 1e-4), 1)
        ax.set_xlabel("Z [-]")
        ax.set_ylabel(r"$\Lambda$ [-]")
        ax.set_title(title)
    fig.suptitle("structured (Z, Λ) table")
    return _save(plt, fig, out / "structured.png")


def plot_table(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """All figures of a flamelet table into `out_dir` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = [plot_s_curve(path, out), plot_profiles(path, out), plot_structured(path, out)]
    return [p for p in made if p is not None]


def plot_equilibrium(path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Equilibrium temperature against mixture fraction, one curve per (T_in, p) line, Z_st marked."""
    from surrogate.table import Table

    table = Table(path)
    Z, T, line = table.read("Z"), table.read("T"), table.read_labels("line")
    T_in, p = table.attrs["line_T_in"], table.attrs["line_pressure"]
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for k in range(len(T_in)):
        at = line == k
        label = ("adiabatic mixing" if T_in[k] != T_in[k] else f"$T_{{in}}$={T_in[k]:g} K") + f", p={p[k]:g} Pa"
        ax.plot(Z[at], T[at], label=label)
    ax.axvline(table.attrs["Z_st"], color="0.5", ls=":", label=f"$Z_{{st}}$={table.attrs['Z_st']:.4f}")
    ax.set_xlabel("Z (Bilger)")
    ax.set_ylabel("equilibrium T [K]")
    ax.set_title(f"equilibrium (HP), {table.attrs['mechanism']}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _save(plt, fig, out / "equilibrium_T.png")


def read_group(path: str | os.PathLike, name: str) -> dict[str, np.ndarray]:
    """The columns of a summary group (``/ignition``, ``/flames``) of a table."""
    import h5py

    with h5py.File(path, "r") as h5:
        if name not in h5:
            raise TableError(f"{path}: no /{name} group")
        return {column: np.asarray(h5[name][column][()]) for column in h5[name]}


MIXTURE_AXIS_LABELS = {"phi": (r"$\phi$", r"equivalence ratio $\phi$"), "Z": ("Z", "mixture fraction Z (Bilger)")}


def mixture_axis(path: str | os.PathLike) -> str:
    """The column the table's mixtures were given in (``phi``, or ``Z`` for a ``--mixture-fraction`` build),
    so its plots label mixtures the way the user asked for them."""
    from surrogate.table import Table

    inputs = Table(path).defaults.default_inputs or []
    return "Z" if "Z" in inputs and "phi" not in inputs else "phi"


def plot_ignition_delay(path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Ignition delay (log) against 1000/T0, one line per (mixture, p): the Arrhenius plot of ignition."""
    delays = read_group(path, "ignition")
    axis = mixture_axis(path)
    symbol = MIXTURE_AXIS_LABELS[axis][0]
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for p in np.unique(delays["p"]):
        for mixture in np.unique(delays[axis]):
            at = np.flatnonzero((delays["p"] == p) & (delays[axis] == mixture))
            at = at[np.argsort(delays["T0"][at])]
            ax.semilogy(1000.0 / delays["T0"][at], delays["tau_ign"][at], marker="o", ms=4,
                        label=f"{symbol}={mixture:.4g}, p={p:g} Pa")
    ax.set_xlabel("1000 / $T_0$ [1/K]")
    ax.set_ylabel(r"$\tau_{ign}$ [s] (max dT/dt)")
    ax.set_title("constant-pressure ignition delay")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _save(plt, fig, out / "ignition_delay.png")


def plot_flame_speed(path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Laminar flame speed and thermal thickness of the free flames against φ (or Z for a table built in Z),
    one line per pressure."""
    flames = read_group(path, "flames")
    axis = mixture_axis(path)
    free = flames["mass_flux_ratio"] == 1.0
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for p in np.unique(flames["p"][free]):
        at = np.flatnonzero(free & (flames["p"] == p))
        at = at[np.argsort(flames[axis][at])]
        axes[0].plot(flames[axis][at], flames["S_L"][at], marker="o", ms=4, label=f"p={p:g} Pa")
        axes[1].plot(flames[axis][at], flames["delta_L"][at] * 1e3, marker="o", ms=4, label=f"p={p:g} Pa")
    for ax, ylabel in zip(axes, ("$S_L$ [m/s]", r"$\delta_L$ [mm]")):
        ax.set_xlabel(MIXTURE_AXIS_LABELS[axis][1])
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("freely propagating premixed flames")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _save(plt, fig, out / "flame_speed.png")


def plot_presumed_pdf(path: str | os.PathLike, out_dir: str | os.PathLike, n_lines: int = 5) -> Path:
    """Favre-mean T and Reynolds-mean ω_C of a presumed-PDF table against Z_mean, one line per normalized variance
    S of Z (S = 0 is the laminar flamelet, larger S flattens and lowers the peak), at the Λ_mean node of the
    hottest laminar flamelet (and Λ variance 0 for a β-in-Λ table)."""
    import h5py

    with h5py.File(path, "r") as h5:
        if "structured" not in h5:
            raise TableError(f"{path}: no /structured group; not a presumed-PDF table")
        group = h5["structured"]
        Z_mean, S = group["Z_mean"][()], group["Z_var_norm"][()]
        T, omega = group["outputs/T"][()], group["outputs/omega_C"][()]
        Lambda = group["Lambda_mean"][()]
    if T.ndim == 4:  # β in Λ: the Λ variance 0 slice, a δ in Λ
        T, omega = T[..., 0], omega[..., 0]
    hottest = int(np.argmax(T[:, 0, :].max(axis=0)))
    picks = np.unique(np.linspace(0, len(S) - 1, min(n_lines, len(S))).round().astype(int))
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(picks)))
    for colour, k in zip(colours, picks):
        axes[0].plot(Z_mean, T[:, k, hottest], color=colour, label=f"S = {S[k]:.2g}")
        axes[1].plot(Z_mean, omega[:, k, hottest], color=colour)
    for ax, ylabel in zip(axes, (r"Favre mean $\tilde T$ [K]", r"mean $\bar\omega_C$ [kg/m$^3$/s]")):
        ax.set_xlabel(r"Favre mean mixture fraction $\tilde Z$")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(title=r"$S = \widetilde{Z''^2} / (\tilde Z (1 - \tilde Z))$", fontsize=8)
    fig.suptitle(rf"presumed $\beta$-PDF table at $\Lambda$ = {Lambda[hottest]:.3g} (hottest laminar flamelet)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _save(plt, fig, out / "pdf_means.png")
