"""The main job end to end, as `make demo` runs it, on a small table and a short training budget."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables.flamelet_table import SMALL_OPTIONS
from surrogate.cli.main import cli


def small_table_options() -> list[str]:
    args = []
    for key, value in SMALL_OPTIONS.items():
        text = ",".join(f"{k}:{v:g}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        args += ["--table-option", f"{key}={text}"]
    return args


@pytest.mark.slow
def test_demo_builds_trains_exports_and_infers_then_reuses_everything(tmp_path):
    out = tmp_path / "demo"
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "-o", str(out), "--epochs", "40", *small_table_options()])
    assert result.exit_code == 0, result.output
    for artefact in ("h2_flamelets.h5", "run/metrics.json", "run/plots/parity.png", "h2_surrogate.onnx"):
        assert (out / artefact).is_file(), artefact
    assert "provider CPUExecutionProvider" in result.output
    assert "surrogate infer" in result.output  # next commands are printed

    from export.runtime import Surrogate
    from surrogate.run import load_run
    from surrogate.table import Table

    run = load_run(out / "run")
    x = Table(out / "h2_flamelets.h5").read_matrix(run.input_names)[run.split_indices("test")]
    onnx_y = Surrogate(out / "h2_surrogate.onnx")(x.astype(np.float32))
    assert np.allclose(onnx_y, run.predict(x), atol=1e-5)
    assert np.allclose(onnx_y.sum(axis=1), 1.0, atol=1e-5)

    again = runner.invoke(cli, ["demo", "-o", str(out), "--epochs", "40"])
    assert again.exit_code == 0, again.output
    assert again.output.count("reusing") == 3


def test_demo_help_and_training_step_point_to_a_quick_look_with_fewer_epochs():
    from surrogate.cli.demo import QUICK_LOOK

    shown = CliRunner().invoke(cli, ["demo", "--help"]).output
    assert "--epochs 5 gives a quick look on a slow machine" in " ".join(shown.split())
    assert "surrogate demo --epochs 5" in QUICK_LOOK  # printed at the training step when --epochs is not given
