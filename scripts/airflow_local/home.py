"""An Airflow home as the controller keeps it: default paths, state files, the generated login.

``start`` writes ``<home>/aimops-standalone.pid`` (the process group) and
``<home>/aimops-standalone.json`` (:class:`State`); SimpleAuthManager writes the admin login to
``<home>/simple_auth_manager_passwords.json.generated``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from airflow_local.errors import AirflowLocalError

# The package is installed in editable mode (the root pyproject's [tool.uv.sources]), so
# ``__file__`` stays in the repository: <repo>/scripts/airflow_local/home.py.
REPO = Path(__file__).resolve().parents[2]
DEFAULT_HOME = REPO / ".airflow"
DEFAULT_DAGS = REPO / "dags_examples"
DEFAULT_AIMOPS_HOME = REPO / ".aimops-demo"
DEFAULT_PORT = 8080
HOST = "127.0.0.1"

PID_FILE = "aimops-standalone.pid"
STATE_FILE = "aimops-standalone.json"
LOG_FILE = "standalone.log"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


@dataclass
class State:
    """What ``start`` recorded in ``<home>/aimops-standalone.json``."""

    pid: int
    pgid: int
    port: int
    dags: str
    aimops_home: str
    started_at: str
    worker_log_port: int
    trigger_log_port: int
    #: The MLflow UI the tasks' links use (None: none known), and whether ``start`` runs it.
    mlflow_ui_url: str | None = None
    mlflow_ui_started: bool = False


def read_state(home: Path) -> State | None:
    """The recorded state, or ``None`` when there is none (or it cannot be read)."""
    try:
        return State(**json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_state(home: Path, state: State) -> None:
    """Record ``state`` and its process group (the pid file) in ``home``."""
    (home / PID_FILE).write_text(f"{state.pgid}\n")
    (home / STATE_FILE).write_text(json.dumps(asdict(state), indent=2) + "\n")


def read_pid(home: Path) -> int | None:
    """The process group recorded in the pid file, if any."""
    try:
        return int((home / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def clear_state(home: Path) -> None:
    """Remove the pid and state files (the server is gone)."""
    for name in (PID_FILE, STATE_FILE):
        with contextlib.suppress(FileNotFoundError):
            (home / name).unlink()


def read_credentials(home: Path) -> tuple[str, str]:
    """The admin login SimpleAuthManager generated into ``<home>/...passwords.json.generated``."""
    path = Path(home) / PASSWORDS_FILE
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AirflowLocalError(
            f"cannot read the generated Airflow login from {path}: {exc}"
        ) from exc
    if not isinstance(passwords, dict) or not passwords:
        raise AirflowLocalError(f"no user in {path}")
    username = "admin" if "admin" in passwords else next(iter(passwords))
    return username, str(passwords[username])
