"""The ``cvae`` model plugin: a conditional variational autoencoder (Kingma & Welling 2014; Sohn et al. 2015),
in the architecture of Ghanaatian 2024.

- encoder q(z | y, c): [y, c] -> hidden_dim·2^i for i < layer_num -> (μ, log σ²) of the latent;
- decoder p(y | z, c): [z, c] -> hidden_dim·2^i for i = layer_num-1 ... 0 -> y.

With hidden_dim 16, layer_num 3 and latent_dim 128 that is Ghanaatian 2024's 16 -> 32 -> 64 -> 128 encoder and
128 -> 64 -> 32 -> 16 decoder. ``latent_dim = 0`` leaves the encoder out: the decoder is then a plain
deterministic network c -> y (the regression baseline inside the same task). Inputs and outputs are in model
(scaled) space; the ``cvae`` task wraps the network in its scalers and its frame.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from surrogate.contracts import ModelFactory
from surrogate.options import Option
from surrogate.ranges import COUNT, NON_NEGATIVE

from .models import ACTIVATIONS


def ladder(n_in: int, widths: Sequence[int], activation: str) -> tuple[nn.Sequential, int]:
    """Fully connected layers of the given widths, each followed by the activation, and the last width."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(n_in, width), ACTIVATIONS[activation]()]
        n_in = width
    return nn.Sequential(*layers), n_in


class ConditionalVAE(nn.Module):
    """Encoder and decoder of a conditional VAE; ``forward(c, y)`` is the training pass (a reparameterized sample
    z = μ + σ ε from the encoder), ``decode(z, c)`` the generative one."""

    def __init__(self, n_condition: int, n_outputs: int, hidden_dim: int, layer_num: int, latent_dim: int,
                 activation: str):
        super().__init__()
        widths = [hidden_dim * 2**i for i in range(layer_num)]
        self.latent_dim = latent_dim
        if latent_dim:
            self.encoder, width = ladder(n_outputs + n_condition, widths, activation)
            self.mean = nn.Linear(width, latent_dim)
            self.log_variance = nn.Linear(width, latent_dim)
        self.decoder_body, width = ladder(latent_dim + n_condition, widths[::-1], activation)
        self.decoder_head = nn.Linear(width, n_outputs)

    def encode(self, y: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z | y, c)."""
        h = self.encoder(torch.cat([y, c], dim=-1))
        return self.mean(h), self.log_variance(h)

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.decoder_head(self.decoder_body(torch.cat([z, c], dim=-1)))

    def forward(self, c: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """(ŷ, μ, log σ²) of one reparameterized pass when y is given; (decode(0, c),) without y or latent."""
        if y is None or not self.latent_dim:
            return (self.decode(c.new_zeros(len(c), self.latent_dim), c),)
        mean, log_variance = self.encode(y, c)
        z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        return self.decode(z, c), mean, log_variance

    def shared_parameters(self) -> list[nn.Parameter]:
        """The last hidden layer of the decoder: every output depends on it (for gradient-based weightings)."""
        return list((self.decoder_body[-2] if len(self.decoder_body) else self.decoder_head).parameters())


class CVAE(ModelFactory):
    """Conditional VAE with layer widths hidden_dim·2^i (Ghanaatian 2024); n_inputs = condition, n_outputs =
    target."""

    description: ClassVar[str] = "conditional VAE, widths hidden_dim*2^i, prior z ~ N(0,1) (latent_dim 0: no encoder)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("hidden_dim", 64, "width of the first encoder layer (and of the last decoder layer)", bounds=COUNT),
        Option("layer_num", 3, "hidden layers of the encoder and of the decoder (widths hidden_dim*2^i)",
               bounds=COUNT),
        Option("latent_dim", 4, "size of the latent z (0: no encoder, a deterministic decoder)",
               bounds=NON_NEGATIVE),
        Option("activation", "silu", "hidden activation", choices=tuple(ACTIVATIONS)),
    )

    @classmethod
    def build(cls, n_inputs: int, n_outputs: int, *, output_names: Sequence[str], hidden_dim: int, layer_num: int,
              latent_dim: int, activation: str, **options: Any) -> nn.Module:
        return ConditionalVAE(n_inputs, n_outputs, hidden_dim, layer_num, latent_dim, activation)
