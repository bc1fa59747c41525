"""Mixed precision and compilation of training steps: ``--precision`` and ``--compile`` of ``surrogate train``.

- ``fp32`` (default): no autocast, plain ``loss.backward()`` and ``optimizer.step()``, the trainer as it always was.
- ``bf16`` / ``fp16``: the forward pass, loss terms and weighting run under ``torch.autocast`` (matrix products in
  the half type, reductions and losses in float32 as autocast decides); the weights, the optimizer state and
  every evaluation stay in float32. fp16 has a narrow exponent range, so its loss is scaled by a
  ``torch.amp.GradScaler`` (skipping steps whose gradients overflow); bf16 needs none.
- ``--compile MODE``: the model is wrapped by ``torch.compile(mode=MODE)`` for training steps only (evaluation
  runs the eager module); ``reduce-overhead`` replays CUDA graphs on a GPU, which pays for small networks whose
  steps are bound by kernel launches. Tasks that differentiate with respect to their inputs (PINN residuals
  need a double backward) are refused: torch.compile does not support double backward.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .errors import UserError

HALF_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class StepPrecision:
    """Autocast, backward and optimizer step of one training step in the chosen precision."""

    def __init__(self, precision: str, device: torch.device):
        self.precision = precision
        self.half = HALF_TYPES.get(precision)
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context of a step's forward pass and loss: nothing in fp32."""
        if self.half is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.half)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)  # unscales the gradients, skips the step if any is inf/NaN
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def compiled(module: torch.nn.Module, mode: str, task_name: str, differentiates_inputs: bool) -> torch.nn.Module:
    """`module` under ``torch.compile(mode=mode)``, or itself for mode ``none``."""
    if mode == "none":
        return module
    if differentiates_inputs:
        raise UserError(f"--compile {mode}: task {task_name!r} differentiates with respect to its inputs (a double "
                        "backward), which torch.compile does not support; train without --compile")
    return torch.compile(module, mode=mode)
