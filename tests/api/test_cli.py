"""The ``trackstore`` command line, including the README's main job (``trackstore demo``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import trackstore
from trackstore import TrackingClient
from trackstore.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_version() -> None:
    code, out = run_cli("--version")
    assert code == 0 and out.strip() == f"trackstore, version {trackstore.__version__}"


def test_installed_entry_point_runs() -> None:
    exe = Path(sys.executable).parent / "trackstore"
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert trackstore.__version__ in result.stdout


def test_demo_logs_a_training_run_to_the_default_store(isolated: Path) -> None:
    code, out = run_cli("demo", "--epochs", "3", "--steps-per-epoch", "20")
    assert code == 0, out
    assert "Logged 123 metric points" in out
    assert (isolated / "mlruns").is_dir()
    client = TrackingClient()
    (exp,) = [e for e in client.search_experiments() if e.name == "trackstore-demo"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "3"
    assert set(run.data.metrics) == {"train/loss", "train/accuracy", "val/loss"}
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 60
    assert run.inputs.dataset_inputs[0].dataset.name == "synthetic"
    assert f"trackstore runs show {run.info.run_id}" in out
    assert "train/loss history: 60 points" in out


def test_list_and_show(isolated: Path) -> None:
    client = TrackingClient()
    exp = client.create_experiment("cli-exp", tags={"team": "x"})
    run = client.create_run(exp, run_name="cli-run")
    client.log_metric(run.info.run_id, "nan_metric", float("nan"))
    client.log_param(run.info.run_id, "p", "v")
    code, out = run_cli("experiments", "list")
    assert code == 0 and "cli-exp" in out and "Default" in out
    code, out = run_cli("experiments", "show", exp)
    assert code == 0 and "tag team = x" in out
    code, out = run_cli("runs", "list", "--experiment-id", exp, "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["info"]["run_name"] == "cli-run"
    assert listed["data"]["metrics"]["nan_metric"] == "NaN"  # valid JSON, as MLflow spells it
    code, out = run_cli("runs", "list", "--experiment-id", exp, "--filter", "params.p = 'v'")
    assert code == 0 and run.info.run_id in out
    code, out = run_cli("runs", "show", run.info.run_id)
    assert code == 0 and "p = v" in out


def test_errors_exit_non_zero_with_a_message(isolated: Path) -> None:
    result = CliRunner().invoke(main, ["runs", "show", "0" * 32])
    assert result.exit_code == 1
    assert "RESOURCE_DOES_NOT_EXIST" in result.output
    result = CliRunner().invoke(main, ["runs", "list", "--experiment-id", "0", "--filter",
                                       "metrics.x >> 1"])
    assert result.exit_code == 1 and "INVALID_PARAMETER_VALUE" in result.output


def test_tracking_uri_option_and_env(isolated: Path) -> None:
    other = isolated / "elsewhere"
    code, _ = run_cli("demo", "--epochs", "1", "--steps-per-epoch", "2", "--tracking-uri",
                      str(other))
    assert code == 0
    code, out = run_cli("experiments", "list", "--tracking-uri", str(other))
    assert "trackstore-demo" in out
    os.environ["MLFLOW_TRACKING_URI"] = str(other)
    code, out = run_cli("experiments", "list")
    assert "trackstore-demo" in out


def test_speedups_command() -> None:
    code, out = run_cli("speedups")
    assert code == 0 and "metrics:" in out and "yamlio:" in out
