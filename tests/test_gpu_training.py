"""Mixed precision and torch.compile of the trainer: on the CPU here, on a CUDA GPU in the `gpu`-marked tests
(which `surrogate bench gpu` runs on the GPU machine)."""

from __future__ import annotations

import math

import pytest
import torch

from surrogate.amp import compiled
from surrogate.errors import UserError
from surrogate.trainer import TrainOptions, train
from tests.synthetic import synthetic_table

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("synthetic") / "table.h5", n_rows=3000)


def fit(table, directory, **options):
    settings = dict(table=str(table), weighting="inverse-variance", epochs=6, seed=3, batch_size=256, device="cpu")
    return train(TrainOptions(**{**settings, **options}), directory, progress=False)


def weights(result) -> dict[str, torch.Tensor]:
    return torch.load(result.run_dir / "model.pt", weights_only=True)


def test_bf16_steps_change_the_arithmetic_but_weights_stay_float32_and_accuracy_holds(table, tmp_path):
    fp32, bf16 = fit(table, tmp_path / "fp32"), fit(table, tmp_path / "bf16", precision="bf16")
    w32, w16 = weights(fp32), weights(bf16)
    assert all(w.dtype == torch.float32 for w in w16.values() if w.is_floating_point())
    assert any(not torch.equal(w32[k], w16[k]) for k in w32)  # autocast really ran the steps in bf16
    r2_32 = [v["r2"] for v in fp32.metrics["test"].values()]
    r2_16 = [v["r2"] for v in bf16.metrics["test"].values()]
    assert min(r2_32) > 0.9 and max(abs(a - b) for a, b in zip(r2_32, r2_16)) < 0.05


def test_fp16_trains_with_a_gradient_scaler_that_resumes_from_its_checkpoint(table, tmp_path):
    first = fit(table, tmp_path / "fp16", precision="fp16", epochs=2)
    scale = torch.load(first.run_dir / "checkpoint.pt", weights_only=True)["scaler"]["scale"]
    assert scale > 0
    options = TrainOptions(table=str(table), weighting="inverse-variance", epochs=4, seed=3, batch_size=256,
                           device="cpu", precision="fp16")
    resumed = train(options, first.run_dir, resume=True, progress=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert all(math.isfinite(row["train_loss"]) for row in resumed.history)
    assert "scaler" not in torch.load(fit(table, tmp_path / "fp32", epochs=1).run_dir / "checkpoint.pt",
                                      weights_only=True)  # fp32 checkpoints are as before


@pytest.mark.parametrize("options, message", [
    ({"precision": "bf16", "lbfgs_epochs": 2}, "mixed precision needs dtype float32 and no L-BFGS"),
    ({"precision": "fp16", "dtype": "float64"}, "mixed precision needs dtype float32"),
    ({"compile": "fast"}, "compile 'fast': expected one of none, default, reduce-overhead"),
])
def test_impossible_precision_and_compile_options_are_one_line_errors(table, options, message):
    with pytest.raises(UserError, match=message):
        TrainOptions(table=str(table), **options).validate()


def test_compile_refuses_tasks_that_differentiate_their_inputs() -> None:
    with pytest.raises(UserError, match="task 'pinn' differentiates with respect to its inputs"):
        compiled(torch.nn.Linear(2, 2), "default", "pinn", differentiates_inputs=True)
    module = torch.nn.Linear(2, 2)
    assert compiled(module, "none", "regression", differentiates_inputs=False) is module


@pytest.fixture(scope="module")
def cuda_fp32(table, tmp_path_factory):
    return fit(table, tmp_path_factory.mktemp("cuda") / "fp32", device="cuda")


def assert_same_accuracy(reference, other, tolerance: float = 0.02) -> None:
    for name, values in reference.metrics["test"].items():
        assert abs(values["r2"] - other.metrics["test"][name]["r2"]) < tolerance, name


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_cuda_keeps_the_accuracy_of_fp32(table, tmp_path, cuda_fp32, precision):
    mixed = fit(table, tmp_path / precision, device="cuda", precision=precision)
    assert all(w.dtype == torch.float32 for w in weights(mixed).values() if w.is_floating_point())
    assert_same_accuracy(cuda_fp32, mixed)


@pytest.mark.gpu
@needs_cuda
def test_training_with_cuda_graphs_matches_eager(table, tmp_path, cuda_fp32):
    assert_same_accuracy(cuda_fp32, fit(table, tmp_path / "graphs", device="cuda", compile="reduce-overhead"))


@pytest.mark.gpu
@needs_cuda
def test_the_trainer_beats_a_dataloader_on_cuda_at_a_large_batch(table):
    from surrogate.benchmarks.training import run_training_benchmark

    result = run_training_benchmark(str(table), batch_size=2048, steps=50, device="cuda")
    job = result.jobs[0]
    assert job.device.startswith("cuda") and job.samples_per_s > job.dataloader_samples_per_s
