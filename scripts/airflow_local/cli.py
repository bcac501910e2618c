"""The command line: ``python -m airflow_local start|stop|status|trigger``.

Usage (with the project's virtualenv, e.g. ``.venv/bin/python -m airflow_local ...``)::

    start   [--home DIR] [--port 8080] [--dags DIR] [--aimops-home DIR] [--timeout S]
            [--no-mlflow-ui] [--foreground [--quiet]]
    stop    [--home DIR] [--grace S]
    status  [--home DIR]
    trigger DAG_ID [--home DIR] [--port N] [--conf JSON] [--wait] [--timeout S]

``start`` also runs MLflow's web UI on the examples' tracking store, for the tasks' "MLflow run"
links (not with ``--no-mlflow-ui``, nor when ``AIMOPS_MLFLOW_UI_URL`` names one already).
``start --foreground`` stays attached: Ctrl-C, SIGTERM or SIGHUP stop Airflow and every process
it started, MLflow's UI included (``make airflow``). Errors are printed in one line, exit
status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from urllib.parse import quote

from airflow_local import mlflow_server
from airflow_local.client import AirflowClient
from airflow_local.errors import AirflowLocalError
from airflow_local.health import REQUIRED_COMPONENTS, START_TIMEOUT, component_states
from airflow_local.home import (
    DEFAULT_AIMOPS_HOME,
    DEFAULT_DAGS,
    DEFAULT_HOME,
    DEFAULT_PORT,
    HOST,
    read_credentials,
    read_state,
)
from airflow_local.output import print_line
from airflow_local.processes import find_processes
from airflow_local.standalone import (
    STOP_GRACE,
    running_state,
    signals_ignored,
    start,
    stop,
)


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
        home,
        port=args.port,
        dags=args.dags,
        aimops_home=args.aimops_home,
        timeout=args.timeout,
        mlflow_ui=args.mlflow_ui,
    )
    if not args.foreground:
        return 0
    if info.process is None:
        print_line("(it was started elsewhere: not following it; use `stop` to end it)")
        return 0
    print_line(f"running in the foreground; Ctrl-C stops Airflow. Following {info.log}:")
    try:
        code = _follow(info.process, info.log, show_log=not args.quiet)
        print_line(f"airflow standalone exited by itself with code {code}; cleaning up")
        stop(home)
        return code or 1
    except (KeyboardInterrupt, _Stop) as exc:
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc)
        print_line(f"\n{why}: stopping Airflow")
        with signals_ignored():  # a second Ctrl-C must not leave Airflow half stopped
            return 0 if stop(home).clean else 1


def _cmd_stop(args: argparse.Namespace) -> int:
    return 0 if stop(args.home, grace=args.grace).clean else 1


def _cmd_status(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    state = running_state(home)
    procs = find_processes(home, state.pgid if state else None)
    if state is None:
        extra = f"; but {len(procs)} leftover process(es): run `stop`" if procs else ""
        print_line(f"Airflow for {home}: not running{extra}")
        return 1
    print_line(
        f"Airflow for {home}: running, pid/process group {state.pgid}, {len(procs)} processes"
    )
    print_line(
        f"  UI http://{HOST}:{state.port}/  DAGs {state.dags}  AIMOPS_HOME {state.aimops_home}"
    )
    if state.mlflow_ui_url:
        print_line(f"  MLflow UI {state.mlflow_ui_url.rstrip('/')}/")
    client = AirflowClient(f"http://{HOST}:{state.port}")
    try:
        states = component_states(client, datetime.fromisoformat(state.started_at))
    except (AirflowLocalError, ValueError) as exc:
        print_line(f"  health: API not answering ({exc})")
        return 2
    if state.mlflow_ui_started and state.mlflow_ui_url:
        answers = mlflow_server.answers(state.mlflow_ui_url)
        states["mlflow_ui"] = "healthy" if answers else "not answering"
    print_line("  health: " + ", ".join(f"{k}={v}" for k, v in states.items()))
    with contextlib.suppress(AirflowLocalError):
        username, password = read_credentials(home)
        print_line(f"  login: {username} / {password}")
    required = (*REQUIRED_COMPONENTS, *(["mlflow_ui"] if "mlflow_ui" in states else []))
    return 0 if all(states.get(n) == "healthy" for n in required) else 2


def _client_for(home: Path, port: int | None) -> AirflowClient:
    """A client for the server started for ``home`` (port from its state file)."""
    if port is None:
        state = read_state(home)
        port = state.port if state else DEFAULT_PORT
    username, password = read_credentials(home)
    return AirflowClient(f"http://{HOST}:{port}", username, password)


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
    client = _client_for(home, args.port)
    client.wait_for_dag(args.dag_id, timeout=args.parse_timeout, out=print_line)
    client.set_paused(args.dag_id, False)
    run = client.trigger(args.dag_id, conf)
    run_id = run.dag_run_id
    print_line(f"triggered {args.dag_id}: run_id {run_id} (state {run.state.value})")
    dag_path, run_path = quote(args.dag_id, safe=""), quote(run_id, safe="")
    print_line(f"  {client.base_url}/dags/{dag_path}/runs/{run_path}")
    if not args.wait:
        return 0
    started = time.monotonic()
    final = client.wait_for_run(args.dag_id, run_id, timeout=args.timeout, out=print_line)
    print_line(f"run {run_id} finished: {final} after {time.monotonic() - started:.1f} s")
    return 0 if final == "success" else 1


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home", default=str(DEFAULT_HOME), help="AIRFLOW_HOME (default: %(default)s)"
    )


def _add_start(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("start", help="start airflow standalone and wait until it is healthy")
    _add_home(p)
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
        "--no-mlflow-ui",
        dest="mlflow_ui",
        action="store_false",
        help="do not run MLflow's web UI beside Airflow",
    )
    p.add_argument(
        "--foreground", action="store_true", help="stay attached; Ctrl-C/SIGTERM stop it"
    )
    p.add_argument("--quiet", action="store_true", help="with --foreground: do not echo the log")
    p.set_defaults(func=_cmd_start)


def _add_trigger(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("trigger", help="unpause and trigger a DAG through the REST API")
    _add_home(p)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_local", description="Run a local Airflow standalone for aimops."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_start(sub)
    p = sub.add_parser("stop", help="stop everything started for this home and verify")
    _add_home(p)
    p.add_argument(
        "--grace", type=float, default=STOP_GRACE, help="seconds between SIGTERM and SIGKILL"
    )
    p.set_defaults(func=_cmd_stop)
    p = sub.add_parser("status", help="is it running, and healthy?")
    _add_home(p)
    p.set_defaults(func=_cmd_status)
    _add_trigger(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AirflowLocalError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (KeyboardInterrupt, _Stop) as exc:
        print(f"interrupted ({exc or 'SIGINT'})", file=sys.stderr, flush=True)
        return 130
