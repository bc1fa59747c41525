"""Built-in model plugins: plain MLP, softmax MLP (mass fractions closed to one), Fourier-feature MLP.

Each factory builds a network from model-space inputs to raw model-space outputs (``surrogate.contracts.
ModelFactory``); the task wraps it in the scalers and, when ``closure`` is ``softmax`` and the dataset
declares mass fractions, in :class:`surrogate.closure.SoftmaxClosure`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from surrogate.contracts import ModelFactory
from surrogate.options import Option

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "softplus": nn.Softplus}


def perceptron(n_inputs: int, n_outputs: int, depth: int, width: int, activation: str) -> nn.Sequential:
    """depth hidden layers of `width` neurons, then a linear output layer; the default shared-parameter hook
    picks the last hidden layer, the one every output depends on."""
    layers: list[nn.Module] = []
    size = n_inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_outputs))


class FourierFeatures(nn.Module):
    """γ(x) = [sin(2π B x), cos(2π B x)], B ~ N(0, σ²) fixed (Tancik et al. 2020; MMPINN's input layer)."""

    def __init__(self, n_inputs: int, n_frequencies: int, sigma: float, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("B", torch.randn(n_inputs, n_frequencies, generator=generator) * sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        projected = 2.0 * math.pi * x @ self.B
        return torch.cat([torch.sin(projected), torch.cos(projected)], dim=-1)


ARCHITECTURE_OPTIONS = (
    Option("depth", 4, "number of hidden layers"),
    Option("width", 50, "neurons per hidden layer"),
    Option("activation", "tanh", "hidden activation", choices=tuple(ACTIVATIONS)),
)


class MLP(ModelFactory):
    """Plain fully connected network with a linear output layer; no closure unless --closure softmax."""

    description: ClassVar[str] = "fully connected network with a linear output layer"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int = 4, width: int = 50,
              activation: str = "tanh", **options: Any) -> nn.Module:
        return perceptron(n_inputs, n_outputs, depth, width, activation)


class SoftmaxMLP(MLP):
    """MLP whose mass fractions come from a softmax, so they are positive and sum to one (arXiv 2308.01954)."""

    description: ClassVar[str] = "MLP with softmax over the dataset's mass fractions (sum to one), linear for the rest"
    closure: ClassVar[str] = "softmax"


class FourierMLP(ModelFactory):
    """MLP on random Fourier features of the inputs, which lets it fit sharp layers (MMPINN, arXiv 2308.06672)."""

    description: ClassVar[str] = "MLP on random Fourier features sin/cos(2πBx); softmax over mass fractions"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS + (
        Option("frequencies", 32, "number of random frequencies (features = 2 × frequencies)"),
        Option("sigma", 1.0, "standard deviation of the frequency matrix B"),
        Option("feature_seed", 0, "seed of B"),
    )
    closure: ClassVar[str] = "softmax"

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int = 4, width: int = 50,
              activation: str = "tanh", frequencies: int = 32, sigma: float = 1.0, feature_seed: int = 0,
              **options: Any) -> nn.Module:
        features = FourierFeatures(n_inputs, frequencies, sigma, feature_seed)
        return nn.Sequential(features, perceptron(2 * frequencies, n_outputs, depth, width, activation))
