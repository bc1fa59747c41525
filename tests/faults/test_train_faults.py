"""Faults around `surrogate train`: starts that fail or diverge, outputs that hold a run, kills during training,
`--resume` with other options or more epochs, and two trainings into one run directory at once."""

from __future__ import annotations

import csv
import json
import shutil
import signal
from pathlib import Path

import pytest
import torch

from surrogate.run import CHECKPOINT, COMPLETE, CONFIG, HISTORY, METRICS, SCALERS, SPLITS, WEIGHTS
from surrogate.threads import max_threads

from .helpers import (assert_one_error, finish, folder_state, hidden_files, paused, run_cli, start_cli, stop,
                      tiny_table, train_args, tree_state, wait_until)

DIVERGING = ("--model", "mlp", "--closure", "none", "--optimizer", "sgd", "--lr", "1e20", "--lr-schedule", "none",
             "--epochs", "6")
LONG = ("--epochs", "12", "--batch-size", "32")  # signalled after epoch 1 or 3: far from the end (0.2 s an epoch)


def history(run: Path) -> list[dict[str, str]]:
    with open(run / HISTORY, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny table (300 rows), a 4000-row one, and a finished 2-epoch run on the tiny one."""
    folder = tmp_path_factory.mktemp("train-faults")
    tiny_table(folder / "table.h5")
    tiny_table(folder / "big.h5", n_rows=4000)
    code, output = run_cli(*train_args(folder / "table.h5", folder / "run"))
    assert code == 0, output
    return folder


def private_run(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder / "run", tmp_path / "run"))


# --- a start that fails, and outputs that already hold something ---------------------------------------------

def test_a_diverged_start_leaves_nothing_and_the_same_output_trains_again(folder, tmp_path) -> None:
    run = tmp_path / "runs" / "first"
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, *DIVERGING)), "training diverged at epoch",
                     "lower --lr")
    assert list((tmp_path / "runs").iterdir()) == []  # no half-written run directory, no lock file
    code, output = run_cli(*train_args(folder / "table.h5", run))
    assert code == 0, output
    assert (run / COMPLETE).is_file()


def test_a_thread_count_out_of_range_is_one_line_before_anything_is_written(tmp_path) -> None:
    """--threads 10000 would have torch start ten thousand OpenMP threads; 0 is the trainer's own choice."""
    table = tiny_table(tmp_path / "table.h5")
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run", "--threads", 10000)),
                     f"threads=10000: expected 0 (chosen from the problem size and the other jobs on this node) or "
                     f"1..{max_threads()} (at most 4 per CPU")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.h5"]


def test_a_failed_start_in_an_existing_folder_removes_only_what_it_wrote(folder, tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("the user's own file")
    before = folder_state(run)
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, *DIVERGING)), "training diverged")
    assert folder_state(run) == before and hidden_files(tmp_path) == []


def test_a_start_killed_before_its_first_epoch_does_not_block_a_new_run(folder, tmp_path) -> None:
    """What a start leaves before its first checkpoint (config, splits, scalers) is cleared by the next start."""
    run = tmp_path / "run"
    run.mkdir()
    for name in (CONFIG, SPLITS, SCALERS):
        shutil.copyfile(folder / "run" / name, run / name)
    code, output = run_cli(*train_args(folder / "table.h5", run, "--seed", "3"))
    assert code == 0, output
    assert json.loads((run / CONFIG).read_text())["trainer"]["seed"] == 3


def test_a_finished_run_is_never_overwritten(folder, tmp_path) -> None:
    run = private_run(folder, tmp_path)
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run)), f"{run}: already holds a finished run",
                     "--resume --epochs N")
    assert tree_state(run) == before and hidden_files(tmp_path) == []


def test_a_folder_without_a_run_cannot_be_resumed(folder, tmp_path) -> None:
    assert_one_error(*run_cli(*train_args(folder / "table.h5", tmp_path / "nothing", "--resume")),
                     f"--resume: {tmp_path / 'nothing'} holds no run to resume")
    assert list(tmp_path.iterdir()) == []


# --- --resume: options and more epochs --------------------------------------------------------------------------

@pytest.mark.parametrize("option", [("--lr", "0.1"), ("--model", "mlp"), ("--weighting", "uniform"),
                                    ("--outputs", "T"), ("--config", "<yaml>")])
def test_resume_refuses_other_options_instead_of_ignoring_them(folder, tmp_path, option) -> None:
    run = private_run(folder, tmp_path)
    if option[1] == "<yaml>":
        (tmp_path / "options.yaml").write_text("lr: 0.1\n")
        option = ("--config", str(tmp_path / "options.yaml"))
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, "--resume", *option)),
                     f"{option[0]}: cannot be changed when resuming", "only --epochs")
    assert tree_state(run) == before


def test_resume_with_fewer_epochs_than_trained_is_one_line(folder, tmp_path) -> None:
    run = private_run(folder, tmp_path)
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, "--resume", "--epochs", "1")),
                     "--epochs 1: the run has already trained 2 epochs")
    assert tree_state(run) == before


def test_resume_with_more_epochs_extends_the_run(folder, tmp_path) -> None:
    """2 epochs, then --resume --epochs 5: five rows of history, the new count in config.json (so a later plain
    --resume keeps it), the cosine schedule annealed to the new end (the learning rate stays at its floor
    instead of climbing back), and a new model that loads."""
    run = private_run(folder, tmp_path)
    code, output = run_cli(*train_args(folder / "table.h5", run, "--resume", "--epochs", "5"))
    assert code == 0, output
    rows = history(run)
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3, 4, 5]
    floor = 1e-2 * 0.01  # lr eta_min of the default cosine schedule
    assert [float(r["lr"]) for r in rows[2:]] == pytest.approx([floor] * 3)
    assert json.loads((run / CONFIG).read_text())["trainer"]["epochs"] == 5
    code, output = run_cli("evaluate", run)
    assert code == 0, output
    code, output = run_cli(*train_args(folder / "table.h5", run, "--resume"))
    assert code == 0 and len(history(run)) == 5, output


# --- --resume of a run whose files are missing or changed ------------------------------------------------------

def unfinished(run: Path) -> None:
    """Make a finished copy look killed during training: a checkpoint, no model, no certificate."""
    for name in (WEIGHTS, COMPLETE, METRICS):
        (run / name).unlink()


DAMAGES = {  # name: (what to do to a private copy of the finished run, what the one-line error says)
    "no scalers": (lambda run: (run / SCALERS).unlink(), f"{SCALERS}: missing, so the run cannot be resumed"),
    "no splits": (lambda run: (run / SPLITS).unlink(), f"{SPLITS}: missing, so the run cannot be resumed"),
    "no checkpoint": (lambda run: (run / CHECKPOINT).unlink(), f"{CHECKPOINT}: missing, so the run cannot be resumed"),
    "no history": (lambda run: (run / HISTORY).unlink(), f"{HISTORY}: missing, so the run cannot be resumed"),
    "scalers edited": (lambda run: (run / SCALERS).write_text((run / SCALERS).read_text().replace("1", "2", 1)),
                       f"{SCALERS}: its content changed since the run finished"),
    "unfinished, no scalers": (lambda run: (unfinished(run), (run / SCALERS).unlink()),
                               f"{SCALERS}: missing, so the run cannot be resumed"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("epochs", [(), ("--epochs", "4")])
def test_resume_of_a_damaged_run_is_one_line_naming_the_file_and_changes_nothing(folder, tmp_path, damage,
                                                                                   epochs) -> None:
    """A resume never certifies a damaged run as complete (it used to rewrite complete.json without the missing
    file, or, without a checkpoint, train a new run over the finished one), and with --epochs it does not record
    the new count first."""
    run = private_run(folder, tmp_path)
    make, message = DAMAGES[damage]
    make(run)
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, "--resume", *epochs)), message)
    assert tree_state(run) == before


def test_a_run_resumed_after_a_refusal_stays_refused_by_evaluate(folder, tmp_path) -> None:
    run = private_run(folder, tmp_path)
    (run / SCALERS).unlink()
    assert_one_error(*run_cli(*train_args(folder / "table.h5", run, "--resume")), SCALERS)
    assert_one_error(*run_cli("evaluate", run), f"{SCALERS}")


# --- kills and a second writer ----------------------------------------------------------------------------------

def epochs_done(run: Path) -> int:
    """Epochs in the history of a run that is training: its whole lines but the header (the trainer appends a
    line per epoch; a read may catch the last one half-written)."""
    try:
        return max((run / HISTORY).read_text().count("\n") - 1, 0)
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(folder: Path) -> Path:
    run = folder / "long"
    code, output = run_cli(*train_args(folder / "big.h5", run, *LONG))
    assert code == 0, output
    return run


def test_after_sigkill_resume_gives_the_uninterrupted_run(folder, uninterrupted, tmp_path) -> None:
    run = tmp_path / "run"
    process = start_cli(*train_args(folder / "big.h5", run, *LONG))
    wait_until(process, lambda: epochs_done(run) >= 3)
    assert stop(process, signal.SIGKILL).returncode == -signal.SIGKILL
    assert (run / CHECKPOINT).is_file() and not (run / WEIGHTS).exists()
    before = tree_state(run)
    assert_one_error(*run_cli(*train_args(folder / "big.h5", run, *LONG)), f"{run}: holds an unfinished run",
                     "--resume")
    assert tree_state(run) == before
    code, output = run_cli(*train_args(folder / "big.h5", run, "--resume"))
    assert code == 0, output
    assert [int(float(r["epoch"])) for r in history(run)] == list(range(1, 13))
    got, expected = torch.load(run / WEIGHTS), torch.load(uninterrupted / WEIGHTS)
    assert all(torch.equal(got[k], expected[k]) for k in expected)  # bit for bit: every RNG state was restored
    assert hidden_files(tmp_path) == []  # the killed process's lock and temporary files are gone


def test_a_second_training_into_the_same_run_is_refused_while_the_first_runs(folder, tmp_path) -> None:
    run = tmp_path / "run"
    first = start_cli(*train_args(folder / "big.h5", run, *LONG))
    try:
        wait_until(first, lambda: epochs_done(run) >= 1)  # it holds the lock, mid-run
        with paused(first):  # the second trainings run while the first is mid-run, however slow the machine
            for extra in ((), ("--resume",)):
                assert_one_error(*run_cli(*train_args(folder / "big.h5", run, *extra)),
                                 f"{run}: a training into this run directory is already running",
                                 f"process {first.pid} on")
            first.send_signal(signal.SIGTERM)  # acted on when it goes on: mid-run, never after its last epoch
        done = finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    # ended by the SIGTERM, not at its last epoch; no traceback and no temporary file
    assert done.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM) and "Traceback" not in done.stderr
    assert not [name for name in hidden_files(tmp_path) if ".tmp-" in name]
    code, output = run_cli(*train_args(folder / "big.h5", run, "--resume"))
    assert code == 0, output
    assert len(history(run)) == 12 and hidden_files(tmp_path) == []
