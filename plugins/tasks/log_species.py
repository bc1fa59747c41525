"""A log-space error for mass fractions closed by a softmax: relative accuracy for trace species.

A squared error on Y_k (even divided by Var(Y_k)) is set by the largest values of a species: NO2 peaks at
1e-5 in a flamelet at low strain and stays near 1e-7 in the flamelets close to extinction, so an error of 1e-7
costs nothing in training and is the whole signal in those flamelets. The softmax closure predicts
ln Y_k = z_k - logsumexp(z) directly, so an error in ln Y is natural there and leaves ΣY = 1 untouched.
"""

from __future__ import annotations

import numpy as np
import torch

from surrogate.errors import UserError


class LogSpeciesError:
    """e_k = λ · Var(Y_k) / Var(u_k) · (u_k(Ŷ) − u_k(Y))²,  u_k(Y) = ln(Y + ε_k),  ε_k = floor · max_train Y_k,

    added to the squared error of each closed mass fraction Y_k. Var(·) are training-row variances, so
    with inverse-variance weights a closed output's term is (1 − R²_k) + λ (1 − R²_k in ln space): the linear
    fit keeps its weight, and the log fit asks for the same share of relative accuracy wherever Y_k lies above
    ε_k (below it, a species counts as absent). ln(Y + ε) is the shifted Box-Cox transform at exponent 0 (Box &
    Cox, "An analysis of transformations", J. R. Stat. Soc. B 26, 1964). Inverse-variance weighting (arXiv
    2308.01954) balances species against each other; this term balances the decades within one species.
    """

    def __init__(self, y_train: np.ndarray, closed: list[int], weight: float, floor: float):
        """`y_train`: training targets (rows × outputs, physical units for the closed columns); `closed`: the
        columns of the softmax-closed mass fractions."""
        y = np.asarray(y_train, dtype=np.float64)[:, closed]
        eps = floor * np.maximum(y.max(axis=0), np.finfo(np.float64).tiny)
        var_u = np.log(y + eps).var(axis=0)
        var_y = y.var(axis=0)
        scale = np.where(var_u > 0.0, var_y / np.where(var_u > 0.0, var_u, 1.0), 0.0)
        self.columns = torch.as_tensor(closed, dtype=torch.long)
        self.eps = torch.as_tensor(eps)
        self.factor = torch.as_tensor(weight * scale)

    @classmethod
    def for_task(cls, y_train: np.ndarray, mask: list[bool], weight: float, floor: float,
                 owner: str) -> "LogSpeciesError":
        """The term for a task's closed columns (`mask`); a one-line error when nothing is closed (the term
        needs the softmax closure's mass fractions)."""
        closed = [j for j, m in enumerate(mask) if m]
        if not closed:
            raise UserError(f"{owner}: log_species needs mass fractions closed by a softmax (a softmax model and "
                            "a table that declares softmax outputs); this run closes none")
        return cls(y_train, closed, weight, floor)

    def to(self, device: torch.device, dtype: torch.dtype) -> "LogSpeciesError":
        self.columns = self.columns.to(device)
        self.eps, self.factor = self.eps.to(device, dtype), self.factor.to(device, dtype)
        return self

    def __call__(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The (batch × closed columns) log-space errors e_k, to add to those columns' squared errors."""
        u_pred = torch.log(y_pred.index_select(1, self.columns) + self.eps)
        u = torch.log(y.index_select(1, self.columns) + self.eps)
        return self.factor * (u_pred - u) ** 2
