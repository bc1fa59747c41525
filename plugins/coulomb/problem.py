"""The ``coulomb-explosion`` problem (``surrogate.problems``): what the ``cvae`` task asks of a Coulomb-explosion
table without importing this package: the columns that hold the ions' vectors, the momentum frame
(:mod:`.frame`) and the judgement of predicted geometries (:mod:`.judge`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from surrogate.contracts import Problem

from .frame import momentum_frame
from .generator import MOMENTA, POSITIONS
from .judge import baselines, geometry_metrics


class CoulombExplosionProblem(Problem):
    """Imaging: infer the geometry of OCS (C, O, S positions) from the asymptotic momenta of its exploded ions."""

    description: ClassVar[str] = "Coulomb-explosion imaging of OCS: ion momenta -> geometry; momentum frame, " \
                                 "geometry measures"
    judged: ClassVar[str] = "geometry"

    def frame_columns(self) -> tuple[list[str], list[str]]:
        return list(MOMENTA), list(POSITIONS)

    def frame(self, condition: torch.Tensor) -> torch.Tensor:
        return momentum_frame(condition)

    def judge(self, condition: np.ndarray, true: np.ndarray, predicted: np.ndarray, *,
              forward: bool = True) -> dict[str, float]:
        return geometry_metrics(condition, true, predicted, forward=forward)

    def trivial(self, train: np.ndarray, true: np.ndarray) -> dict[str, float]:
        return baselines(train, true)
