"""Is ``airflow standalone`` up? Its components' health, judged against the start time.

The health endpoint reads the jobs table, where a killed previous run's scheduler stays
"healthy" for 30 s: a component counts as healthy only with a heartbeat newer than the start.
While waiting, Airflow's own start-up steps (``standalone | ...`` lines of its log) are shown.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_local.client import AirflowClient
from airflow_local.errors import AirflowLocalError
from airflow_local.output import Printer, print_line

START_TIMEOUT = 120.0
#: Components that must report healthy (with a heartbeat newer than the start) to be "up".
REQUIRED_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")


def _heartbeat_after(info: Mapping[str, Any], since: datetime) -> bool:
    beats = [v for k, v in info.items() if k.startswith("latest_") and isinstance(v, str)]
    if not beats:
        return True  # the metadatabase has no heartbeat
    try:
        beat = datetime.fromisoformat(beats[0])
    except ValueError:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return beat >= since


def component_states(client: AirflowClient, since: datetime) -> dict[str, str]:
    """Each component's health status; ``stale (previous run)`` for a beat older than ``since``.

    The health endpoint reads the jobs table, where a killed previous run's scheduler stays
    "healthy" for 30 s.
    """
    states = {}
    for name, info in client.health().to_dict().items():
        if not isinstance(info, Mapping):
            continue
        status = str(info.get("status"))
        if status == "healthy" and not _heartbeat_after(info, since):
            status = "stale (previous run)"
        states[name] = status
    return states


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class _LogProgress:
    """New ``standalone | ...`` lines of the log (Airflow's own start-up steps)."""

    def __init__(self, log: Path, offset: int) -> None:
        self.log = log
        self.offset = offset

    def new_lines(self) -> list[str]:
        try:
            with self.log.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        lines = complete.decode(errors="replace").splitlines()
        return [line.strip() for line in lines if line.startswith("standalone") and "|" in line]


def wait_healthy(
    client: AirflowClient,
    process: subprocess.Popen[bytes] | None,
    log: Path,
    since: datetime,
    *,
    timeout: float = START_TIMEOUT,
    log_offset: int | None = None,
    out: Printer = print_line,
) -> float:
    """Wait until the required components are healthy; return the seconds it took."""
    started = time.monotonic()
    progress = _LogProgress(log, log_offset) if log_offset is not None else None
    last: dict[str, str] | None = None
    while True:
        elapsed = time.monotonic() - started
        for line in progress.new_lines() if progress else []:
            out(f"[{elapsed:5.1f}s] {line}")
        if process is not None and process.poll() is not None:
            raise AirflowLocalError(
                f"airflow standalone exited with code {process.returncode} after {elapsed:.0f} s;"
                f" last lines of {log}:\n{_log_tail(log)}"
            )
        if elapsed > timeout:
            raise AirflowLocalError(
                f"Airflow was not healthy within {timeout:.0f} s (components: {last}); "
                f"last lines of {log}:\n{_log_tail(log)}"
            )
        try:
            states = component_states(client, since)
        except (AirflowLocalError, ValueError):
            states = {"api-server": "not answering yet"}
        if states != last:
            out(f"[{elapsed:5.1f}s] " + ", ".join(f"{k}={v}" for k, v in states.items()))
            last = states
        if all(states.get(name) == "healthy" for name in REQUIRED_COMPONENTS):
            return time.monotonic() - started
        time.sleep(1.0)
