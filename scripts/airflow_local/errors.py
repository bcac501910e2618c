"""The controller's errors, each reported by the command line in one line (no traceback)::

AirflowLocalError            something the user can act on (not running, port taken...)
├── AirflowApiError          Airflow's REST API answered with an error status
└── AirflowUnreachableError  nothing answered at the API server's address
"""

from __future__ import annotations


class AirflowLocalError(RuntimeError):
    """A failure the command line reports in one line."""


class AirflowApiError(AirflowLocalError):
    """Airflow's REST API answered ``request`` (e.g. ``GET /api/v2/dags/x``) with an error."""

    def __init__(self, request: str, status: int, body: str) -> None:
        super().__init__(f"{request} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class AirflowUnreachableError(AirflowLocalError):
    """No answer from the API server (not started yet, or gone)."""
