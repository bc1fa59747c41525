"""Scalers as torch modules, so the exported ONNX graph takes physical inputs and returns physical outputs.

Inputs: min-max to [-1, 1], optionally after log10 (scalar dissipation rate spans decades); a log input is
floored (:func:`log_floors`) so χ = 0 at the streams stays finite.
Outputs: standardization for plain outputs; identity for outputs of a softmax head (mass fractions are
learned in physical units, the softmax keeps them positive and summing to one).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn


def log_floors(min_positive: Sequence[float], log: Sequence[bool], given: Sequence[float | None]) -> list[float]:
    """The floor of each input: the value the user gave for a log input, else its smallest positive training value
    (1 where it has none, and for linear inputs). Values below the floor enter as the floor.

    A given floor is for inputs that span more decades than matter: the mixture fraction of a flamelet table
    reaches 1e-16 near the oxidizer, so log10 Z spends most of the input range on rows where nothing changes;
    floored at 1e-4 the lean side, where NO2 and the flame sit, gets the resolution."""
    return [float(g) if flag and g is not None else (float(m) if flag and np.isfinite(m) and m > 0 else 1.0)
            for m, flag, g in zip(min_positive, log, given)]


class InputScaler(nn.Module):
    """x_model = 2 (f(x) - lo) / (hi - lo) - 1 with f = log10(max(x, floor)) for log inputs, else identity."""

    def __init__(self, lo: Sequence[float], hi: Sequence[float], log: Sequence[bool], floor: Sequence[float]):
        super().__init__()
        self.register_buffer("lo", torch.tensor(lo, dtype=torch.float32))
        self.register_buffer("span", torch.tensor(np.maximum(np.subtract(hi, lo), 1e-30), dtype=torch.float32))
        self.register_buffer("log_mask", torch.tensor(log, dtype=torch.bool))
        self.register_buffer("floor", torch.tensor(floor, dtype=torch.float32))
        # inputs without a log column skip the log branch: the same numbers, and a physics-informed residual
        # (which differentiates through the scaler twice) does not carry log10, maximum and where along
        self.logged = bool(any(log))
        self.register_load_state_dict_post_hook(lambda module, keys: setattr(module, "logged",
                                                                             bool(module.log_mask.any())))

    @classmethod
    def fit(cls, x: np.ndarray, log: Sequence[bool], given_floors: Sequence[float | None] | None = None) -> "InputScaler":
        """Ranges of the training inputs `x`, log10 where `log`, floored as :func:`log_floors` says."""
        x = np.asarray(x, dtype=np.float64)
        smallest = [float(np.min(col[col > 0])) if np.any(col > 0) else np.inf for col in x.T]
        floor = log_floors(smallest, log, given_floors or [None] * len(log))
        transformed = np.where(log, np.log10(np.maximum(x, floor)), x)
        return cls(transformed.min(axis=0).tolist(), transformed.max(axis=0).tolist(), list(log), floor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.logged:
            x = torch.where(self.log_mask, torch.log10(torch.maximum(x, self.floor)), x)
        return 2.0 * (x - self.lo) / self.span - 1.0

    def slopes(self) -> torch.Tensor | None:
        """∂x_model/∂x per input, 2 / (hi - lo), when the scaling is affine (no log input); else None."""
        return None if self.logged else 2.0 / self.span

    def to_dict(self) -> dict[str, Any]:
        return {
            "lo": self.lo.tolist(),
            "hi": (self.lo + self.span).tolist(),
            "log": self.log_mask.tolist(),
            "floor": self.floor.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputScaler":
        return cls(data["lo"], data["hi"], data["log"], data["floor"])


class OutputScaler(nn.Module):
    """y_phys = y_model * scale + offset per output (scale 1, offset 0 for softmax outputs)."""

    def __init__(self, scale: Sequence[float], offset: Sequence[float]):
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32))

    @classmethod
    def fit(cls, y: np.ndarray, identity: Sequence[bool]) -> "OutputScaler":
        y = np.asarray(y, dtype=np.float64)
        std = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
        scale = np.where(identity, 1.0, std)
        offset = np.where(identity, 0.0, y.mean(axis=0))
        return cls(scale.tolist(), offset.tolist())

    def forward(self, y_model: torch.Tensor) -> torch.Tensor:
        return y_model * self.scale + self.offset

    def inverse(self, y_phys: torch.Tensor) -> torch.Tensor:
        return (y_phys - self.offset) / self.scale

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale.tolist(), "offset": self.offset.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OutputScaler":
        return cls(data["scale"], data["offset"])


class PhysicalModel(nn.Module):
    """Physical inputs -> physical outputs: input scaler, network, output scaler. This is what gets exported."""

    def __init__(self, input_scaler: InputScaler, network: nn.Module, output_scaler: OutputScaler):
        super().__init__()
        self.input_scaler = input_scaler
        self.network = network
        self.output_scaler = output_scaler

    def forward(self, x_phys: torch.Tensor) -> torch.Tensor:
        return self.output_scaler(self.network(self.input_scaler(x_phys)))
