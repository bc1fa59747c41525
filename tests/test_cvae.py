"""The cvae task, model and the Coulomb physics losses: energy and relative-error terms on true and perturbed
geometries, the KL term against a hand-computed value, rotation equivariance of the momentum-frame decoder, and a
short run trained, sampled and exported from the CLI with its decoder's ONNX parity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from plugins.coulomb.generator import MOMENTA, POSITIONS
from plugins.coulomb.geometry import random_rotations
from plugins.cvae_model import CVAE
from plugins.tasks.cvae import ConditionalDecoder, kl_divergence
from surrogate import registry
from surrogate.cli.main import cli
from surrogate.contracts import Batch, PhysicsContext
from surrogate.evaluation import evaluate_run
from surrogate.errors import PluginError
from surrogate.scaling import InputScaler, OutputScaler
from surrogate.table import Table
from tests.torch_threads import one_thread  # noqa: F401


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("coulomb") / "random.h5"
    result = CliRunner().invoke(cli, ["table", "build", "coulomb-explosion", "-o", str(path), "--rows", "3000",
                                      "--chunk-rows", "1500", "--workers", "1"])
    assert result.exit_code == 0, result.output
    return str(path)


def physics(name: str, table: str, **options):
    data = Table(table)
    loss_cls, resolved = registry.configure("physics", name, {k: str(v) for k, v in options.items()})
    return loss_cls(PhysicsContext(MOMENTA, POSITIONS, dict(data.attrs)), **resolved)


def batch(momenta: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> Batch:
    x, y = torch.as_tensor(momenta), torch.as_tensor(predicted)
    return Batch(x=x, x_phys=x, y=None, y_pred=y, y_pred_phys=y, input_names=MOMENTA, output_names=POSITIONS,
                 model=torch.nn.Linear(1, 1), extras={"y_phys": torch.as_tensor(true)})


def test_energy_term_vanishes_for_true_pairs_and_grows_for_perturbed_ones(table):
    data = Table(table)
    p, x = data.read_matrix(MOMENTA)[:200], data.read_matrix(POSITIONS)[:200]
    energy = physics("energy", table)
    assert energy.term_names() == ["physics/energy"]
    true = energy.terms(batch(p, x, x))["physics/energy"]
    assert float(true.max()) < 1e-12  # the table conserves energy to 1e-6 relative: squared, < 1e-12
    stretched = energy.terms(batch(p, 1.05 * x, x))["physics/energy"]  # every r_ij × 1.05: U / 1.05
    np.testing.assert_allclose(stretched.numpy(), (1 - 1 / 1.05) ** 2, rtol=1e-5)


def test_relative_error_term_is_the_guarded_mre_squared(table):
    data = Table(table)
    p, x = data.read_matrix(MOMENTA)[:50], data.read_matrix(POSITIONS)[:50]
    mre = physics("mre", table, guard=0.1)
    assert float(mre.terms(batch(p, x, x))["physics/mre"].max()) == 0.0
    shifted = x + 0.01
    expected = np.mean(0.01 / np.maximum(np.abs(x), 0.1), axis=1) ** 2
    np.testing.assert_allclose(mre.terms(batch(p, shifted, x))["physics/mre"].numpy(), expected, rtol=1e-12)
    with pytest.raises(PluginError, match="physical targets"):
        b = batch(p, x, x)
        b.extras.clear()
        mre.terms(b)


def test_physics_losses_refuse_a_table_without_ions():
    with pytest.raises(PluginError, match="declares no ions"):
        registry.load("physics", "energy")(PhysicsContext(["a"], ["b"], {}))


def test_kl_term_matches_the_hand_computed_value():
    mean = torch.tensor([[0.5, -1.0], [0.0, 0.0]])
    log_variance = torch.tensor([[math.log(4.0), 0.0], [0.0, 0.0]])
    # ½[(4 + 0.25 - 1 - ln 4) + (1 + 1 - 1 - 0)] for the first sample; the prior itself costs nothing
    expected = 0.5 * ((4.0 + 0.25 - 1.0 - math.log(4.0)) + 1.0)
    torch.testing.assert_close(kl_divergence(mean, log_variance), torch.tensor([expected, 0.0]))


def test_model_widths_follow_hidden_dim_times_powers_of_two():
    network = CVAE.build(9, 9, output_names=POSITIONS, **registry.options_for(
        CVAE, {"hidden_dim": 16, "layer_num": 3, "latent_dim": 128, "activation": "relu"}))
    encoder = [m.out_features for m in network.encoder if isinstance(m, torch.nn.Linear)]
    decoder = [m.out_features for m in network.decoder_body if isinstance(m, torch.nn.Linear)]
    assert encoder == [16, 32, 64] and network.mean.out_features == 128  # Ghanaatian 2024's 16 -> 32 -> 64 -> 128
    assert decoder == [64, 32, 16] and network.decoder_head.out_features == 9
    assert not hasattr(CVAE.build(6, 6, output_names=[], **registry.options_for(CVAE, {"latent_dim": 0})), "encoder")


def test_momentum_frame_decoder_turns_with_the_momenta(table):
    """Whatever its weights, the frame decoder is rotation-equivariant: rotating the momenta rotates the
    predicted geometry the same way (the orientation is exact by construction)."""
    torch.manual_seed(0)
    network = CVAE.build(6, 6, output_names=[], **registry.options_for(CVAE, {"hidden_dim": 8, "layer_num": 2,
                                                                                 "latent_dim": 2}))
    frame = registry.problem_for(Table(table).attrs, "test").frame  # the momentum frame of the table's problem
    decoder = ConditionalDecoder(InputScaler([-5.0] * 6, [5.0] * 6, [False] * 6, [1.0] * 6), network,
                                 OutputScaler([1.0] * 6, [0.0] * 6), frame).double()
    p = torch.as_tensor(Table(table).read_matrix(MOMENTA)[:100])
    z = torch.randn(100, 2, dtype=torch.float64)
    rotation = torch.as_tensor(random_rotations(np.random.default_rng(2), 100))
    turned = torch.einsum("nij,naj->nai", rotation, p.reshape(100, 3, 3)).reshape(100, 9)
    expected = torch.einsum("nij,naj->nai", rotation, decoder(p, z).reshape(100, 3, 3)).reshape(100, 9)
    torch.testing.assert_close(decoder(turned, z), expected)


def test_cvae_refuses_to_stream_its_rows_in_one_line(table, tmp_path):
    """The task builds its framed tensors in memory (streams = False): --stream-memory is refused, not ignored."""
    result = CliRunner().invoke(cli, ["train", table, "-o", str(tmp_path / "run"), "--task", "cvae", "--stream-memory",
                                      "1", "--epochs", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "Error: --stream-memory: task 'cvae' cannot stream its dataset; train without it"
    assert not (tmp_path / "run").exists()


def test_cvae_trains_samples_and_exports_a_decoder_with_onnx_parity(table, tmp_path):
    import onnxruntime as ort

    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(cli, ["train", table, "-o", str(run), "--model", "cvae", "--model-option", "hidden_dim=16",
                                 "--model-option", "latent_dim=2", "--epochs", "2", "--batch-size", "256",
                                 "--physics", "energy", "--physics", "mre", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    prior = metrics["geometry"]["test, prior sample"]
    assert prior["mre_percent"] < 100.0 and prior["forward_error_percent"] < 50.0
    assert metrics["geometry"]["test, trivial baseline"]["mre_percent"] == pytest.approx(100.0)
    history = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"train/kl", "train/physics/energy", "train/physics/mre", "train/data/C_e1"} <= set(history)

    result = runner.invoke(cli, ["evaluate", str(run), "--split", "test"])  # lab columns, z = 0
    assert result.exit_code == 0, result.output
    assert "C_x" in result.output and "C_e1" not in result.output
    baselines = metrics["baselines"]["scores"]
    assert list(baselines) == ["mean training geometry", "z = 0 decoder"]
    evaluated, _, _ = evaluate_run(run, None, "test")  # the exported decoder at z = 0 on the same rows
    for name, scores in evaluated.items():
        assert baselines["z = 0 decoder"][name]["mse"] == pytest.approx(scores["mse"], rel=1e-4)
    # the mean molecule turned with each row's momentum frame: its bonds are the mean bonds, so it explains
    # much of the lab coordinates, unlike a lab-frame mean (about 0 for randomly oriented molecules)
    assert np.mean([scores["r2"] for scores in baselines["mean training geometry"].values()]) > 0.5

    momenta = tmp_path / "p.npy"
    np.save(momenta, Table(table).read_matrix(MOMENTA)[:4])
    result = runner.invoke(cli, ["sample", str(run), "--momenta", str(momenta), "-n", "10", "-o",
                                 str(tmp_path / "draws.npy")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "draws.npy").shape == (4, 10, 9)

    model = tmp_path / "decoder.onnx"
    result = runner.invoke(cli, ["export", str(run), "-o", str(model)])
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["condition", "latent"]
    p = Table(table).read_matrix(MOMENTA)[-64:].astype(np.float32)
    z = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    from surrogate.run import load_run

    with torch.no_grad():
        expected = load_run(run).model(torch.from_numpy(p), torch.from_numpy(z)).numpy()
    (onnx_positions,) = session.run(None, {"condition": p, "latent": z})
    np.testing.assert_allclose(onnx_positions, expected, atol=1e-4 * np.abs(expected).max())
