"""MLflow's tracking server beside Airflow, for its web UI: where each task's "MLflow run"
extra link points.

The examples log to the tracking store ``$MLFLOW_TRACKING_URI``, else
``sqlite:///$AIMOPS_HOME/mlflow/mlflow.db`` (artifacts in ``$AIMOPS_HOME/mlflow/artifacts``);
nothing serves its pages, so the link had no target. :func:`plan` decides whether ``start``
runs ``mlflow server`` on that store, on a free local port: not when the user named a UI
(``AIMOPS_MLFLOW_UI_URL``) or the tracking URI is already a server (http(s)), whose pages the
link then uses. :func:`launch` starts it in its own session, with the controller's marker in its
environment (so ``stop`` finds it with Airflow's processes) and MLflow's telemetry and job
runner off (the job runner serves GenAI jobs with a dozen worker processes the UI does not
need); :func:`wait_ready` waits until ``/health`` answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_local.errors import AirflowLocalError
from airflow_local.home import HOST, REPO

#: What the "MLflow run" link of aimops reads (``aimops.operators.links``).
UI_URL_ENV = "AIMOPS_MLFLOW_UI_URL"
LOG_FILE = "mlflow-ui.log"
#: MLflow's settings for the server it runs: no telemetry, no GenAI job runner.
SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass(frozen=True)
class UiPlan:
    """The MLflow UI tasks link to (``url``; None: none known) and, when ``start`` runs it,
    the tracking store it serves on ``port``."""

    url: str | None
    serves: str | None = None
    port: int = 0
    artifact_root: str | None = None


def tracking_uri(env: Mapping[str, str], aimops_home: Path) -> str:
    """Where the examples log: ``$MLFLOW_TRACKING_URI``, else SQLite under ``AIMOPS_HOME``."""
    configured = env.get("MLFLOW_TRACKING_URI", "").strip()
    return configured or f"sqlite:///{aimops_home / 'mlflow' / 'mlflow.db'}"


def plan(env: Mapping[str, str], aimops_home: Path, port: int | None) -> UiPlan:
    """The UI for Airflow's processes whose environment is ``env``: the user's
    ``AIMOPS_MLFLOW_UI_URL``, an http(s) tracking server, else ``mlflow server`` on ``port``
    (None: none wanted)."""
    configured = env.get(UI_URL_ENV, "").strip()
    if configured:
        return UiPlan(configured)
    store = tracking_uri(env, aimops_home)
    if store.startswith(("http://", "https://")):
        return UiPlan(None)  # the links use the tracking server's own pages
    if port is None:
        return UiPlan(None)
    local = store == tracking_uri({}, aimops_home)
    artifacts = (aimops_home / "mlflow" / "artifacts").as_uri() if local else None
    return UiPlan(f"http://{HOST}:{port}", store, port, artifacts)


def _mlflow_executable() -> Path:
    for candidate in (Path(sys.executable).parent / "mlflow", REPO / ".venv" / "bin" / "mlflow"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise AirflowLocalError("no `mlflow` executable next to this Python or in <repo>/.venv/bin")


def launch(home: Path, ui: UiPlan, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``mlflow server`` as ``ui`` plans it, in its own session, logging to
    ``<home>/mlflow-ui.log``."""
    store = ui.serves
    if store is None:
        raise AirflowLocalError(f"no tracking store to serve at {ui.url}")
    command = [str(_mlflow_executable()), "server", "--backend-store-uri", store]
    if ui.artifact_root is not None:
        command += ["--default-artifact-root", ui.artifact_root]
    command += ["--host", HOST, "--port", str(ui.port), "--workers", "1"]
    if store.startswith("sqlite:///"):
        Path(store.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with (home / LOG_FILE).open("ab") as log_file:
        return subprocess.Popen(
            command,
            cwd=home,
            env={**env, **SERVER_ENV},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when the MLflow server at ``url`` says it is healthy."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Wait until the server started as ``process`` answers at ``url``; the seconds it took."""
    started = time.monotonic()
    while not answers(url):
        elapsed = time.monotonic() - started
        if process.poll() is not None or elapsed > timeout:
            why = (
                f"exited with code {process.returncode}"
                if process.returncode is not None
                else f"did not answer within {timeout:.0f} s"
            )
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise AirflowLocalError(f"the MLflow UI at {url} {why}; last lines of {log}:\n{tail}")
        time.sleep(0.5)
    return time.monotonic() - started
