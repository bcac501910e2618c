#!/usr/bin/env python3
"""Run a local Airflow (``airflow standalone``) wired to aimops: start, stop, status, trigger.

Usage (with the project's virtualenv, e.g. ``.venv/bin/python scripts/airflow_local.py ...``)::

    start   [--home DIR] [--port 8080] [--dags DIR] [--aimops-home DIR] [--timeout S]
            [--foreground [--quiet]]
    stop    [--home DIR] [--grace S]
    status  [--home DIR]
    trigger DAG_ID [--home DIR] [--port N] [--conf JSON] [--wait] [--timeout S]

``start`` runs ``airflow standalone`` in its own process group (Airflow home ``<repo>/.airflow``
by default, DAGs from ``<repo>/dags_examples``, the AIM store in ``<repo>/.aimops-demo`` like
``make demo``), waits until the scheduler and the DAG processor report healthy and prints the
UI address and login. ``stop`` sends SIGTERM to the whole process group and to any leftover
process started for that Airflow home, SIGKILL after a grace period (orphaned workers may
ignore SIGTERM), then checks in /proc that none is left.

Only the standard library is used, so the module is importable from tests:
:class:`AirflowClient` is a small client of Airflow's REST API v2, :func:`start` and
:func:`stop` drive the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO / ".airflow"
DEFAULT_DAGS = REPO / "dags_examples"
DEFAULT_AIMOPS_HOME = REPO / ".aimops-demo"
DEFAULT_PORT = 8080
HOST = "127.0.0.1"

PID_FILE = "aimops-standalone.pid"
STATE_FILE = "aimops-standalone.json"
LOG_FILE = "standalone.log"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
#: Set in the environment of everything ``start`` launches; ``stop`` finds leftovers by it.
MARKER_ENV = "AIMOPS_AIRFLOW_LOCAL_HOME"

START_TIMEOUT = 120.0
STOP_GRACE = 20.0
#: Components that must report healthy (with a heartbeat newer than the start) to be "up".
REQUIRED_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})

Printer = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


class AirflowLocalError(RuntimeError):
    """A failure the command line reports in one line (no traceback)."""


class AirflowApiError(AirflowLocalError):
    """Airflow's REST API answered with an error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


# --------------------------------------------------------------------------------------------
# REST API client
# --------------------------------------------------------------------------------------------


class AirflowClient:
    """A minimal client of Airflow 3's REST API v2 with SimpleAuthManager login.

    The token comes from ``POST /auth/token`` (JSON ``{"username", "password"}``, answer
    ``{"access_token"}``) and is sent as ``Authorization: Bearer``; it is fetched again once
    when the API answers 401.
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._token: str | None = None

    @classmethod
    def for_home(cls, home: Path | str, port: int | None = None) -> AirflowClient:
        """A client for the server started for ``home`` (port from its state file)."""
        home = Path(home).resolve()
        if port is None:
            state = read_state(home)
            port = state.port if state else DEFAULT_PORT
        username, password = read_credentials(home)
        return cls(f"http://{HOST}:{port}", username, password)

    # -- plumbing ---------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")

    def token(self, *, refresh: bool = False) -> str:
        """A JWT for the configured user (cached)."""
        if self._token is None or refresh:
            if not self.username or self.password is None:
                raise AirflowLocalError("no Airflow username/password to log in with")
            credentials = {"username": self.username, "password": self.password}
            status, text = self._send("POST", "/auth/token", credentials)
            if status not in (200, 201):
                raise AirflowApiError("POST", self.base_url + "/auth/token", status, text)
            self._token = str(json.loads(text)["access_token"])
        return self._token

    def get_page(self, path: str, *, auth: bool = True) -> tuple[int, str]:
        """GET a page that is not JSON (a plugin's HTML); (status, text), errors included."""
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "text/html"} if auth else {}
        return self._send("GET", path, None, headers)

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """Send a request; return the decoded JSON answer (``None`` when empty)."""
        headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        status, text = self._send(method, path, body, headers)
        if status == 401 and auth:
            headers = {"Authorization": f"Bearer {self.token(refresh=True)}"}
            status, text = self._send(method, path, body, headers)
        if status >= 400:
            raise AirflowApiError(method, self.base_url + path, status, text)
        return json.loads(text) if text.strip() else None

    # -- endpoints --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no login needed)."""
        result: dict[str, Any] = self.request("GET", "/api/v2/monitor/health", auth=False)
        return result

    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as the API reports it, or ``None`` while it is not parsed yet."""
        try:
            result: dict[str, Any] = self.request("GET", f"/api/v2/dags/{_quote(dag_id)}")
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def import_errors(self) -> list[dict[str, Any]]:
        """Current DAG import errors (``filename``, ``stack_trace``...)."""
        result = self.request("GET", "/api/v2/importErrors?limit=100")
        return list(result.get("import_errors", []))

    def wait_for_dag(
        self, dag_id: str, *, timeout: float = 60.0, poll: float = 1.0, out: Printer | None = None
    ) -> dict[str, Any]:
        """Wait until the DAG processor has parsed ``dag_id``; fail early on import errors."""
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            dag = self.get_dag(dag_id)
            if dag is not None:
                return dag
            errors = self.import_errors()
            if errors:
                details = "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace')}" for e in errors)
                raise AirflowLocalError(f"DAG {dag_id!r} not found; import errors:\n{details}")
            if time.monotonic() > deadline:
                raise AirflowLocalError(f"DAG {dag_id!r} was not parsed within {timeout:.0f} s")
            if out and not announced:
                out(f"waiting for the DAG processor to parse {dag_id!r}...")
                announced = True
            time.sleep(poll)

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "PATCH", f"/api/v2/dags/{_quote(dag_id)}", {"is_paused": paused}
        )
        return result

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> dict[str, Any]:
        """Create a manual run (no logical date, like the UI's trigger button)."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        result: dict[str, Any] = self.request(
            "POST", f"/api/v2/dags/{_quote(dag_id)}/dagRuns", body
        )
        return result

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "GET", f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}"
        )
        return result

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``task_id`` (with ``[map_index]`` for mapped tasks) -> state."""
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances?limit=1000"
        states: dict[str, str | None] = {}
        for ti in self.request("GET", path).get("task_instances", []):
            key = (
                ti["task_id"]
                if ti.get("map_index", -1) < 0
                else f"{ti['task_id']}[{ti['map_index']}]"
            )
            states[key] = ti.get("state")
        return states

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 300.0,
        poll: float = 1.0,
        out: Printer | None = None,
    ) -> str:
        """Poll a run until it succeeds or fails; print task states as they change."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str | None] = {}
        run_state: str | None = None
        started = time.monotonic()
        while True:
            run = self.get_run(dag_id, run_id)
            states = self.task_states(dag_id, run_id)
            if out:
                elapsed = time.monotonic() - started
                for task_id, state in sorted(states.items()):
                    if seen.get(task_id, "<new>") != state:
                        out(f"[{elapsed:5.1f}s]   {task_id}: {state or 'none'}")
                if run["state"] != run_state:
                    out(f"[{elapsed:5.1f}s] run {run_id}: {run['state']}")
            seen, run_state = states, run["state"]
            if run_state in TERMINAL_RUN_STATES:
                return str(run_state)
            if time.monotonic() > deadline:
                raise AirflowLocalError(
                    f"run {run_id} of {dag_id} still {run_state} after {timeout:.0f} s "
                    f"(tasks: {states})"
                )
            time.sleep(poll)


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# --------------------------------------------------------------------------------------------
# Airflow home: files, state, credentials
# --------------------------------------------------------------------------------------------


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


def read_state(home: Path) -> State | None:
    try:
        return State(**json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def read_pid(home: Path) -> int | None:
    try:
        return int((home / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


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


def _clear_files(home: Path) -> None:
    for name in (PID_FILE, STATE_FILE):
        with contextlib.suppress(FileNotFoundError):
            (home / name).unlink()


def _airflow_executable() -> Path:
    for candidate in (Path(sys.executable).parent / "airflow", REPO / ".venv" / "bin" / "airflow"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise AirflowLocalError("no `airflow` executable next to this Python or in <repo>/.venv/bin")


def _port_free(port: int) -> bool:
    """True when nothing listens on ``port`` (any address): the log servers bind 0.0.0.0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(exclude: tuple[int, ...] = ()) -> int:
    """A TCP port nothing listens on now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude and _port_free(port):
            return port


def airflow_env(
    home: Path,
    port: int,
    dags: Path,
    aimops_home: Path | None,
    *,
    worker_log_port: int,
    trigger_log_port: int,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment ``airflow standalone`` runs with.

    AIMOPS_* variables of ``base`` are kept; AIMOPS_HOME is ``aimops_home`` when given, else
    ``base``'s, else ``<repo>/.aimops-demo`` (the store ``make demo`` writes).
    """
    env = dict(os.environ if base is None else base)
    bin_dir = str(_airflow_executable().parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # standalone runs `airflow ...`
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            MARKER_ENV: str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{port}/execution/",
            # The scheduler's and triggerer's log servers default to 8793/8794 on 0.0.0.0:
            # give each instance its own so two homes (or --port 8793) do not collide.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            # Look for new DAG files every few seconds instead of every 5 minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if aimops_home is not None:
        env["AIMOPS_HOME"] = str(aimops_home)
    env.setdefault("AIMOPS_HOME", str(DEFAULT_AIMOPS_HOME))
    return env


# --------------------------------------------------------------------------------------------
# Processes (/proc)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    cmdline: str


def _read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return Proc(pid, int(fields[1]), int(fields[2]), fields[0], cmdline)


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def _all_procs() -> Iterator[Proc]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (proc := _read_proc(int(entry.name))) is not None:
            yield proc


def _protected_pids() -> set[int]:
    """This process and its ancestors: never signalled, whatever their environment says."""
    pids: set[int] = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        proc = _read_proc(pid)
        if proc is None:
            break
        pid = proc.ppid
    return pids


def _is_airflow_cmdline(cmdline: str) -> bool:
    words = cmdline.split()
    heads = [Path(w).name for w in words[:2]]
    return bool(heads) and (heads[0] == "airflow" or ("python" in heads[0] and "airflow" in heads))


def _belongs_to(proc: Proc, home: Path) -> bool:
    env = _environ(proc.pid)
    if env.get(MARKER_ENV) == str(home):
        return True
    return env.get("AIRFLOW_HOME") == str(home) and _is_airflow_cmdline(proc.cmdline)


def find_processes(home: Path | str, pgid: int | None = None) -> list[Proc]:
    """Live (non-zombie) processes in group ``pgid`` or started for this Airflow home."""
    home = Path(home).resolve()
    protected = _protected_pids()
    found = []
    for proc in _all_procs():
        if proc.pid in protected or proc.state == "Z":
            continue
        if (pgid is not None and proc.pgid == pgid) or _belongs_to(proc, home):
            found.append(proc)
    return found


def _group_is_ours(pgid: int, home: Path) -> bool:
    """Guard against a recycled id: some member of the group must belong to this home."""
    members = [p for p in _all_procs() if p.pgid == pgid and p.state != "Z"]
    return any(_belongs_to(p, home) for p in members)


def _signal(pgid: int | None, procs: list[Proc], sig: signal.Signals) -> None:
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for proc in procs:
        if proc.pgid != pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, sig)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM/SIGHUP inside (main thread only), so cleanup is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


#: Popen objects of servers started by this process, reaped by ``stop`` (no zombies in tests).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap() -> None:
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


# --------------------------------------------------------------------------------------------
# stop
# --------------------------------------------------------------------------------------------


@dataclass
class StopReport:
    home: str
    pgid: int | None
    terminated: int = 0
    killed: int = 0
    survivors: list[Proc] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.survivors


def _wait_gone(home: Path, pgid: int | None, timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    while True:
        _reap()
        left = find_processes(home, pgid)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def stop(
    home: Path | str = DEFAULT_HOME, *, grace: float = STOP_GRACE, out: Printer = _print
) -> StopReport:
    """Stop everything started for ``home``: SIGTERM the group, then SIGKILL; verify; idempotent."""
    home = Path(home).resolve()
    started = time.monotonic()
    pgid = read_pid(home)
    if pgid is not None and not _group_is_ours(pgid, home):
        pgid = None  # gone, or the id now belongs to someone else's process group
    report = StopReport(str(home), pgid)
    procs = find_processes(home, pgid)
    if not procs:
        _clear_files(home)
        out(f"Airflow for {home} is not running; no process left.")
        return report

    report.terminated = len(procs)
    group = f"process group {pgid}" if pgid else "no process group"
    out(f"stopping Airflow for {home} ({group}, {len(procs)} processes): SIGTERM")
    _signal(pgid, procs, signal.SIGTERM)
    left = _wait_gone(home, pgid, grace)
    if left:
        report.killed = len(left)
        names = ", ".join(sorted({_short(p.cmdline) for p in left}))
        out(f"{len(left)} still running after {grace:.0f} s ({names}): SIGKILL")
        _signal(pgid, left, signal.SIGKILL)
        left = _wait_gone(home, pgid, 5.0)
    report.survivors = left
    report.seconds = time.monotonic() - started
    if left:
        for proc in left:
            out(f"  SURVIVOR pid {proc.pid} (pgid {proc.pgid}, state {proc.state}): {proc.cmdline}")
        out(f"NOT clean: {len(left)} process(es) of {home} survived SIGKILL")
    else:
        _clear_files(home)
        out(f"stopped in {report.seconds:.1f} s; verified: no process of the group or home left.")
    return report


def _short(cmdline: str) -> str:
    return cmdline if len(cmdline) <= 60 else cmdline[:57] + "..."


# --------------------------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------------------------


@dataclass
class StartInfo:
    home: Path
    port: int
    url: str
    username: str
    password: str
    pid: int
    log: Path
    seconds: float
    already_running: bool = False
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, self.username, self.password)


def running_state(home: Path) -> State | None:
    """The recorded state when the recorded process group is still alive, else ``None``."""
    state = read_state(home)
    if state is None or not _group_is_ours(state.pgid, home):
        return None
    return state


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


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


def _component_states(health: Mapping[str, Any], since: datetime) -> dict[str, str]:
    states = {}
    for name, info in health.items():
        if not isinstance(info, Mapping):
            continue
        status = str(info.get("status"))
        if status == "healthy" and not _heartbeat_after(info, since):
            status = "stale (previous run)"
        states[name] = status
    return states


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
    out: Printer = _print,
) -> float:
    """Wait until the required components are healthy; return the seconds it took.

    A heartbeat must be newer than ``since``: the health endpoint reads the jobs table, where a
    killed previous run's scheduler stays "healthy" for 30 s.
    """
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
            states = _component_states(client.health(), since)
        except (OSError, AirflowApiError, ValueError):
            states = {"api-server": "not answering yet"}
        if states != last:
            out(f"[{elapsed:5.1f}s] " + ", ".join(f"{k}={v}" for k, v in states.items()))
            last = states
        if all(states.get(name) == "healthy" for name in REQUIRED_COMPONENTS):
            return time.monotonic() - started
        time.sleep(1.0)


def _wait_for_credentials(
    home: Path, process: subprocess.Popen[bytes], timeout: float
) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_credentials(home)
        except AirflowLocalError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.5)


def start(
    home: Path | str = DEFAULT_HOME,
    *,
    port: int = DEFAULT_PORT,
    dags: Path | str = DEFAULT_DAGS,
    aimops_home: Path | str | None = None,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
    out: Printer = _print,
) -> StartInfo:
    """Start ``airflow standalone`` for ``home`` and wait until it is healthy.

    ``env`` replaces ``os.environ`` as the base environment (tests pass their own);
    ``aimops_home`` defaults to its AIMOPS_HOME, else ``<repo>/.aimops-demo``. On any
    failure (including Ctrl-C) everything started is stopped again before raising.
    """
    home = Path(home).resolve()
    dags = Path(dags).resolve()
    log = home / LOG_FILE
    if not dags.is_dir():
        raise AirflowLocalError(f"DAGs folder {dags} does not exist")
    home.mkdir(parents=True, exist_ok=True)

    state = running_state(home)
    if state is not None:
        if state.port != port:
            raise AirflowLocalError(
                f"Airflow for {home} already runs on port {state.port} (pid {state.pid}): "
                "stop it first"
            )
        username, password = read_credentials(home)
        out(f"Airflow for {home} is already running (pid {state.pid}).")
        info = StartInfo(
            home, port, f"http://{HOST}:{port}", username, password, state.pid, log, 0.0, True
        )
        _print_banner(info, state.dags, state.aimops_home, out)
        return info
    if find_processes(home):
        out(f"leftover processes of {home} found; stopping them first")
        stop(home, out=out)
    if not _port_free(port):
        raise AirflowLocalError(f"port {port} is in use; choose another with --port")

    worker_log_port = free_port(exclude=(port,))
    trigger_log_port = free_port(exclude=(port, worker_log_port))
    run_env = airflow_env(
        home,
        port,
        dags,
        Path(aimops_home).resolve() if aimops_home is not None else None,
        worker_log_port=worker_log_port,
        trigger_log_port=trigger_log_port,
        base=env,
    )
    since = datetime.now(UTC) - timedelta(seconds=1)
    out(f"starting airflow standalone: home {home}, port {port}, DAGs {dags}")
    out(f"  AIMOPS_HOME={run_env['AIMOPS_HOME']}  log: {log}")
    with log.open("ab") as log_file:
        log_offset = log_file.tell()
        log_file.write(f"\n===== aimops airflow_local start {since.isoformat()} =====\n".encode())
        log_file.flush()
        process = subprocess.Popen(
            [str(_airflow_executable()), "standalone"],
            cwd=home,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session and process group: pgid == pid
        )
    _CHILDREN[process.pid] = process
    (home / PID_FILE).write_text(f"{process.pid}\n")
    state = State(
        pid=process.pid,
        pgid=process.pid,
        port=port,
        dags=str(dags),
        aimops_home=run_env["AIMOPS_HOME"],
        started_at=since.isoformat(),
        worker_log_port=worker_log_port,
        trigger_log_port=trigger_log_port,
    )
    (home / STATE_FILE).write_text(json.dumps(asdict(state), indent=2) + "\n")
    out(f"  pid / process group {process.pid} (written to {home / PID_FILE})")

    try:
        client = AirflowClient(f"http://{HOST}:{port}")
        seconds = wait_healthy(
            client, process, log, since, timeout=timeout, log_offset=log_offset, out=out
        )
        username, password = _wait_for_credentials(home, process, timeout=10.0)
    except BaseException as exc:
        reason = "start failed" if isinstance(exc, Exception) else f"interrupted ({exc!r})"
        out(f"{reason}: stopping what was started")
        with _signals_ignored():
            stop(home, out=out)
        raise
    info = StartInfo(
        home,
        port,
        f"http://{HOST}:{port}",
        username,
        password,
        process.pid,
        log,
        seconds,
        False,
        process,
    )
    out(f"healthy after {seconds:.1f} s")
    _print_banner(info, str(dags), run_env["AIMOPS_HOME"], out)
    return info


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it (not resolving links)."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def _print_banner(info: StartInfo, dags: str, aimops_home: str, out: Printer) -> None:
    me = f"{_shown_path(sys.executable)} {_shown_path(__file__)}"
    home_arg = "" if info.home == DEFAULT_HOME else f" --home {info.home}"
    out("")
    out(f"  Airflow UI:   {info.url}/")
    out(f"  login:        {info.username} / {info.password}")
    out(f"                (from {info.home / PASSWORDS_FILE})")
    out(f"  DAGs folder:  {dags}")
    out(f"  AIMOPS_HOME:  {aimops_home}")
    out(f"  log:          {info.log}")
    out(f"  trigger:      {me} trigger DAG_ID --wait{home_arg}")
    out(f"  stop:         {me} stop{home_arg}")
    out("")


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


class _Stop(BaseException):
    """A stop signal (SIGINT/SIGTERM/SIGHUP) arrived: unwind like Ctrl-C."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _follow(process: subprocess.Popen[bytes], log: Path, show_log: bool) -> int:
    """Wait for ``process``, printing new log lines; ``_Stop`` / Ctrl-C end the wait."""
    with log.open("rb") as stream:
        stream.seek(0, os.SEEK_END)
        while process.poll() is None:
            chunk = stream.read()
            if chunk and show_log:
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
            time.sleep(0.5)
    return int(process.returncode)


def _cmd_start(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    # Also while waiting for health: whatever was started is stopped again (see start()).
    # SIGINT is set explicitly: a shell's background job inherits it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stop)
    info = start(
        home, port=args.port, dags=args.dags, aimops_home=args.aimops_home, timeout=args.timeout
    )
    if not args.foreground:
        return 0
    if info.process is None:
        _print("(it was started elsewhere: not following it; use `stop` to end it)")
        return 0
    _print(f"running in the foreground; Ctrl-C stops Airflow. Following {info.log}:")
    try:
        code = _follow(info.process, info.log, show_log=not args.quiet)
        _print(f"airflow standalone exited by itself with code {code}; cleaning up")
        stop(home)
        return code or 1
    except (KeyboardInterrupt, _Stop) as exc:
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc)
        _print(f"\n{why}: stopping Airflow")
        with _signals_ignored():  # a second Ctrl-C must not leave Airflow half stopped
            return 0 if stop(home).clean else 1


def _cmd_stop(args: argparse.Namespace) -> int:
    return 0 if stop(args.home, grace=args.grace).clean else 1


def _cmd_status(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    state = running_state(home)
    procs = find_processes(home, state.pgid if state else None)
    if state is None:
        extra = f"; but {len(procs)} leftover process(es): run `stop`" if procs else ""
        _print(f"Airflow for {home}: not running{extra}")
        return 1
    _print(f"Airflow for {home}: running, pid/process group {state.pgid}, {len(procs)} processes")
    _print(f"  UI http://{HOST}:{state.port}/  DAGs {state.dags}  AIMOPS_HOME {state.aimops_home}")
    try:
        health = AirflowClient(f"http://{HOST}:{state.port}").health()
    except (OSError, AirflowApiError, ValueError) as exc:
        _print(f"  health: API not answering ({exc})")
        return 2
    since = datetime.fromisoformat(state.started_at)
    states = _component_states(health, since)
    _print("  health: " + ", ".join(f"{k}={v}" for k, v in states.items()))
    with contextlib.suppress(AirflowLocalError):
        username, password = read_credentials(home)
        _print(f"  login: {username} / {password}")
    return 0 if all(states.get(n) == "healthy" for n in REQUIRED_COMPONENTS) else 2


def _cmd_trigger(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    try:
        conf = json.loads(args.conf) if args.conf else {}
    except ValueError as exc:
        raise AirflowLocalError(f"--conf is not valid JSON: {exc}") from exc
    if not isinstance(conf, dict):
        raise AirflowLocalError("--conf must be a JSON object")
    if running_state(home) is None and args.port is None:
        raise AirflowLocalError(f"Airflow for {home} is not running: run `start` first")
    client = AirflowClient.for_home(home, args.port)
    client.wait_for_dag(args.dag_id, timeout=args.parse_timeout, out=_print)
    client.set_paused(args.dag_id, False)
    run = client.trigger(args.dag_id, conf)
    run_id = run["dag_run_id"]
    _print(f"triggered {args.dag_id}: run_id {run_id} (state {run['state']})")
    _print(f"  {client.base_url}/dags/{_quote(args.dag_id)}/runs/{_quote(run_id)}")
    if not args.wait:
        return 0
    started = time.monotonic()
    final = client.wait_for_run(args.dag_id, run_id, timeout=args.timeout, out=_print)
    _print(f"run {run_id} finished: {final} after {time.monotonic() - started:.1f} s")
    return 0 if final == "success" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow_local.py", description="Run a local Airflow standalone for aimops."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_home(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--home", default=str(DEFAULT_HOME), help="AIRFLOW_HOME (default: %(default)s)"
        )

    p = sub.add_parser("start", help="start airflow standalone and wait until it is healthy")
    add_home(p)
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="api-server port (default: %(default)s)"
    )
    p.add_argument("--dags", default=str(DEFAULT_DAGS), help="DAGs folder (default: %(default)s)")
    p.add_argument(
        "--aimops-home",
        default=None,
        help=f"AIMOPS_HOME for the tasks (default: $AIMOPS_HOME, else {DEFAULT_AIMOPS_HOME})",
    )
    p.add_argument(
        "--timeout", type=float, default=START_TIMEOUT, help="seconds to wait for health"
    )
    p.add_argument(
        "--foreground", action="store_true", help="stay attached; Ctrl-C/SIGTERM stop it"
    )
    p.add_argument("--quiet", action="store_true", help="with --foreground: do not echo the log")
    p.set_defaults(func=_cmd_start)

    p = sub.add_parser("stop", help="stop everything started for this home and verify")
    add_home(p)
    p.add_argument(
        "--grace", type=float, default=STOP_GRACE, help="seconds between SIGTERM and SIGKILL"
    )
    p.set_defaults(func=_cmd_stop)

    p = sub.add_parser("status", help="is it running, and healthy?")
    add_home(p)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("trigger", help="unpause and trigger a DAG through the REST API")
    add_home(p)
    p.add_argument("dag_id")
    p.add_argument(
        "--port", type=int, default=None, help="api-server port (default: the running one)"
    )
    p.add_argument("--conf", default=None, help="run conf as a JSON object")
    p.add_argument(
        "--wait", action="store_true", help="wait for the run; exit 1 unless it succeeds"
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the run")
    p.add_argument("--parse-timeout", type=float, default=60.0, help="seconds to wait for the DAG")
    p.set_defaults(func=_cmd_trigger)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AirflowLocalError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (KeyboardInterrupt, _Stop) as exc:
        print(f"interrupted ({exc or 'SIGINT'})", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
