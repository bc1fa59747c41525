"""Bilger's mixture fraction from species mass fractions, with element data carried by the table.

Bilger's coupling function  beta = 2 Z_C/W_C + Z_H/(2 W_H) - Z_O/W_O  with element mass fractions
Z_e = sum_k a_ek W_e Y_k / W_k is linear in Y:  beta = sum_k b_k Y_k,  b_k = (2 a_Ck + a_Hk/2 - a_Ok) / W_k.
Then  Z = (beta - beta_ox) / (beta_fuel - beta_ox),  so Z = Y @ w + z0 for any array library (NumPy or torch).

Tables store ``species_composition`` ({species: {element: atoms}}), ``species_molecular_weights``
({species: kg/kmol}), ``bilger_beta_fuel`` and ``bilger_beta_oxidizer`` as root attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import TableError, UserError

BILGER_ELEMENT_FACTORS = {"C": 2.0, "H": 0.5, "O": -1.0}


def bilger_coefficients(
    composition: Mapping[str, Mapping[str, float]], molecular_weights: Mapping[str, float]
) -> dict[str, float]:
    """b_k of beta = sum_k b_k Y_k for every species."""
    return {
        species: sum(BILGER_ELEMENT_FACTORS.get(e, 0.0) * n for e, n in atoms.items()) / molecular_weights[species]
        for species, atoms in composition.items()
    }


def bilger_beta(Y: Mapping[str, float], coefficients: Mapping[str, float]) -> float:
    """Bilger's coupling function of one composition given as {species: mass fraction}."""
    return float(sum(coefficients[s] * y for s, y in Y.items()))


@dataclass
class BilgerMixtureFraction:
    """Z(Y) = (beta(Y) - beta_ox) / (beta_fuel - beta_ox) for one pair of inlet streams."""

    coefficients: dict[str, float]
    beta_fuel: float
    beta_oxidizer: float

    def __post_init__(self) -> None:
        if abs(self.beta_fuel - self.beta_oxidizer) < 1e-12:
            raise UserError("fuel and oxidizer have the same Bilger coupling function: mixture fraction undefined")

    @property
    def Z_st(self) -> float:
        """Stoichiometric mixture fraction, where beta = 0 (the constant z0 of the linear form)."""
        return -self.beta_oxidizer / (self.beta_fuel - self.beta_oxidizer)

    @classmethod
    def from_table_attrs(cls, attrs: Mapping[str, Any]) -> "BilgerMixtureFraction":
        missing = [
            k
            for k in ("species_composition", "species_molecular_weights", "bilger_beta_fuel", "bilger_beta_oxidizer")
            if k not in attrs
        ]
        if missing:
            raise TableError(f"table lacks the element data for mixture fraction: {', '.join(missing)}")
        return cls(
            coefficients=bilger_coefficients(attrs["species_composition"], attrs["species_molecular_weights"]),
            beta_fuel=float(attrs["bilger_beta_fuel"]),
            beta_oxidizer=float(attrs["bilger_beta_oxidizer"]),
        )

    def linear_form(self, species: Sequence[str]) -> tuple[np.ndarray, float]:
        """(w, z0) with Z = Y @ w + z0 for mass-fraction columns ordered as `species`."""
        span = self.beta_fuel - self.beta_oxidizer
        w = np.array([self.coefficients.get(s, 0.0) / span for s in species])
        return w, -self.beta_oxidizer / span

    def __call__(self, Y: np.ndarray, species: Sequence[str]) -> np.ndarray:
        """Z for an (n, len(species)) array of mass fractions."""
        w, z0 = self.linear_form(species)
        return np.asarray(Y) @ w + z0
