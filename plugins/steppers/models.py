"""Model factories of time-stepping surrogates: du/dt = f_θ(u) for a state u of M grid values.

- ``node``: neural ODE (Chen et al. 2018): f_θ is the stencil network itself.
- ``hnn++``: HNN++ (Matsubara et al. 2020): du/dt = G ∇H_θ(u), H_θ = Σ_k (stencil network)_k, with G the
  skew-symmetric central difference (``operator=kdv``: the learned energy H_θ is conserved exactly) or the
  negative semi-definite second difference (``operator=cahn-hilliard``: H_θ never increases); both conserve
  the mass Σ u exactly.
- ``conservative-stencil``: du/dt = D[g_θ(u)], the backward difference of learned face fluxes g_θ (a finite-
  volume form): the mass Σ u is conserved exactly whatever the network.

*Imbalance-aware learning for deep physics modeling* (anonymous, under review) trains NODE on KdV and HNN++ on
Cahn–Hilliard.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

from surrogate.contracts import ModelFactory
from surrogate.errors import PluginError
from surrogate.options import Option
from surrogate.ranges import COUNT

from .operators import backward, central, second
from .stencil_network import StencilNetwork

OPERATORS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"kdv": central, "cahn-hilliard": second}


class HamiltonianField(nn.Module):
    """du/dt = G ∇H(u) with H(u) = Σ_k energy_density(u)_k."""

    def __init__(self, density: StencilNetwork, operator: str):
        super().__init__()
        self.density = density
        self.operator = operator
        self.structure = OPERATORS[operator]

    def energy(self, u: torch.Tensor) -> torch.Tensor:
        """The learned energy H_θ(u), one value per state."""
        return self.density(u).sum(dim=-1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.structure(self.density.gradient(u))


class FluxDivergence(nn.Module):
    """du/dt = g_k - g_{k-1} with face fluxes g = flux(u)."""

    def __init__(self, flux: StencilNetwork):
        super().__init__()
        self.flux = flux

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return backward(self.flux(u))


def stencil_options(kernel: int) -> tuple[Option, ...]:
    return (Option("kernel", kernel, "stencil width of the first layer (odd, at most the grid points): grid points "
                   "each output sees", bounds=COUNT),
            Option("width", 32, "channels of the hidden layers", bounds=COUNT),
            Option("depth", 2, "hidden layers (the stencil layer, then 1x1 layers)", bounds=COUNT))


def stencil_network(model: str, n_inputs: int, n_outputs: int, kernel: int, width: int, depth: int) -> StencilNetwork:
    """The shared network, after the checks every time-stepping model makes (one-line errors)."""
    if n_inputs != n_outputs:
        raise PluginError(f"model {model!r} maps a state to its rate: it needs as many outputs as inputs "
                          f"(got {n_inputs} in, {n_outputs} out); train it with --task rollout")
    if kernel % 2 == 0 or kernel > n_inputs:
        raise PluginError(f"model {model!r}: option kernel={kernel}: expected an odd width up to {n_inputs}")
    return StencilNetwork(kernel, width, depth)


class NeuralODE(ModelFactory):
    """du/dt = f_θ(u), f_θ a periodic stencil network (Chen et al. 2018; the imbalance-aware paper's NODE)."""

    description: ClassVar[str] = "neural ODE: du/dt = periodic stencil network of u (time-stepping)"
    options: ClassVar[tuple[Option, ...]] = stencil_options(kernel=5)

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], kernel: int, width: int,
              depth: int, **options: Any) -> nn.Module:
        return stencil_network("node", n_inputs, n_outputs, kernel, width, depth)


class HNNPlusPlus(ModelFactory):
    """du/dt = G ∇H_θ(u) with a structure matrix G that makes the energy law hold by construction."""

    description: ClassVar[str] = "HNN++: du/dt = G grad H(u), G = central (KdV) or second (Cahn-Hilliard) difference"
    options: ClassVar[tuple[Option, ...]] = stencil_options(kernel=3) + (
        Option("operator", "kdv", "G: 'kdv' skew central difference (H conserved), 'cahn-hilliard' second "
               "difference (H dissipated)", choices=tuple(OPERATORS)),)

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], kernel: int, width: int,
              depth: int, operator: str, **options: Any) -> nn.Module:
        return HamiltonianField(stencil_network("hnn++", n_inputs, n_outputs, kernel, width, depth), operator)


class ConservativeStencil(ModelFactory):
    """du/dt = D[g_θ(u)]: a learned flux, differenced, so mass is conserved exactly."""

    description: ClassVar[str] = "conservative stencil: du/dt = backward difference of learned fluxes (mass conserved)"
    options: ClassVar[tuple[Option, ...]] = stencil_options(kernel=5)

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], kernel: int, width: int,
              depth: int, **options: Any) -> nn.Module:
        return FluxDivergence(stencil_network("conservative-stencil", n_inputs, n_outputs, kernel, width, depth))
