"""Element conservation as a loss: Bilger's mixture fraction of the predicted mass fractions must equal Z."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from surrogate.chemistry import BilgerMixtureFraction
from surrogate.contracts import Batch, PhysicsContext, PhysicsLoss
from surrogate.errors import PluginError, TableError
from surrogate.options import Option
from surrogate.ranges import NON_NEGATIVE
from surrogate.terms import LossTerms, physics_term

TERM = physics_term("mixture_fraction")
MASS_FRACTION_PREFIX = "Y_"


class MixtureFraction(PhysicsLoss):
    """physics/mixture_fraction = weight * (Z(Y_pred) - Z)^2, element-wise over the batch.

    Z(Y) = sum_k w_k Y_k + z0 is Bilger's mixture fraction (Bilger, Stårner, Kee, Combust. Flame 80, 1990),
    linear in the mass fractions, with coefficients from the element data the table stores
    (:mod:`surrogate.chemistry`). Mixing conserves elements, so in a flamelet or any mixture of the two streams
    the mixture fraction of the composition equals the input Z; a model that breaks element conservation pays.
    Species the model does not predict (e.g. N2, which carries none of C, H, O) contribute nothing.
    Needs no targets (only the input Z and the predictions), so it also applies where ``batch.y`` is None.
    """

    description: ClassVar[str] = "Bilger Z of the predicted Y_* must equal the input Z (element conservation)"
    options: ClassVar[tuple[Option, ...]] = (Option("weight", 1.0, "multiplies the term", bounds=NON_NEGATIVE),)

    def __init__(self, context: PhysicsContext, *, weight: float, **options: Any):
        super().__init__(context)
        owner = "physics loss 'mixture-fraction'"
        if "Z" not in context.input_names:
            raise PluginError(f"{owner}: the table has no input 'Z'; inputs: {', '.join(context.input_names)}")
        self.columns = [i for i, name in enumerate(context.output_names) if name.startswith(MASS_FRACTION_PREFIX)]
        if not self.columns:
            raise PluginError(f"{owner}: no predicted mass fractions (outputs named Y_*) among "
                              f"{', '.join(context.output_names)}")
        species = [context.output_names[i][len(MASS_FRACTION_PREFIX):] for i in self.columns]
        try:
            bilger = BilgerMixtureFraction.from_table_attrs(context.table_attrs)
        except TableError as exc:
            raise PluginError(f"{owner}: {exc}") from None
        unknown = [s for s in species if s not in bilger.coefficients]
        if unknown:
            raise PluginError(f"{owner}: the table's element data has no species {', '.join(unknown)}")
        w, z0 = bilger.linear_form(species)
        w_all = torch.zeros(len(context.output_names), dtype=torch.float64)
        w_all[self.columns] = torch.as_tensor(w, dtype=torch.float64)
        self.z_column = context.input_names.index("Z")
        # zero for outputs that are not mass fractions: no gather per step; one copy per dtype the model uses
        self.w = {torch.float64: w_all.to(context.device)}
        self.z0 = float(z0)
        self.weight = weight

    def term_names(self) -> list[str]:
        return [TERM]

    def terms(self, batch: Batch) -> LossTerms:
        Y = batch.y_pred_phys
        if Y.dtype not in self.w:
            self.w[Y.dtype] = self.w[torch.float64].to(Y.dtype)
        z_of_y = Y @ self.w[Y.dtype] + self.z0
        return {TERM: self.weight * (z_of_y - batch.x_phys[:, self.z_column]) ** 2}
