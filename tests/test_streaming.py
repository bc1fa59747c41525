"""Streamed training (``--stream-memory``): same epochs as in-memory training when the buffer holds the table,
every training row once per epoch through a small buffer, statistics from one pass equal to those of all rows."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import surrogate.table
from surrogate.cli.main import cli
from surrogate.training_data import split_groups
from surrogate.scaling import InputScaler, OutputScaler
from surrogate.streaming import CODES, BlockReader, RowSplit, row_uniform, shuffled_fills
from surrogate.table import Table
from surrogate.trainer import TrainOptions, Trainer, train
from tests.synthetic import synthetic_table
from tests.torch_threads import one_thread  # noqa: F401  (fixture: torch on one thread)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("stream") / "table.h5", n_rows=3000)


@pytest.fixture(scope="module")
def blocked_table(tmp_path_factory):
    """The same kind of table stored in HDF5 chunks of 400 rows: 8 blocks to stream."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(surrogate.table, "CHUNK_ROWS", 400)
        return synthetic_table(tmp_path_factory.mktemp("stream") / "blocked.h5", n_rows=3000, seed=3)


def history(run_dir):
    with open(run_dir / "history.csv") as handle:
        return [{k: float(v) for k, v in row.items() if k not in ("time_s", "peak_rss_mb")}
                for row in csv.DictReader(handle)]


def test_streamed_training_repeats_the_in_memory_epochs_when_the_buffer_holds_the_table(table, tmp_path):
    base = dict(table=str(table), weighting="uniform", epochs=3, batch_size=128, split_by="group", seed=2)
    memory = train(TrainOptions(**base), tmp_path / "memory", progress=False)
    streamed = train(TrainOptions(**base, stream_memory=16), tmp_path / "streamed", progress=False)
    for got, expected in zip(history(tmp_path / "streamed"), history(tmp_path / "memory"), strict=True):
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            if key.startswith("val"):  # validation rows scaled apart from the table: float32 round-off apart
                assert got[key] == pytest.approx(value, rel=1e-6)
            else:  # training bit for bit: the same batches in the same order, the same scalers and start
                assert got[key] == value, key
    scalers = [json.loads((tmp_path / run / "scalers.json").read_text()) for run in ("memory", "streamed")]
    assert scalers[0] == scalers[1]
    for split in ("train", "val", "test"):
        for output, values in memory.metrics[split].items():
            for metric, value in values.items():  # predictions in other batch sizes: float32 round-off apart
                assert streamed.metrics[split][output][metric] == pytest.approx(value, rel=1e-5, abs=1e-12)
    saved = [np.load(tmp_path / run / "splits.npz") for run in ("memory", "streamed")]
    for split in ("train", "val", "test"):  # what `surrogate evaluate` reads (train: it fits in the budget)
        assert np.array_equal(saved[0][split], saved[1][split])
    config = json.loads((tmp_path / "streamed" / "config.json").read_text())
    assert config["streaming"]["rows"]["train"] == len(split_groups(
        Table(table).read_labels("band"), 0.1, 0.1, 2)["train"])


def test_a_small_buffer_serves_every_training_row_once_per_epoch_in_a_new_order(blocked_table):
    options = TrainOptions(table=str(blocked_table), epochs=1, batch_size=64, stream_memory=0.05, device="cpu")
    trainer = Trainer(options, "unused", progress=False)
    trainer.build()
    task = trainer.task
    assert task.source.reader.n_blocks == 8 and task.source.capacity < 3000 // 4  # one or two blocks per fill
    n_in = len(task.input_names)
    table = Table(blocked_table)
    x = table.read_matrix(task.input_names)
    codes = np.concatenate([task.source.reader.read(b)[1] for b in range(task.source.reader.n_blocks)])
    expected = np.sort(x[codes == CODES["train"]].astype(np.float32), axis=0)
    generator = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(2):
        batches = list(task.batches("train", 64, generator))
        assert all(len(b) == 64 for b in batches[:-1])
        rows = torch.cat(batches)[:, n_in:2 * n_in].numpy()
        assert np.array_equal(np.sort(rows, axis=0), expected)  # each training row exactly once
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])
    in_table_order = x[codes == CODES["train"]].astype(np.float32)
    assert not np.array_equal(epochs[0][:400], in_table_order[:400])
    trainer.threads.close()


def test_buffer_fills_stay_within_the_memory_budget(blocked_table):
    table = Table(blocked_table)
    reader = BlockReader(blocked_table, [("inputs", "Z"), ("outputs", "T")], RowSplit.random(0.1, 0.1, 0),
                         table.n_rows, 400)
    fills = [len(f) for f in shuffled_fills(reader, "train", 900, torch.Generator().manual_seed(1))]
    assert max(fills) <= 900 and len(fills) == 4  # two 400-row blocks per fill, 8 blocks
    assert sum(fills) == int(np.sum(reader.split.codes(0, table.n_rows) == CODES["train"]))


def test_one_streaming_pass_gives_the_scalers_of_all_training_rows(blocked_table, tmp_path):
    options = TrainOptions(table=str(blocked_table), epochs=1, stream_memory=1, device="cpu")
    trainer = Trainer(options, "unused", progress=False)
    trainer.build()
    task = trainer.task
    table = Table(blocked_table)
    codes = task.source.reader.split.codes(0, table.n_rows)
    train_rows = codes == CODES["train"]
    x, y = table.read_matrix(task.input_names)[train_rows], table.read_matrix(task.output_names)[train_rows]
    reference_in = InputScaler.fit(x, [name in task.log_inputs for name in task.input_names]).to_dict()
    reference_out = OutputScaler.fit(y, task.mask).to_dict()
    state = task.state()
    for key in ("lo", "hi", "floor"):
        np.testing.assert_allclose(state["input"][key], reference_in[key], rtol=1e-6)
    for key in ("scale", "offset"):
        np.testing.assert_allclose(state["output"][key], reference_out[key], rtol=1e-6)
    assert task.epoch_size() == int(train_rows.sum())
    assert task.input_ranges["chi"] == [pytest.approx(x[:, 2].min()), pytest.approx(x[:, 2].max())]
    trainer.threads.close()


def test_row_hash_split_is_fixed_by_seed_and_row_and_has_the_asked_fractions():
    split = RowSplit.random(0.1, 0.2, seed=7)
    whole = split.codes(0, 200_000)
    pieces = np.concatenate([split.codes(s, min(200_000, s + 30_000)) for s in range(0, 200_000, 30_000)])
    assert np.array_equal(whole, pieces)  # a block's split depends on its row numbers only
    assert np.mean(whole == CODES["val"]) == pytest.approx(0.1, abs=0.005)
    assert np.mean(whole == CODES["test"]) == pytest.approx(0.2, abs=0.005)
    assert not np.array_equal(whole, RowSplit.random(0.1, 0.2, seed=8).codes(0, 200_000))
    u = row_uniform(np.arange(100_000), 0)
    assert 0 <= u.min() and u.max() < 1 and abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02


def test_streaming_refuses_full_batch_lbfgs_with_one_line(table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "run"), "--optimizer", "lbfgs",
                                      "--stream-memory", "8", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "--stream-memory" in result.output and "Traceback" not in result.output


def test_cli_streamed_run_trains_and_reports_metrics(blocked_table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(blocked_table), "-o", str(tmp_path / "run"), "--epochs", "2",
                                      "--stream-memory", "0.1", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics) == {"train", "val", "test", "kept_epoch", "last_epoch", "baselines", "beats_baselines"}
    assert metrics["test"]["Y_H2"]["r2"] > 0.5
    assert set(metrics["baselines"]["skipped"]) == {"training mean", "table lookup or interpolation"}
    assert metrics["beats_baselines"] is None  # nothing to compare with in a streamed run
    assert (tmp_path / "run" / "plots" / "parity.png").is_file()
    evaluated = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run")])  # the saved test rows
    assert evaluated.exit_code == 0, evaluated.output
    r2 = float(next(line for line in evaluated.output.splitlines() if line.startswith("Y_H2 ")).split()[1])
    assert r2 == pytest.approx(metrics["test"]["Y_H2"]["r2"], abs=1e-5)


def test_a_streamed_epoch_holds_about_its_budget_not_the_table(tmp_path, monkeypatch):
    """tracemalloc sees numpy's allocations (blocks read, buffer fills): with a 1 MB buffer one epoch peaked
    at 1.0 MB above what set-up holds and the final metrics at 4.1 MB (1.9 MB of it the 20k rows kept for the
    parity plot), on a table whose columns take 32 MB; reading them into memory peaked at 64 MB."""
    import gc
    import tracemalloc

    monkeypatch.setattr(surrogate.table, "CHUNK_ROWS", 4096)
    table = synthetic_table(tmp_path / "table.h5", n_rows=400_000, seed=5)
    table_bytes = 400_000 * 10 * 8
    options = TrainOptions(table=str(table), epochs=1, batch_size=1024, stream_memory=1, device="cpu",
                           weighting="uniform")
    peaks = []
    tracemalloc.start()
    try:
        trainer = Trainer(options, "unused", progress=False)
        trainer.build()
        for work in (lambda: sum(1 for _ in trainer.task.batches("train", 1024, torch.Generator().manual_seed(0))),
                     trainer.task.final_metrics):
            gc.collect()  # set-up garbage collected now, not in the middle of the measurement
            tracemalloc.reset_peak()
            held = tracemalloc.get_traced_memory()[0]
            result = work()
            peaks.append(tracemalloc.get_traced_memory()[1] - held)
        trainer.threads.close()
        gc.collect()
        tracemalloc.reset_peak()
        held = tracemalloc.get_traced_memory()[0]
        Table(table).read_matrix(Table(table).columns)  # what the in-memory path starts with
        in_memory = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert in_memory > table_bytes
    assert max(peaks) < table_bytes / 6, peaks
    assert result["test"]["Y_H2"]["r2"] < 1  # metrics of every split, from the streamed pass


def test_a_table_too_large_for_memory_points_to_streaming_in_one_line(table, tmp_path, monkeypatch):
    import surrogate.training_data

    # 100 kB free, the table needs ~0.6 MB
    monkeypatch.setattr(surrogate.training_data, "available_memory", lambda: 100_000)
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "run"), "--epochs", "1", "--quiet"])
    assert result.exit_code == 2 and "--stream-memory" in result.output and "Traceback" not in result.output
    streamed = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "run2"), "--epochs", "1",
                                        "--stream-memory", "0.05", "--quiet"])
    assert streamed.exit_code == 0, streamed.output
    assert "peak memory" in streamed.output


@pytest.mark.parametrize("stream_memory", [0.0, 1.0])
def test_a_given_log_floor_clamps_the_input_and_starts_its_range_in_memory_and_streamed(blocked_table, stream_memory):
    table = Table(blocked_table)
    chi = table.read_matrix(["chi"])[:, 0]
    floor = float(np.quantile(chi[chi > 0], 0.2))  # above the smallest positive value: a fifth of the rows clamped
    options = TrainOptions(table=str(blocked_table), epochs=1, stream_memory=stream_memory, device="cpu",
                           log_inputs=["chi"], log_floors={"chi": floor})
    trainer = Trainer(options, "unused", progress=False)
    trainer.build()
    scaler = trainer.task.model.input_scaler
    j = trainer.task.input_names.index("chi")
    assert scaler.floor[j].item() == pytest.approx(floor, rel=1e-6)
    assert scaler.lo[j].item() == pytest.approx(np.log10(floor), rel=1e-6)  # the range starts at the floor
    x = torch.zeros(3, len(trainer.task.input_names))
    x[:, j] = torch.tensor([floor / 1e6, floor, floor * 10])
    scaled = scaler(x)[:, j]
    assert scaled[0].item() == pytest.approx(-1.0, abs=1e-6) and scaled[1].item() == pytest.approx(-1.0, abs=1e-6)
    assert scaled[2].item() > -1.0
    trainer.threads.close()


def test_a_log_floor_for_an_input_that_is_not_logged_is_one_line(blocked_table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(blocked_table), "-o", str(tmp_path / "run"), "--epochs", "1",
                                      "--log-input", "chi", "--log-floor", "Z=1e-3"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "--log-floor Z: not a log input (log inputs: chi; add it with --log-input)" in result.output
