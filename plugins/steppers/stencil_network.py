"""The periodic stencil network every time-stepping model is made of, with its input gradient written out.

    z_1 = W_1 ⋆ u + b_1          (periodic cross-correlation, kernel K: the stencil)
    z_l = W_l a_{l-1} + b_l,  a_l = tanh(z_l)     (1x1 layers: pointwise in space)
    s   = w_out · a_L + b_out    (one value per grid point)

``forward(u)`` gives s (batch, M). ``gradient(u)`` gives ∇_u Σ_k s_k, the backward pass written as plain
operations (transposed stencil, transposed 1x1 layers): PyTorch's ONNX exporter (torch.export) cannot trace
``torch.autograd.grad`` inside a model, and a written-out gradient exports like any forward pass, trains
through ordinary autograd (second derivatives included) and equals autograd's gradient (tested).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def periodic_pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """x (batch, channels, M) extended by p points on each side, periodically."""
    return torch.cat([x[..., -p:], x, x[..., :p]], dim=-1) if p else x


class StencilNetwork(nn.Module):
    """s_k = network of the K neighbours of grid point k, the same at every point (translation-invariant)."""

    def __init__(self, kernel: int = 3, width: int = 32, depth: int = 2):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel={kernel}: expected an odd stencil width")
        self.pad = kernel // 2
        self.stencil = nn.Conv1d(1, width, kernel)
        self.hidden = nn.ModuleList(nn.Conv1d(width, width, 1) for _ in range(depth - 1))
        self.out = nn.Conv1d(width, 1, 1)

    def activations(self, u: torch.Tensor) -> list[torch.Tensor]:
        a = [torch.tanh(self.stencil(periodic_pad(u[:, None, :], self.pad)))]
        for layer in self.hidden:
            a.append(torch.tanh(layer(a[-1])))
        return a

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.out(self.activations(u)[-1])[:, 0, :]

    def gradient(self, u: torch.Tensor) -> torch.Tensor:
        """∇_u Σ_k forward(u)_k, (batch, M)."""
        a = self.activations(u)
        delta = self.out.weight[:, :, 0].t()[None] * (1 - a[-1] ** 2)  # ∂s/∂z_L
        for layer, below in zip(reversed(self.hidden), reversed(a[:-1])):
            delta = F.conv1d(delta, layer.weight.transpose(0, 1)) * (1 - below ** 2)
        # adjoint of the periodic cross-correlation: correlate with the flipped, channel-transposed stencil
        kernel = self.stencil.weight.flip(-1).transpose(0, 1)
        return F.conv1d(periodic_pad(delta, self.pad), kernel)[:, 0, :]

