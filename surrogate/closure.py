"""Closing mass fractions with a softmax, for any network: a building block the tasks put around a model.

A network trained on standardized targets cannot keep mass fractions positive and summing to one; a
softmax over the mass-fraction columns can, whatever the network. The closure keeps those columns in
physical units (the output scaler leaves them alone) and passes the other columns through.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .contracts import shared_parameters


class SoftmaxClosure(nn.Module):
    """y = [softmax(z_S), z_R] put back in the caller's column order, z = network(x) + b.

    ``mask[j]`` is True for the columns S closed by the softmax. The bias ``b`` starts at log(mean Y_k) on S
    and the mean target on the rest (:meth:`start_at_mean`): a softmax started uniformly predicts 1/n for a
    trace species of mass fraction 1e-5, and variance-weighted losses stall for thousands of steps until it
    gets there (arXiv 2308.01954 trains its softmax MLP from the mean composition for the same reason).
    """

    def __init__(self, network: nn.Module, mask: Sequence[bool]):
        super().__init__()
        self.network = network
        soft = [j for j, closed in enumerate(mask) if closed]
        rest = [j for j, closed in enumerate(mask) if not closed]
        order = soft + rest
        self.register_buffer("soft", torch.tensor(soft, dtype=torch.long), persistent=False)
        self.register_buffer("rest", torch.tensor(rest, dtype=torch.long), persistent=False)
        self.register_buffer("unpermute", torch.tensor([order.index(j) for j in range(len(order))]),
                             persistent=False)
        self.mask = list(mask)
        self.bias = nn.Parameter(torch.zeros(len(mask)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.network(x) + self.bias
        parts = [torch.softmax(z.index_select(-1, self.soft), dim=-1)]
        if len(self.rest):
            parts.append(z.index_select(-1, self.rest))
        return torch.cat(parts, dim=-1).index_select(-1, self.unpermute)

    @torch.no_grad()
    def start_at_mean(self, target_mean: torch.Tensor) -> None:
        """Bias so that a network putting out zeros predicts the mean composition and the mean of the rest."""
        mask = torch.tensor(self.mask, device=self.bias.device)
        mean = target_mean.to(self.bias.device, self.bias.dtype)
        self.bias.copy_(torch.where(mask, torch.log(mean.clamp_min(1e-30)), mean))

    def shared_parameters(self) -> list[nn.Parameter]:
        return shared_parameters(self.network)
