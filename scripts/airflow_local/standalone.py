"""``airflow standalone`` for one Airflow home: start it, wait until healthy, stop it.

:func:`start` runs it in its own process group (Airflow home ``<repo>/.airflow`` by default,
DAGs from ``<repo>/dags_examples``, the AIM store in ``<repo>/.aimops-demo`` like ``make
demo``), with MLflow's web UI beside it on the examples' tracking store
(:mod:`airflow_local.mlflow_server`, its address exported as ``AIMOPS_MLFLOW_UI_URL``), waits until
the scheduler and the DAG processor report healthy (:mod:`airflow_local.health`) and the MLflow
UI answers, and prints both addresses and the login. :func:`stop` ends every process of the
group or the home (:mod:`airflow_local.processes`), MLflow's included, and verifies that none is
left.

Example::

    info = start("/tmp/af", port=18080, aimops_home="/tmp/aim")
    info.client().trigger("train_model")
    stop("/tmp/af")
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_local import mlflow_server, processes
from airflow_local.client import AirflowClient
from airflow_local.errors import AirflowLocalError
from airflow_local.health import START_TIMEOUT, wait_healthy
from airflow_local.home import (
    DEFAULT_AIMOPS_HOME,
    DEFAULT_DAGS,
    DEFAULT_HOME,
    DEFAULT_PORT,
    HOST,
    LOG_FILE,
    PASSWORDS_FILE,
    PID_FILE,
    REPO,
    State,
    clear_state,
    read_credentials,
    read_pid,
    read_state,
    write_state,
)
from airflow_local.output import Printer, print_line
from airflow_local.processes import StopReport, find_processes, group_is_ours

STOP_GRACE = 20.0


@dataclass
class StartInfo:
    """A running server: where it answers, its login, its process group leader and log."""

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
    #: MLflow's web UI the tasks' "MLflow run" links open (None: none known).
    mlflow_ui_url: str | None = None

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, self.username, self.password)


# -- environment and ports ------------------------------------------------------------------


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


def isolated_env(aimops_home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without the caller's Airflow, aimops and
    MLflow store settings (MLflow's own ``set_tracking_uri`` exports one into ``os.environ``),
    with ``AIMOPS_HOME`` set: what tests and benchmarks start a throwaway Airflow with. No
    ``AIMOPS_UI_URL`` (no "AIM step" link) and no ``AIMOPS_MLFLOW_UI_URL`` (:func:`start` runs
    MLflow's UI and exports its address)."""
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.startswith(("AIRFLOW_", "AIRFLOW__", "AIMOPS_"))
        and key not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env["AIMOPS_HOME"] = str(aimops_home)
    return env


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
            processes.MARKER_ENV: str(home),
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


# -- start and stop ---------------------------------------------------------------------------


def running_state(home: Path) -> State | None:
    """The recorded state when the recorded process group is still alive, else ``None``."""
    state = read_state(home)
    if state is None or not group_is_ours(state.pgid, home):
        return None
    return state


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
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


def _already_running(home: Path, state: State, port: int, out: Printer) -> StartInfo:
    if state.port != port:
        raise AirflowLocalError(
            f"Airflow for {home} already runs on port {state.port} (pid {state.pid}): stop it first"
        )
    username, password = read_credentials(home)
    out(f"Airflow for {home} is already running (pid {state.pid}).")
    url = f"http://{HOST}:{port}"
    info = StartInfo(home, port, url, username, password, state.pid, home / LOG_FILE, 0.0, True)
    info.mlflow_ui_url = state.mlflow_ui_url
    _print_banner(info, state.dags, state.aimops_home, out)
    return info


def _launch(
    home: Path, env: dict[str, str], since: datetime
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``airflow standalone`` in a new session; the process and where its log begins."""
    with (home / LOG_FILE).open("ab") as log_file:
        log_offset = log_file.tell()
        log_file.write(f"\n===== aimops airflow_local start {since.isoformat()} =====\n".encode())
        log_file.flush()
        process = subprocess.Popen(
            [str(_airflow_executable()), "standalone"],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session and process group: pgid == pid
        )
    processes.CHILDREN[process.pid] = process
    return process, log_offset


def start(
    home: Path | str = DEFAULT_HOME,
    *,
    port: int = DEFAULT_PORT,
    dags: Path | str = DEFAULT_DAGS,
    aimops_home: Path | str | None = None,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
    mlflow_ui: bool = True,
    out: Printer = print_line,
) -> StartInfo:
    """Start ``airflow standalone`` for ``home``, and MLflow's UI beside it unless
    ``mlflow_ui`` is false (or ``env`` names one already, see :func:`mlflow_server.plan`); wait
    until both answer.

    ``env`` replaces ``os.environ`` as the base environment (tests pass their own);
    ``aimops_home`` defaults to its AIMOPS_HOME, else ``<repo>/.aimops-demo``. On any
    failure (including Ctrl-C) everything started is stopped again before raising.
    """
    home, dags = Path(home).resolve(), Path(dags).resolve()
    if not dags.is_dir():
        raise AirflowLocalError(f"DAGs folder {dags} does not exist")
    home.mkdir(parents=True, exist_ok=True)
    state = running_state(home)
    if state is not None:
        return _already_running(home, state, port, out)
    if find_processes(home):
        out(f"leftover processes of {home} found; stopping them first")
        stop(home, out=out)
    if not _port_free(port):
        raise AirflowLocalError(f"port {port} is in use; choose another with --port")

    worker_log_port = free_port(exclude=(port,))
    trigger_log_port = free_port(exclude=(port, worker_log_port))
    resolved_aimops_home = Path(aimops_home).resolve() if aimops_home is not None else None
    run_env = airflow_env(
        home,
        port,
        dags,
        resolved_aimops_home,
        worker_log_port=worker_log_port,
        trigger_log_port=trigger_log_port,
        base=env,
    )
    ui = mlflow_server.plan(
        run_env,
        Path(run_env["AIMOPS_HOME"]).expanduser().resolve(),
        free_port(exclude=(port, worker_log_port, trigger_log_port)) if mlflow_ui else None,
    )
    if ui.url is not None:  # the user's, or the one started here: the links' target
        run_env[mlflow_server.UI_URL_ENV] = ui.url
    since = datetime.now(UTC) - timedelta(seconds=1)
    log = home / LOG_FILE
    out(f"starting airflow standalone: home {home}, port {port}, DAGs {dags}")
    out(f"  AIMOPS_HOME={run_env['AIMOPS_HOME']}  log: {log}")
    process, log_offset = _launch(home, run_env, since)
    state = State(
        pid=process.pid,
        pgid=process.pid,
        port=port,
        dags=str(dags),
        aimops_home=run_env["AIMOPS_HOME"],
        started_at=since.isoformat(),
        worker_log_port=worker_log_port,
        trigger_log_port=trigger_log_port,
        mlflow_ui_url=ui.url,
        mlflow_ui_started=ui.serves is not None,
    )
    write_state(home, state)
    out(f"  pid / process group {process.pid} (written to {home / PID_FILE})")

    try:
        ui_process = _launch_mlflow_ui(home, ui, run_env, out)
        client = AirflowClient(f"http://{HOST}:{port}")
        seconds = wait_healthy(
            client, process, log, since, timeout=timeout, log_offset=log_offset, out=out
        )
        username, password = _wait_for_credentials(home, process, timeout=10.0)
        if ui_process is not None and ui.url is not None:
            ui_log = home / mlflow_server.LOG_FILE
            mlflow_server.wait_ready(ui.url, ui_process, ui_log, max(10.0, timeout - seconds))
    except BaseException as exc:
        reason = "start failed" if isinstance(exc, Exception) else f"interrupted ({exc!r})"
        out(f"{reason}: stopping what was started")
        with signals_ignored():
            stop(home, out=out)
        raise
    url = f"http://{HOST}:{port}"
    info = StartInfo(home, port, url, username, password, process.pid, log, seconds, False, process)
    info.mlflow_ui_url = state.mlflow_ui_url
    out(f"healthy after {seconds:.1f} s")
    _print_banner(info, str(dags), run_env["AIMOPS_HOME"], out)
    return info


def _launch_mlflow_ui(
    home: Path, ui: mlflow_server.UiPlan, env: Mapping[str, str], out: Printer
) -> subprocess.Popen[bytes] | None:
    """Start MLflow's UI when ``ui`` says so (it serves ``ui.serves``); None otherwise."""
    if ui.serves is None:
        return None
    process = mlflow_server.launch(home, ui, env)
    processes.CHILDREN[process.pid] = process
    out(f"starting MLflow's UI on {ui.serves}: {ui.url}/")
    out(f"  log: {home / mlflow_server.LOG_FILE}")
    return process


def stop(
    home: Path | str = DEFAULT_HOME, *, grace: float = STOP_GRACE, out: Printer = print_line
) -> StopReport:
    """Stop everything started for ``home``: SIGTERM the group, then SIGKILL; verify; idempotent."""
    home = Path(home).resolve()
    pgid = read_pid(home)
    if pgid is not None and not group_is_ours(pgid, home):
        pgid = None  # gone, or the id now belongs to someone else's process group
    procs = find_processes(home, pgid)
    if not procs:
        clear_state(home)
        out(f"Airflow for {home} is not running; no process left.")
        return StopReport(str(home), pgid)
    report = processes.terminate(home, pgid, procs, grace, out)
    if report.survivors:
        for proc in report.survivors:
            out(f"  SURVIVOR pid {proc.pid} (pgid {proc.pgid}, {proc.status}): {proc.cmdline}")
        out(f"NOT clean: {len(report.survivors)} process(es) of {home} survived SIGKILL")
    else:
        clear_state(home)
        out(f"stopped in {report.seconds:.1f} s; verified: no process of the group or home left.")
    return report


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it (not resolving links)."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def command_line() -> str:
    """How to run this command line again: this Python with ``-m airflow_local``."""
    return f"{_shown_path(sys.executable)} -m airflow_local"


def _print_banner(info: StartInfo, dags: str, aimops_home: str, out: Printer) -> None:
    me = command_line()
    home_arg = "" if info.home == DEFAULT_HOME else f" --home {info.home}"
    out("")
    out(f"  Airflow UI:   {info.url}/")
    if info.mlflow_ui_url:
        out(f"  MLflow UI:    {info.mlflow_ui_url.rstrip('/')}/")
    out(f"  login:        {info.username} / {info.password}")
    out(f"                (from {info.home / PASSWORDS_FILE})")
    out(f"  DAGs folder:  {dags}")
    out(f"  AIMOPS_HOME:  {aimops_home}")
    out(f"  log:          {info.log}")
    out(f"  trigger:      {me} trigger DAG_ID --wait{home_arg}")
    out(f"  stop:         {me} stop{home_arg}")
    out("")
