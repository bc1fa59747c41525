"""Taylor mode and reverse mode give a residual the same derivatives and training the same gradients: u, ∂u/∂x_a
and ∂²u/∂x_a² of a tanh network on scaled inputs, checked against an analytic case and against each other."""

from __future__ import annotations

import math

import pytest
import torch

from surrogate.derivatives import Derivatives, with_derivatives
from surrogate.scaling import InputScaler


def tanh_network(n_inputs: int, seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i in range(3):
        layers += [torch.nn.Linear(n_inputs if i == 0 else 20, 20), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(20, 1)).double()


def test_taylor_mode_of_one_tanh_unit_is_the_calculus():
    """u = tanh(w s(x)) with s(x) = 2x/L - 1: u' = w (2/L) sech², u'' = -2 (w 2/L)² tanh sech²."""
    layer = torch.nn.Linear(1, 1).double()
    with torch.no_grad():
        layer.weight.fill_(1.5)
        layer.bias.zero_()
    network = torch.nn.Sequential(layer, torch.nn.Tanh())
    scaler = InputScaler([0.0], [4.0], [False], [1.0]).double()
    points = torch.linspace(0.0, 4.0, 9, dtype=torch.float64)[:, None].requires_grad_(True)
    u = with_derivatives(network, scaler(points), points, scaler.slopes())
    derivatives = Derivatives(u, points)
    assert derivatives.taylor is not None
    k = 1.5 * 2.0 / 4.0
    t = torch.tanh(k * points.detach()[:, 0] - 1.5)
    assert torch.allclose(derivatives.first(0), k * (1 - t ** 2), rtol=1e-12, atol=1e-14)
    assert torch.allclose(derivatives.second(0), -2 * k ** 2 * t * (1 - t ** 2), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_inputs", [1, 2, 3])
def test_taylor_and_reverse_mode_agree_on_derivatives_and_parameter_gradients(n_inputs):
    network = tanh_network(n_inputs, seed=n_inputs)
    scaler = InputScaler([0.0] * n_inputs, [1.0 + a for a in range(n_inputs)], [False] * n_inputs,
                         [1.0] * n_inputs).double()
    points = torch.rand(300, n_inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    points.requires_grad_(True)
    forward = Derivatives(with_derivatives(network, scaler(points), points, scaler.slopes()), points)
    reverse = Derivatives(network(scaler(points)), points)
    assert forward.taylor is not None and reverse.taylor is None
    assert torch.allclose(forward.gradient, reverse.gradient, rtol=1e-12, atol=1e-13)
    for axis in range(n_inputs):
        assert torch.allclose(forward.second(axis), reverse.second(axis), rtol=1e-10, atol=1e-12)
    axes = tuple(range(n_inputs))
    losses = [(d.laplacian(axes) + math.pi).pow(2).mean() + d.first(0).pow(2).mean() for d in (forward, reverse)]
    gradients = [torch.autograd.grad(loss, list(network.parameters()), materialize_grads=True) for loss in losses]
    for taylor, autograd in zip(*gradients):
        assert torch.allclose(taylor, autograd, rtol=1e-10, atol=1e-12)


def test_networks_taylor_mode_does_not_know_fall_back_to_reverse_mode():
    network = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.SiLU(), torch.nn.Linear(8, 1)).double()
    points = torch.rand(10, 1, dtype=torch.float64).requires_grad_(True)
    u = with_derivatives(network, points, points, torch.ones(1, dtype=torch.float64))
    assert Derivatives(u, points).taylor is None
    logged = InputScaler([-3.0], [0.0], [True], [1e-3]).double()
    assert logged.slopes() is None  # a log-scaled input is not an affine map of the points
    u = with_derivatives(tanh_network(1, 0), logged(points + 0.5), points, logged.slopes())
    assert Derivatives(u, points).taylor is None
    assert Derivatives(u, points).second(0).shape == (10,)
