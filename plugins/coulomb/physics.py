"""Coulomb explosion of point ions from rest, in atomic units (bohr, hartree, electron masses, ħ = 1).

Three ions (C, O, S, each of charge +2 as in Ghanaatian 2024) start at rest at their geometry r_i(0) and fly
apart under U = Σ_{i<j} q_i q_j / r_ij. The measured quantities are the asymptotic momenta p_i(∞); energy
conservation says Σ |p_i(∞)|² / 2 m_i = U(r(0)), and Σ p_i = 0 since the explosion starts at rest.

:func:`explode` integrates many explosions at once (arrays ``(n, atoms, 3)``) with classical RK4 in log-time
s = ln(t/τ): the motion starts slowly (r - r(0) ∝ t²) and ends in free flight (r ∝ t), so equal steps in s follow
both. The potential energy left at the final time T is accounted for analytically: each pair's remaining impulse
is integrated along straight lines from T to ∞ (closed form, :func:`tail_impulse`), then the momenta are scaled
so their kinetic energy equals the integrator's total energy at T. NumPy only, no torch.
"""

from __future__ import annotations

import numpy as np

ATOMS = ("C", "O", "S")
MASSES = np.array([21894.71361, 29164.39289, 58441.80487])  # electron masses (Ghanaatian 2024)
CHARGES = np.array([2.0, 2.0, 2.0])  # elementary charges of the dications' ions (Ghanaatian 2024: PE = Σ 4 / r_ij)

START = 1e-3  # first time of the integration, in units of the explosion's time scale τ (Taylor start before it)
END = 1e4  # last time, in units of τ: the remaining potential energy is then ~1e-4 of the total, handled analytically
STEPS = 300  # RK4 steps, equal in ln t, from START to END


def pair_vectors(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, d) for every pair i < j: index arrays and d = r_i - r_j, shaped (n, pairs, 3)."""
    i, j = np.triu_indices(positions.shape[1], k=1)
    return i, j, positions[:, i] - positions[:, j]


def potential_energy(positions: np.ndarray, charges: np.ndarray = CHARGES) -> np.ndarray:
    """U = Σ_{i<j} q_i q_j / |r_i - r_j| per row (hartree) of positions (n, atoms, 3) in bohr."""
    i, j, d = pair_vectors(positions)
    return np.sum(charges[i] * charges[j] / np.linalg.norm(d, axis=-1), axis=-1)


def kinetic_energy(momenta: np.ndarray, masses: np.ndarray = MASSES) -> np.ndarray:
    """K = Σ |p_i|² / 2 m_i per row (hartree) of momenta (n, atoms, 3) in ħ/bohr."""
    return np.sum(np.sum(momenta**2, axis=-1) / (2.0 * masses), axis=-1)


def forces(positions: np.ndarray, charges: np.ndarray = CHARGES) -> np.ndarray:
    """F_i = Σ_j q_i q_j (r_i - r_j) / |r_i - r_j|³, shaped like positions."""
    i, j, d = pair_vectors(positions)
    pair = (charges[i] * charges[j])[:, None] * d / np.linalg.norm(d, axis=-1, keepdims=True) ** 3
    result = np.zeros_like(positions)
    np.add.at(result, (slice(None), i), pair)
    np.add.at(result, (slice(None), j), -pair)
    return result


def time_scale(positions: np.ndarray, masses: np.ndarray = MASSES, charges: np.ndarray = CHARGES) -> np.ndarray:
    """τ = sqrt(m_min r_min³ / q²) per row: the time in which the closest, lightest pair moves noticeably."""
    _, _, d = pair_vectors(positions)
    r_min = np.linalg.norm(d, axis=-1).min(axis=-1)
    return np.sqrt(masses.min() * r_min**3 / (charges.max() ** 2))


def tail_impulse(positions: np.ndarray, momenta: np.ndarray, masses: np.ndarray = MASSES,
                 charges: np.ndarray = CHARGES) -> np.ndarray:
    """Momentum each ion still gains from T to ∞ if every pair moved on straight lines from its state at T.

    For d(u) = a + b u (a = r_i - r_j, b = v_i - v_j, u = t - T), ∫_0^∞ d/|d|³ du = a I_0 + b I_1 with
    I_0 = 1 / (|a| (|a||b| + a·b)) and I_1 = 1 / (|b| (|a||b| + a·b)): the textbook forms (√C - B/√A)/Δ and
    (√A - B/√C)/Δ with Δ = AC - B² rewritten without the cancellation they suffer when the pair flies apart
    radially (Δ → 0)."""
    i, j, a = pair_vectors(positions)
    velocities = momenta / masses[:, None]
    b = velocities[:, i] - velocities[:, j]
    a_norm, b_norm = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    common = a_norm * b_norm + np.sum(a * b, axis=-1)
    pair = (charges[i] * charges[j])[:, None] * (a / (a_norm * common)[..., None] + b / (b_norm * common)[..., None])
    result = np.zeros_like(momenta)
    np.add.at(result, (slice(None), i), pair)
    np.add.at(result, (slice(None), j), -pair)
    return result


def explode(positions: np.ndarray, masses: np.ndarray = MASSES, charges: np.ndarray = CHARGES,
            steps: int = STEPS, start: float = START, end: float = END) -> tuple[np.ndarray, np.ndarray]:
    """Asymptotic momenta (n, atoms, 3) of explosions from rest at `positions` (n, atoms, 3), and the relative
    energy error |K(∞) - U(0)| / U(0) of each row (the integrator's; the final scaling keeps it)."""
    positions = np.asarray(positions, dtype=np.float64)
    tau = time_scale(positions, masses, charges)[:, None, None]
    m = masses[:, None]
    force0 = forces(positions, charges)
    t0 = start * tau
    r = positions + 0.5 * force0 / m * t0**2  # r(t) = r0 + a0 t²/2 + O(t⁴) (the jerk vanishes at rest)
    p = force0 * t0
    h = np.log(end / start) / steps

    def rate(s: float, r: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = tau * np.exp(s)
        return t * p / m, t * forces(r, charges)

    s = np.log(start)
    for _ in range(steps):
        k1r, k1p = rate(s, r, p)
        k2r, k2p = rate(s + h / 2, r + h / 2 * k1r, p + h / 2 * k1p)
        k3r, k3p = rate(s + h / 2, r + h / 2 * k2r, p + h / 2 * k2p)
        k4r, k4p = rate(s + h, r + h * k3r, p + h * k3p)
        r = r + h / 6 * (k1r + 2 * k2r + 2 * k3r + k4r)
        p = p + h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p)
        s += h
    total = kinetic_energy(p, masses) + potential_energy(r, charges)
    p_inf = p + tail_impulse(r, p, masses, charges)
    p_inf *= np.sqrt(total / kinetic_energy(p_inf, masses))[:, None, None]
    initial = potential_energy(positions, charges)
    return p_inf, np.abs(total - initial) / initial
