"""Faults around `surrogate table build` and the tables every command reads: a mechanism that is no file, damaged
or forged resume state in a build's work folder, kills during a build, two builds of one table at once, and
tables with columns of unequal length, strings, NaN, no rows or flipped bits, given to train, evaluate and info."""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest

from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from surrogate.chunks import work_dir_for
from tests.h5_compare import assert_same_h5

from .helpers import (assert_one_error, equilibrium_args, finish, folder_state, hidden_files, paused,
                      rewrite_column, run_cli, start_cli, stop, tiny_table, train_args, trained_run, tree_state,
                      wait_until)

LINES = 120  # lines of the builds signalled after their 10th, 5th or 1st saved line: far from their end (2 s quiet)


def table_columns(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {f"{g}/{n}": h5[g][n][:] for g in ("inputs", "outputs", "labels") for n in h5[g]}


def assert_same_table(path: Path, reference: Path) -> None:
    got, expected = table_columns(path), table_columns(reference)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def condition_files(work: Path) -> list[Path]:
    return sorted(work.glob("condition-*.npz"))


# --- the mechanism -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["", " ", "<folder>"])
def test_an_empty_or_folder_mechanism_is_one_line(tmp_path, mechanism) -> None:
    mechanism = str(tmp_path) if mechanism == "<folder>" else mechanism
    args = equilibrium_args(tmp_path / "eq.h5")
    args[args.index("h2o2.yaml")] = mechanism
    assert_one_error(*run_cli(*args), f"mechanism {mechanism!r}: expected a Cantera mechanism file")
    assert list(tmp_path.iterdir()) == []


# --- kills, resumes and damaged work folders of a build over independent conditions --------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The equilibrium table built in one go, to compare resumed builds with."""
    path = tmp_path_factory.mktemp("reference") / "eq.h5"
    code, output = run_cli(*equilibrium_args(path, LINES, 30))
    assert code == 0, output
    return path


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a build killed (SIGKILL) after it saved at least ten lines: no table, its work folder."""
    folder = tmp_path_factory.mktemp("killed")
    output = folder / "eq.h5"
    process = start_cli(*equilibrium_args(output, LINES, 30))
    wait_until(process, lambda: len(condition_files(work_dir_for(output))) >= 10)
    done = stop(process, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    saved = len(condition_files(work_dir_for(output)))
    assert 10 <= saved < LINES and not output.exists()
    assert (folder / ".eq.h5.lock").exists()  # a SIGKILL leaves the lock file, not the lock (the kernel drops it)
    return folder


def resume(killed: Path, tmp_path: Path) -> tuple[int, str, Path]:
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    code, output = run_cli(*equilibrium_args(folder / "eq.h5", LINES, 30))
    return code, output, folder


def test_after_sigkill_the_same_command_resumes_and_gives_the_uninterrupted_table(killed, reference,
                                                                                 tmp_path) -> None:
    saved = len(condition_files(work_dir_for(killed / "eq.h5")))
    code, output, folder = resume(killed, tmp_path)
    assert code == 0, output
    assert f"(resumed {saved})" in output
    assert_same_table(folder / "eq.h5", reference)
    assert sorted(p.name for p in folder.iterdir()) == ["eq.h5"]  # no work folder, lock or temporary file left


def test_a_damaged_condition_file_is_solved_again_with_a_warning(killed, reference, tmp_path) -> None:
    """A truncated file and one with a flipped byte (the .npz CRC-32 finds it) are solved again, not used."""
    work = work_dir_for(killed / "eq.h5")
    saved = len(condition_files(work))
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    first, second = condition_files(work_dir_for(folder / "eq.h5"))[:2]
    first.write_bytes(first.read_bytes()[:200])
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF
    second.write_bytes(bytes(data))
    code, output = run_cli(*equilibrium_args(folder / "eq.h5", LINES, 30))
    assert code == 0, output
    assert f"warning: {first}: damaged" in output and f"warning: {second}: damaged" in output
    assert f"(resumed {saved - 2})" in output
    assert_same_table(folder / "eq.h5", reference)


@pytest.mark.parametrize("content", [b'{"mechanism": "h2o2.ya', b"[1, 2]", b"\xff\xfe\x00garbage"])
def test_a_damaged_options_file_of_the_work_folder_is_one_line(killed, tmp_path, content) -> None:
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    work = work_dir_for(folder / "eq.h5")
    (work / "options.json").write_bytes(content)
    before = tree_state(folder)
    before.pop(".eq.h5.lock")  # the killed build's lock file: the next build takes it over and removes it
    code, output = run_cli(*equilibrium_args(folder / "eq.h5", LINES, 30))
    assert_one_error(code, output, f"{work / 'options.json'}: damaged resume state", f"delete {work}")
    assert tree_state(folder) == before


def test_sigterm_during_a_build_leaves_no_temporary_file_and_the_build_resumes(reference, tmp_path) -> None:
    output = tmp_path / "eq.h5"
    process = start_cli(*equilibrium_args(output, LINES, 30))
    wait_until(process, lambda: len(condition_files(work_dir_for(output))) >= 5)
    done = stop(process, signal.SIGTERM)
    assert done.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM) and "Traceback" not in done.stderr
    assert not output.exists() and not [n for n in hidden_files(tmp_path) if ".tmp-" in n]
    code, text = run_cli(*equilibrium_args(output, LINES, 30))
    assert code == 0 and "(resumed " in text, text
    assert_same_table(output, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eq.h5"]


def test_a_second_build_of_the_same_table_is_refused_while_the_first_runs(reference, tmp_path) -> None:
    output = tmp_path / "eq.h5"
    first = start_cli(*equilibrium_args(output, LINES, 30))
    try:
        wait_until(first, lambda: len(condition_files(work_dir_for(output))) >= 1)  # it holds the lock, mid-build
        with paused(first):  # the second build runs while the first is mid-build, however slow the machine
            line = assert_one_error(*run_cli(*equilibrium_args(output, LINES, 30)),
                                    f"{output}: a build of this table is already running", f"process {first.pid} on")
        assert str(tmp_path / ".eq.h5.lock") in line
        done = finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert done.returncode == 0, done.stderr
    assert_same_table(output, reference)  # the refused build did not touch the first one's work
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eq.h5"]


# --- damaged resume state of a flamelet build ------------------------------------------------------------------

class Interrupted(Exception):
    """Stands for a kill after the second flamelet."""


def interrupt(index: int, flamelet: object) -> None:
    if index == 1:
        raise Interrupted


@pytest.fixture(scope="module")
def flamelet_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a small h2-flamelet build interrupted after two flamelets."""
    folder = tmp_path_factory.mktemp("flamelet")
    with pytest.raises(Interrupted):
        H2FlameletTable.build(folder / "h2.h5", on_flamelet=interrupt, progress=False, **SMALL_OPTIONS)
    return folder


def flamelet_args(output: Path) -> list[str]:
    """The CLI form of SMALL_OPTIONS: the same build, so it would resume the interrupted one."""
    settings = [f"{key}={value}" for key, value in SMALL_OPTIONS.items() if key != "refine"]
    refine = ",".join(f"{key}:{value}" for key, value in SMALL_OPTIONS["refine"].items())
    return ["table", "build", "h2-flamelet", "-o", str(output), "--workers", "1", "--refine", refine,
            *[part for setting in settings for part in ("--set", setting)]]


def forge_count(curve: Path) -> None:
    state = json.loads((curve / "state.json").read_text())
    state["n_flamelets"] = 99
    (curve / "state.json").write_text(json.dumps(state))


DAMAGES = {
    "state.json": lambda curve: (curve / "state.json").write_text('{"stage": "stra'),
    "state.json ": lambda curve: (curve / "state.json").write_text('{"not": "a state"}'),
    "flamelet-00002.npz": forge_count,  # counts flamelets that were never saved
    "flamelet-00001.npz": lambda curve: (curve / "flamelet-00001.npz").write_bytes(b"PK\x03\x04"),
    "restart.h5": lambda curve: (curve / "restart.h5").write_bytes((curve / "restart.h5").read_bytes()[:500]),
}


@pytest.mark.parametrize("named", list(DAMAGES))
def test_damaged_flamelet_resume_state_is_one_line_naming_the_file(flamelet_work, tmp_path, named) -> None:
    folder = Path(shutil.copytree(flamelet_work, tmp_path / "build"))
    curve = work_dir_for(folder / "h2.h5") / "curve-00"
    DAMAGES[named](curve)
    before = tree_state(folder)
    assert_one_error(*run_cli(*flamelet_args(folder / "h2.h5")), f"{curve / named.strip()}:",
                     f"delete {curve} to trace this S-curve again")
    assert tree_state(folder) == before


def committed_flamelets(output: Path) -> int:
    """Flamelets the build of `output` has committed so far (its state.json), 0 before the first."""
    try:
        return json.loads((work_dir_for(output) / "curve-00" / "state.json").read_text())["n_flamelets"]
    except (OSError, ValueError):  # not written yet (it is replaced atomically, never seen half-written)
        return 0


@pytest.mark.slow
def test_a_flamelet_build_killed_twice_and_resumed_equals_the_uninterrupted_build_bit_for_bit(tmp_path) -> None:
    """SIGKILL once on the stable branch and once after the frozen flamelet (the two-point-control stage), each
    time in a fresh process: every dataset and attribute of the table is the uninterrupted build's."""
    reference = tmp_path / "reference" / "h2.h5"
    reference.parent.mkdir()
    code, output = run_cli(*flamelet_args(reference))
    assert code == 0, output
    table = tmp_path / "killed" / "h2.h5"
    table.parent.mkdir()
    for at_least in (4, 12):  # 16 flamelets: 0-10 strain continuation, 11 frozen, then two-point control
        process = start_cli(*flamelet_args(table))
        wait_until(process, lambda: committed_flamelets(table) >= at_least)
        assert stop(process, signal.SIGKILL).returncode == -signal.SIGKILL
    saved = committed_flamelets(table)
    assert 12 <= saved < 16
    code, output = run_cli(*flamelet_args(table))
    assert code == 0 and f"(resumed {saved})" in output, output
    assert_same_h5(table, reference)


# --- tables that are not what train, evaluate and info expect -------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny table and a run trained on it, in one folder."""
    folder = tmp_path_factory.mktemp("trained")
    trained_run(folder / "table.h5", folder / "run")
    return folder


def flip_chunk_byte(path: Path, where: str) -> None:
    """Flip one byte in the middle of the first stored chunk of dataset `where` (bit rot on disk)."""
    with h5py.File(path, "r") as h5:
        info = h5[where].id.get_chunk_info(0)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset + info.size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x55]))


def with_nan(path: Path) -> None:
    with h5py.File(path, "r") as h5:
        values = h5["outputs/Y_O2"][:]
    values[[7, 40, 41]] = [np.nan, np.inf, np.nan]
    rewrite_column(path, "outputs/Y_O2", values)


def without_rows(path: Path) -> None:
    with h5py.File(path, "r") as h5:
        names = [f"{g}/{n}" for g in ("inputs", "outputs", "labels") for n in h5[g]]
    for name in names:
        rewrite_column(path, name, np.zeros(0, dtype=np.int64 if name.startswith("labels") else float))


FAULTS = {  # name: (make the fault in a copy of the table, what the one-line error says)
    "unequal lengths": (lambda p: rewrite_column(p, "outputs/T", np.ones(299)),
                        r"columns of unequal length \(/inputs/Z has 300 rows, /outputs/T has 299\)"),
    "strings": (lambda p: rewrite_column(p, "inputs/C", np.array([b"0.1"] * 300)),
                r"column /inputs/C holds \|S3 values, expected numbers"),
    "two-dimensional": (lambda p: rewrite_column(p, "outputs/Y_H2", np.ones((300, 2))),
                        r"column /outputs/Y_H2 has shape \(300, 2\), expected one value per row"),
    "bit rot": (lambda p: flip_chunk_byte(p, "outputs/Y_H2"), r"(column|dataset) /outputs/Y_H2 .*; the file is "
                r"damaged"),
    "a CSV": (lambda p: p.write_text("Z,C,chi\n0.1,0.2,3\n"), r"not a readable HDF5 file"),
    "a header-only CSV": (lambda p: p.write_text("Z,C,chi\n"), r"not a readable HDF5 file"),
    "empty": (lambda p: p.write_bytes(b""), r"not a readable HDF5 file"),
}


def faulty_copy(trained: Path, tmp_path: Path, fault) -> Path:
    table = Path(shutil.copyfile(trained / "table.h5", tmp_path / "table.h5"))
    fault(table)
    return table


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_table_is_one_line_for_train_evaluate_and_info(trained, tmp_path, fault) -> None:
    make, message = FAULTS[fault]
    table = faulty_copy(trained, tmp_path, make)
    before, run_before = folder_state(tmp_path), tree_state(trained / "run")
    for args in (train_args(table, tmp_path / "run"), ["evaluate", trained / "run", "--table", table]):
        line = assert_one_error(*run_cli(*args), str(table))
        assert re.search(message, line), line
    assert re.search(message, assert_one_error(*run_cli("table", "info", table), str(table)))
    assert folder_state(tmp_path) == before and tree_state(trained / "run") == run_before


def test_nan_rows_are_one_line_naming_the_column_for_train_and_evaluate(trained, tmp_path) -> None:
    table = faulty_copy(trained, tmp_path, with_nan)
    before = folder_state(tmp_path)
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run")), f"{table}: column 'Y_O2' has non-finite")
    assert_one_error(*run_cli("evaluate", trained / "run", "--table", table),
                     f"{table}: column 'Y_O2' holds 3 NaN or infinite values (first at row 7)")
    assert folder_state(tmp_path) == before


def test_a_table_without_rows_is_one_line_for_train_and_evaluate(trained, tmp_path) -> None:
    table = faulty_copy(trained, tmp_path, without_rows)
    before = folder_state(tmp_path)
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run")), f"{table}: only 0 training rows")
    assert_one_error(*run_cli("evaluate", trained / "run", "--table", table), f"{table}: the table has no rows")
    assert folder_state(tmp_path) == before


def test_written_columns_carry_a_checksum(trained) -> None:
    with h5py.File(trained / "table.h5", "r") as h5:
        assert all(h5[g][n].fletcher32 for g in ("inputs", "outputs", "labels") for n in h5[g])


# --- the checksums of every dataset of a table -------------------------------------------------------------------

def test_info_verifies_every_checksum_and_says_so(trained) -> None:
    code, output = run_cli("table", "info", trained / "table.h5")
    assert code == 0, output
    with h5py.File(trained / "table.h5", "r") as h5:
        count = sum(len(h5[g]) for g in ("inputs", "outputs", "labels"))
    assert re.search(rf"^checksums\s+{count} datasets match their checksums$", output, re.MULTILINE), output


def test_info_names_a_dataset_written_without_a_checksum(trained, tmp_path) -> None:
    table = faulty_copy(trained, tmp_path, lambda p: rewrite_column(p, "outputs/T", np.ones(300)))
    code, output = run_cli("table", "info", table)
    assert code == 0, output
    assert re.search(r"^checksums\s+\d+ datasets match their checksums; 1 without one: /outputs/T$", output,
                     re.MULTILINE), output


@pytest.mark.parametrize("where", ["outputs/T", "labels/band"])
def test_bit_rot_in_any_dataset_is_named_by_info_and_refused_by_train(trained, tmp_path, where) -> None:
    """A label or an output that neither the summary nor this training reads is verified all the same."""
    table = faulty_copy(trained, tmp_path, lambda p: flip_chunk_byte(p, where))
    before = folder_state(tmp_path)
    message = f"{table}: dataset /{where} differs from its checksum in the chunk at row 0"
    assert_one_error(*run_cli("table", "info", table), message, "the file is damaged")
    assert_one_error(*run_cli(*train_args(table, tmp_path / "run", "--outputs", "Y_H2O")), message)
    assert folder_state(tmp_path) == before


def test_export_refuses_a_table_or_a_runs_table_with_bit_rot(tmp_path) -> None:
    table = tiny_table(tmp_path / "table.h5")
    code, output = run_cli(*train_args(table, tmp_path / "run"))
    assert code == 0, output
    flip_chunk_byte(table, "labels/band")
    before = tree_state(tmp_path)
    for source in (table, tmp_path / "run"):
        assert_one_error(*run_cli("export", source, "-o", tmp_path / "m.onnx"),
                         f"{table}: dataset /labels/band differs from its checksum")
    assert tree_state(tmp_path) == before
