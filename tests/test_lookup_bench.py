"""The crossover report of `surrogate bench infer --grid-sizes`: parsed from bench_lookup's lines, the batch from
which the network stays faster than each table lookup (or none), table / ONNX file bytes, and the wrapper against
the raw session and the FLOP-bound limit; and the sizes grids are enlarged to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.benchmarks.grid_file import parse_sizes, split_counts
from export.benchmarks.lookup import LookupReport, LookupTable, parse_output
from surrogate.errors import UserError

LINES = """grid index=0 dims=4 bytes=8000000 file=/tmp/x y/grid0.bin
grid index=1 dims=5 bytes=1000000000 file=/tmp/grid1.bin
""" + "\n".join(
    f"bench engine={engine} batch={batch} calls=10 seconds=0.5 cells_per_second={mean} best_cells_per_second={best} "
    f"median_cells_per_second={1.5 * mean}"
    for engine, batch, mean, best in [
        ("wrapper", 1, 5e4, 6e4), ("raw", 1, 5.5e4, 6.5e4), ("table", 1, 2e6, 3e6), ("grid0", 1, 1e6, 2e6),
        ("grid1", 1, 1e5, 2e5),
        ("wrapper", 4096, 1e6, 4e6), ("raw", 4096, 1.05e6, 4.2e6), ("table", 4096, 4e6, 5e6),
        ("grid0", 4096, 9e5, 2e6), ("grid1", 4096, 2e5, 3e5),
        ("wrapper", 100000, 9e5, 3e6), ("raw", 100000, 9e5, 3e6), ("table", 100000, 4e6, 5e6),
        ("grid0", 100000, 1e6, 2e6), ("grid1", 100000, 2e5, 3e5)])


def report() -> LookupReport:
    rates, sizes = parse_output(LINES)
    tables = [LookupTable("table", "2-D table backend", 40_000, "compiled"),
              LookupTable("grid0", "4-D grid", sizes[0], "as built"),
              LookupTable("grid1", "5-D grid", sizes[1], "synthetic")]
    return LookupReport([1, 4096, 100000], rates, tables, model_bytes=40_000, flop_limit=2e6)


def test_crossover_is_the_batch_from_which_the_network_stays_faster_or_none() -> None:
    r = report()
    table, grid4, grid5 = (r.crossover(t) for t in r.tables)
    assert table["crossover_batch"] is None and table["network_over_table"]["4096"] == pytest.approx(0.25)
    assert grid4["crossover_batch"] is None  # faster at 4096 only: at 100000 the lookup is ahead again
    assert grid5["crossover_batch"] == 4096 and grid5["network_over_table"]["1"] == pytest.approx(0.5)
    assert grid5["table_over_model"] == pytest.approx(25_000) and grid4["table_bytes"] == 8_000_000
    # by size: beaten at 1 GB only (the 8 MB grid and the 40 kB table are not): the crossover lies between
    assert r.size_crossover() == {"table": "5-D grid", "table_bytes": 1_000_000_000, "table_over_model": 25_000}
    assert ("crossover in table size: the network is faster, from some batch on, than the lookup of every table "
            "from 5-D grid on (1e+03 MB = 2.5e+04 x the ONNX file)") in r.lines()
    r.tables.pop()
    assert r.size_crossover() == r.to_dict()["size_crossover"] == {"table": None, "table_bytes": None,
                                                                    "table_over_model": None}
    assert "crossover in table size: the network is not faster than the lookup of the largest table" in r.lines()


def test_crossover_is_decided_by_the_median_call_not_by_calls_preempted_on_a_busy_machine() -> None:
    """At batch 4096 the network's mean is below the lookup's (a few calls preempted) while its median call is
    faster: the crossover is 4096; at batch 1 the mean favours the network, the median does not."""
    rates = {"wrapper": {1: {"mean": 3e5, "median": 1e5, "best": 2e5}, 4096: {"mean": 1e6, "median": 4e6, "best": 5e6}},
             "grid0": {1: {"mean": 2e5, "median": 2e5, "best": 3e5}, 4096: {"mean": 2e6, "median": 2e6, "best": 3e6}}}
    r = LookupReport([1, 4096], rates, [LookupTable("grid0", "4-D grid", 8_000_000, "as built")], model_bytes=40_000)
    c = r.crossover(r.tables[0])
    assert c["crossover_batch"] == 4096 and c["network_over_table"] == {"1": 0.5, "4096": 2.0}


def test_wrapper_is_stated_against_the_raw_session_and_the_flop_limit_for_mean_and_best_call() -> None:
    w = report().wrapper()
    assert w == pytest.approx({"over_raw_mean": 1e6 / 1.05e6, "over_raw_median": 1e6 / 1.05e6,
                               "over_raw_best": 4e6 / 4.2e6, "of_flop_limit_mean": 0.5,
                               "of_flop_limit_median": 0.75, "of_flop_limit_best": 2.0,
                               "raw_of_flop_limit_mean": 0.525, "raw_of_flop_limit_median": 0.7875,
                               "raw_of_flop_limit_best": 2.1})
    lines = report().lines()
    assert ("C wrapper at batch 4096, share of the FLOP-bound limit (2e+06 cells/s): mean call 50%, median call 75%, "
            "best call 200%; raw session: mean call 52%, median call 79%, best call 210%") in lines
    assert "crossover, 5-D grid: the network is faster from batch 4096; table 1e+03 MB = 2.5e+04 x the ONNX file " \
           "(synthetic)" in lines
    assert "crossover, 4-D grid: the network is not faster up to batch 100000; table 8 MB = 200 x the ONNX file " \
           "(as built)" in lines
    assert report().to_dict()["crossover"][2]["crossover_batch"] == 4096


def test_grid_sizes_parse_and_enlarged_grids_stay_within_their_byte_target() -> None:
    assert parse_sizes("4d, 4d:1e8,5d:1e9") == [(4, 0.0), (4, 1e8), (5, 1e9)]
    with pytest.raises(UserError, match=r"'4:1e8' is not DIMSd or DIMSd:BYTES"):
        parse_sizes("4:1e8")
    nodes = [61, 21, 21, 6]
    for target in (1e8, 1e9):
        parts = split_counts(nodes, 13, target)
        size = 4 * 13 * np.prod([(n - 1) * q + 1 for n, q in zip(nodes, parts)])
        assert 0.3 * target < size <= target and max(parts) - min(parts) <= 1


def test_bench_lookup_missing_is_one_line_naming_where_it_looked(monkeypatch, tmp_path: Path) -> None:
    from export.benchmarks import inference as bench

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "pkg" / "export" / "benchmarks" / "inference.py"))
    assert bench.find_c_program("example_c") is None
    line = bench.not_found("example_c", "--c-bench")
    assert line == (f"C program example_c not found under {tmp_path}/export/c/build and {tmp_path}/pkg/export/c/build "
                    "(build export/c as in export/c/README.md, 'Build', or pass --c-bench PATH)")
    built = tmp_path / "export" / "c" / "build" / "Release" / "example_c"
    built.parent.mkdir(parents=True)
    built.write_text("")
    built.chmod(0o755)
    assert bench.find_c_program("example_c") == built


def test_kernel_profile_splits_a_call_by_operator_type(tmp_path: Path) -> None:
    """A Gemm + Tanh + Softmax graph profiled by ONNX Runtime: every operator type the session ran is there (the
    Gemm and its Tanh, fused or not, count as linear layers), the warm-up runs are left out (the per-call time is
    the total over the profiled runs divided by their count, not by warm-up + profiled), and the shares add up."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from export.benchmarks.kernel_profile import LINEAR_OPS, kernel_profile

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w"),
               numpy_helper.from_array(np.zeros(64, np.float32), "b")]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
         helper.make_node("Softmax", ["t"], ["y"], axis=-1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])], weights)
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    cells = rng.standard_normal((512, 64)).astype(np.float32)
    profile = kernel_profile(path, cells, threads=1, scratch=tmp_path, calls=20, warmup=5)
    events = json.loads(next(tmp_path.glob("kernel_profile*.json")).read_text())
    runs = sorted(e["dur"] for e in events if e.get("name") == "model_run")
    assert len(runs) == 25 and profile.batch == 512
    assert "Softmax" in profile.seconds and any(op in LINEAR_OPS for op in profile.seconds)
    assert set(profile.seconds) <= {"Gemm", "FusedGemm", "Tanh", "Softmax", "runtime"}
    assert min(runs) * 1e-6 <= profile.total() <= max(runs) * 1e-6  # a mean call, not a sum of 20 or of 25
    linear = sum(s for op, s in profile.seconds.items() if op in LINEAR_OPS or op == "Tanh")
    assert 0 < profile.linear_share() <= linear / profile.total() < 1
    assert profile.to_dict()["linear_share"] == profile.linear_share() and "Softmax" in profile.line()
