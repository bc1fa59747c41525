"""Every weighting strategy against a hand-computed case, plus the contract all of them keep."""

from __future__ import annotations

import io
import math
from typing import Iterable

import pytest
import torch

from surrogate import registry
from surrogate.contracts import DataStatistics, StepContext, TrainingState, WeightingStrategy, check_plugin
from surrogate.errors import PluginError
from surrogate.terms import term_means

BUILT_IN = ["uniform", "inverse-variance", "inverse-std", "fixed", "imbalance-aware", "power", "schedule",
            "gradnorm", "grad-magnitude", "uncertainty", "softadapt", "relobralo", "dwa", "performance", "learned"]


def stats(**variance: float) -> DataStatistics:
    return DataStatistics(output_names=list(variance), mean={k: 0.5 for k in variance}, variance=dict(variance),
                          n_samples=100)


def make(name: str, data: DataStatistics, terms: Iterable[str], **options) -> WeightingStrategy:
    """A strategy built as the trainer builds it: statistics, every term name of the run, resolved options."""
    cls, resolved = registry.configure("weightings", name, options)
    return cls(data, list(terms), **resolved)


def context(step: int = 0, shared=(), validation_terms=None, steps_per_epoch: int = 1,
            max_epochs: int = 1) -> StepContext:
    state = TrainingState(step=step, steps_per_epoch=steps_per_epoch, max_epochs=max_epochs)
    return StepContext(state=state, shared_parameters=list(shared), validation_terms=validation_terms)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# terms used by the static cases: means 2, 4 and 0.5
TERMS = {"data/Y_A": t(1.0, 3.0), "data/Y_B": t(4.0, 4.0), "physics/p": t(0.5)}
DATA_ONLY = {name: value for name, value in TERMS.items() if name.startswith("data/")}
AB = stats(Y_A=0.5, Y_B=2e-4)
AB_TERMS = ["data/Y_A", "data/Y_B"]


# ------------------------------------------------------------------ static
def test_uniform_sums_term_means():
    loss, weights = make("uniform", AB, TERMS).combine(TERMS, context())
    assert float(loss.detach()) == pytest.approx(2.0 + 4.0 + 0.5)
    assert weights == {"data/Y_A": 1.0, "data/Y_B": 1.0, "physics/p": 1.0}


def test_inverse_variance_divides_each_mse_by_its_variance():
    loss, weights = make("inverse-variance", AB, TERMS).combine(TERMS, context())
    assert weights["data/Y_A"] == pytest.approx(2.0)
    assert weights["data/Y_B"] == pytest.approx(5000.0)
    assert weights["physics/p"] == 1.0
    assert float(loss.detach()) == pytest.approx(2.0 * 2.0 + 5000.0 * 4.0 + 0.5)


def test_inverse_variance_count_normalization_sums_to_number_of_outputs():
    _, weights = make("inverse-variance", AB, TERMS, normalize="count").combine(TERMS, context())
    assert weights["data/Y_A"] == pytest.approx(2.0 * 2.0 / 5002.0)
    assert weights["data/Y_B"] == pytest.approx(2.0 * 5000.0 / 5002.0)


def test_inverse_std_uses_square_root_of_variance():
    _, weights = make("inverse-std", AB, TERMS).combine(TERMS, context())
    assert weights["data/Y_A"] == pytest.approx(1.0 / math.sqrt(0.5))
    assert weights["data/Y_B"] == pytest.approx(1.0 / math.sqrt(2e-4))


def test_constant_output_is_a_one_line_error_naming_it():
    with pytest.raises(PluginError, match="Y_B has zero variance"):
        make("inverse-variance", stats(Y_A=1.0, Y_B=0.0), AB_TERMS)


def test_fixed_weights_match_output_then_group_then_default():
    strategy = make("fixed", AB, TERMS, weights="Y_B:3,physics:0.1,data:7", default=2.0)
    loss, weights = strategy.combine(TERMS, context())
    assert weights == pytest.approx({"data/Y_A": 7.0, "data/Y_B": 3.0, "physics/p": 0.1})
    assert float(loss.detach()) == pytest.approx(7.0 * 2.0 + 3.0 * 4.0 + 0.1 * 0.5)
    _, weights = make("fixed", AB, TERMS, weights="Y_B:3", default=2.0).combine(TERMS, context())
    assert weights == pytest.approx({"data/Y_A": 2.0, "data/Y_B": 3.0, "physics/p": 1.0})


@pytest.mark.parametrize("name, option", [("fixed", "weights"), ("power", "exponents"), ("performance", "targets")])
def test_a_mapping_key_that_names_no_term_is_rejected_when_the_strategy_is_built(name, option):
    with pytest.raises(PluginError, match=f"weighting '{name}'.*'Y_C' names no loss term; valid names: .*physics"):
        make(name, AB, TERMS, **{option: "Y_C:2"})


def test_malformed_mapping_option_is_a_one_line_error():
    with pytest.raises(PluginError, match="option weights="):
        make("fixed", AB, TERMS, weights="Y_A=2")


# ------------------------------------------------------------------ imbalance-aware
IMBALANCE = {"data/Y_A": t(0.0, 1.0), "data/Y_B": t(2.0, 0.0)}


def test_imbalance_aware_weights_are_softmax_of_errors():
    errors = {k: v.clone().requires_grad_(True) for k, v in IMBALANCE.items()}
    loss, weights = make("imbalance-aware", AB, IMBALANCE, temperature=1.0, scale="absolute").combine(errors, context())
    e = math.e
    z = 2.0 + e + e * e
    assert float(loss.detach()) == pytest.approx(2.0 * (e * 1.0 + e * e * 2.0) / z)
    # reported: M * B * mean_b p_bm, i.e. 2 * (p_a0 + p_a1)
    assert weights["data/Y_A"] == pytest.approx(2.0 * (1.0 + e) / z)
    assert weights["data/Y_B"] == pytest.approx(2.0 * (e * e + 1.0) / z)
    loss.backward()  # the weights are detached: d loss / d l = M p
    assert errors["data/Y_B"].grad.tolist() == pytest.approx([2.0 * e * e / z, 2.0 / z])


def test_imbalance_aware_large_temperature_is_plain_mse():
    loss, _ = make("imbalance-aware", AB, IMBALANCE, temperature=1e9, scale="absolute").combine(IMBALANCE, context())
    uniform, _ = make("uniform", AB, TERMS).combine(IMBALANCE, context())
    assert float(loss.detach()) == pytest.approx(float(uniform), rel=1e-6)


def test_imbalance_aware_small_temperature_is_the_max():
    loss, weights = make("imbalance-aware", AB, IMBALANCE, temperature=1e-6, scale="absolute").combine(IMBALANCE, context())
    assert float(loss.detach()) == pytest.approx(2 * 2.0)  # M * max l
    assert weights["data/Y_B"] == pytest.approx(2.0) and weights["data/Y_A"] == pytest.approx(0.0)


def test_imbalance_aware_mean_scale_is_unit_free():
    # scale=mean divides by the batch mean error (0.75 here): T=0.75 relative equals T=1 absolute ...
    relative, w_rel = make("imbalance-aware", AB, IMBALANCE, temperature=1 / 0.75).combine(IMBALANCE, context())
    absolute, w_abs = make("imbalance-aware", AB, IMBALANCE, temperature=1.0, scale="absolute").combine(IMBALANCE, context())
    assert w_rel == pytest.approx(w_abs) and float(relative) == pytest.approx(float(absolute))
    # ... and errors in other units (x 1e-8, e.g. trace mass fractions) get the same weights
    tiny = {k: v * 1e-8 for k, v in IMBALANCE.items()}
    _, w_tiny = make("imbalance-aware", AB, IMBALANCE, temperature=1 / 0.75).combine(tiny, context())
    assert w_tiny == pytest.approx(w_rel)


# ------------------------------------------------------------------ power (MMPINN)
POWER_TERMS = {"data/Y_A": t(4.0), "data/Y_B": t(0.01), "physics/p": t(1e-4)}


def test_power_takes_nth_root_of_data_terms():
    loss, weights = make("power", AB, POWER_TERMS, exponent=2.0).combine(POWER_TERMS, context())
    assert float(loss.detach()) == pytest.approx(2.0 + 0.1 + 1e-4)
    assert weights == pytest.approx({"data/Y_A": 0.5, "data/Y_B": 10.0, "physics/p": 1.0})


def test_power_exponents_per_output_and_group():
    strategy = make("power", AB, POWER_TERMS, exponent=2.0, exponents="Y_B:1,physics:4")
    loss, _ = strategy.combine(POWER_TERMS, context())
    assert float(loss.detach()) == pytest.approx(2.0 + 0.01 + 0.1)


# ------------------------------------------------------------------ schedule
def schedule_context(step: int) -> StepContext:
    return context(step=step, steps_per_epoch=11, max_epochs=1)  # progress = step / 10


def test_schedule_moves_linearly_from_uniform_to_inverse_variance():
    strategy = make("schedule", AB, TERMS, start="uniform", end="inverse-variance", by="step", begin=0.0, finish=1.0)
    _, first = strategy.combine(TERMS, schedule_context(0))
    loss, middle = strategy.combine(TERMS, schedule_context(5))
    _, last = strategy.combine(TERMS, schedule_context(10))
    assert first["data/Y_B"] == 1.0 and last["data/Y_B"] == pytest.approx(5000.0)
    assert middle["data/Y_B"] == pytest.approx(0.5 * 1.0 + 0.5 * 5000.0)
    assert float(loss.detach()) == pytest.approx(0.5 * 6.5 + 0.5 * (2.0 * 2.0 + 5000.0 * 4.0 + 0.5))


def test_schedule_cosine_and_step_shapes():
    cosine = make("schedule", AB, TERMS, shape="cosine", by="step", begin=0.0, finish=1.0)
    _, weights = cosine.combine(TERMS, schedule_context(2))  # progress 0.2
    alpha = 0.5 * (1.0 - math.cos(math.pi * 0.2))
    assert weights["data/Y_A"] == pytest.approx((1 - alpha) * 1.0 + alpha * 2.0)
    step = make("schedule", AB, TERMS, shape="step", by="step", finish=0.5)
    assert step.combine(TERMS, schedule_context(4))[1]["data/Y_B"] == 1.0
    assert step.combine(TERMS, schedule_context(5))[1]["data/Y_B"] == pytest.approx(5000.0)


def test_schedule_by_epoch_moves_between_exponents_with_inner_options():
    strategy = make("schedule", AB, POWER_TERMS, start="power", start_options="exponent=4;exponents=physics:2", end="power",
                    end_options="exponent=1", by="epoch", finish=1.0)
    ctx = context(step=0, steps_per_epoch=5, max_epochs=3)
    loss, _ = strategy.combine(POWER_TERMS, ctx)
    assert float(loss.detach()) == pytest.approx(4.0 ** 0.25 + 0.01 ** 0.25 + 1e-2)
    ctx.state.epoch = 1  # half way in epochs
    loss, _ = strategy.combine(POWER_TERMS, ctx)
    assert float(loss.detach()) == pytest.approx(0.5 * (4.0 ** 0.25 + 0.01 ** 0.25 + 1e-2) + 0.5 * (4.0 + 0.01 + 1e-4))


def test_schedule_names_an_unknown_inner_strategy():
    with pytest.raises(PluginError, match="unknown weighting 'nope'; available: .*uniform"):
        make("schedule", AB, TERMS, end="nope")
    with pytest.raises(PluginError, match="unknown option 'bogus'"):
        make("schedule", AB, TERMS, end="power", end_options="bogus=1")


def test_schedule_passes_the_terms_on_and_exposes_inner_parameters_to_the_trainer():
    strategy = make("schedule", AB, TERMS, start="uniform", end="uncertainty")
    assert [p.shape for p in strategy.parameters()] == [torch.Size([3])]  # Y_A, Y_B and physics/p


# ------------------------------------------------------------------ gradient-based
def gradient_case():
    """W = (1, 2); L_a = 9 W0^2 = 9 with |grad| = 18; L_b = W1^2 = 4 with |grad| = 4."""
    W = torch.nn.Parameter(t(1.0, 2.0))

    def terms():
        return {"data/Y_A": (3.0 * W[0]) ** 2 * torch.ones(1, dtype=torch.float64),
                "data/Y_B": W[1] ** 2 * torch.ones(3, dtype=torch.float64)}

    return W, terms


def test_grad_magnitude_weights_are_inverse_gradient_norms_normalized():
    W, terms = gradient_case()
    strategy = make("grad-magnitude", AB, AB_TERMS, every=3, eps=0.0)
    loss, weights = strategy.combine(terms(), context(step=0, shared=[W]))
    # 1/18 and 1/4, rescaled to sum 2
    assert weights["data/Y_A"] == pytest.approx(4.0 / 11.0)
    assert weights["data/Y_B"] == pytest.approx(18.0 / 11.0)
    assert float(loss.detach()) == pytest.approx(4.0 / 11.0 * 9.0 + 18.0 / 11.0 * 4.0)
    with torch.no_grad():
        W.copy_(t(1.0, 1.0))  # now |grad b| = 2: weights change only when the update is due
    assert strategy.combine(terms(), context(step=2, shared=[W]))[1]["data/Y_A"] == pytest.approx(4.0 / 11.0)
    assert strategy.combine(terms(), context(step=3, shared=[W]))[1]["data/Y_A"] == pytest.approx(2 / 10)


def test_gradnorm_moves_weight_from_the_larger_gradient_by_its_learning_rate():
    W, terms = gradient_case()
    strategy = make("gradnorm", AB, AB_TERMS, alpha=0.0, lr=0.1)
    loss, first = strategy.combine(terms(), context(shared=[W]))
    assert first == {"data/Y_A": 1.0, "data/Y_B": 1.0}
    assert float(loss.detach()) == pytest.approx(13.0)
    # target = mean(G) = 11: G_a = 18 is above it, G_b = 4 below; Adam's first step is lr * sign(grad)
    _, second = strategy.combine(terms(), context(shared=[W]))
    assert second["data/Y_A"] == pytest.approx(0.9, abs=1e-6)
    assert second["data/Y_B"] == pytest.approx(1.1, abs=1e-6)
    assert list(strategy.parameters()) == []  # its weights are not the trainer's to optimize


def test_gradnorm_alpha_favours_the_term_that_trains_slowest():
    W = torch.nn.Parameter(t(1.0, 1.0))

    def terms():
        return {"data/Y_A": W[0] ** 2 * torch.ones(1), "data/Y_B": W[1] ** 2 * torch.ones(1)}

    strategy = make("gradnorm", AB, AB_TERMS, alpha=1.0, lr=0.1)
    strategy.combine(terms(), context(shared=[W]))  # equal norms: weights stay 1
    with torch.no_grad():
        W.copy_(t(0.5, 1.0))  # term a fell to a quarter of its start, b did not move
    _, weights = strategy.combine(terms(), context(shared=[W]))
    assert weights == pytest.approx({"data/Y_A": 1.0, "data/Y_B": 1.0})
    # G = (1, 2), r = (0.25, 1) / 0.625, target = 1.5 r = (0.6, 2.4): a above (down), b below (up)
    _, weights = strategy.combine(terms(), context(shared=[W]))
    assert weights["data/Y_A"] < 1.0 < weights["data/Y_B"]


# ------------------------------------------------------------------ uncertainty (Kendall)
def test_uncertainty_loss_is_exp_minus_s_times_loss_plus_s():
    strategy = make("uncertainty", AB, TERMS)
    with torch.no_grad():
        strategy.log_variance.copy_(torch.tensor([math.log(2.0), 0.0, 1.0]))
    loss, weights = strategy.combine(TERMS, context())
    assert weights == pytest.approx({"data/Y_A": 0.5, "data/Y_B": 1.0, "physics/p": math.exp(-1.0)})
    assert float(loss.detach()) == pytest.approx(0.5 * 2.0 + math.log(2.0) + 4.0 + math.exp(-1.0) * 0.5 + 1.0)


def test_uncertainty_has_a_log_variance_per_term_but_reg_from_the_start_and_all_converge_to_log_of_each_loss():
    batch = {"data/Y_A": t(3.0), "physics/p": t(1e-2), "reg/l2": t(5.0), "data/Y_B": t(0.1)}
    strategy = make("uncertainty", AB, batch)
    # before any batch: the optimizer gets one parameter per data and physics term, none for reg/l2
    assert strategy.names == ["data/Y_A", "physics/p", "data/Y_B"]
    assert [(p.shape, p.requires_grad) for p in strategy.parameters()] == [(torch.Size([3]), True)]
    optimizer = torch.optim.Adam(strategy.parameters(), lr=0.05)
    for _ in range(400):
        optimizer.zero_grad()
        loss, weights = strategy.combine(batch, context())
        loss.backward()
        optimizer.step()
    assert strategy.log_variance.tolist() == pytest.approx([math.log(3.0), math.log(1e-2), math.log(0.1)], abs=1e-2)
    assert weights["reg/l2"] == 1.0
    assert make("uncertainty", AB, batch, balance="data").names == AB_TERMS


# ------------------------------------------------------------------ value-based
def feed(strategy: WeightingStrategy, *steps: tuple[float, float]) -> dict[str, float]:
    weights = {}
    for step, (a, b) in enumerate(steps):
        _, weights = strategy.combine({"data/Y_A": t(a), "data/Y_B": t(b)}, context(step=step))
    return weights


def two_softmax(x: float, y: float) -> tuple[float, float]:
    ex, ey = math.exp(x), math.exp(y)
    return 2 * ex / (ex + ey), 2 * ey / (ex + ey)


def test_softadapt_plain_is_softmax_of_loss_slopes():
    strategy = make("softadapt", AB, AB_TERMS, beta=1.0, variant="plain")
    assert feed(strategy, (1.0, 1.0)) == {"data/Y_A": 1.0, "data/Y_B": 1.0}
    weights = feed(strategy, (0.5, 0.9))
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx(two_softmax(-0.5, -0.1))


def test_softadapt_normalized_and_loss_weighted_variants():
    weights = feed(make("softadapt", AB, AB_TERMS, beta=1.0, variant="normalized"), (1.0, 1.0), (0.5, 0.9))
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx(two_softmax(-0.5 / 0.6, -0.1 / 0.6))
    weights = feed(make("softadapt", AB, AB_TERMS, beta=1.0, variant="loss-weighted"), (1.0, 1.0), (0.5, 0.9))
    a, b = 0.5 * math.exp(-0.5), 0.9 * math.exp(-0.1)
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx((2 * a / (a + b), 2 * b / (a + b)))


def test_relobralo_without_lookback_blends_previous_weights_with_recent_balance():
    strategy = make("relobralo", AB, AB_TERMS, alpha=0.9, saudade=1.0, temperature=1.0)
    weights = feed(strategy, (1.0, 1.0), (0.5, 1.0))
    bal = two_softmax(0.5 / 1.0, 1.0 / 1.0)
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx((0.9 + 0.1 * bal[0], 0.9 + 0.1 * bal[1]))


def test_relobralo_lookback_compares_with_the_first_step():
    strategy = make("relobralo", AB, AB_TERMS, alpha=0.5, saudade=0.0, temperature=1.0)
    weights = feed(strategy, (1.0, 1.0), (0.5, 1.0), (0.25, 2.0))
    to_first = two_softmax(0.25 / 1.0, 2.0 / 1.0)
    to_previous = two_softmax(0.25 / 0.5, 2.0 / 1.0)
    expected = [0.5 * f + 0.5 * p for f, p in zip(to_first, to_previous)]
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx(expected)


def test_dwa_uses_ratio_of_the_last_two_epoch_losses():
    batch = {**DATA_ONLY, "reg/l2": t(1.0)}
    strategy = make("dwa", AB, batch, temperature=2.0)
    state = TrainingState()
    strategy.observe_epoch({"data/Y_A": 1.0, "data/Y_B": 1.0, "reg/l2": 5.0}, {}, state)
    assert strategy.combine(batch, context())[1]["data/Y_A"] == 1.0
    strategy.observe_epoch({"data/Y_A": 0.5, "data/Y_B": 0.9, "reg/l2": 1.0}, {}, state)
    weights = strategy.combine(batch, context())[1]
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx(two_softmax(0.25, 0.45))
    assert weights["reg/l2"] == 1.0  # regularizers keep the strength the user gave them


# ------------------------------------------------------------------ performance
def test_performance_weights_follow_metric_over_target_with_smoothing():
    data = stats(Y_A=0.01, Y_B=1e-6)
    validation = {"data/Y_A": 1e-5, "data/Y_B": 1e-8}  # MSE/Var: 1e-3 (on target) and 1e-2 (10x off)
    sharp = make("performance", data, DATA_ONLY, target=1e-3, rate=1.0)
    sharp.observe_epoch({}, validation, TrainingState())
    weights = sharp.combine(DATA_ONLY, context())[1]
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx((2 / 11, 20 / 11))
    smooth = make("performance", data, DATA_ONLY, target=1e-3, rate=0.5)
    smooth.observe_epoch({}, validation, TrainingState())
    weights = smooth.combine(DATA_ONLY, context())[1]
    assert (weights["data/Y_A"], weights["data/Y_B"]) == pytest.approx((0.5 + 1 / 11, 0.5 + 10 / 11))


def test_performance_targets_per_term():
    strategy = make("performance", stats(Y_A=1.0, Y_B=1.0), TERMS, target=1e-3, targets="physics:1e-6", rate=1.0)
    strategy.observe_epoch({}, {"data/Y_A": 1e-3, "data/Y_B": 1e-3, "physics/p": 2e-6}, TrainingState())
    weights = strategy.combine(TERMS, context())[1]
    assert weights == pytest.approx({"data/Y_A": 0.75, "data/Y_B": 0.75, "physics/p": 1.5})


# ------------------------------------------------------------------ learned
def learned_case():
    """Validation gradient (-4, -2) at W = (1, 1); term a's gradient (-2, 0) agrees with it, b's (0, 4) opposes."""
    W = torch.nn.Parameter(t(1.0, 1.0))

    def train_terms():
        return {"data/Y_A": (W[0] - 2.0) ** 2 * torch.ones(1), "data/Y_B": (W[1] + 1.0) ** 2 * torch.ones(1)}

    def validation_terms():
        return {"data/Y_A": (W[0] - 3.0) ** 2 * torch.ones(1), "data/Y_B": (W[1] - 2.0) ** 2 * torch.ones(1)}

    return W, train_terms, validation_terms


def test_learned_alignment_is_normalized_dot_product_with_validation_gradient():
    W, train_terms, validation_terms = learned_case()
    strategy = make("learned", stats(Y_A=1.0, Y_B=1.0), AB_TERMS)
    terms = train_terms()
    alignment = strategy.alignments([terms["data/Y_A"].mean(), terms["data/Y_B"].mean()],
                                    context(shared=[W], validation_terms=validation_terms))
    assert alignment.tolist() == pytest.approx([0.5, -0.5])  # dots 8 and -8


def test_learned_weights_start_uniform_and_move_toward_the_helpful_term():
    W, train_terms, validation_terms = learned_case()
    strategy = make("learned", stats(Y_A=1.0, Y_B=1.0), AB_TERMS, every=1, lr=0.05)
    assert [p for p in strategy.parameters() if p.requires_grad] == []  # hidden from the trainer's optimizer
    ctx = context(shared=[W], validation_terms=validation_terms)
    with torch.no_grad():
        first = strategy.multipliers(torch.zeros(2, 2))
    assert first.tolist() == pytest.approx([1.0, 1.0])
    for _ in range(30):
        loss, weights = strategy.combine(train_terms(), ctx)
    assert weights["data/Y_A"] > 1.5 > 0.5 > weights["data/Y_B"] >= 0.05
    assert sum(weights.values()) == pytest.approx(2.0)


def test_learned_multiplies_the_weights_of_its_base_strategy():
    W, train_terms, validation_terms = learned_case()
    strategy = make("learned", stats(Y_A=0.5, Y_B=2e-4), AB_TERMS, base="inverse-variance", every=1, lr=0.05)
    ctx = context(shared=[W], validation_terms=validation_terms)
    _, first = strategy.combine(train_terms(), ctx)  # multipliers start at 1, then learn
    assert first == pytest.approx({"data/Y_A": 2.0, "data/Y_B": 5000.0}, rel=1e-3)
    for _ in range(10):
        _, weights = strategy.combine(train_terms(), ctx)
    assert weights["data/Y_A"] / 2.0 + weights["data/Y_B"] / 5000.0 == pytest.approx(2.0)
    assert weights["data/Y_A"] / 2.0 > 1.0  # a's gradient, even weighted 2 against 5000, helps validation


# ------------------------------------------------------------------ every strategy
def tiny_problem():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x, y = torch.randn(16, 3), torch.randn(16, 2) * torch.tensor([1.0, 0.01])

    def terms(rows=slice(0, 8)):
        error = (model(x[rows]) - y[rows]) ** 2
        return {"data/Y_A": error[:, 0], "data/Y_B": error[:, 1], "physics/p": error.sum(dim=1) * 0.1,
                "reg/l2": sum(p.pow(2).sum() for p in model.parameters()) * 1e-3}

    return model, terms


TINY_TERMS = ["data/Y_A", "data/Y_B", "physics/p", "reg/l2"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_strategy_gives_finite_loss_a_weight_per_term_and_model_gradients(name):
    model, terms = tiny_problem()
    strategy = make(name, stats(Y_A=1.0, Y_B=1e-4), TINY_TERMS)
    ctx = context(shared=list(model[2].parameters()), validation_terms=lambda: terms(slice(8, 16)),
                  steps_per_epoch=2, max_epochs=2)
    for step in range(3):
        ctx.state.step, ctx.state.epoch = step, step // 2
        model.zero_grad()
        batch = terms()
        loss, weights = strategy(batch, ctx)
        loss.backward()
        strategy.observe_epoch(term_means(batch), term_means(terms(slice(8, 16))), ctx.state)
    assert math.isfinite(float(loss.detach()))
    assert set(weights) == set(batch) and all(isinstance(w, float) and math.isfinite(w) for w in weights.values())
    assert model[0].weight.grad is not None and float(model[0].weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", ["gradnorm", "grad-magnitude", "softadapt", "relobralo", "dwa", "performance",
                                  "learned", "uncertainty"])
def test_state_survives_a_weights_only_checkpoint(name):
    model, terms = tiny_problem()
    data = stats(Y_A=1.0, Y_B=1e-4)
    ctx = context(shared=list(model[2].parameters()), validation_terms=lambda: terms(slice(8, 16)))
    options = {"every": 1} if name in ("grad-magnitude", "learned") else {}
    original = make(name, data, TINY_TERMS, **options)
    for step in range(3):
        ctx.state.step = step
        original(terms(), ctx)
        means = {k: v * (step + 1) for k, v in term_means(terms()).items()}
        original.observe_epoch(means, means, ctx.state)
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    buffer.seek(0)
    restored = make(name, data, TINY_TERMS, **options)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    ctx.state.step = 3
    assert restored(terms(), ctx)[1] == pytest.approx(original(terms(), ctx)[1])


def test_registry_lists_every_built_in_strategy_with_description_and_documented_options():
    infos = {info.name: info for info in registry.describe("weightings")}
    assert set(BUILT_IN) <= set(infos)
    for name in BUILT_IN:
        assert infos[name].description and "\n" not in infos[name].description
        assert all(option.help for option in infos[name].options)


# ------------------------------------------------------------------ runs without data terms (collocation)
NO_DATA = DataStatistics(output_names=[], mean={}, variance={}, n_samples=0)
PDE_TERMS = ["pde/residual", "pde/boundary", "reg/l2"]


@pytest.mark.parametrize("name", [n for n in BUILT_IN if n not in ("imbalance-aware", "learned")])
def test_every_strategy_but_the_data_only_ones_weights_pde_terms(name):
    model, _ = tiny_problem()
    x = torch.randn(8, 3)

    def terms():
        u = model(x)
        return {"pde/residual": u[:, 0] ** 2, "pde/boundary": (u[:, 1] - 1.0) ** 2,
                "reg/l2": sum(p.pow(2).sum() for p in model.parameters()) * 1e-3}

    strategy = make(name, NO_DATA, PDE_TERMS)
    ctx = context(shared=list(model[2].parameters()), steps_per_epoch=2, max_epochs=2)
    for step in range(3):
        ctx.state.step, ctx.state.epoch = step, step // 2
        batch = terms()
        loss, weights = strategy(batch, ctx)
        strategy.observe_epoch(term_means(batch), term_means(batch), ctx.state)
    assert math.isfinite(float(loss.detach())) and set(weights) == set(PDE_TERMS)
    assert weights["reg/l2"] == 1.0


@pytest.mark.parametrize("name, options", [("imbalance-aware", {}), ("learned", {}), ("softadapt", {"balance": "data"}),
                                           ("uncertainty", {"balance": "data"})])
def test_a_strategy_that_needs_data_terms_says_so_when_built_for_a_run_without_them(name, options):
    with pytest.raises(PluginError, match=f"weighting '{name}'.*(none|no loss term)") as raised:
        make(name, NO_DATA, PDE_TERMS, **options)
    assert "\n" not in str(raised.value)


# ------------------------------------------------------------------ contract check
@pytest.mark.parametrize("name", sorted(registry.available("weightings")))
def test_check_plugin_accepts_every_registered_weighting(name):
    cls = registry.load("weightings", name)  # loading runs the check once
    check_plugin("weightings", name, cls, registry.package_of(registry.available("weightings")[name]))


class NoCombine(WeightingStrategy):
    description = "forgot combine"


class OldSignature(WeightingStrategy):
    description = "built from statistics only, as before term lists"

    def __init__(self, stats: DataStatistics):
        super().__init__(stats, [])

    def combine(self, terms, ctx):
        return sum(value.mean() for value in terms.values()), dict.fromkeys(terms, 1.0)


@pytest.mark.parametrize("cls, message", [
    (NoCombine, r"missing method combine\(terms, ctx\) of the WeightingStrategy contract"),
    (OldSignature, r"__init__\(self, stats.*\) cannot be called as __init__\(stats, terms\)"),
])
def test_check_plugin_rejects_a_weighting_without_combine_or_with_the_old_constructor(cls, message):
    with pytest.raises(PluginError, match="weighting plugin 'broken' from example-package: " + message) as raised:
        check_plugin("weightings", "broken", cls, "example-package")
    assert "\n" not in str(raised.value)
