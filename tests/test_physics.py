"""Physics losses on real Cantera compositions, and regularization terms against hand computation."""

from __future__ import annotations

import cantera as ct
import numpy as np
import pytest
import torch

from surrogate import registry
from surrogate.chemistry import bilger_beta, bilger_coefficients
from surrogate.contracts import Batch, PhysicsContext, PhysicsLoss, check_plugin
from surrogate.errors import PluginError
from surrogate.terms import check_name

FUEL = "H2:0.5, N2:0.5"
OXIDIZER = "O2:0.21, N2:0.79"
INPUTS = ["C", "Z", "chi"]


@pytest.fixture(scope="module")
def gas() -> ct.Solution:
    return ct.Solution("h2o2.yaml")


@pytest.fixture(scope="module")
def streams(gas):
    gas.TPX = 300.0, ct.one_atm, FUEL
    y_fuel = gas.Y.copy()
    gas.TPX = 300.0, ct.one_atm, OXIDIZER
    return y_fuel, gas.Y.copy()


@pytest.fixture(scope="module")
def table_attrs(gas, streams):
    """The element data a table stores, taken from the Cantera mechanism and the two inlet streams."""
    composition = {s: {e: gas.n_atoms(s, e) for e in gas.element_names if gas.n_atoms(s, e)}
                   for s in gas.species_names}
    weights = dict(zip(gas.species_names, gas.molecular_weights))
    coefficients = bilger_coefficients(composition, weights)
    beta = [bilger_beta(dict(zip(gas.species_names, y)), coefficients) for y in streams]
    return {"species_composition": composition, "species_molecular_weights": weights,
            "bilger_beta_fuel": beta[0], "bilger_beta_oxidizer": beta[1]}


def outputs_of(gas) -> list[str]:
    return [f"Y_{s}" for s in gas.species_names]


def mixture_fraction(gas, table_attrs, **options):
    cls, resolved = registry.configure("physics", "mixture-fraction", options)
    return cls(PhysicsContext(INPUTS, outputs_of(gas), table_attrs), **resolved)


def batch_of(z: np.ndarray, Y: np.ndarray, model: torch.nn.Module | None = None, Y_pred=None) -> Batch:
    """A batch predicting `Y` (or `Y_pred`) at mixture fraction `z`, without targets (y=None): element
    conservation needs only the inputs and the predictions."""
    x_phys = torch.tensor(np.column_stack([np.zeros_like(z), z, np.ones_like(z)]))
    y_pred = torch.as_tensor(Y) if Y_pred is None else Y_pred
    return Batch(x=x_phys, x_phys=x_phys, y=None, y_pred=y_pred, y_pred_phys=y_pred,
                 input_names=INPUTS, output_names=[], model=model or torch.nn.Identity())


@pytest.fixture(scope="module")
def blends(gas, streams):
    """Mass fractions of fuel/oxidizer blends with mass fraction z of fuel, and their HP equilibrium products."""
    z = np.linspace(0.0, 1.0, 11)
    y_fuel, y_ox = streams
    mixed = np.array([zi * y_fuel + (1.0 - zi) * y_ox for zi in z])
    burnt = []
    for y in mixed:
        gas.TPY = 300.0, ct.one_atm, y
        gas.equilibrate("HP")
        burnt.append(gas.Y.copy())
    return z, mixed, np.array(burnt)


def test_mixture_fraction_of_blends_and_their_equilibrium_products_equals_z(gas, table_attrs, blends):
    z, mixed, burnt = blends
    loss = mixture_fraction(gas, table_attrs)
    assert loss.term_names() == ["physics/mixture_fraction"]
    assert burnt[5, gas.species_index("H2O")] > 0.05  # the products really differ from the blend
    for Y in (mixed, burnt):
        terms = loss.terms(batch_of(z, Y))
        assert list(terms) == loss.term_names()
        term = terms["physics/mixture_fraction"]
        assert term.shape == (len(z),)
        assert float(term.max()) < 1e-24


def test_mixture_fraction_penalizes_mass_fractions_that_break_element_conservation(gas, table_attrs, blends):
    z, _, burnt = blends
    perturbed = burnt.copy()
    h2o, o2 = gas.species_index("H2O"), gas.species_index("O2")
    shift = np.minimum(0.02, perturbed[:, o2])
    perturbed[:, o2] -= shift  # oxygen atoms lost, hydrogen atoms gained: Z rises
    perturbed[:, h2o] += shift
    term = mixture_fraction(gas, table_attrs, weight=10.0).terms(batch_of(z, perturbed))["physics/mixture_fraction"]
    moved = shift > 1e-3
    assert moved.sum() >= 3 and float(term[moved].min()) > 1e-7
    # the penalty is quadratic in the violation: term / shift^2 is one constant
    ratio = (term[moved] / torch.as_tensor(shift[moved]) ** 2).numpy()
    assert ratio == pytest.approx(np.full_like(ratio, ratio[0]), rel=1e-9)


def test_mixture_fraction_gradient_reaches_the_model(gas, table_attrs, blends):
    z, _, burnt = blends
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, len(gas.species_names)))
    batch = batch_of(z, burnt)
    y_pred = torch.softmax(model(batch.x_phys.float()), dim=1)
    batch = batch_of(z, burnt, model, Y_pred=y_pred)
    term = mixture_fraction(gas, table_attrs).terms(batch)["physics/mixture_fraction"]
    term.mean().backward()
    assert float(term.detach().mean()) > 1e-4  # an untrained network does not conserve elements
    assert float(model[0].weight.grad.abs().sum()) > 0.0


def test_mixture_fraction_needs_z_input_and_element_data(gas, table_attrs):
    cls = registry.load("physics", "mixture-fraction")
    options = registry.options_for(cls)
    with pytest.raises(PluginError, match="no input 'Z'; inputs: C, chi"):
        cls(PhysicsContext(["C", "chi"], outputs_of(gas), table_attrs), **options)
    with pytest.raises(PluginError, match="element data .*bilger_beta_fuel"):
        cls(PhysicsContext(INPUTS, outputs_of(gas), {k: v for k, v in table_attrs.items() if k != "bilger_beta_fuel"}),
            **options)
    with pytest.raises(PluginError, match="no species CH4"):
        cls(PhysicsContext(INPUTS, outputs_of(gas) + ["Y_CH4"], table_attrs), **options)
    with pytest.raises(PluginError, match="no predicted mass fractions"):
        cls(PhysicsContext(INPUTS, ["T"], table_attrs), **options)


# ------------------------------------------------------------------ regularization
@pytest.fixture
def tiny_model() -> torch.nn.Linear:
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.0]]))
        model.bias.copy_(torch.tensor([5.0, -1.0]))
    return model


def regularizer(name: str, **options):
    cls, resolved = registry.configure("physics", name, options)
    return cls(PhysicsContext(INPUTS, ["Y_A"]), **resolved)


def reg_values(name: str, model: torch.nn.Module, **options) -> dict[str, float]:
    with torch.no_grad():
        return {k: float(v) for k, v in reg_terms(name, model, **options).items()}


def reg_terms(name: str, model: torch.nn.Module, **options):
    batch = Batch(x=torch.zeros(1, 3), x_phys=torch.zeros(1, 3), y=None, y_pred=torch.zeros(1, 1),
                  y_pred_phys=torch.zeros(1, 1), input_names=INPUTS, output_names=["Y_A"], model=model)
    return regularizer(name, **options).terms(batch)


def test_l1_and_l2_sum_weight_matrices_by_default(tiny_model):
    assert reg_values("l1", tiny_model, weight=0.5) == {"reg/l1": pytest.approx(0.5 * 6.0)}
    assert reg_values("l2", tiny_model, weight=0.5) == {"reg/l2": pytest.approx(0.5 * 14.0)}
    assert reg_values("l1", tiny_model, weight=1.0, include_bias=True) == {"reg/l1": pytest.approx(12.0)}
    assert reg_values("l2", tiny_model, weight=1.0, include_bias=True) == {"reg/l2": pytest.approx(40.0)}


def test_elastic_net_splits_strength_by_l1_ratio(tiny_model):
    terms = reg_values("elastic-net", tiny_model, weight=0.1, l1_ratio=0.25)
    assert terms == {"reg/l1": pytest.approx(0.1 * 0.25 * 6.0), "reg/l2": pytest.approx(0.1 * 0.75 * 14.0)}
    with pytest.raises(PluginError, match="l1_ratio=1.5"):
        regularizer("elastic-net", l1_ratio=1.5)


def test_regularization_gradients_are_sign_and_twice_the_weights(tiny_model):
    reg_terms("l1", tiny_model, weight=0.5)["reg/l1"].backward()
    assert tiny_model.weight.grad.tolist() == [[0.5, -0.5], [0.5, 0.0]]
    assert tiny_model.bias.grad is None
    tiny_model.weight.grad = None
    reg_terms("l2", tiny_model, weight=0.5)["reg/l2"].backward()
    assert tiny_model.weight.grad.tolist() == [[1.0, -2.0], [3.0, 0.0]]


@pytest.mark.parametrize("name, options, names", [
    ("l1", {}, ["reg/l1"]), ("l2", {}, ["reg/l2"]), ("elastic-net", {"l1_ratio": 0.3}, ["reg/l1", "reg/l2"]),
])
def test_regularizers_declare_the_terms_they_return(tiny_model, name, options, names):
    assert regularizer(name, **options).term_names() == names
    assert list(reg_terms(name, tiny_model, **options)) == names
    for term in names:
        check_name(term, name)


@pytest.mark.parametrize("name", sorted(registry.available("physics")))
def test_check_plugin_accepts_every_registered_physics_loss(name):
    cls = registry.load("physics", name)  # loading runs the check once
    check_plugin("physics", name, cls, registry.package_of(registry.available("physics")[name]))


def test_check_plugin_rejects_a_physics_loss_that_does_not_declare_its_terms():
    class Undeclared(PhysicsLoss):
        description = "returns terms it never declared"

        def terms(self, batch):
            return {"physics/x": batch.y_pred.sum(dim=1)}

    with pytest.raises(PluginError, match=r"missing method term_names\(\) of the PhysicsLoss contract"):
        check_plugin("physics", "undeclared", Undeclared, "example-package")


def test_registry_lists_physics_plugins_with_their_options():
    infos = {info.name: info for info in registry.describe("physics")}
    assert {"mixture-fraction", "l1", "l2", "elastic-net"} <= set(infos)
    assert [o.name for o in infos["elastic-net"].options] == ["weight", "l1_ratio", "include_bias"]
