"""Scale tables and the training benchmark: a resampled table keeps every row a convex combination within one
group (mass fractions sum to one), resumes after a kill to the same file; `bench train` measures in memory and
streamed, alone and two at once, with peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import surrogate.benchmarks.scale_table as scale_table
from surrogate.benchmarks.scale_table import resample_table
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.synthetic import SPECIES, synthetic_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("source") / "source.h5", n_rows=600)


def test_resampled_rows_lie_between_neighbours_of_one_group_and_keep_mass_fractions_closed(source, tmp_path):
    path = resample_table(source, tmp_path / "big.h5", 5000, seed=1, progress=False)
    big, small = Table(path), Table(source)
    assert big.n_rows == 5000 and big.columns == small.columns and big.defaults == small.defaults
    y = big.read_matrix([f"Y_{s}" for s in SPECIES])
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-12)
    assert y.min() >= 0
    bands = big.read_labels("band")
    chi, source_chi, source_bands = big.read("chi"), small.read("chi"), small.read_labels("band")
    for band in np.unique(bands)[:5]:  # each row stays within its group's range
        members = source_chi[source_bands == band]
        assert members.min() - 1e-12 <= chi[bands == band].min() and chi[bands == band].max() <= members.max() + 1e-12
    assert big.attrs["resampled_from"] == str(source)


def test_a_killed_resample_resumes_to_the_same_table(source, tmp_path, monkeypatch):
    monkeypatch.setattr(scale_table, "CHUNK_ROWS", 1000)
    whole = resample_table(source, tmp_path / "whole.h5", 4500, seed=3, progress=False)
    draw, calls = scale_table.draw_chunk, []

    def killed_after_two_chunks(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return draw(*args)

    monkeypatch.setattr(scale_table, "draw_chunk", killed_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        resample_table(source, tmp_path / "resumed.h5", 4500, seed=3, progress=False)
    assert not (tmp_path / "resumed.h5").exists() and (tmp_path / ".resumed.h5.partial").exists()
    monkeypatch.setattr(scale_table, "draw_chunk", draw)
    calls.clear()
    resumed = resample_table(source, tmp_path / "resumed.h5", 4500, seed=3, progress=False)
    a, b = Table(whole), Table(resumed)
    assert np.array_equal(a.read_matrix(a.columns), b.read_matrix(b.columns))
    assert np.array_equal(a.read_labels("band"), b.read_labels("band"))


def test_cli_resample_rejects_a_bad_row_count_with_one_line(source, tmp_path):
    result = CliRunner().invoke(cli, ["bench", "resample", str(source), "-o", str(tmp_path / "x.h5"),
                                      "--rows", "lots"])
    assert result.exit_code == 2 and "--rows" in result.output and "Traceback" not in result.output


def test_bench_train_measures_memory_and_stream_two_jobs_at_once(source, tmp_path):
    """Run as a user runs it (a process, the jobs its children): with --json, stdout is one JSON object and
    nothing else, the table on stderr."""
    result = subprocess.run([sys.executable, "-m", "surrogate.cli.main", "bench", "train", str(source),
                             "--batch-sizes", "64", "--steps", "20", "--stream-memory", "1", "--jobs", "2",
                             "--device", "cpu", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert sorted(record["measurements"]) == ["in-memory/64/2", "stream 1MB/64/2"]
    rows = [line.replace("stream 1MB", "stream-1MB").split() for line in result.stderr.splitlines()
            if line.startswith(("in-memory", "stream"))]
    assert [(r[0], r[2]) for r in rows] == [("in-memory", "2"), ("stream-1MB", "2")]
    assert all(len(r[4].split("/")) == 2 for r in rows)  # one rate per job
    assert all(float(r[-2]) > 50 for r in rows)  # peak MB of a process that imported torch
