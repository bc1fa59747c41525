"""Training threads: one per 400 MFLOP of a step, at most this job's share of the CPUs among the trainings and
ranks on the node; idle OpenMP threads sleep instead of spinning."""

from __future__ import annotations

import csv
import subprocess
import sys

import torch

import surrogate.threads as threads
from surrogate.threads import JobSlot, ThreadPolicy, quiet_openmp, step_flops, threads_for
from surrogate.trainer import TrainOptions, train
from tests.synthetic import synthetic_table


def test_a_small_network_step_takes_one_thread_and_a_large_one_its_share_of_the_cpus():
    default_step = step_flops(8156, 256)  # the 4x50 softmax MLP at batch 256: ~12 MFLOP
    assert threads_for(default_step, jobs=1, cpus=16) == 1
    assert threads_for(step_flops(8156, 4096), jobs=1, cpus=16) == 1  # 0.2 GFLOP: 2 threads were slower here
    assert threads_for(step_flops(8156, 16384), jobs=1, cpus=16) == 2  # 0.8 GFLOP: 2 threads were 1.47x faster
    large_step = step_flops(8156, 262144)  # ~13 GFLOP
    assert threads_for(large_step, jobs=1, cpus=16) == 16
    assert threads_for(large_step, jobs=2, cpus=16) == 8
    assert threads_for(large_step, jobs=3, cpus=2) == 1  # never zero


def test_job_slots_count_live_trainings_and_forget_ended_ones(tmp_path):
    mine = JobSlot(tmp_path).hold()
    other = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])  # lives until killed
    try:
        (tmp_path / str(other.pid)).touch()
        assert mine.jobs() == 2
        second = JobSlot(tmp_path).hold()  # another training in this process (e.g. `surrogate compare`)
        assert mine.jobs() == 3
        second.release()
        assert mine.jobs() == 2
    finally:
        other.kill()
        other.wait()
    assert mine.jobs() == 1
    assert not (tmp_path / str(other.pid)).exists()  # the ended job's entry is cleaned up
    mine.release()
    assert not any(tmp_path.iterdir())


def test_policy_divides_cpus_among_jobs_and_respects_a_fixed_count(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "JOBS_DIR", tmp_path)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 8)
    big = step_flops(8156, 1 << 20)
    policy = ThreadPolicy(0, big)
    assert policy.choose() == 8
    other = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])  # lives until killed
    try:
        (tmp_path / str(other.pid)).touch()
        assert policy.choose() == 4  # a second training started: half each
    finally:
        other.kill()
        other.wait()
    assert policy.choose() == 8  # it ended: the survivor takes its threads back
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert policy.choose() == 2  # torchrun ranks on this node share it too
    policy.close()
    assert ThreadPolicy(3, big).choose() == 3  # --threads
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert ThreadPolicy(0, big).choose() == 5  # the user's environment


def test_quiet_openmp_sets_a_passive_wait_policy_unless_the_user_chose_one(monkeypatch):
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        monkeypatch.delenv(name, raising=False)
    quiet_openmp()
    assert threads.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "1000")
    quiet_openmp()
    assert "OMP_WAIT_POLICY" not in threads.os.environ


def test_training_records_its_threads_and_gives_torch_its_count_back(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "JOBS_DIR", tmp_path / "jobs")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    table = synthetic_table(tmp_path / "table.h5", n_rows=1000)
    before = torch.get_num_threads()
    train(TrainOptions(table=str(table), epochs=2, weighting="uniform"), tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "history.csv") as handle:
        assert [row["threads"] for row in csv.DictReader(handle)] == ["1", "1"]  # a 12 MFLOP step: one thread
    assert torch.get_num_threads() == before
    assert not any((tmp_path / "jobs").iterdir())
