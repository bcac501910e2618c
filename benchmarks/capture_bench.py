"""Benchmark of what the aimops capture costs a task, against OpenLineage's listener.

Run: ``.venv/bin/python benchmarks/capture_bench.py`` (``--tasks 30``; ``--quick`` for a smoke
run of 5 tasks; ``--json PATH`` to write the figures; ``--help``).

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
runs serialized DAGs; the same internal calls as ``tests/airflow/conftest.py``) and run with
``dag.test()``, where every task and every listener hook runs in that one process. Before the
run, pluggy hook-call monitoring is added to both listener managers (the Task SDK's, which
fires the task-instance hooks, and the core one, which fires the DAG-run hooks): each
``on_task_instance_*`` call is timed with ``perf_counter_ns`` around all its implementations
together, the same way for every listener, and each implementation is also timed on its own.
The whole ``dag.test()`` is timed too, but its wall time mostly shows Airflow's own ~2-4 s per
task (the in-process execution API is built per task) and varies by seconds between runs.

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
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


MODES = (
    Mode("off", False, None, "baseline: dispatch + aimops off-path"),
    Mode("aimops", True, None, "goal < 3 ms; bare 1-INSERT listener ~1.2 ms"),
    Mode("openlineage", False, "fork", "~87 ms median, p95 ~125 ms (STACK-NOTES)"),
    Mode("openlineage-thread", False, "thread", "~15 ms median (STACK-NOTES)"),
)
MODE_NAMES = tuple(mode.name for mode in MODES)


# -- small helpers ------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(values_ms: list[float]) -> dict[str, Any]:
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "median_ms": statistics.median(values_ms),
        "p95_ms": p95(values_ms),
        "mean_ms": statistics.fmean(values_ms),
        "min_ms": min(values_ms),
        "max_ms": max(values_ms),
        "first_ms": values_ms[0],
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


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
    (workdir / "spec.json").write_text(json.dumps(spec))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(workdir / "spec.json")]
    started = time.perf_counter()
    with (workdir / "child.log").open("w") as output:
        done = subprocess.run(
            command, env=mode_env(mode, workdir), stdout=output, stderr=subprocess.STDOUT
        )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not Path(spec["output"]).is_file():
        tail = (workdir / "child.log").read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(
            f"mode {mode.name}: the subprocess failed ({done.returncode}):\n" + "\n".join(tail)
        )
    result: dict[str, Any] = json.loads(Path(spec["output"]).read_text())
    result["process_s"] = elapsed
    result["workdir"] = str(workdir)
    return result


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
    """The store holds the run and one step per task with exactly one successful attempt."""
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn

    problems = []
    outcomes = Counter(e["outcome"] for e in result["emits"])
    if set(outcomes) != {"stored"} or outcomes["stored"] < 2 * tasks:
        problems.append(f"capture outcomes {dict(outcomes)} (want all stored, >= {2 * tasks})")
    path = Path(result["workdir"]) / "aimops" / "aim.db"
    if not path.is_file():
        return [*problems, f"no store at {path}"]
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
    if mode.capture:
        problems += check_aimops(result, tasks)
    elif result["emits"]:
        problems.append(f"capture is off but {len(result['emits'])} events were emitted")
    if mode.openlineage:
        problems += check_openlineage(result, tasks)
    return problems


# -- the table ------------------------------------------------------------------------------

HEADER = (
    "mode",
    "task events",
    "median ms",
    "p95 ms",
    "mean ms",
    "first ms",
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
        f"{fmt(figures['listener'].get('median_ms'))} ({listener_of(mode)})",
        fmt(wall, 1),
        "-" if off_wall is None else f"{wall / off_wall:.2f}x",
        mode.anchor,
    ]


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [list(HEADER), *rows]) for i in range(len(HEADER))]

    def render(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [row[i].rjust(widths[i]) for i in range(1, len(row) - 1)]
        cells.append(row[-1].ljust(widths[-1]))
        return " | ".join(cells).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(list(HEADER)), rule, *(render(row) for row in rows)])


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


def anchor_lines() -> list[str]:
    return [
        "anchors (STACK-NOTES, 'Capture cost'): OpenLineage 2.20.3 default ~87 ms median per "
        "task event (p95 ~125 ms), ~15 ms with execute_in_thread;",
        "  a bare single-INSERT SQLite listener ~1.2 ms (new connection per event ~3.7 ms);",
        "  goal: aimops < 3 ms median on SQLite, > 25x below OpenLineage's default measured here",
    ]


def figures_of(result: dict[str, Any], mode: Mode) -> dict[str, Any]:
    figures = {
        "task_events": summary(task_event_ms(result)),
        "listener": summary(listener_ms(result, listener_of(mode))),
        "dag_wall_s": result["dag_wall_s"],
        "initdb_s": result["initdb_s"],
        "process_s": result["process_s"],
        "hooks": dict(Counter(c["hook"] for c in result["calls"])),
        "emits": result["emits"],
        "op_kinds": result["op_kinds"],
    }
    for key in ("rows", "openlineage", "problems"):
        if key in result:
            figures[key] = result[key]
    return figures


# -- profiling ----------------------------------------------------------------------------


def profile_lines(prof_path: Path, events: int, top: int = 10) -> list[str]:
    """The top ``top`` cumulative entries under the aimops listener, per task event."""
    import pstats

    stats: dict[Any, Any] = pstats.Stats(str(prof_path)).stats  # type: ignore[attr-defined]
    mine = str(Path(__file__).resolve())
    entries = [(key, value) for key, value in stats.items() if key[0] != mine]
    lines = [
        f"cProfile of the aimops listener over {events} task events (the first excluded; "
        "profiling inflates the times), per event:"
    ]
    for title, column in (("cumulative", 3), ("own time", 2)):
        ranked = sorted(entries, key=lambda item: item[1][column], reverse=True)[:top]
        lines.append(f"top {top} by {title}:")
        lines.append(f"{'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
        for (file, line, function), (_, calls, own, cumulative, _) in ranked:
            where = f"{_short(file)}:{line}({function})" if line else function
            lines.append(
                f"{cumulative * 1000 / events:8.3f} {own * 1000 / events:8.3f} "
                f"{calls / events:7.1f}  {where}"
            )
    return lines


def _short(file: str) -> str:
    """A source path from its package on (``sqlalchemy/engine/base.py``)."""
    path = Path(file)
    if path.is_relative_to(HERE.parent) and ".venv" not in path.parts:
        return str(path.relative_to(HERE.parent))
    parts = path.parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages") :])
    return path.name


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
                        setattr(impl, "function", self._timed(impl.function, _name_of(plugin)))  # noqa: B010

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


def _name_of(plugin: object) -> str:
    module = type(plugin).__module__
    if module.startswith("aimops"):
        return "aimops"
    if "openlineage" in module:
        return "openlineage"
    return f"{module}.{type(plugin).__qualname__}"


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

        from aimops.metadata import sink

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


def write_dag_to_db(dag: Any) -> None:
    """Serialize ``dag`` into Airflow's DB, as ``tests/airflow/conftest.py`` does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session
        )


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
    registered = sorted({_name_of(p) for p in sdk_listeners().pm.get_plugins()})

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


@contextmanager
def working_directory(given: Path | None) -> Iterator[Path]:
    """``given`` (kept afterwards), or a temporary directory removed at the end."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="aimops_capture_bench_") as tmp:
        yield Path(tmp)


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
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--workdir", type=Path, help="keep the runs' files here (default: temp)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (5 if args.quick else 30)
    args.modes = [name.strip() for name in args.modes.split(",") if name.strip()]
    unknown = set(args.modes) - set(MODE_NAMES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    return args


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=HERE.parent, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "airflow": version("apache-airflow"),
        "openlineage_provider": version("apache-airflow-providers-openlineage"),
        "load_average_at_start": os.getloadavg(),
        "git": {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--short")},
    }


def should_profile(args: argparse.Namespace, figures: dict[str, dict[str, Any]]) -> bool:
    if args.profile == "never" or "aimops" not in args.modes:
        return False
    median = figures.get("aimops", {}).get("task_events", {}).get("median_ms")
    return args.profile == "always" or (median or 0.0) > ANCHORS["aimops_median_goal_ms"]


def run_all(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], list[str]]:
    dag_file = root / "dags" / "capture_bench_dag.py"
    dag_file.parent.mkdir(parents=True)
    dag_file.write_text(dag_source(args.tasks))
    figures: dict[str, Any] = {}
    failures = []
    for mode in (m for m in MODES if m.name in args.modes):
        log(f"mode {mode.name}: {args.tasks} tasks in a fresh subprocess")
        result = run_mode(mode, dag_file, root / "runs")
        problems = check(mode, result, args.tasks)
        result["problems"] = problems
        figures[mode.name] = figures_of(result, mode)
        figures[mode.name]["listeners"] = result["listeners"]
        median = figures[mode.name]["task_events"].get("median_ms")
        log(f"  median {fmt(median)} ms per task event, dag.test() {result['dag_wall_s']:.1f} s")
        for problem in problems:
            failures.append(f"{mode.name}: {problem}")
            log(f"  !! {mode.name} DID NOT DO ITS WORK: {problem}")
    if should_profile(args, figures):
        log("profiling aimops in an extra run (not in the table)")
        result = run_mode(MODES[1], dag_file, root / "runs", profile=True)
        prof = Path(result["workdir"]) / "events.prof"
        figures["aimops_profile"] = profile_lines(prof, result["profiled_events"])
    return figures, failures


def report(figures: dict[str, Any], tasks: int) -> None:
    off_wall = figures.get("off", {}).get("dag_wall_s")
    rows = [table_row(m, figures[m.name], off_wall) for m in MODES if m.name in figures]
    print(f"\nper task event: time inside all listener implementations, {tasks} tasks each\n")
    print(render_table(rows))
    print()
    for line in [*ratio_lines(figures), *captured_lines(figures, tasks), *anchor_lines()]:
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
        "config": {"tasks": args.tasks, "modes": args.modes, "quick": args.quick},
        "anchors": ANCHORS,
        "environment": environment(),
    }
    with working_directory(args.workdir) as root:
        figures, failures = run_all(args, root)
    results["modes"] = figures
    results["failures"] = failures
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_at_end"] = os.getloadavg()
    report(figures, args.tasks)
    print(f"\ntotal {results['total_s']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"figures in {args.json}")
    if failures:
        print("\nFAILED: a mode did not do its work:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
