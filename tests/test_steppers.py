"""Time-stepping models: HNN++ conserves (KdV) or dissipates (Cahn–Hilliard) its own learned energy for any
weights, the conservative stencil and HNN++ conserve mass, the written-out gradient is autograd's."""

from __future__ import annotations

import pytest
import torch

from plugins.steppers.stencil_network import StencilNetwork
from plugins.tasks.rollout import rollout
from surrogate import registry
from surrogate.errors import PluginError
from torch_threads import one_thread  # noqa: F401 (autouse)

M = 24


def model(name: str, **options) -> torch.nn.Module:
    factory, resolved = registry.configure("models", name, options)
    torch.manual_seed(1)
    return factory.build(M, M, output_names=[f"du/dt[{j}]" for j in range(M)], **resolved).double()


def states(n: int = 16) -> torch.Tensor:
    return torch.randn(n, M, dtype=torch.float64, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("kernel, depth", [(1, 1), (3, 2), (5, 3)])
def test_written_out_gradient_equals_autograd(kernel, depth):
    torch.manual_seed(0)
    network = StencilNetwork(kernel, 8, depth).double()
    u = states().requires_grad_(True)
    (expected,) = torch.autograd.grad(network(u).sum(), u)
    torch.testing.assert_close(network.gradient(u), expected, rtol=1e-12, atol=1e-12)


def test_hnn_kdv_conserves_its_learned_energy_exactly():
    field, u = model("hnn++", operator="kdv"), states()
    rate = field(u)
    (grad_h,) = torch.autograd.grad(field.energy(u.requires_grad_(True)).sum(), u)
    d_energy = (grad_h * rate).sum(dim=1)  # dH/dt = ∇H · G∇H = 0 for skew G
    assert d_energy.abs().max() <= 1e-12 * (grad_h.norm(dim=1) * rate.norm(dim=1)).max()
    assert rate.sum(dim=1).abs().max() <= 1e-12 * rate.abs().max()  # mass
    path = rollout(field, states(2), 100, 1e-3, "rk4")  # a fine RK4 rollout keeps H to its O(h^4) error
    energy = field.energy(path.reshape(-1, M)).reshape(2, -1)
    assert (energy - energy[:, :1]).abs().max() <= 1e-8 * energy.abs().max()


def test_hnn_cahn_hilliard_dissipates_its_learned_energy():
    field, u = model("hnn++", operator="cahn-hilliard"), states(64)
    rate = field(u)
    (grad_h,) = torch.autograd.grad(field.energy(u.requires_grad_(True)).sum(), u)
    d_energy = (grad_h * rate).sum(dim=1)  # ∇H · D2 ∇H <= 0
    assert (d_energy < 0).all()
    assert rate.sum(dim=1).abs().max() <= 1e-12 * rate.abs().max()


def test_conservative_stencil_conserves_mass_and_node_does_not_have_to():
    u = states()
    conservative = model("conservative-stencil")(u)
    assert conservative.sum(dim=1).abs().max() <= 1e-12 * conservative.abs().max()
    free = model("node")(u)
    assert free.shape == (16, M) and free.sum(dim=1).abs().max() > 1e-6


def test_models_refuse_rows_and_even_stencils():
    factory = registry.load("models", "node")
    with pytest.raises(PluginError, match="as many outputs as inputs"):
        factory.build(3, 1, output_names=["y"], **registry.options_for(factory))
    with pytest.raises(PluginError, match="kernel=4"):
        model("hnn++", kernel=4)
