"""PDE residual, boundary and initial terms of a collocation problem, the residual optionally grouped by
subdomain (MMPINN, arXiv 2308.06672, section "grouping").

``pde/residual`` = r(x)² at each interior point, r the residual of the problem the dataset names (from the
registry, ``surrogate.problems``) by automatic differentiation with respect to the physical inputs;
``pde/boundary`` = (u - g)² at the boundary points, g the problem's conditions (Dirichlet data: the exact
solution there, by default), and ``pde/initial`` the same at the initial time,
which the task passes in ``Batch.extras`` as (points, u). With groups, the residual becomes
``pde/residual/g0``, ``pde/residual/g1``, ...: term g is r² · N/N_g at the N_g points of subdomain g (of the
batch's N) and 0 elsewhere, so its mean is the mean of r² over the subdomain's own points, the paper's group
loss L_g, and the power strategy transforms each as L_g^(1/n_g) with its own exponent. (A plain masked r²
would average over all N points: (N_g/N) L_g, shrinking a small subdomain's term.) The group terms weighted by
their share N_g/N add up to the ungrouped residual element by element; unweighted, their means sum to
Σ_g L_g, which weights every subdomain alike rather than every point.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from surrogate import registry
from surrogate.contracts import Batch, PhysicsContext, PhysicsLoss, lacking
from surrogate.errors import PluginError
from surrogate.options import Option, parse_floats
from surrogate.ranges import ANY, COUNT
from surrogate.terms import LossTerms, pde_term

CONDITIONS = ("boundary", "initial")


class PdeLoss(PhysicsLoss):
    """Residual (optionally one term per subdomain along one input), boundary and initial terms."""

    description: ClassVar[str] = "PDE residual, boundary and initial terms of a collocation problem; residual " \
                                 "grouped by subdomain (MMPINN)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("groups", 1, "split the residual into k equal subdomains along `axis` (pde/residual/g0, ...)",
               bounds=COUNT),
        Option("breaks", [], "subdomain boundaries along `axis` instead of k equal parts, e.g. 0.4,0.6 (increasing, "
               "inside the domain)", type=parse_floats, bounds=ANY),
        Option("axis", "", "input along which the residual is grouped [default: the first]"),
    )

    def __init__(self, context: PhysicsContext, *, groups: int, breaks: list[float], axis: str, **options: Any):
        super().__init__(context)
        owner = "physics loss 'pde'"
        self.equation = registry.problem_for(context.table_attrs, owner)
        if self.equation is None or lacking(self.equation, "residual"):
            raise PluginError(f"{owner}: needs a dataset whose problem has a residual (root attribute 'problem' "
                              f"naming one of {', '.join(sorted(registry.available('problems')))})")
        axis = axis or context.input_names[0]
        if axis not in context.input_names:
            raise PluginError(f"{owner}: axis {axis!r} is not an input ({', '.join(context.input_names)})")
        self.axis = context.input_names.index(axis)
        lo, hi = context.table_attrs["domain"][axis]
        if breaks:
            if sorted(breaks) != list(breaks) or not lo < breaks[0] or not breaks[-1] < hi:
                raise PluginError(f"{owner}: breaks {breaks} must increase strictly inside {axis} in [{lo}, {hi}]")
            inner = list(breaks)
        else:
            inner = [lo + (hi - lo) * i / groups for i in range(1, groups)]
        self.inner_edges = torch.tensor(inner, dtype=torch.float64)
        self.residual_names = ([pde_term(f"residual/g{g}") for g in range(len(inner) + 1)] if inner
                               else [pde_term("residual")])
        hard = (context.table_attrs.get("problem") or {}).get("constraints", "soft") == "hard"  # met by the network itself
        self.conditions = [] if hard else ["boundary", *(["initial"] if self.equation.time else [])]

    def term_names(self) -> list[str]:
        return [*self.residual_names, *(pde_term(part) for part in self.conditions)]

    def groups_of(self, points: torch.Tensor) -> torch.Tensor:
        """Subdomain index of each point (a point on a break belongs to the group above it)."""
        coordinate = points[:, self.axis].detach()
        return torch.bucketize(coordinate, self.inner_edges.to(coordinate), right=True)

    def terms(self, batch: Batch) -> LossTerms:
        squared = self.equation.residual(batch.x_phys, batch.y_pred_phys) ** 2
        if len(self.residual_names) == 1:
            terms: LossTerms = {self.residual_names[0]: squared}
        else:
            group = self.groups_of(batch.x_phys)
            terms = {}
            for g, name in enumerate(self.residual_names):
                inside = (group == g).to(squared.dtype)
                terms[name] = squared * inside * (len(inside) / inside.sum().clamp_min(1.0))
        for part in self.conditions:
            if part not in batch.extras:
                raise PluginError(f"physics loss 'pde': the task gave no {part} points (Batch.extras[{part!r}]); "
                                  "train with --task pinn")
            points, u = batch.extras[part]
            terms[pde_term(part)] = ((u - self.equation.conditions(points)) ** 2).reshape(-1)
        return terms
