"""What plugins return at run time, checked against their contracts, each failure naming the plugin.

The registry checks a plugin's methods and signatures when it loads it; what they return is seen only once
training runs. :class:`FirstBatchCheck` looks at the first training batch of a fit (only: a few reductions, once)
before its backward pass:

- the model: every call of the network ``build()`` returned gives ``(rows, n_outputs)`` floating-point values on
  the training device, finite where its inputs are;
- the task's ``loss_terms()`` and each physics loss's ``terms()``: the terms it declared, each a floating-point
  tensor on the training device, element-wise (a scalar, or 1-D with one value, or a whole number of values, per
  sample of the batch or per point the task passes in ``Batch.extras``), finite;
- the weighting's ``combine()``: ``(loss, {term: weight})`` with a scalar floating-point loss on the training
  device, differentiable through the terms and finite when they are, and a number for each weight.

A failure is one line, e.g. ``weighting 'mine' (package acme-plugins 0.1): combine() must return a scalar
tensor, got shape (3,)``. Later in training, :class:`Divergence` follows on the device (no synchronization per
step) which terms, or the loss alone, went non-finite first, so a diverged run names them and their plugins.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from .contracts import Batch
from .errors import PluginError
from .registry import Origin
from .terms import LossTerms


def _described(value: Any) -> str:
    """'a tensor of shape (3,)', 'a list': what a message says a plugin returned."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _on(tensor: torch.Tensor, device: torch.device) -> bool:
    """Whether `tensor` is on `device` ('cuda' without an index: any CUDA device)."""
    return tensor.device.type == device.type and (device.index is None or tensor.device.index == device.index)


def _nonfinite(tensor: torch.Tensor) -> str | None:
    """'NaN' or 'infinity' when `tensor` holds one (one synchronization), else None."""
    if bool(torch.isfinite(tensor).all()):
        return None
    return "NaN" if bool(torch.isnan(tensor).any()) else "infinity"


def point_counts(view: Batch) -> set[int]:
    """Sizes a 1-D term may be a whole multiple of: the batch's samples and the points of each ``Batch.extras``
    entry that is a tensor or a (points, values) pair (boundary and initial points of a PINN)."""
    counts = {len(view.x)}
    for value in view.extras.values():
        points = value[0] if isinstance(value, (tuple, list)) and value else value
        if isinstance(points, torch.Tensor) and points.dim() >= 1:
            counts.add(len(points))
    return {count for count in counts if count > 0}


class FirstBatchCheck:
    """Checks the first batch's network outputs, loss terms and combined loss against the plugins' contracts.

    Created before the first training batch, it hooks the network ``build()`` returned; the trainer hands it
    each plugin's terms and the weighting's result, then :meth:`close` removes the hook.
    """

    def __init__(self, network: nn.Module, n_outputs: int, device: torch.device, model: Origin, weighting: Origin):
        self.n_outputs, self.device = n_outputs, device
        self.model, self.weighting = model, weighting
        self.hook = network.register_forward_hook(self.network_output)

    def close(self) -> None:
        self.hook.remove()

    def network_output(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        """Forward hook: the network maps (rows, n_inputs) to (rows, n_outputs) (a model whose network returns a
        tuple, such as a CVAE's (prediction, mean, log-variance), is judged by its first element)."""
        x = args[0] if args and isinstance(args[0], torch.Tensor) and args[0].dim() >= 1 else None
        prediction = output[0] if isinstance(output, (tuple, list)) and output else output
        clause = f"{self.model}: the network from build() must return"
        if not isinstance(prediction, torch.Tensor):
            raise PluginError(f"{clause} a tensor (batch, n_outputs), got {_described(output)}")
        rows = len(x) if x is not None else None
        if prediction.dim() != 2 or prediction.shape[1] != self.n_outputs or rows not in (None, len(prediction)):
            raise PluginError(f"{clause} (batch, n_outputs) = ({'batch' if rows is None else rows}, "
                              f"{self.n_outputs}), got {_described(prediction)}")
        if not prediction.is_floating_point():
            raise PluginError(f"{clause} floating-point values, got {prediction.dtype}")
        if not _on(prediction, self.device):
            raise PluginError(f"{clause} values on the training device {self.device}, got {prediction.device}")
        bad = _nonfinite(prediction) if x is None or _nonfinite(x) is None else None
        if bad is not None:
            raise PluginError(f"{clause} finite values for finite inputs, got {bad} on the first batch")

    def terms(self, owner: Origin, method: str, terms: Any, declared: Sequence[str], view: Batch) -> None:
        """The terms one plugin returned (`method`: ``loss_terms()`` of the task, ``terms()`` of a physics loss)."""
        clause = f"{owner}: {method} must return"
        if not isinstance(terms, Mapping):
            raise PluginError(f"{clause} {{term: tensor}}, got {_described(terms)}")
        if sorted(terms) != sorted(declared):
            raise PluginError(f"{clause} the terms its term_names() declared {sorted(declared)}, got {sorted(terms)}")
        counts = point_counts(view)
        for name, value in terms.items():
            if not isinstance(value, torch.Tensor):
                raise PluginError(f"{clause} a tensor for each term, got {_described(value)} for {name!r}")
            if not value.is_floating_point():
                raise PluginError(f"{clause} floating-point terms, got {value.dtype} for {name!r}")
            if not _on(value, self.device):
                raise PluginError(f"{clause} terms on the training device {self.device}, got {name!r} on "
                                  f"{value.device}")
            if value.dim() > 1 or (value.dim() == 1 and not any(len(value) % count == 0 for count in counts)):
                raise PluginError(f"{clause} element-wise terms, a scalar or 1-D with one value per sample (batch "
                                  f"of {len(view.x)}) or per point of Batch.extras, got {name!r} of shape "
                                  f"{tuple(value.shape)}")
            bad = _nonfinite(value)
            if bad is not None:
                raise PluginError(f"{clause} finite terms, got {bad} in {name!r} on the first batch")

    def combined(self, result: Any, terms: LossTerms) -> None:
        """The weighting's ``combine()`` result for the first batch's (checked) terms."""
        clause = f"{self.weighting}: combine() must return"
        if not isinstance(result, tuple) or len(result) != 2:
            raise PluginError(f"{clause} (loss, {{term: weight}}), got {_described(result)}")
        loss, weights = result
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise PluginError(f"{clause} a scalar tensor, got {_described(loss)}")
        if not loss.is_floating_point() or not _on(loss, self.device):
            raise PluginError(f"{clause} a floating-point loss on the training device {self.device}, got "
                              f"{loss.dtype} on {loss.device}")
        if not loss.requires_grad and any(value.requires_grad for value in terms.values()):
            raise PluginError(f"{clause} a loss differentiable through the terms, got one detached from them")
        if not isinstance(weights, Mapping):
            raise PluginError(f"{clause} the weights as {{term: number}}, got {_described(weights)}")
        for name, weight in weights.items():
            number = isinstance(weight, numbers.Real) or (isinstance(weight, torch.Tensor) and weight.dim() == 0)
            if name not in terms or not number:
                raise PluginError(f"{clause} the weights as {{term: number}} for the terms it was given, got "
                                  f"{name!r}: {_described(weight)}")
        bad = _nonfinite(loss)
        if bad is not None:
            raise PluginError(f"{clause} a finite loss for finite terms, got {bad} on the first batch")


class Divergence:
    """How many steps of an epoch the loss and each term's mean stayed finite: the terms that went non-finite at
    the same step as the loss are the ones to name; if the loss went first, the weighting combined finite terms
    into a non-finite loss.

    A step only keeps references to its (detached) loss and term means; they are checked on the device in blocks
    of ``BLOCK`` steps, and when the epoch's result is read, so the count costs no work (and no host sync) per
    step."""

    BLOCK = 256

    def __init__(self) -> None:
        self.pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.finite_steps: torch.Tensor | None = None  # [loss, term...]: leading finite steps so far
        self.alive: torch.Tensor | None = None  # which of them have been finite at every step so far

    def update(self, loss: torch.Tensor, term_means: torch.Tensor) -> None:
        """After each step, with its loss and the mean of each term."""
        self.pending.append((loss, term_means))
        if len(self.pending) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        """Count the pending steps: each value's finite steps up to (not including) its first non-finite one."""
        if not self.pending:
            return
        losses, means = zip(*self.pending)
        self.pending = []
        finite = torch.isfinite(torch.cat([torch.stack(losses)[:, None], torch.stack(means)], dim=1))
        if self.finite_steps is None or self.alive is None:
            self.finite_steps = torch.zeros(finite.shape[1], dtype=torch.long, device=finite.device)
            self.alive = torch.ones(finite.shape[1], dtype=torch.bool, device=finite.device)
        self.finite_steps += (finite & self.alive).long().cumprod(dim=0).sum(dim=0)
        self.alive &= finite.all(dim=0)

    def culprits(self, names: Sequence[str], owners: Mapping[str, Origin], weighting: Origin) -> str:
        """Which terms, of which plugins, went non-finite first (or the weighting, when no term did)."""
        self.flush()
        if self.finite_steps is None:
            return f"{weighting} returned a non-finite loss"
        first, *steps = self.finite_steps.tolist()
        by_owner: dict[str, list[str]] = {}
        for name, finite_steps in zip(names, steps):
            if finite_steps == first:
                by_owner.setdefault(str(owners[name]), []).append(repr(name))
        if not by_owner:
            return f"{weighting} combined finite terms into a non-finite loss"
        return " and ".join(f"term{'s' if len(terms) > 1 else ''} {', '.join(terms)} of {owner}"
                            for owner, terms in by_owner.items()) + " went non-finite first"
