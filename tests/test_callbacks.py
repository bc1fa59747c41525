"""The trainer's callbacks: the loop with its kept epoch, early stopping and L-BFGS stage as callbacks trains
exactly as the loop that had them inline, and calls each hook at its point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surrogate.callbacks import Callback
from surrogate.trainer import Trainer, TrainOptions
from tests.synthetic import synthetic_table

REFERENCE = Path(__file__).parent / "fixtures" / "two_stage_history.json"
VARYING = ("time_s", "threads", "peak_rss_mb")  # wall-clock columns, different on every run


class Recorder(Callback):
    """Every hook call, in order, as (hook, epoch counter at the call, argument)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, object]] = []

    def on_fit_start(self, trainer):
        self.calls.append(("fit_start", trainer.state.epoch, None))

    def on_epoch_start(self, trainer):
        self.calls.append(("epoch_start", trainer.state.epoch, trainer.stage))

    def on_stage_change(self, trainer, stage):
        self.calls.append(("stage_change", trainer.state.epoch, stage))

    def on_epoch_end(self, trainer, end):
        self.calls.append(("epoch_end", trainer.state.epoch, end.row["epoch"]))

    def on_fit_end(self, trainer, metrics):
        self.calls.append(("fit_end", trainer.state.epoch, sorted(metrics)))


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory):
    """Adam with early stopping that ends the first stage at epoch 4 (patience 2), then L-BFGS, which early
    stopping ends after two epochs without gain: the case where the callbacks interact most."""
    reference = json.loads(REFERENCE.read_text())
    folder = tmp_path_factory.mktemp("two-stage")
    table = synthetic_table(folder / "table.h5", n_rows=reference["table_rows"])
    recorder = Recorder()
    trainer = Trainer(TrainOptions(table=str(table), **reference["options"]), folder / "run", progress=False,
                      callbacks=(recorder,))
    return reference, trainer.fit(), recorder


def test_two_stage_run_gives_the_history_of_the_inline_loop(two_stage):
    """The reference history was written by the trainer before its loop was split into callbacks (same table,
    options and seed, one thread): the same epochs, stages, restarts, losses and kept epoch."""
    reference, result, _ = two_stage
    history = [{k: v for k, v in row.items() if k not in VARYING} for row in result.history]
    assert [row["epoch"] for row in history] == [row["epoch"] for row in reference["history"]] == [1, 2, 3, 4, 7, 8]
    assert [row["stage"] for row in history] == [1, 1, 1, 1, 2, 2]
    for ours, theirs in zip(history, reference["history"]):
        assert set(ours) == set(theirs)
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, rel=1e-4, abs=1e-9), (ours["epoch"], key)
    assert result.best_epoch == reference["best_epoch"] == 2


def test_hooks_are_called_once_per_epoch_in_order_and_the_stage_change_where_lbfgs_begins(two_stage):
    _, result, recorder = two_stage
    names = [name for name, _, _ in recorder.calls]
    assert names[0] == "fit_start" and names[-1] == "fit_end"
    assert names.count("epoch_start") == names.count("epoch_end") == len(result.history)
    # early stopping after epoch 4 jumps to the end of the first stage (6): L-BFGS begins before the 7th epoch
    assert [(epoch, stage) for name, epoch, stage in recorder.calls if name == "stage_change"] == [(6, 2)]
    change = names.index("stage_change")
    assert names[change - 1:change + 2] == ["epoch_end", "stage_change", "epoch_start"]  # the L-BFGS callback first
    ends = [(epoch, row_epoch) for name, epoch, row_epoch in recorder.calls if name == "epoch_end"]
    assert ends[3] == (6, 4)  # early stopping has moved the counter to the stage's end when later callbacks run
    assert "test" in recorder.calls[-1][2] and "kept_epoch" in recorder.calls[-1][2]
