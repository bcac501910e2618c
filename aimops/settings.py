"""Where aimops keeps things, read from the environment on every call.

``AIMOPS_HOME`` (default ``~/.aimops``) holds the embedded SQLite store ``aim.db`` and, later,
the capture spool. ``AIMOPS_STORE_URL`` names another store (a SQLAlchemy URL such as
``postgresql://user@host:5432/db``) and wins over the home directory.

Example:
    >>> import os
    >>> os.environ["AIMOPS_HOME"] = "/tmp/aimops-doc"
    >>> os.environ.pop("AIMOPS_STORE_URL", None) and None
    >>> default_store_url()
    'sqlite:////tmp/aimops-doc/aim.db'
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

HOME_ENV = "AIMOPS_HOME"
STORE_URL_ENV = "AIMOPS_STORE_URL"
STORE_FILE_NAME = "aim.db"
CAPTURE_ENV = "AIMOPS_CAPTURE"
OFF_WORDS = frozenset({"off", "false", "0", "no", "disabled"})


def aimops_home() -> Path:
    """The directory for aimops' local files: ``$AIMOPS_HOME`` or ``~/.aimops``."""
    configured = os.environ.get(HOME_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".aimops"


def default_store_url() -> str:
    """The store URL to use when none is given: ``$AIMOPS_STORE_URL`` or the home's SQLite file."""
    configured = os.environ.get(STORE_URL_ENV, "").strip()
    if configured:
        return configured
    return f"sqlite:///{aimops_home() / STORE_FILE_NAME}"


def local_mlflow_uri() -> str:
    """MLflow's tracking URI when nothing else names one: ``$MLFLOW_TRACKING_URI``, else a
    SQLite file under ``$AIMOPS_HOME/mlflow`` (the examples train and evaluate there)."""
    configured = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if configured:
        return configured
    return f"sqlite:///{aimops_home() / 'mlflow' / 'mlflow.db'}"


def default_reports_dir() -> Path:
    """Where evaluation reports are written unless told otherwise: ``$AIMOPS_HOME/reports``."""
    return aimops_home() / "reports"


def default_actor() -> str:
    """Who is writing, when nobody says: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def capture_enabled(setting: str | None = None) -> bool:
    """False when ``setting`` (default: ``$AIMOPS_CAPTURE``) says off: ``off``, ``false``, ``0``."""
    value = os.environ.get(CAPTURE_ENV, "") if setting is None else setting
    return value.strip().lower() not in OFF_WORDS


_environment_lock = threading.RLock()


@contextlib.contextmanager
def temporary_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block only, restoring what was there before.

    The environment is the process's: blocks in other threads wait, so none restores a value
    another one set.
    """
    with _environment_lock:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
