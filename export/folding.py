"""Fold a row model's input and output scaling into its first and last linear layers before export.

``PhysicalModel`` is input scaler -> network -> output scaler. The scalers are affine maps (after a log10 on
log-scaled inputs such as χ), so they cost elementwise graph nodes on every cell for no arithmetic that the
linear layers next to them cannot absorb:

- input: x_model = a ⊙ f(x) + b with f = log10(max(x, floor)) on log columns, else x; and log10 = ln / ln 10.
  The first layer W x_model + c becomes (W' diag(a')) t + (W b + c), t = [x_plain, ln(max(x_log, floor))] (the
  plain columns first, then the log columns; W' has W's columns in that order), a' = a / ln 10 on log columns:
  slices, Clip (or Max where the log columns' floors differ), Log, Concat and the Gemm instead of nine nodes.
  Slices and a concatenation rather than a Where over a per-column mask, and a Clip at one floor rather than a
  Max over a row of floors, because ONNX Runtime broadcasts a row of a few columns row by row: that Max and
  Where took about a seventh of a call at batch 4096 for a 4×50 network, the slices and the Clip a few percent.
- output: y = s ⊙ z + o after the last layer z = V h + d (and the softmax closure's bias e) becomes
  (diag(s) V) h + s ⊙ (d + e) + o. Columns closed by a softmax must have s = 1, o = 0 (the closure keeps them in
  physical units), so the softmax sees the same numbers. The closure's three index gathers and its bias add
  become a row order of the last layer (softmax columns first) and two slices (:class:`SoftmaxHead`), plus one
  gather only when the softmax columns do not come first in the output order.

Folded in float64, stored in float32: the exported graph differs from the unfolded one by rounding only; the
exporter's parity check against the unfolded PyTorch model decides whether it is kept (:func:`fold_scaling`
returns None where a network's first or last layer is not a plain ``nn.Linear``, e.g. Fourier features).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from surrogate.closure import SoftmaxClosure
from surrogate.scaling import PhysicalModel


class FoldedModel(nn.Module):
    """t = [x_plain, ln(max(x_log, floor))], then the network with the scalers folded into its end layers (its
    first layer takes the columns in that order)."""

    def __init__(self, log_mask: torch.Tensor, floor: torch.Tensor, network: nn.Module):
        super().__init__()
        self.plain = _columns(torch.nonzero(~log_mask).flatten().tolist())
        self.logs = _columns(torch.nonzero(log_mask).flatten().tolist())
        self.register_buffer("floor", floor[log_mask].clone())
        shared = self.floor.numel() > 0 and bool(torch.all(self.floor == self.floor[0]))
        self.shared_floor = float(self.floor[0]) if shared else None  # one Clip, cheaper than Max over a row
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.logs is not None:
            x_log = x[..., self.logs]
            logged = torch.log(torch.clamp(x_log, min=self.shared_floor) if self.shared_floor is not None
                               else torch.maximum(x_log, self.floor))
            x = logged if self.plain is None else torch.cat([x[..., self.plain], logged], dim=-1)
        return self.network(x)


def _columns(indices: list[int]) -> slice | list[int] | None:
    """Columns `indices` as a slice where they are contiguous (a Slice node; else a Gather), None for none."""
    if not indices:
        return None
    return slice(indices[0], indices[-1] + 1) if indices == list(range(indices[0], indices[-1] + 1)) else indices


class SoftmaxHead(nn.Module):
    """y = [softmax(z[:, :n_soft]), z[:, n_soft:]], put back in the output order by `unpermute` when needed."""

    def __init__(self, network: nn.Module, n_soft: int, unpermute: list[int]):
        super().__init__()
        self.network = network
        self.n_soft = n_soft
        self.n_rest = len(unpermute) - n_soft
        identity = unpermute == list(range(len(unpermute)))
        self.register_buffer("unpermute", None if identity else torch.tensor(unpermute), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.network(x)
        y = torch.softmax(z[..., :self.n_soft], dim=-1)
        if self.n_rest:
            y = torch.cat([y, z[..., self.n_soft:]], dim=-1)
        return y if self.unpermute is None else y.index_select(-1, self.unpermute)


def _end_layers(network: nn.Module) -> tuple[nn.Linear, nn.Linear] | None:
    """The first and last layer of a plain perceptron (nn.Sequential starting and ending with nn.Linear)."""
    if not isinstance(network, nn.Sequential) or len(network) == 0:
        return None
    first, last = network[0], network[-1]
    return (first, last) if isinstance(first, nn.Linear) and isinstance(last, nn.Linear) else None


@torch.no_grad()
def fold_scaling(model: nn.Module) -> nn.Module | None:
    """`model` (a PhysicalModel) with its scalers folded into its linear end layers, or None where it cannot be."""
    if not isinstance(model, PhysicalModel) or not isinstance(model.output_scaler, nn.Module):
        return None
    closure = model.network if isinstance(model.network, SoftmaxClosure) else None
    network = copy.deepcopy(closure.network if closure is not None else model.network).double()
    layers = _end_layers(network)
    scaler_in, scaler_out = model.input_scaler, model.output_scaler
    if layers is None or not hasattr(scaler_out, "scale"):
        return None
    first, last = layers
    log_mask = scaler_in.log_mask
    a = 2.0 / scaler_in.span.double()
    b = -2.0 * scaler_in.lo.double() / scaler_in.span.double() - 1.0
    a = torch.where(log_mask, a / math.log(10.0), a)
    first.bias.copy_(first.bias + first.weight @ b)
    order = torch.cat([torch.nonzero(~log_mask).flatten(), torch.nonzero(log_mask).flatten()])  # FoldedModel's column order
    first.weight.copy_((first.weight * a)[:, order])
    scale, offset = scaler_out.scale.double(), scaler_out.offset.double()
    bias = last.bias + (closure.bias.double() if closure is not None else 0.0)
    if closure is not None and not (torch.all(scale[closure.soft] == 1) and torch.all(offset[closure.soft] == 0)):
        return None
    last.weight.copy_(last.weight * scale[:, None])
    last.bias.copy_(bias * scale + offset)
    if closure is not None:  # rows of the last layer in the closure's order: softmax columns first
        order = closure.soft.tolist() + closure.rest.tolist()
        last.weight.copy_(last.weight[order])
        last.bias.copy_(last.bias[order])
        network = SoftmaxHead(network, len(closure.soft), closure.unpermute.tolist())
    return FoldedModel(log_mask.clone(), scaler_in.floor.clone(), network.float()).eval()
