"""The local controller's MLflow UI (``scripts/airflow_local/mlflow_server.py``): which UI the
tasks' links get, and a real ``mlflow server`` that ``stop`` finds and ends with Airflow's
processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow_local import mlflow_server, processes
from airflow_local.standalone import free_port


def test_the_demo_store_is_served_on_the_port_given(tmp_path: Path) -> None:
    ui = mlflow_server.plan({}, tmp_path, 5123)
    assert ui.url == "http://127.0.0.1:5123"
    assert ui.serves == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"  # where train_model logs
    assert ui.artifact_root == (tmp_path / "mlflow" / "artifacts").as_uri()


def test_another_tracking_store_is_served_with_mlflow_s_own_artifact_defaults(
    tmp_path: Path,
) -> None:
    ui = mlflow_server.plan({"MLFLOW_TRACKING_URI": "sqlite:////srv/m.db"}, tmp_path, 5123)
    assert (ui.url, ui.serves, ui.artifact_root) == (
        "http://127.0.0.1:5123",
        "sqlite:////srv/m.db",
        None,
    )


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"AIMOPS_MLFLOW_UI_URL": "https://mlflow.example.com"}, "https://mlflow.example.com"),
        ({"MLFLOW_TRACKING_URI": "https://mlflow.example.com"}, None),  # its own pages
    ],
)
def test_no_ui_is_started_when_one_is_known(env: dict[str, str], url: str | None) -> None:
    ui = mlflow_server.plan(env, Path("/unused"), 5123)
    assert (ui.url, ui.serves) == (url, None)


def test_none_is_started_when_none_is_wanted(tmp_path: Path) -> None:
    assert mlflow_server.plan({}, tmp_path, None) == mlflow_server.UiPlan(None)


@pytest.mark.slow
@pytest.mark.integration
def test_a_real_mlflow_ui_answers_and_stops_with_the_airflow_home(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    home.mkdir()
    ui = mlflow_server.plan({}, tmp_path / "aimops", free_port())
    env = {**os.environ, processes.MARKER_ENV: str(home)}
    process = mlflow_server.launch(home, ui, env)
    processes.CHILDREN[process.pid] = process
    try:
        assert ui.url is not None
        mlflow_server.wait_ready(ui.url, process, home / mlflow_server.LOG_FILE, timeout=60)
        assert mlflow_server.answers(ui.url)
        assert (tmp_path / "aimops" / "mlflow" / "mlflow.db").is_file()
        found = processes.find_processes(home)  # by the marker, as `stop` finds them
        assert process.pid in {proc.pid for proc in found}
    finally:
        report = processes.terminate(home, None, processes.find_processes(home), 10.0, print)
    assert report.clean and processes.find_processes(home) == []
    assert not mlflow_server.answers(ui.url)
