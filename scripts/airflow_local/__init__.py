"""Run a local Airflow (``airflow standalone``) wired to aimops: start, stop, status, trigger.

A development helper of the aimops repository (not part of the aimops distribution), installed
into ``.venv`` in editable mode as the dev dependency ``aimops-airflow-local``. The command line
is ``python -m airflow_local`` (:mod:`airflow_local.cli`); tests and benchmarks import it::

    import airflow_local

    info = airflow_local.start(home, port=airflow_local.free_port(), aimops_home=store)
    client = info.client()  # AirflowClient: REST API v2 through apache-airflow-client
    run = client.trigger("train_model")
    assert client.wait_for_run("train_model", run.dag_run_id) == "success"
    info.mlflow_ui_url  # MLflow's web UI, started beside Airflow (mlflow_ui=False: not)
    assert airflow_local.stop(home).clean  # Airflow, its workers and MLflow's UI

Modules: :mod:`~airflow_local.client` (REST API), :mod:`~airflow_local.processes` (the
process tree, through psutil), :mod:`~airflow_local.home` (paths, state files, login),
:mod:`~airflow_local.health` (is it up?), :mod:`~airflow_local.mlflow_server` (MLflow's UI),
:mod:`~airflow_local.standalone` (start, stop), :mod:`~airflow_local.cli`.
"""

from __future__ import annotations

from airflow_local.client import AirflowClient
from airflow_local.errors import AirflowApiError, AirflowLocalError, AirflowUnreachableError
from airflow_local.home import (
    DEFAULT_AIMOPS_HOME,
    DEFAULT_DAGS,
    DEFAULT_HOME,
    DEFAULT_PORT,
    PID_FILE,
    STATE_FILE,
    read_credentials,
)
from airflow_local.processes import Proc, StopReport, find_processes
from airflow_local.standalone import (
    StartInfo,
    free_port,
    isolated_env,
    running_state,
    start,
    stop,
)

__all__ = [
    "DEFAULT_AIMOPS_HOME",
    "DEFAULT_DAGS",
    "DEFAULT_HOME",
    "DEFAULT_PORT",
    "PID_FILE",
    "STATE_FILE",
    "AirflowApiError",
    "AirflowClient",
    "AirflowLocalError",
    "AirflowUnreachableError",
    "Proc",
    "StartInfo",
    "StopReport",
    "find_processes",
    "free_port",
    "isolated_env",
    "read_credentials",
    "running_state",
    "start",
    "stop",
]
