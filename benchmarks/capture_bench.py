"""Benchmark of what the aimops capture costs a task, against OpenLineage's listener.

Run: ``.venv/bin/python benchmarks/capture_bench.py`` (``--tasks 30``; ``--per-process-tasks
12``; ``--quick`` for a smoke run of 5 and 4 tasks; ``--modes`` to pick; ``--json PATH`` to write
the figures; ``--help``).

Method. One DAG of ``--tasks`` independent no-op ``@task`` functions (a real Python task each:
an ``EmptyOperator`` may be skipped without running), tagged ``aimops``, is written to a
temporary dags folder. It is then run once per mode, each run in a fresh subprocess with a
fresh ``AIRFLOW_HOME`` (SQLite metadata DB made by ``initdb()``, no examples, telemetry off)
and a fresh ``AIMOPS_HOME``:

- ``off``: ``AIMOPS_CAPTURE=off``, OpenLineage disabled (the baseline: pluggy's dispatch and
  aimops' early return);
- ``aimops``: capture on into the embedded SQLite store, OpenLineage disabled;
- ``openlineage``: ``AIMOPS_CAPTURE=off``, OpenLineage provider on with the file transport,
  in its default mode (a child forked per task event, waited for);
- ``openlineage-thread``: the same with ``[openlineage] execute_in_thread = True`` (a thread
  per event, joined with ``execution_timeout``).

Inside the subprocess the DAG file is imported, written to Airflow's DB (``dag.test()`` only
runs serialized DAGs; the same internal calls as ``tests/operators/conftest.py``) and run with
``dag.test()``, where every task and every listener hook runs in that one process. Before the
run, pluggy hook-call monitoring is added to both listener managers (the Task SDK's, which
fires the task-instance hooks, and the core one, which fires the DAG-run hooks): each
``on_task_instance_*`` call is timed with ``perf_counter_ns`` around all its implementations
together, the same way for every listener, and each implementation is also timed on its own.
The whole ``dag.test()`` is timed too, but its wall time mostly shows Airflow's own ~2-4 s per
task (the in-process execution API is built per task) and varies by seconds between runs.

Per-process modes. Under ``dag.test()`` every task shares one process, so aimops' store stays
open and its cache of operations already written stays warm; in real Airflow (LocalExecutor,
Celery, Kubernetes) every task instance runs in a process of its own, whose first event also
pays loading aimops' store modules and opening the store (and OpenLineage forks per event in
every process). Two more modes measure that under a real ``airflow standalone`` (LocalExecutor,
``AIRFLOW__CORE__PARALLELISM=2``, started and stopped with the ``airflow_local`` controller
(``scripts/airflow_local``) in a fresh ``AIRFLOW_HOME`` and ``AIMOPS_HOME``), with
``--per-process-tasks`` tasks (12 by default, to keep the time down), where a LocalExecutor
worker forks one process per task instance:

- ``aimops-per-process``: capture on, OpenLineage disabled;
- ``openlineage-per-process``: ``AIMOPS_CAPTURE=off``, OpenLineage in its default mode.

``dag.test(use_executor=True)`` was not used: in Airflow 3.2.2 its LocalExecutor workers
supervise tasks against an HTTP execution API server all the same (``execution_api_server_url``),
so it is no simpler than standalone, and less real (no scheduler). The hooks are timed in
every Airflow process by ``benchmarks/process_hooks.py``, loaded by a generated
``sitecustomize.py`` on ``PYTHONPATH``: the same pluggy hook-call monitoring as below, added to
each listener manager as it is created, one JSON line per hook call (hook, pid, ns, aimops'
capture steps). The run must show every task's hooks in one process, a different one per task,
and the store must hold the run with one successful attempt per task (aimops) or the file one
START and COMPLETE per task (OpenLineage). Figures: per task event median and p95, and the
first task event of each process apart from the later ones (with 2 events per task, the first
is ``on_task_instance_running`` and the later one ``..._success``; under ``dag.test()`` the
only first event is the run's very first), and where aimops' first events spend their time.

Afterwards the run is checked: in ``aimops`` mode the store must hold the run and one step per
task with exactly one successful attempt, and every event must have been stored (none spooled
or dropped); in the OpenLineage modes the file must hold a START and a COMPLETE event for every
task. A mode that did not do its work fails the benchmark (exit status 1).

When aimops' median misses its goal (or with ``--profile always``), one more aimops run
profiles the listener with cProfile over every task event but the first, and the top entries
per event are printed below the table (that run is not in the table: profiling inflates times).

Anchors (``../shared/STACK-NOTES.md``, "Capture cost", measured the same way): OpenLineage
2.20.3 took a median ~87 ms per task event in its default mode (p95 ~125 ms) and ~15 ms with
``execute_in_thread``; a bare listener doing one SQLite INSERT + COMMIT (WAL, kept connection)
~1.2 ms. Goal: aimops < 3 ms median on SQLite, and more than 25x below OpenLineage's default
as measured here, in the same invocation on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_support import (
    environment,
    fmt,
    git_state,
    log,
    names_from,
    profile_lines,
    render_table,
    run_child,
    summary_ms,
    working_directory,
    write_dag_to_db,
    write_figures,
)
from process_hooks import plugin_label

if TYPE_CHECKING:
    from airflow_local import AirflowClient

HERE = Path(__file__).resolve().parent
DAG_ID = "aimops_capture_bench"
TASK_HOOKS = (
    "on_task_instance_running",
    "on_task_instance_success",
    "on_task_instance_failed",
    "on_task_instance_skipped",
)
AIMOPS_TABLES = ("aim_entities", "aim_aspects", "aim_aspect_fields", "aim_edges")

ANCHORS = {
    "openlineage_default_median_ms": 87.0,
    "openlineage_default_p95_ms": 125.0,
    "openlineage_thread_median_ms": 15.0,
    "bare_sqlite_insert_listener_ms": 1.2,
    "bare_sqlite_new_connection_ms": 3.7,
    "aimops_median_goal_ms": 3.0,
    "speedup_vs_openlineage_goal": 25.0,
}


@dataclass(frozen=True)
class Mode:
    """One configuration of the listeners, run in its own subprocess."""

    name: str
    capture: bool  # aimops capture on
    openlineage: str | None  # None (disabled), "fork" (its default) or "thread"
    anchor: str  # what the row is compared against
    per_process: bool = False  # real ``airflow standalone``: a process per task instance


MODES = (
    Mode("off", False, None, "baseline: dispatch + aimops off-path"),
    Mode("aimops", True, None, "goal < 3 ms; bare 1-INSERT listener ~1.2 ms"),
    Mode("openlineage", False, "fork", "~87 ms median, p95 ~125 ms (STACK-NOTES)"),
    Mode("openlineage-thread", False, "thread", "~15 ms median (STACK-NOTES)"),
    Mode("aimops-per-process", True, None, "standalone, a process per task (vs aimops)", True),
    Mode(
        "openlineage-per-process",
        False,
        "fork",
        "standalone, a process per task (vs openlineage)",
        True,
    ),
)
MODE_NAMES = tuple(mode.name for mode in MODES)


# -- the DAG and the subprocess environment -------------------------------------------------


def dag_source(tasks: int) -> str:
    """A DAG file of ``tasks`` independent no-op Python tasks, opted in to aimops capture."""
    return textwrap.dedent(
        f'''\
        """{tasks} no-op tasks: what the capture costs a task, and nothing else."""

        from airflow.sdk import DAG, task

        with DAG({DAG_ID!r}, schedule=None, tags=["aimops"]) as dag:

            @task
            def noop() -> None:
                return None

            for index in range({tasks}):
                noop.override(task_id=f"noop_{{index:03d}}")()
        '''
    )


def mode_env(mode: Mode, workdir: Path) -> dict[str, str]:
    """The subprocess environment: this one without any Airflow/aimops/OpenLineage setting."""
    dropped = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIMOPS_", "OPENLINEAGE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    home = workdir / "airflow"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(workdir.parent / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "AIMOPS_HOME": str(workdir / "aimops"),
            "AIMOPS_CAPTURE": "on" if mode.capture else "off",
        }
    )
    if mode.openlineage is None:
        env["AIRFLOW__OPENLINEAGE__DISABLED"] = "true"
    else:
        transport = {"type": "file", "log_file_path": str(workdir / "ol.jsonl"), "append": True}
        env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(transport)
        env["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] = str(mode.openlineage == "thread")
    return env


# -- the parent: one subprocess per mode, then checks ----------------------------------------


def run_mode(mode: Mode, dag_file: Path, root: Path, profile: bool = False) -> dict[str, Any]:
    """Run the DAG once under ``mode`` in a fresh subprocess; its measurements, checked."""
    workdir = root / (mode.name + ("-profile" if profile else ""))
    workdir.mkdir(parents=True)
    spec = {
        "mode": mode.name,
        "dag_file": str(dag_file),
        "output": str(workdir / "child.json"),
        "profile": str(workdir / "events.prof") if profile else None,
    }
    return run_child(__file__, spec, workdir, mode_env(mode, workdir), f"mode {mode.name}")


def task_event_ms(result: dict[str, Any]) -> list[float]:
    """Milliseconds of every task-instance hook call, in the order they happened."""
    return [c["ns"] / 1e6 for c in result["calls"] if c["hook"] in TASK_HOOKS]


def listener_ms(result: dict[str, Any], listener: str) -> list[float]:
    """Milliseconds that one listener's implementation took, per task-instance hook call."""
    found = []
    for call in result["calls"]:
        if call["hook"] in TASK_HOOKS and listener in call["impls"]:
            found.append(call["impls"][listener] / 1e6)
    return found


def check_hooks(result: dict[str, Any], tasks: int) -> list[str]:
    """Every task ran once and succeeded, with one running and one success hook call each."""
    problems = []
    if result["dag_run"]["state"] != "success":
        problems.append(f"the DAG run ended {result['dag_run']['state']!r}")
    seen = Counter((c["hook"], c["task_id"]) for c in result["calls"] if c["hook"] in TASK_HOOKS)
    for hook in ("on_task_instance_running", "on_task_instance_success"):
        count = sum(1 for (name, _), n in seen.items() if name == hook and n == 1)
        if count != tasks:
            problems.append(f"{count} of {tasks} tasks had exactly one {hook} call")
    extra = sum(n for (name, _), n in seen.items() if name not in TASK_HOOKS[:2])
    if extra:
        problems.append(f"{extra} failed/skipped task hook calls")
    return problems


def check_aimops(result: dict[str, Any], tasks: int) -> list[str]:
    """Every event was stored, and the store holds what the run did (:func:`check_store`)."""
    problems = []
    outcomes = Counter(e["outcome"] for e in result["emits"])
    if set(outcomes) != {"stored"} or outcomes["stored"] < 2 * tasks:
        problems.append(f"capture outcomes {dict(outcomes)} (want all stored, >= {2 * tasks})")
    return problems + check_store(result, tasks)


def check_store(result: dict[str, Any], tasks: int) -> list[str]:
    """The store holds the run and one step per task, each with exactly one successful try."""
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn

    problems = []
    path = Path(result["workdir"]) / "aimops" / "aim.db"
    if not path.is_file():
        return [f"no store at {path}"]
    store = AimStore.open(f"sqlite:///{path}")
    try:
        run = run_urn("airflow", DAG_ID, result["dag_run"]["run_id"])
        if store.get_aspect(run, "runInfo") is None:
            problems.append(f"the store has no runInfo for {run}")
        steps = store.related(run, "partOf", incoming=True)
        good = 0
        for step in steps:
            attempts = store.get_aspect(step.urn, "stepAttempts")
            tries = attempts.value["attempts"] if attempts is not None else []
            good += len(tries) == 1 and tries[0].get("state") == "success"
        if len(steps) != tasks or good != tasks:
            problems.append(f"{len(steps)} steps, {good} with 1 successful attempt (want {tasks})")
        with store.engine.connect() as connection:
            result["rows"] = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                for table in AIMOPS_TABLES
            }
    finally:
        store.close()
    return problems


def read_openlineage(result: dict[str, Any]) -> dict[str, Any]:
    """What the OpenLineage file transport wrote: events by kind, their size and facets."""
    path = Path(result["workdir"]) / "ol.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    events = [json.loads(line) for line in lines if line.strip()]
    kinds: Counter[str] = Counter()
    task_events = []
    for event in events:
        is_task = event.get("job", {}).get("name", "").startswith(f"{DAG_ID}.")
        kinds[f"{'task' if is_task else 'dag'} {event.get('eventType')}"] += 1
        if is_task:
            task_events.append(event)
    facets = [
        len(e.get("run", {}).get("facets", {})) + len(e.get("job", {}).get("facets", {}))
        for e in task_events
    ]
    return {
        "events": len(events),
        "kinds": dict(kinds),
        "task_events": len(task_events),
        "bytes_per_task_event": statistics.fmean(len(json.dumps(e)) for e in task_events)
        if task_events
        else 0.0,
        "facets_per_task_event": statistics.fmean(facets) if facets else 0.0,
    }


def check_openlineage(result: dict[str, Any], tasks: int) -> list[str]:
    """The file holds a START and a COMPLETE event for every task."""
    emitted = result["openlineage"] = read_openlineage(result)
    problems = []
    for kind in ("START", "COMPLETE"):
        count = emitted["kinds"].get(f"task {kind}", 0)
        if count != tasks:
            problems.append(f"{count} task {kind} events in the OpenLineage file (want {tasks})")
    return problems


def check(mode: Mode, result: dict[str, Any], tasks: int) -> list[str]:
    problems = check_hooks(result, tasks)
    if mode.per_process:
        problems += check_processes(result, tasks) + result.get("stop_problems", [])
        if mode.capture:
            spool = Path(result["workdir"]) / "aimops" / "spool" / "events.jsonl"
            if spool.exists():
                problems.append(f"events were spooled ({spool})")
    if mode.capture:
        problems += check_aimops(result, tasks)
    elif result["emits"]:
        problems.append(f"capture is off but {len(result['emits'])} events were emitted")
    if mode.openlineage:
        problems += check_openlineage(result, tasks)
    return problems


# -- per-process modes: real ``airflow standalone`` -------------------------------------------

PROCESS_HOOKS = HERE / "process_hooks.py"
HOOK_LOG_ENV = "CAPTURE_BENCH_HOOK_LOG"  # process_hooks.LOG_ENV
START_TIMEOUT = 150.0
PARSE_TIMEOUT = 90.0
RUN_TIMEOUT = 240.0
RUN_GRACE = 30.0
SITECUSTOMIZE = """\
# Written by benchmarks/capture_bench.py: times listener hooks in every Airflow process.
import importlib.util
import sys

_spec = importlib.util.spec_from_file_location("capture_bench_process_hooks", {path!r})
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)
_module.install()
"""


def standalone_env(mode: Mode, workdir: Path) -> dict[str, str]:
    """:func:`mode_env`, plus the hook timing of ``process_hooks.py`` in every process."""
    env = mode_env(mode, workdir)
    site = workdir / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(path=str(PROCESS_HOOKS)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env[HOOK_LOG_ENV] = str(workdir / "hooks.jsonl")
    return env


def run_standalone(mode: Mode, dags: Path, root: Path) -> dict[str, Any]:
    """Run the DAG once under ``airflow standalone``; the hook calls of every process."""
    import airflow_local  # here: the ``--child`` processes of the other modes do without it

    workdir = root / mode.name
    workdir.mkdir(parents=True)
    home = workdir / "airflow"
    driver_log = (workdir / "driver.log").open("w")

    def out(message: str) -> None:
        driver_log.write(message + "\n")
        driver_log.flush()

    result: dict[str, Any] = {"workdir": str(workdir), "stop_problems": []}
    started = time.perf_counter()
    try:
        info = airflow_local.start(
            home,
            port=airflow_local.free_port(),
            dags=dags,
            aimops_home=workdir / "aimops",
            timeout=START_TIMEOUT,
            env=standalone_env(mode, workdir),
            mlflow_ui=False,  # the no-op tasks log nothing to MLflow
            out=out,
        )
        result["start_s"] = time.perf_counter() - started
        log(f"  standalone healthy after {result['start_s']:.0f} s (log {info.log})")
        client = info.client()
        mark = time.perf_counter()
        client.wait_for_dag(DAG_ID, timeout=PARSE_TIMEOUT)
        result["parse_s"] = time.perf_counter() - mark
        client.set_paused(DAG_ID, False)
        mark = time.perf_counter()
        run_id = client.trigger(DAG_ID, {}).dag_run_id
        state, result["task_states"] = wait_for_run(client, run_id)
        result["dag_wall_s"] = time.perf_counter() - mark
        result["dag_run"] = {"run_id": run_id, "state": state}
        if state not in ("success", "failed"):
            lines = info.log.read_text(errors="replace").splitlines()
            crashed = [line for line in lines if "Exception when executing SchedulerJob" in line]
            if crashed:
                result["stop_problems"].append(f"the scheduler loop crashed: {crashed[0].strip()}")
    finally:
        mark = time.perf_counter()
        stopped = airflow_local.stop(home, out=out)
        result["stop_s"] = time.perf_counter() - mark
        driver_log.close()
        if not stopped.clean:
            result["stop_problems"].append(f"processes survived the stop: {stopped.survivors}")
    result["process_s"] = time.perf_counter() - started
    hook_log = workdir / "hooks.jsonl"
    lines = hook_log.read_text().splitlines() if hook_log.is_file() else []
    records = [json.loads(line) for line in lines if line.strip()]
    errors = [r for r in records if r["hook"] in ("monitor_error", "patch_error")]
    result["stop_problems"] += [f"hook timing failed: {error}" for error in errors]
    every = sorted((r for r in records if r not in errors), key=lambda c: c["wall"])
    result["all_calls"] = every
    result["calls"] = [c for c in every if c["hook"] in TASK_HOOKS]
    result["emits"] = [e for c in every for e in c["emits"]]
    result["listeners"] = sorted({name for c in every for name in c["impls"]})
    return result


def wait_for_run(client: AirflowClient, run_id: str) -> tuple[str, dict[str, Any]]:
    """The run's end state and its tasks' states; ``stuck`` when the tasks end but it does not.

    A run whose tasks all ended is given ``RUN_GRACE`` seconds to end too (the scheduler sees
    it within a loop or two), so a broken scheduler fails the benchmark without a long wait.
    """
    deadline = time.monotonic() + RUN_TIMEOUT
    tasks_ended: float | None = None
    while True:
        state = client.get_run(DAG_ID, run_id).state.value
        tasks = client.task_states(DAG_ID, run_id)
        if state in ("success", "failed"):
            return state, tasks
        if tasks and all(value in ("success", "failed", "skipped") for value in tasks.values()):
            tasks_ended = tasks_ended or time.monotonic()
            if time.monotonic() - tasks_ended > RUN_GRACE:
                return f"{state}, stuck: every task ended {RUN_GRACE:.0f} s ago", tasks
        if time.monotonic() > deadline:
            return f"{state} after {RUN_TIMEOUT:.0f} s", tasks
        time.sleep(0.5)


def check_processes(result: dict[str, Any], tasks: int) -> list[str]:
    """Each task's hooks ran in one process, a different one per task and not the scheduler's."""
    pids: dict[str, set[int]] = {}
    for call in result["calls"]:
        pids.setdefault(call["task_id"], set()).add(call["pid"])
    problems = []
    shared = {task: sorted(found) for task, found in pids.items() if len(found) != 1}
    if shared:
        problems.append(f"tasks whose hooks ran in several processes: {shared}")
    distinct = {pid for found in pids.values() for pid in found}
    if len(distinct) != tasks or len(pids) != tasks:
        problems.append(f"{len(pids)} tasks ran in {len(distinct)} processes (want {tasks} each)")
    dag_run_pids = {c["pid"] for c in result["all_calls"] if c["hook"].startswith("on_dag_run")}
    if distinct & dag_run_pids:
        problems.append(f"task hooks ran in the process of the DAG-run hooks: {dag_run_pids}")
    return problems


def by_process(calls: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Milliseconds of each process's first task event, and of all the later ones.

    Calls without a pid (``dag.test()``) all come from the one process.
    """
    first: list[float] = []
    later: list[float] = []
    seen: set[int | None] = set()
    for call in calls:
        if call["hook"] not in TASK_HOOKS:
            continue
        pid = call.get("pid")
        (later if pid in seen else first).append(call["ns"] / 1e6)
        seen.add(pid)
    return first, later


def first_event_breakdown(result: dict[str, Any]) -> dict[str, Any]:
    """Where aimops spends the first task event of each process (medians, ms)."""
    firsts, seen = [], set()
    for call in result["calls"]:
        if call["pid"] not in seen:
            seen.add(call["pid"])
            firsts.append(call)
    if not firsts:
        return {}

    def median_of(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    def part(call: dict[str, Any], name: str) -> float:
        return float(call["phases"].get(name, 0)) / 1e6

    aimops = [c["impls"].get("aimops", 0) / 1e6 for c in firsts]
    parts = {
        "hook call": median_of([c["ns"] / 1e6 for c in firsts]),
        "aimops listener": median_of(aimops),
        "sink(): store modules import": median_of(
            [part(c, "sink") - part(c, "store_url") for c in firsts]
        ),
        "store URL (AimHook connection)": median_of([part(c, "store_url") for c in firsts]),
        "store open": median_of([part(c, "open") for c in firsts]),
        "write": median_of([part(c, "write") for c in firsts]),
        "rest of aimops (event build, checks)": median_of(
            [
                a - part(c, "sink") - part(c, "open") - part(c, "write")
                for a, c in zip(aimops, firsts, strict=True)
            ]
        ),
        "outside aimops (dispatch, other listeners)": median_of(
            [c["ns"] / 1e6 - a for a, c in zip(aimops, firsts, strict=True)]
        ),
    }
    later = [c for c in result["calls"] if c not in firsts]
    preloaded = Counter(name for c in firsts for name, yes in c["preloaded"].items() if yes)
    imported: Counter[str] = Counter()
    for call in firsts:
        imported.update(call.get("new_modules", {}))
    return {
        "medians_ms": parts,
        "processes": len(firsts),
        "preloaded_before_first_event": {m: preloaded.get(m, 0) for m in firsts[0]["preloaded"]},
        "modules_imported_per_first_event": {
            package: count / len(firsts) for package, count in imported.most_common()
        },
        "later_write_median_ms": median_of([part(c, "write") for c in later]),
    }


def lifecycle_ms(result: dict[str, Any]) -> dict[str, Any]:
    """Per-process lifecycle hooks of the task processes (``on_starting``, ``before_stopping``)."""
    task_pids = {c["pid"] for c in result["calls"]}
    found: dict[str, list[float]] = {}
    for call in result["all_calls"]:
        if call["pid"] in task_pids and call["hook"] in ("on_starting", "before_stopping"):
            found.setdefault(call["hook"], []).append(call["ns"] / 1e6)
    return {hook: summary_ms(values) for hook, values in found.items()}


# -- the table ------------------------------------------------------------------------------

HEADER = (
    "mode",
    "task events",
    "median ms",
    "p95 ms",
    "mean ms",
    "first ms",
    "procs",
    "1st/proc median ms",
    "later median ms",
    "listener median ms",
    "DAG wall s",
    "wall vs off",
    "anchor",
)


def listener_of(mode: Mode) -> str:
    return "openlineage" if mode.openlineage else "aimops"


def table_row(mode: Mode, figures: dict[str, Any], off_wall: float | None) -> list[str]:
    events = figures["task_events"]
    wall = figures["dag_wall_s"]
    return [
        mode.name,
        str(events["n"]),
        fmt(events.get("median_ms")),
        fmt(events.get("p95_ms")),
        fmt(events.get("mean_ms")),
        fmt(events.get("first_ms")),
        str(figures["first_of_process"].get("n", 0)),
        fmt(figures["first_of_process"].get("median_ms")),
        fmt(figures["later_events"].get("median_ms")),
        f"{fmt(figures['listener'].get('median_ms'))} ({listener_of(mode)})",
        fmt(wall, 1),
        "-" if off_wall is None or mode.per_process else f"{wall / off_wall:.2f}x",
        mode.anchor,
    ]


def ratio_lines(figures: dict[str, dict[str, Any]]) -> list[str]:
    aimops = figures.get("aimops", {}).get("task_events", {}).get("median_ms")
    lines = []
    goal = ANCHORS["aimops_median_goal_ms"]
    if aimops is not None:
        verdict = "met" if aimops < goal else "NOT met"
        lines.append(f"aimops median {aimops:.2f} ms per task event (goal < {goal:.0f}: {verdict})")
    for name, anchor in (("openlineage", 87.0), ("openlineage-thread", 15.0)):
        other = figures.get(name, {}).get("task_events", {}).get("median_ms")
        if other is None or aimops is None:
            continue
        speedup = other / aimops
        line = f"{name} median / aimops median = {other:.2f} / {aimops:.2f} = {speedup:.1f}x"
        if name == "openlineage":
            wanted = ANCHORS["speedup_vs_openlineage_goal"]
            line += f" (goal > {wanted:.0f}x: {'met' if speedup > wanted else 'NOT met'})"
        lines.append(line + f"; STACK-NOTES had {name} at ~{anchor:.0f} ms")
    return lines


def captured_lines(figures: dict[str, dict[str, Any]], tasks: int) -> list[str]:
    lines = []
    aimops = figures.get("aimops")
    if aimops and aimops.get("emits"):
        emits = aimops["emits"]
        rows = aimops.get("rows") or {}
        per_event = {table: count / len(emits) for table, count in rows.items()}
        lines.append(
            f"aimops captured {len(emits)} events ({len(emits) - 2 * tasks} of DAG runs): "
            f"{statistics.fmean(e['ops'] for e in emits):.1f} ops/event "
            f"({', '.join(f'{k} {v}' for k, v in aimops['op_kinds'].items())}), "
            f"{statistics.fmean(e['statements'] for e in emits):.1f} SQL statements/event, "
            f"store rows/event: "
            + ", ".join(f"{k.removeprefix('aim_')} {v:.1f}" for k, v in per_event.items())
        )
        emit_ms = [e["ns"] / 1e6 for e in emits]
        lines.append(
            f"  of which the sink (store write) took median {statistics.median(emit_ms):.2f} ms, "
            f"first {emit_ms[0]:.0f} ms (opens the store and creates its schema)"
        )
    for name in ("openlineage", "openlineage-thread"):
        emitted = figures.get(name, {}).get("openlineage")
        if emitted:
            lines.append(
                f"{name} wrote {emitted['events']} events {emitted['kinds']}: "
                f"{emitted['bytes_per_task_event']:,.0f} bytes and "
                f"{emitted['facets_per_task_event']:.1f} run/job facets per task event"
            )
    return lines


def per_process_lines(figures: dict[str, dict[str, Any]]) -> list[str]:
    """What the per-process modes add: first event of a process, later ones, where time goes."""
    lines = []
    for single in ("aimops", "openlineage"):
        name = f"{single}-per-process"
        found = figures.get(name)
        if not found:
            continue
        events, first = found["task_events"], found["first_of_process"]
        later = found["later_events"]
        detail = found["per_process"]
        lines.append(
            f"{name}: {len(detail['processes'])} task processes (distinct pids, forked by "
            f"{len(detail['forked_by'])} LocalExecutor worker(s)); per task event median "
            f"{fmt(events.get('median_ms'))} ms, p95 {fmt(events.get('p95_ms'))} ms; first event "
            f"of each process median {fmt(first.get('median_ms'))} ms (p95 "
            f"{fmt(first.get('p95_ms'))}), later events median {fmt(later.get('median_ms'))} ms"
        )
        if first.get("n") and later.get("n"):
            per_task = (first["mean_ms"] * first["n"] + later["mean_ms"] * later["n"]) / first["n"]
            lines.append(
                f"  half the events are first events, so the median falls between the two "
                f"groups; the mean is {fmt(events['mean_ms'])} ms per event, "
                f"{fmt(per_task)} ms per task"
            )
        same = figures.get(single, {}).get("task_events", {}).get("median_ms")
        if same and events.get("median_ms"):
            lines.append(
                f"  vs {single} under dag.test() (one process): median "
                f"{events['median_ms'] / same:.1f}x ({fmt(events['median_ms'])} / {fmt(same)} ms)"
            )
        for hook, stats in detail["lifecycle_hooks"].items():
            lines.append(
                f"  per task process, outside task events: {hook} median "
                f"{fmt(stats.get('median_ms'))} ms (n {stats['n']})"
            )
        breakdown = detail["first_event_breakdown"]
        if breakdown:
            parts = breakdown["medians_ms"]
            shown = ", ".join(f"{label} {value:.2f}" for label, value in parts.items())
            preloaded = ", ".join(
                f"{module} {count}/{breakdown['processes']}"
                for module, count in breakdown["preloaded_before_first_event"].items()
            )
            imported = breakdown["modules_imported_per_first_event"]
            top = ", ".join(f"{name} {count:.0f}" for name, count in list(imported.items())[:6])
            lines.append(f"  first event of a process, medians in ms: {shown}")
            lines.append(
                f"  already loaded before it: {preloaded}; it imported "
                f"{sum(imported.values()):.0f} modules ({top}); later events' write median "
                f"{breakdown['later_write_median_ms']:.2f} ms"
            )
    return lines


def anchor_lines() -> list[str]:
    return [
        "anchors (STACK-NOTES, 'Capture cost'): OpenLineage 2.20.3 default ~87 ms median per "
        "task event (p95 ~125 ms), ~15 ms with execute_in_thread;",
        "  a bare single-INSERT SQLite listener ~1.2 ms (new connection per event ~3.7 ms);",
        "  goal: aimops < 3 ms median on SQLite, > 25x below OpenLineage's default measured here",
    ]


def figures_of(result: dict[str, Any], mode: Mode) -> dict[str, Any]:
    first, later = by_process(result["calls"])
    figures = {
        "task_events": summary_ms(task_event_ms(result)),
        "first_of_process": summary_ms(first),
        "later_events": summary_ms(later),
        "listener": summary_ms(listener_ms(result, listener_of(mode))),
        "dag_wall_s": result.get("dag_wall_s"),
        "process_s": result["process_s"],
        "hooks": dict(Counter(c["hook"] for c in result.get("all_calls", result["calls"]))),
        "emits": result["emits"],
    }
    if mode.per_process:
        figures["per_process"] = {
            "processes": sorted({c["pid"] for c in result["calls"]}),
            "forked_by": sorted({c["ppid"] for c in result["calls"]}),
            "first_event_breakdown": first_event_breakdown(result) if mode.capture else {},
            "lifecycle_hooks": lifecycle_ms(result),
            "task_states": result.get("task_states"),
            **{key: result.get(key) for key in ("start_s", "parse_s", "stop_s")},
        }
    for key in ("initdb_s", "op_kinds", "rows", "openlineage", "problems"):
        if key in result:
            figures[key] = result[key]
    return figures


# -- profiling ----------------------------------------------------------------------------


# -- the subprocess ---------------------------------------------------------------------------


class HookTimer:
    """Times every listener hook call (all implementations together) and each implementation.

    The monitor is added last, so it is the outermost wrapper around pluggy's dispatch: it
    also covers Airflow's own (debug-logging) monitor, equally in every mode.
    """

    def __init__(self, profile_path: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._started: list[int] = []
        self._impls: dict[str, int] = {}
        self._profile_path = profile_path
        self._profiler: Any = None
        self._profiled = 0
        self._hook = ""

    def install(self, label: str, manager: Any) -> None:
        pm = manager.pm
        pm.add_hookcall_monitoring(self._before, self._after(label))
        for plugin in pm.get_plugins():
            for caller in pm.get_hookcallers(plugin) or ():
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin and not getattr(impl.function, "_bench", False):
                        setattr(impl, "function", self._timed(impl.function, plugin_label(plugin)))  # noqa: B010

    def _timed(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        profile = self._profile_path is not None and name == "aimops"

        def timed(*args: Any, **kwargs: Any) -> Any:
            profiler = self._profiler if profile and self._profiling() else None
            start = time.perf_counter_ns()
            if profiler is not None:
                profiler.enable()
            try:
                return function(*args, **kwargs)
            finally:
                if profiler is not None:
                    profiler.disable()
                self._impls[name] = self._impls.get(name, 0) + time.perf_counter_ns() - start

        timed._bench = True  # type: ignore[attr-defined]
        return timed

    def _profiling(self) -> bool:
        """Profile every task event but the first (which opens the store and its schema)."""
        if self._hook not in TASK_HOOKS or not any(c["hook"] in TASK_HOOKS for c in self.calls):
            return False
        if self._profiler is None:
            import cProfile

            self._profiler = cProfile.Profile()
        self._profiled += 1
        return True

    def _before(self, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        self._impls = {}
        self._hook = hook_name
        self._started.append(time.perf_counter_ns())

    def _after(self, label: str) -> Callable[..., None]:
        def after(outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
            elapsed = time.perf_counter_ns() - self._started.pop()
            ti = kwargs.get("task_instance")
            self.calls.append(
                {
                    "hook": hook_name,
                    "manager": label,
                    "task_id": getattr(ti, "task_id", None),
                    "ns": elapsed,
                    "impls": dict(self._impls),
                }
            )

        return after

    def save_profile(self) -> None:
        if self._profiler is not None and self._profile_path:
            self._profiler.dump_stats(self._profile_path)


class SinkCounter:
    """Records, per capture event, its operations, outcome, time in the sink and SQL count."""

    def __init__(self) -> None:
        self.emits: list[dict[str, Any]] = []
        self.op_kinds: Counter[str] = Counter()
        self._statements = 0
        self._inside = False

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        from aimops.metadata.capture import sink

        original = sink.CaptureSink.emit

        def emit(this: Any, capture_event: Any) -> Any:
            self._inside, self._statements = True, 0
            start = time.perf_counter_ns()
            try:
                outcome = original(this, capture_event)
            finally:
                self._inside = False
            elapsed = time.perf_counter_ns() - start
            self.op_kinds.update(op for op, _ in capture_event.ops)
            self.emits.append(
                {
                    "ops": len(capture_event),
                    "outcome": outcome,
                    "ns": elapsed,
                    "statements": self._statements,
                }
            )
            return outcome

        sink.CaptureSink.emit = emit  # type: ignore[method-assign]
        event.listen(Engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        if self._inside:
            self._statements += 1


def load_dag(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("aimops_capture_bench_dag", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def child_main(spec_path: Path) -> int:
    """Run in the subprocess: set Airflow up, time the hooks during ``dag.test()``."""
    spec = json.loads(spec_path.read_text())
    started = time.perf_counter()
    from airflow.utils import db

    db.initdb()
    initdb_s = time.perf_counter() - started
    dag = load_dag(Path(spec["dag_file"]))
    write_dag_to_db(dag)

    from airflow.listeners.listener import get_listener_manager as core_listeners
    from airflow.sdk.listener import get_listener_manager as sdk_listeners

    timer = HookTimer(spec["profile"])
    timer.install("sdk", sdk_listeners())
    timer.install("core", core_listeners())
    counter = SinkCounter()
    counter.install()
    registered = sorted({plugin_label(p) for p in sdk_listeners().pm.get_plugins()})

    started = time.perf_counter()
    dag_run = dag.test()
    dag_wall_s = time.perf_counter() - started
    timer.save_profile()
    result = {
        "mode": spec["mode"],
        "initdb_s": initdb_s,
        "dag_wall_s": dag_wall_s,
        "dag_run": {"run_id": dag_run.run_id, "state": str(getattr(dag_run.state, "value", ""))},
        "listeners": registered,
        "calls": timer.calls,
        "emits": counter.emits,
        "op_kinds": dict(counter.op_kinds),
        "profiled_events": timer._profiled,
    }
    Path(spec["output"]).write_text(json.dumps(result))
    return 0


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, help="no-op tasks in the DAG (default 30)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 5 tasks")
    parser.add_argument("--modes", default=",".join(MODE_NAMES), help=",".join(MODE_NAMES))
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile aimops in an extra run (auto: when its median misses the goal)",
    )
    parser.add_argument(
        "--per-process-tasks",
        type=int,
        help="no-op tasks in the per-process (airflow standalone) modes (default 12; quick 4)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--workdir", type=Path, help="keep the runs' files here (default: temp)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (5 if args.quick else 30)
    args.per_process_tasks = args.per_process_tasks or (4 if args.quick else 12)
    args.modes = names_from(parser, args.modes, MODE_NAMES, "modes")
    return args


def should_profile(args: argparse.Namespace, figures: dict[str, dict[str, Any]]) -> bool:
    if args.profile == "never" or "aimops" not in args.modes:
        return False
    median = figures.get("aimops", {}).get("task_events", {}).get("median_ms")
    return args.profile == "always" or (median or 0.0) > ANCHORS["aimops_median_goal_ms"]


def run_all(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], list[str]]:
    dag_file = root / "dags" / "capture_bench_dag.py"
    dag_file.parent.mkdir(parents=True)
    dag_file.write_text(dag_source(args.tasks))
    per_process_dags = root / "dags-per-process"
    per_process_dags.mkdir()
    (per_process_dags / dag_file.name).write_text(dag_source(args.per_process_tasks))
    figures: dict[str, Any] = {}
    failures = []
    for mode in (m for m in MODES if m.name in args.modes):
        if mode.per_process:
            tasks = args.per_process_tasks
            log(f"mode {mode.name}: {tasks} tasks under airflow standalone, a process per task")
            result = run_standalone(mode, per_process_dags, root / "runs")
            where = "trigger to end"
        else:
            tasks = args.tasks
            log(f"mode {mode.name}: {tasks} tasks in a fresh subprocess")
            result = run_mode(mode, dag_file, root / "runs")
            where = "dag.test()"
        problems = check(mode, result, tasks)
        result["problems"] = problems
        figures[mode.name] = figures_of(result, mode)
        figures[mode.name]["listeners"] = result["listeners"]
        figures[mode.name]["tasks"] = tasks
        median = figures[mode.name]["task_events"].get("median_ms")
        log(f"  median {fmt(median)} ms per task event, {where} {result['dag_wall_s']:.1f} s")
        for problem in problems:
            failures.append(f"{mode.name}: {problem}")
            log(f"  !! {mode.name} DID NOT DO ITS WORK: {problem}")
    if should_profile(args, figures):
        log("profiling aimops in an extra run (not in the table)")
        result = run_mode(MODES[1], dag_file, root / "runs", profile=True)
        prof = Path(result["workdir"]) / "events.prof"
        events = result["profiled_events"]
        figures["aimops_profile"] = profile_lines(
            prof,
            events,
            heading=f"cProfile of the aimops listener over {events} task events (the first "
            "excluded; profiling inflates the times), per event:",
            caller=__file__,
        )
    return figures, failures


def report(figures: dict[str, Any], tasks: int, per_process_tasks: int) -> None:
    off_wall = figures.get("off", {}).get("dag_wall_s")
    rows = [table_row(m, figures[m.name], off_wall) for m in MODES if m.name in figures]
    print("\nper task event: time inside all listener implementations")
    if any(not m.per_process and m.name in figures for m in MODES):
        print(f"  dag.test() modes: {tasks} tasks, all in one process (DAG wall = dag.test())")
    if any(m.per_process and m.name in figures for m in MODES):
        print(
            f"  *-per-process modes: {per_process_tasks} tasks (fewer, to keep the time down) "
            "under real `airflow standalone`, LocalExecutor, parallelism 2: each task instance "
            "in its own forked process (DAG wall = trigger to run end)"
        )
    print()
    print(render_table(HEADER, rows, left=(0, -1)))
    print()
    lines = [
        *ratio_lines(figures),
        *per_process_lines(figures),
        *captured_lines(figures, tasks),
        *anchor_lines(),
    ]
    for line in lines:
        print(line)
    if "aimops_profile" in figures:
        print()
        print("\n".join(figures["aimops_profile"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": {
            "tasks": args.tasks,
            "per_process_tasks": args.per_process_tasks,
            "modes": args.modes,
            "quick": args.quick,
        },
        "anchors": ANCHORS,
        "environment": environment(
            airflow=version("apache-airflow"),
            openlineage_provider=version("apache-airflow-providers-openlineage"),
        ),
    }
    results["environment"]["git"] = git_state()
    with working_directory(args.workdir, "aimops_capture_bench_") as root:
        figures, failures = run_all(args, root)
    results["modes"] = figures
    results["failures"] = failures
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_at_end"] = os.getloadavg()
    report(figures, args.tasks, args.per_process_tasks)
    print(f"\ntotal {results['total_s']:.0f} s")
    write_figures(results, args.json)
    if failures:
        print("\nFAILED: a mode did not do its work:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
