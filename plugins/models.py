"""Built-in model plugins: plain MLP, softmax MLP (mass fractions closed to one), Fourier-feature MLPs (one σ,
or several σ on a shared trunk).

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
from surrogate.errors import PluginError
from surrogate.options import Option, parse_floats
from surrogate.ranges import COUNT, NON_NEGATIVE, POSITIVE, SEED

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "softplus": nn.Softplus}


def hidden_layers(n_inputs: int, depth: int, width: int, activation: str) -> list[nn.Module]:
    """depth fully connected layers of `width` neurons, each followed by the activation."""
    layers: list[nn.Module] = []
    size = n_inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
        size = width
    return layers


def perceptron(n_inputs: int, n_outputs: int, depth: int, width: int, activation: str) -> nn.Sequential:
    """depth hidden layers of `width` neurons, then a linear output layer; the default shared-parameter hook
    picks the last hidden layer, the one every output depends on."""
    return nn.Sequential(*hidden_layers(n_inputs, depth, width, activation),
                         nn.Linear(width if depth else n_inputs, n_outputs))


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
    Option("depth", 4, "number of hidden layers (0: a linear model)", bounds=NON_NEGATIVE),
    Option("width", 50, "neurons per hidden layer", bounds=COUNT),
    Option("activation", "tanh", "hidden activation", choices=tuple(ACTIVATIONS)),
)


class MLP(ModelFactory):
    """Plain fully connected network with a linear output layer; no closure unless --closure softmax."""

    description: ClassVar[str] = "fully connected network with a linear output layer"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int, width: int,
              activation: str, **options: Any) -> nn.Module:
        return perceptron(n_inputs, n_outputs, depth, width, activation)


class SoftmaxMLP(MLP):
    """MLP whose mass fractions come from a softmax, so they are positive and sum to one (arXiv 2308.01954)."""

    description: ClassVar[str] = "MLP with softmax over the dataset's mass fractions (sum to one), linear for the rest"
    closure: ClassVar[str] = "softmax"


class FourierMLP(ModelFactory):
    """MLP on random Fourier features of the inputs, which lets it fit sharp layers (MMPINN, arXiv 2308.06672)."""

    description: ClassVar[str] = "MLP on random Fourier features sin/cos(2πBx); softmax over mass fractions"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS + (
        Option("frequencies", 32, "number of random frequencies (features = 2 × frequencies)", bounds=COUNT),
        Option("sigma", 1.0, "standard deviation of the frequency matrix B", bounds=POSITIVE),
        Option("feature_seed", 0, "seed of B", bounds=SEED),
    )
    closure: ClassVar[str] = "softmax"

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int, width: int,
              activation: str, frequencies: int, sigma: float, feature_seed: int, **options: Any) -> nn.Module:
        features = FourierFeatures(n_inputs, frequencies, sigma, feature_seed)
        return nn.Sequential(features, perceptron(2 * frequencies, n_outputs, depth, width, activation))


class MultiscaleFourierNetwork(nn.Module):
    """u = W [H(γ_1(x)), ..., H(γ_M(x))] + b: one Fourier embedding γ_i per σ_i, one trunk H shared by all,
    a linear layer on the concatenated trunk outputs (Wang, Wang & Perdikaris 2021, "On the eigenvector bias of
    Fourier feature networks", multi-scale architecture)."""

    def __init__(self, n_inputs: int, n_outputs: int, sigmas: Sequence[float], frequencies: int, depth: int,
                 width: int, activation: str, feature_seed: int):
        super().__init__()
        self.features = nn.ModuleList(FourierFeatures(n_inputs, frequencies, sigma, feature_seed + i)
                                      for i, sigma in enumerate(sigmas))
        self.trunk = nn.Sequential(*hidden_layers(2 * frequencies, depth, width, activation))
        self.head = nn.Linear(width * len(sigmas), n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.trunk(features(x)) for features in self.features], dim=-1))


class MultiscaleFourierMLP(ModelFactory):
    """Fourier features at several scales σ through one shared trunk: low σ fits the smooth part, high σ the
    fine modes that a plain MLP misses from spectral bias (MMPINN's network for sin 2πx + 0.1 sin 50πx)."""

    description: ClassVar[str] = "Fourier features at several σ through one shared MLP trunk (Wang, Wang & " \
                                 "Perdikaris 2021)"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS + (
        Option("sigmas", [1.0, 10.0], "standard deviations of the frequency matrices, one embedding each",
               type=parse_floats, bounds=POSITIVE),
        Option("frequencies", 32, "random frequencies per embedding (features = 2 × frequencies)", bounds=COUNT),
        Option("feature_seed", 0, "seed of the first frequency matrix (the next ones use seed + 1, ...)",
               bounds=SEED),
    )

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int, width: int,
              activation: str, sigmas: Sequence[float], frequencies: int, feature_seed: int,
              **options: Any) -> nn.Module:
        if not sigmas:
            raise PluginError("model 'multiscale-fourier-mlp': option sigmas: give at least one standard deviation")
        return MultiscaleFourierNetwork(n_inputs, n_outputs, list(sigmas), frequencies, depth, width, activation,
                                        feature_seed)
