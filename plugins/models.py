"""Built-in model plugins: softmax MLP (mass fractions closed to one), plain MLP, Fourier-feature MLP.

Each factory builds a network from model-space inputs to model-space outputs. A network that closes mass
fractions carries ``softmax_mask`` (True for outputs produced by the softmax), so the trainer keeps those
outputs in physical units.
"""

from __future__ import annotations

import math
from typing import ClassVar, Sequence

import torch
from torch import nn

from surrogate.options import Option

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "softplus": nn.Softplus}


def is_mass_fraction(name: str) -> bool:
    return name.startswith("Y_")


def hidden_stack(n_inputs: int, depth: int, width: int, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = n_inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
        size = width
    return nn.Sequential(*layers)


class ClosedMassFractionNet(nn.Module):
    """Hidden stack, then a softmax head over the mass-fraction outputs and a linear head over the rest.

    Outputs come back in the caller's order; ``softmax_mask`` marks the softmax ones.
    """

    def __init__(self, features: nn.Module, hidden: nn.Sequential, width: int,
                 output_names: Sequence[str], use_softmax: bool):
        super().__init__()
        self.features = features
        self.hidden = hidden
        self.softmax_mask = [use_softmax and is_mass_fraction(n) for n in output_names]
        n_soft = sum(self.softmax_mask)
        n_lin = len(output_names) - n_soft
        self.softmax_head = nn.Linear(width, n_soft) if n_soft else None
        self.linear_head = nn.Linear(width, n_lin) if n_lin else None
        order = [i for i, m in enumerate(self.softmax_mask) if m] + [i for i, m in enumerate(self.softmax_mask) if not m]
        self.register_buffer("unpermute", torch.tensor([order.index(i) for i in range(len(order))]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden(self.features(x))
        parts = []
        if self.softmax_head is not None:
            parts.append(torch.softmax(self.softmax_head(h), dim=-1))
        if self.linear_head is not None:
            parts.append(self.linear_head(h))
        y = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        return y[:, self.unpermute]

    @torch.no_grad()
    def init_output_bias(self, target_mean: torch.Tensor) -> None:
        """Start from the mean composition: softmax biases log(mean Y_k), linear biases the mean target.

        A softmax initialized uniformly predicts 1/n for trace species of mass fraction 1e-5; moving there
        takes thousands of steps, during which variance-weighted losses stall. Starting at the mean avoids it.
        """
        mask = torch.tensor(self.softmax_mask)
        if self.softmax_head is not None:
            self.softmax_head.bias.copy_(torch.log(target_mean[mask].clamp_min(1e-30)))
        if self.linear_head is not None:
            self.linear_head.bias.copy_(target_mean[~mask])

    def shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer, which gradient-based weighting strategies differentiate against."""
        last = [m for m in self.hidden if isinstance(m, nn.Linear)]
        return list(last[-1].parameters()) if last else list(self.parameters())


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


class MLP:
    """Plain fully connected network with a linear output layer."""

    description: ClassVar[str] = "fully connected network with a linear output layer"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS
    use_softmax: ClassVar[bool] = False

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int, width: int,
              activation: str) -> nn.Module:
        return ClosedMassFractionNet(nn.Identity(), hidden_stack(n_inputs, depth, width, activation),
                                     width, output_names, use_softmax=cls.use_softmax)


class SoftmaxMLP(MLP):
    """MLP whose Y_* outputs come from a softmax, so mass fractions are positive and sum to one (arXiv 2308.01954)."""

    description: ClassVar[str] = "MLP with softmax over Y_* outputs (sum to one) and a linear head for the rest"
    use_softmax: ClassVar[bool] = True


class FourierMLP:
    """MLP on random Fourier features of the inputs, which lets it fit sharp layers (MMPINN, arXiv 2308.06672)."""

    description: ClassVar[str] = "MLP on random Fourier features sin/cos(2πBx); optional softmax over Y_*"
    options: ClassVar[tuple[Option, ...]] = ARCHITECTURE_OPTIONS + (
        Option("frequencies", 32, "number of random frequencies (features = 2 × frequencies)"),
        Option("sigma", 1.0, "standard deviation of the frequency matrix B"),
        Option("feature_seed", 0, "seed of B"),
        Option("softmax", True, "close Y_* outputs with a softmax"),
    )

    @staticmethod
    def build(n_inputs: int, n_outputs: int, *, output_names: Sequence[str], depth: int, width: int,
              activation: str, frequencies: int, sigma: float, feature_seed: int, softmax: bool) -> nn.Module:
        features = FourierFeatures(n_inputs, frequencies, sigma, feature_seed)
        return ClosedMassFractionNet(features, hidden_stack(2 * frequencies, depth, width, activation),
                                     width, output_names, use_softmax=softmax)
