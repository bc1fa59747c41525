"""``surrogate report``: one self-contained HTML page of a run, checked in a real headless browser (Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.report import number
from tests.synthetic import SPECIES, synthetic_table
from tests.waits import HANG_S

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A short run, exported into its own directory (so the report finds the ONNX file), and its report."""
    folder = tmp_path_factory.mktemp("report")
    table = synthetic_table(folder / "table.h5", n_rows=1500)
    runner = CliRunner()
    run = folder / "run"
    for args in (["train", str(table), "-o", str(run), "--epochs", "3", "--quiet", "--threads", "1"],
                 ["export", str(run), "-o", str(run / "model.onnx")],
                 ["report", str(run), "-o", str(folder / "report.html")]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    return run, folder / "report.html"


def test_report_holds_options_provenance_metrics_baselines_export_parity_and_versions(report):
    run, page = report
    html = page.read_text()
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    for heading in ("Options", "Training table", "Metrics", "Plots", "Exported model", "Versions"):
        assert f">{heading}</h2>" in html
    assert config["table_sha256"] in html and "the file there still has this hash" in html
    for split in ("test", "val", "train"):
        for name in (f"Y_{s}" for s in SPECIES):
            assert f"<td>{number(metrics[split][name]['r2'])}</td>" in html  # every split, every output
    for baseline, scores in metrics["baselines"]["scores"].items():
        assert f"<th>{baseline}</th>" in html
        assert f"<td>{number(scores['Y_H2O']['r2'])}</td>" in html
    assert "model.onnx" in html and "Largest |ONNX Runtime − PyTorch|" in html
    assert html.count('src="data:image/png;base64,') == 3  # parity, training, weights
    assert not re.search(r'(src|href)="(?!data:)', html), "the page must not load anything from outside"


def test_report_follows_the_output_rules(report, tmp_path):
    run, page = report
    again = CliRunner().invoke(cli, ["report", str(run), "-o", str(page)])
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.output
    replaced = CliRunner().invoke(cli, ["report", str(run), "-o", str(page), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    onto_run = CliRunner().invoke(cli, ["report", str(run), "-o", str(run / "config.json"), "--overwrite"])
    assert onto_run.exit_code == 2 and "writing there would destroy it" in onto_run.output
    not_a_run = CliRunner().invoke(cli, ["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert not_a_run.exit_code == 2 and "Traceback" not in not_a_run.output
    assert not (tmp_path / "r.html").exists()


def chromium(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={cwd / 'profile'}", "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=HANG_S, cwd=cwd)


def coloured_pixels(png) -> int:
    """Pixels of clearly saturated colour: the plots' lines and markers (text and tables are grey)."""
    import matplotlib.image

    rgb = matplotlib.image.imread(png)[..., :3]
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 0.25).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_page_loads_in_headless_chromium_without_errors_and_shows_the_figures(report, tmp_path):
    _, page = report
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<h1>Run run</h1>" in dom.stdout and dom.stdout.count("<img") == 3
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Not allowed to load" in line]
    assert not console, console
    shot = chromium("--window-size=1400,6000", f"--screenshot={tmp_path / 'shot.png'}", page.as_uri(), cwd=tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    # the same page without its images (only the coloured verdict text remains): the figures add the colour
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r'<img [^>]*>', "", page.read_text()))
    control = chromium("--window-size=1400,6000", f"--screenshot={tmp_path / 'bare.png'}", bare.as_uri(),
                       cwd=tmp_path)
    assert control.returncode == 0, control.stderr[-2000:]
    with_figures, without = coloured_pixels(tmp_path / "shot.png"), coloured_pixels(tmp_path / "bare.png")
    assert with_figures - without > 5000, (with_figures, without)  # three figures' lines and markers
