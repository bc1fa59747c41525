"""Physics losses of Coulomb-explosion imaging (Ghanaatian 2024): energy conservation and the relative error, squared.

Both read the ions from the table's root attribute ``coulomb`` (written by the ``coulomb-explosion`` generator:
atoms, masses, charges, the momentum and position column names) and work on physical momenta (the batch's
inputs) and predicted physical positions, element-wise (one value per sample):

- ``physics/energy`` = ((K - U) / K)², K = Σ |p_i|² / 2 m_i of the momenta, U = Σ q_i q_j / r_ij of the predicted
  geometry: zero for a true (momenta, geometry) pair, since the explosion conserves energy;
- ``physics/mre`` = (mean_j |x̂_j - x_j| / max(|x_j|, guard))²: the MRE of Ghanaatian 2024, squared, per sample, with
  coordinates near zero divided by ``guard`` (bohr) instead, so they cannot blow the term up. It needs the
  physical targets, which the ``cvae`` task hands over (``batch.extras["y_phys"]``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from surrogate.contracts import Batch, PhysicsContext, PhysicsLoss
from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.ranges import POSITIVE
from surrogate.terms import LossTerms, physics_term


class CoulombColumns(PhysicsLoss):
    """Base: finds the ions' momenta among the inputs and their positions among the outputs."""

    law: ClassVar[str] = ""

    def __init__(self, context: PhysicsContext, **options: Any):
        super().__init__(context)
        owner = f"physics loss {self.law!r}"
        ions = context.table_attrs.get("coulomb")
        if not isinstance(ions, dict):
            raise PluginError(f"{owner}: the table declares no ions (root attribute 'coulomb'); build it with "
                              "`surrogate table build coulomb-explosion`")
        missing = [n for n in ions["momenta"] if n not in context.input_names] + \
                  [n for n in ions["positions"] if n not in context.output_names]
        if missing:
            raise PluginError(f"{owner}: needs the momenta as inputs and the positions as outputs; "
                              f"{missing[0]!r} is not among them")
        self.momenta = [context.input_names.index(n) for n in ions["momenta"]]
        self.positions = [context.output_names.index(n) for n in ions["positions"]]
        self.masses = torch.tensor(ions["masses"], dtype=torch.float64)
        self.charges = torch.tensor(ions["charges"], dtype=torch.float64)

    def term_names(self) -> list[str]:
        return [physics_term(self.law)]


def coulomb_energy(positions: torch.Tensor, charges: torch.Tensor) -> torch.Tensor:
    """U = Σ_{i<j} q_i q_j / r_ij per row of positions (n, atoms, 3)."""
    i, j = torch.triu_indices(positions.shape[1], positions.shape[1], offset=1, device=positions.device)
    r = torch.linalg.vector_norm(positions[:, i] - positions[:, j], dim=-1)
    return (charges[i] * charges[j] / r).sum(dim=-1)


def kinetic(momenta: torch.Tensor, masses: torch.Tensor) -> torch.Tensor:
    """K = Σ |p_i|² / 2 m_i per row of momenta (n, atoms, 3)."""
    return (momenta.pow(2).sum(dim=-1) / (2.0 * masses)).sum(dim=-1)


class CoulombEnergy(CoulombColumns):
    """physics/energy = ((K(p) - U(x̂)) / K(p))² per sample (Ghanaatian 2024: Energy Diff²)."""

    description: ClassVar[str] = "physics/energy = ((K(p) - U(x_pred)) / K(p))^2: Coulomb energy conservation"
    law = "energy"

    def terms(self, batch: Batch) -> LossTerms:
        dtype = batch.y_pred_phys.dtype
        n = len(batch.y_pred_phys)
        p = batch.x_phys[:, self.momenta].reshape(n, -1, 3)
        x = batch.y_pred_phys[:, self.positions].reshape(n, -1, 3)
        k = kinetic(p, self.masses.to(p.device, dtype))
        u = coulomb_energy(x, self.charges.to(x.device, dtype))
        return {physics_term(self.law): ((k - u) / k) ** 2}


class RelativeError(CoulombColumns):
    """physics/mre = (mean_j |x̂_j - x_j| / max(|x_j|, guard))² per sample (Ghanaatian 2024: MRE², guarded)."""

    description: ClassVar[str] = ("physics/mre = (mean |x_pred - x| / max(|x|, guard))^2 per sample "
                                  "(Ghanaatian 2024: MRE^2)")
    options: ClassVar[tuple[Option, ...]] = (
        Option("guard", 0.1, "coordinates smaller than this (bohr) are divided by it instead of by |x|",
               bounds=POSITIVE),
    )
    law = "mre"

    def __init__(self, context: PhysicsContext, *, guard: float, **options: Any):
        super().__init__(context)
        self.guard = guard

    def terms(self, batch: Batch) -> LossTerms:
        target = batch.extras.get("y_phys")
        if target is None:
            raise PluginError("physics loss 'mre': the task gives no physical targets (batch.extras['y_phys']); "
                              "use it with --task cvae")
        predicted, true = batch.y_pred_phys[:, self.positions], target[:, self.positions]
        relative = (predicted - true).abs() / true.abs().clamp_min(self.guard)
        return {physics_term(self.law): relative.mean(dim=1) ** 2}
