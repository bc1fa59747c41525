"""Faults around builds that fail before they finish: a worker count that is no count, an option only the solver
refuses, and the work folder such a build leaves. A failed build never blocks the corrected command; a folder with
solved work of a killed build still refuses other options (tests/faults/test_table_faults.py)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from surrogate.chunks import FAILED_FILE, OPTIONS_FILE, work_dir_for

from .helpers import assert_one_error, equilibrium_args, run_cli

HOT = "100000"  # K: an unburnt temperature whose equilibrium Cantera cannot solve


def lines_args(output: Path, temperatures: str) -> list[str]:
    """The tiny equilibrium build of tests/faults/helpers.py with the given unburnt temperatures."""
    args = equilibrium_args(output)
    args[args.index("--unburnt-temperature") + 1] = temperatures
    return args


def columns(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {f"{g}/{n}": h5[g][n][:] for g in ("inputs", "outputs") for n in h5[g]}


@pytest.mark.parametrize("workers", ["-2", "-1"])
@pytest.mark.parametrize("kind", [["equilibrium"], ["kdv", "--trajectories", "2"],
                                  ["coulomb-explosion", "--rows", "10"]])
def test_a_negative_worker_count_is_one_line_before_any_work_folder(tmp_path, kind, workers) -> None:
    args = (lines_args(tmp_path / "t.h5", "300") if kind == ["equilibrium"] else
            ["table", "build", *kind, "-o", tmp_path / "t.h5"])
    args += ["--workers", workers]
    assert_one_error(*run_cli(*args), f"option workers={int(workers)}: expected an integer >= 0")
    assert list(tmp_path.iterdir()) == []


def test_zero_workers_means_one_process_per_cpu(tmp_path) -> None:
    code, output = run_cli(*lines_args(tmp_path / "t.h5", "300,305"), "--workers", "0")
    assert code == 0, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]


def test_a_build_that_fails_before_solving_anything_leaves_no_work_folder(tmp_path) -> None:
    output = tmp_path / "t.h5"
    assert_one_error(*run_cli(*lines_args(output, HOT)), "did not converge")
    assert list(tmp_path.iterdir()) == []
    code, text = run_cli(*lines_args(output, "300"))
    assert code == 0, text


def test_a_work_folder_without_solved_work_is_taken_over_by_other_options(tmp_path) -> None:
    """What a failed build of an earlier version left (its options, nothing solved) does not block this one."""
    output = tmp_path / "t.h5"
    work = work_dir_for(output)
    work.mkdir()
    (work / OPTIONS_FILE).write_text(json.dumps({"unburnt_temperature": [float(HOT)]}))
    code, text = run_cli(*lines_args(output, "300"))
    assert code == 0, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]


def test_a_build_that_failed_on_its_options_gives_way_to_other_options(tmp_path) -> None:
    """The first line is solved and saved, the second fails: the folder keeps the solved line (the same command
    resumes it and fails again), and the corrected command discards it with a warning and builds the table a
    fresh build gives."""
    output = tmp_path / "t.h5"
    work = work_dir_for(output)
    for attempt in range(2):
        assert_one_error(*run_cli(*lines_args(output, f"300,{HOT}")), "did not converge")
        assert (work / FAILED_FILE).is_file() and sorted(work.glob("condition-*.npz")), attempt
    code, text = run_cli(*lines_args(output, "300,305"))
    assert code == 0, text
    assert f"warning: {work}: discarding the solved work of a build that failed with other options " \
           "(unburnt_temperature)" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]
    fresh = tmp_path / "fresh" / "t.h5"
    fresh.parent.mkdir()
    assert run_cli(*lines_args(fresh, "300,305"))[0] == 0
    got, expected = columns(output), columns(fresh)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_a_refused_build_does_not_release_the_work_it_was_refused_for(tmp_path) -> None:
    """Solved work of other options, not failed: refused, and the refusal marks nothing, so it stays refused."""
    output = tmp_path / "t.h5"
    work = work_dir_for(output)
    assert_one_error(*run_cli(*lines_args(output, f"300,{HOT}")), "did not converge")
    (work / FAILED_FILE).unlink()  # as a killed build leaves it
    for _ in range(2):
        assert_one_error(*run_cli(*lines_args(output, "300,305")), f"{work}: an unfinished build with other options")
    assert not (work / FAILED_FILE).exists() and not output.exists()
