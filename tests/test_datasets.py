"""Every dataset kind is summarized by ``surrogate table info``, and version 1 tables still open."""

from __future__ import annotations

import json

import h5py
import numpy as np
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.datasets import open_dataset, write_collocation, write_trajectories
from surrogate.table import FORMAT, Column, DatasetDefaults, Table, write_table

from test_tables_cli import assert_one_line_error, info_fields


def info(path) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["table", "info", str(path)])
    assert result.exit_code == 0, result.output
    return info_fields(result.output)


def test_trajectories_are_summarized_with_fields_grid_time_step_parameters_and_conserved(tmp_path):
    path = tmp_path / "heat.h5"
    x = np.linspace(0.0, 1.0, 5)
    u = np.sin(np.pi * x)[None, None, :] * np.linspace(1.0, 2.0, 3)[:, None, None] * np.ones((1, 4, 1))
    write_trajectories(path, kind="heat-1d", fields=[Column("u", u, "K", "temperature rise")],
                       grid=[Column("x", x, "m", "position")], dt=0.1,
                       attrs={"equation": "u_t = D u_xx", "boundary": "periodic"},
                       parameters=[Column("D", np.array([1.0, 2.0, 3.0]), "m^2/s", "diffusivity")],
                       conserved=[Column("energy", np.ones((3, 4)), "J/m^2", "integral of u")])
    fields = info(path)
    assert fields["kind"] == "heat-1d" and fields["dataset"] == "trajectories"
    assert fields["fields"] == "u" and fields["u [K]"] == "0 .. 2   temperature rise"
    assert fields["grid x"] == "5 points, 0 .. 1" and fields["dt"] == "0.1 s"
    assert fields["trajectories x times"] == "3 x 4"
    assert fields["parameters"] == "D" and fields["conserved"] == "energy"
    assert fields["equation"] == "u_t = D u_xx" and fields["boundary"] == "periodic"
    assert fields["defaults"] == "none declared"


def test_collocation_problem_is_summarized_with_domain_outputs_and_problem(tmp_path):
    path = tmp_path / "burgers.h5"
    write_collocation(path, kind="burgers-pinn", domain={"x": (-1.0, 1.0), "t": (0.0, 1.0)}, outputs=["u"],
                      problem={"name": "burgers", "nu": 0.01})
    fields = info(path)
    assert fields["dataset"] == "collocation" and fields["kind"] == "burgers-pinn"
    assert fields["domain"] == "x -1 .. 1, t 0 .. 1"
    assert fields["outputs"] == "u" and fields["problem"] == "burgers (nu=0.01)"


def test_dataset_without_a_plotting_plugin_is_a_one_line_error(tmp_path):
    path = tmp_path / "burgers.h5"
    write_collocation(path, kind="burgers-pinn", domain={"x": (0.0, 1.0)}, outputs=["u"], problem={"name": "b"})
    result = CliRunner().invoke(cli, ["table", "plot", str(path), "-o", str(tmp_path / "figs")])
    assert_one_line_error(result, "no plots for this collocation dataset: no installed table plugin makes kind "
                                  "'burgers-pinn'", f"surrogate table info {path}")


def test_version_1_table_opens_with_empty_defaults_and_is_summarized(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"format": FORMAT, "format_version": 1, "kind": "old-flamelet"})
        for group, names in (("inputs", ["Z", "chi"]), ("outputs", ["T"])):
            for name in names:
                h5.create_dataset(f"{group}/{name}", data=np.linspace(0.0, 1.0, 7))
                h5[group][name].attrs.update({"units": "1", "description": name})
            h5[group].attrs["order"] = json.dumps(names)
    table = open_dataset(path)
    assert isinstance(table, Table) and table.dataset_kind == "scattered"
    assert table.defaults == DatasetDefaults() and table.label_names == []
    assert table.input_names == ["Z", "chi"] and table.output_names == ["T"] and table.n_rows == 7
    fields = info(path)
    assert fields["kind"] == "old-flamelet" and fields["rows"] == "7" and "labels" not in fields
    assert fields["defaults"] == "none declared (every input and output, nothing logged or closed, no groups)"


def test_table_info_json_is_one_object_with_columns_units_and_ranges(tmp_path):
    path = tmp_path / "plane.h5"
    x = np.linspace(0.0, 2.0, 11)
    write_table(path, kind="plane", inputs=[Column("x", x, "m", "position")],
                outputs=[Column("T", 300.0 + 100.0 * x, "K", "temperature")], attrs={})
    result = CliRunner().invoke(cli, ["table", "info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # the whole of stdout: one JSON object
    assert record["kind"] == "plane" and record["dataset"] == "scattered" and record["rows"] == 11
    assert record["inputs"] == {"x": {"units": "m", "description": "position", "range": [0.0, 2.0]}}
    assert record["outputs"]["T"]["range"] == [300.0, 500.0] and record["outputs"]["T"]["units"] == "K"
    assert record["summary"]["rows"] == "11" and record["attrs"]["kind"] == "plane"
    collocation = tmp_path / "burgers.h5"
    write_collocation(collocation, kind="burgers-pinn", domain={"x": (-1.0, 1.0)}, outputs=["u"],
                      problem={"name": "burgers", "nu": 0.01})
    record = json.loads(CliRunner().invoke(cli, ["table", "info", str(collocation), "--json"]).stdout)
    assert record["dataset"] == "collocation" and record["attrs"]["domain"] == {"x": [-1.0, 1.0]}
