"""Airflow connections as the hooks see them: each looked up once per process, quietly.

``aimops_default`` and ``mlflow_default`` are optional: without them the hooks follow
``AIMOPS_STORE_URL`` and MLflow's environment. But a task asks Airflow's API server for a
connection (a missing one is a 404 line in the server's log), and every capture event, hook,
operator and extra link of a process would ask again. So the answer, a connection or "none", is
kept for the rest of the process; a forked process asks once for itself (its parent's answer
may be old). A connection defined later is seen by the processes that start after it: every
new task, the API server's links after a restart. The lookup itself stays quiet: Airflow's own
"not found" messages are debug lines, and aimops adds none.

Example:
    >>> import os
    >>> os.environ["AIRFLOW_CONN_KEPT_DOC"] = '{"conn_type": "aimops", "host": "db"}'
    >>> find_connection("kept_doc").host
    'db'
    >>> os.environ["AIRFLOW_CONN_KEPT_DOC"] = '{"conn_type": "aimops", "host": "elsewhere"}'
    >>> find_connection("kept_doc").host  # the first answer holds for this process
    'db'
    >>> forget_connections()
    >>> find_connection("kept_doc").host
    'elsewhere'
    >>> find_connection("not_defined_doc") is None
    True
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Connection

_answers: dict[str, Connection | None] = {}
_answers_pid = os.getpid()
_lock = threading.Lock()


def find_connection(conn_id: str) -> Connection | None:
    """Airflow's connection ``conn_id``, or None when Airflow has none; asked once per process
    (the answer, found or not, is kept)."""
    global _answers_pid
    with _lock:
        if _answers_pid != os.getpid():
            _answers.clear()
            _answers_pid = os.getpid()
        if conn_id not in _answers:
            _answers[conn_id] = _ask_airflow(conn_id)
        return _answers[conn_id]


def forget_connections() -> None:
    """Ask Airflow again at the next use of each connection (tests, a changed connection)."""
    with _lock:
        _answers.clear()


def _ask_airflow(conn_id: str) -> Connection | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
