"""Benchmark of what ``aimops.flows.tracked`` adds to each task run of a Prefect flow.

Run: ``.venv/bin/python benchmarks/prefect_capture_bench.py`` (``--tasks 200``; ``--runs 5``;
``--quick`` for a smoke run of 20 tasks and 2 runs; ``--modes`` to pick; ``--profile`` to
cProfile the capture; ``--json PATH`` to write the figures; ``--help``).

Method. One flow calls one trivial ``@task`` (it returns its one integer argument) ``--tasks``
times, directly and in sequence, in the flow's thread. The flow is run in a fresh subprocess
per mode, each with a fresh ``PREFECT_HOME`` (so Prefect 3 starts its own temporary local
server, a subprocess of its own, on the first flow run) and a fresh ``AIMOPS_HOME``; Prefect's
analytics are off and its logging level is ``WARNING`` (the task runs' INFO lines would
otherwise go to the log file and, batched, to the API: that makes Prefect itself slower, the
capture no faster). In each subprocess the flow runs once as a warm-up (it starts the server;
aimops installs its engine and creates the store), then ``--runs`` times, timed. After every
flow run, untimed, the subprocess waits until the server has recorded all its task runs as
completed (task runs reach it as events, written after the flow run returns; a flow run
started while it is still busy waits for its API, which answers "retry later", and wall
times then varied from 1 s to 17 s). Modes:

- ``off``: the flow decorated with ``@tracked``, ``AIMOPS_CAPTURE=off`` (the baseline: the
  capture engine is never installed, the flow's start and end hooks return at once);
- ``aimops``: ``@tracked`` with capture on, into the embedded SQLite store;
- ``plain`` (only with ``--modes``): the bare ``@flow``, never decorated.

Capture's own time is measured inside the aimops run, not from wall-time differences: before
the flow is decorated, the subprocess wraps ``aimops.flows.capture.engine._report`` (through
which the capture engine hands every state a task run enters, its returned value and its
errors to the recorder), the flow run's start ``tracked._start`` and its end hook
``tracked.aimops_capture`` with ``perf_counter_ns`` timers. The time a task run adds is then
the sum of its own reports plus its share (1/``--tasks``) of its flow run's start and end
(the end builds the one capture event of every task run, writes it to the store, and asks
Prefect's API once for subflow runs). The median and p95 of that, over every task run of the
timed runs, are the figures the goal is about. The end hook is also cut into its parts
(building the event, the store write, the subflow query), by wrapping ``flow_run_event``,
``CaptureSink.emit`` and ``subflows.subflow_runs``/``parent_run``. What the timers miss is
tiny: the engine subclass's overriding methods (a ``super()`` call and a call to
``_report``) and the ``_recording`` wrapper of the flow's function.

Each task run's figure holds its flow run's start and end shares, the same for all its task
runs, so the p95 over task runs is about the p95 over flow runs of that share plus a task
run's reports: with few task runs per flow run it is the fixed cost of a flow run's end that
counts (``--quick``, 20 task runs, shows it).

Beside it: the flow's own cost per task run in ``off`` mode, two ways: the flow's body (its
task calls: Prefect's task engine, its events, the task itself; the body notes when it starts
and ends) over ``--tasks``, and the whole flow run's wall time over ``--tasks`` (also creating
the flow run through the API before the body and ending it after: its final state, the state
hooks, and joining the heartbeat thread Prefect 3.9 starts for every flow run). That thread
sleeps in 1-s steps and is joined at the end, so a flow run's wall time is rounded up to the
thread's next whole second (1.1 s or 2.1 s here): a difference below a second shows in it as 0
or 1 s per run. As a second, noisy view, the differences of the two modes' medians of both;
the body's is the one to read. On this 2-core machine Prefect's server shares the CPUs with
the flow, so the bodies vary too, by some 20% from run to run; the timers vary far less.

Afterwards the run is checked: every flow run must have ended ``Completed`` (and the server
must have recorded its task runs as completed within two minutes) and, in ``aimops`` mode,
the store must hold every flow run (warm-up included) as a successful run with ``--tasks``
steps (``partOf`` edges), each with exactly one successful attempt, every event stored (none
spooled or dropped), and as many runs as flow runs; in ``off`` mode nothing may be reported,
and no store made. A mode that did not do its work fails the benchmark (exit status 1).

When the median or the p95 misses the goal (or with ``--profile always``), one more aimops
subprocess profiles the timed capture calls with cProfile (its time is not in the table:
profiling inflates times) and prints the top functions per task run below the table.

Anchor and goal (the issue; ``capture_bench.py`` for Airflow): the capture should add less
than 3 ms per task run, as the aimops Airflow listener does per task event on SQLite.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench_support import (
    config_of,
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
    write_figures,
)

HERE = Path(__file__).resolve().parent
FLOW_NAME = "aimops_prefect_capture_bench"
GOAL_MS = 3.0
DRAIN_TIMEOUT = 120.0  # seconds to wait for Prefect's server to record a flow run's task runs
SETTLE_S = 0.5  # and a moment more, for what it does after that
MODE_NAMES = ("off", "aimops", "plain")
DEFAULT_MODES = "off,aimops"
ANCHORS = {
    "added_per_task_run_goal_ms": GOAL_MS,
    "airflow_aimops_goal_ms_per_task_event": 3.0,
}
MODE_NOTES = {
    "off": "baseline: @tracked, AIMOPS_CAPTURE=off",
    "aimops": f"goal < {GOAL_MS:.0f} ms added per task run",
    "plain": "bare @flow, never decorated",
}


# -- the parent: one subprocess per mode, then checks ----------------------------------------


def mode_env(mode: str, workdir: Path) -> dict[str, str]:
    """This environment without Prefect's or aimops' settings, with fresh homes for both."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AIMOPS_"))}
    env.update(
        {
            "PREFECT_HOME": str(workdir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "AIMOPS_HOME": str(workdir / "aimops"),
            "AIMOPS_CAPTURE": "on" if mode == "aimops" else "off",
        }
    )
    return env


def run_mode(
    mode: str, args: argparse.Namespace, root: Path, profile: bool = False
) -> dict[str, Any]:
    """Run the flow under ``mode`` in a fresh subprocess; its measurements."""
    workdir = root / (mode + ("-profile" if profile else ""))
    workdir.mkdir(parents=True)
    spec = {
        "mode": mode,
        "tasks": args.tasks,
        "runs": args.profile_runs if profile else args.runs,
        "output": str(workdir / "child.json"),
        "profile": str(workdir / "capture.prof") if profile else None,
    }
    return run_child(__file__, spec, workdir, mode_env(mode, workdir), f"mode {mode}")


def check(mode: str, result: dict[str, Any], tasks: int) -> list[str]:
    """Every flow run completed; aimops stored all of it, the other modes nothing."""
    runs = [result["warm_up"], *result["runs"]]
    problems = [
        f"flow run {run['flow_run_id']} ended {run['state']!r}"
        for run in runs
        if run["state"] != "Completed"
    ]
    problems += [
        f"flow run {run['flow_run_id']}: the server recorded {run['server_completed']} completed "
        f"task runs within {DRAIN_TIMEOUT:.0f} s (want {tasks})"
        for run in runs
        if run["server_completed"] != tasks
    ]
    if mode != "aimops":
        reported = sum(run["report_calls"] for run in runs)
        emitted = sum(len(run["emits"]) for run in runs)
        if reported or emitted:
            problems.append(f"capture is off but made {reported} reports and {emitted} events")
        if (Path(result["workdir"]) / "aimops" / "aim.db").exists():
            problems.append("capture is off but a store was created")
        return problems
    for run in runs:
        outcomes = Counter(e["outcome"] for e in run["emits"])
        if set(outcomes) != {"stored"} or outcomes["stored"] < 2:
            problems.append(f"flow run {run['flow_run_id']}: capture outcomes {dict(outcomes)}")
        if run["end_calls"] != 1:
            problems.append(f"flow run {run['flow_run_id']}: end hook ran {run['end_calls']}x")
        if len(run["task_runs"]) != tasks:
            problems.append(
                f"flow run {run['flow_run_id']}: reports for {len(run['task_runs'])} task runs"
            )
    return problems + check_store(result, runs, tasks)


def check_store(result: dict[str, Any], runs: list[dict[str, Any]], tasks: int) -> list[str]:
    """The store holds each flow run, successful, with ``tasks`` steps of one successful try."""
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn

    path = Path(result["workdir"]) / "aimops" / "aim.db"
    if not path.is_file():
        return [f"no store at {path}"]
    problems = []
    store = AimStore.open(f"sqlite:///{path}")
    try:
        found = store.search("run", limit=10 * len(runs) + 10)
        if len(found) != len(runs):
            problems.append(f"the store holds {len(found)} runs (want {len(runs)})")
        result["store_runs"] = len(found)
        result["store_steps"] = []
        for run in runs:
            urn = run_urn("prefect", FLOW_NAME, run["flow_run_id"])
            info = store.get_aspect(urn, "runInfo")
            status = info.value.get("status") if info is not None else None
            if status != "success":
                problems.append(f"{urn}: status {status!r} (want 'success')")
            steps = store.related(urn, "partOf", incoming=True)
            good = sum(_one_successful_try(store, step.urn) for step in steps)
            result["store_steps"].append(len(steps))
            if len(steps) != tasks or good != tasks:
                problems.append(
                    f"{urn}: {len(steps)} steps, {good} with 1 successful attempt (want {tasks})"
                )
    finally:
        store.close()
    return problems


def _one_successful_try(store: Any, step: Any) -> bool:
    attempts = store.get_aspect(step, "stepAttempts")
    tries = attempts.value["attempts"] if attempts is not None else []
    return len(tries) == 1 and tries[0].get("state") == "success"


# -- figures ----------------------------------------------------------------------------------


def added_ms(run: dict[str, Any], tasks: int) -> list[float]:
    """Per task run of ``run``: its reports plus its share of the flow run's start and end."""
    share = (run["start_ns"] + run["end_ns"]) / tasks
    return [(ns + share) / 1e6 for ns in run["task_runs"].values()]


def figures_of(result: dict[str, Any], tasks: int) -> dict[str, Any]:
    """Summaries of a mode's timed runs (the warm-up apart)."""
    runs = result["runs"]
    walls = [run["wall_s"] for run in runs]
    added = [ms for run in runs for ms in added_ms(run, tasks)]
    reports = [ns / 1e6 for run in runs for ns in run["task_runs"].values()]
    per_kind: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for kind, values in run["report_kinds"].items():
            per_kind[kind] += [ns / 1e6 for ns in values]
    parts: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for name, ns in run["parts"].items():
            parts[name].append(ns / 1e6)
    warm = result["warm_up"]
    return {
        "tasks": tasks,
        "runs": len(runs),
        "wall_s": walls,
        "wall_median_s": statistics.median(walls),
        "wall_ms_per_task_run": summary_ms([w * 1000 / tasks for w in walls]),
        "body_ms_per_task_run": summary_ms([r["body_s"] * 1000 / tasks for r in runs]),
        "before_body_ms": summary_ms([r["before_body_s"] * 1000 for r in runs]),
        "after_body_ms": summary_ms([r["after_body_s"] * 1000 for r in runs]),
        "drain_s": [r["drain_s"] for r in runs],
        "warm_up_wall_s": warm["wall_s"],
        "added_per_task_run": summary_ms(added) if result["mode"] == "aimops" else {"n": 0},
        "reports_per_task_run": summary_ms(reports) if reports else {"n": 0},
        "capture_total_ms_per_task_run": [
            sum(added_ms(run, tasks)) / tasks for run in runs if run["task_runs"]
        ],
        "report_calls_per_task_run": statistics.fmean(r["report_calls"] for r in runs) / tasks,
        "report_kinds": {kind: summary_ms(values) for kind, values in per_kind.items()},
        "start_ms": summary_ms([run["start_ns"] / 1e6 for run in runs]),
        "end_ms": summary_ms([run["end_ns"] / 1e6 for run in runs]),
        "end_parts_median_ms": {name: statistics.median(v) for name, v in parts.items()},
        "warm_up_start_ms": warm["start_ns"] / 1e6,
        "warm_up_end_ms": warm["end_ns"] / 1e6,
        "emits": [e for run in runs for e in run["emits"]],
        "process_s": result["process_s"],
        "flow_run_ids": [run["flow_run_id"] for run in [warm, *runs]],
        "store_runs": result.get("store_runs"),
        "store_steps": result.get("store_steps"),
    }


HEADER = (
    "mode",
    "task runs",
    "flow wall s",
    "wall ms/task run",
    "body ms/task run",
    "wall vs off",
    "added ms/task run",
    "p95",
    "mean",
    "reports ms/task run",
    "start ms/run",
    "end ms/run",
    "anchor",
)


def table_row(mode: str, figures: dict[str, Any], off_wall: float | None) -> list[str]:
    added = figures["added_per_task_run"]
    reports = figures["reports_per_task_run"]
    wall = figures["wall_median_s"]
    captured = mode == "aimops"
    return [
        mode,
        f"{figures['runs']} x {figures['tasks']}",
        fmt(wall, 2),
        fmt(figures["wall_ms_per_task_run"]["median_ms"]),
        fmt(figures["body_ms_per_task_run"]["median_ms"]),
        "-" if off_wall is None else f"{wall / off_wall:.2f}x",
        fmt(added.get("median_ms"), 3),
        fmt(added.get("p95_ms"), 3),
        fmt(added.get("mean_ms"), 3),
        fmt(reports.get("median_ms"), 3),
        fmt(figures["start_ms"].get("median_ms")) if captured else "-",
        fmt(figures["end_ms"].get("median_ms")) if captured else "-",
        MODE_NOTES[mode],
    ]


def summary_lines(figures: dict[str, dict[str, Any]]) -> list[str]:
    """The goal, the flow's own cost beside it, and the wall-time view."""
    aimops, off = figures.get("aimops"), figures.get("off")
    lines = []
    if aimops:
        added = aimops["added_per_task_run"]
        verdict = "met" if added["median_ms"] < GOAL_MS else "NOT met"
        p95_verdict = "under" if added["p95_ms"] < GOAL_MS else "OVER"
        lines.append(
            f"added by capture per task run: median {added['median_ms']:.3f} ms, p95 "
            f"{added['p95_ms']:.3f} ms (goal < {GOAL_MS:.0f} ms: {verdict}; the p95 is "
            f"{p95_verdict} it)"
        )
    if off:
        lines += own_cost_lines(off, aimops)
    if aimops and off:
        lines.append(
            "wall-time view (noisy): aimops - off, median per task run: body "
            f"{_median_gap(aimops, off, 'body_ms_per_task_run'):+.2f} ms, whole flow run "
            f"{_median_gap(aimops, off, 'wall_ms_per_task_run'):+.2f} ms (flow wall s: aimops "
            f"{fmt_range(aimops['wall_s'])}, off {fmt_range(off['wall_s'])}; whole seconds + "
            "~0.1 s: Prefect joins its heartbeat thread, which sleeps in 1-s steps)"
        )
    if aimops:
        lines += breakdown_lines(aimops)
    return lines


def own_cost_lines(off: dict[str, Any], aimops: dict[str, Any] | None) -> list[str]:
    body, wall = off["body_ms_per_task_run"], off["wall_ms_per_task_run"]
    line = (
        f"the flow's own cost per task run (off): median {body['median_ms']:.2f} ms in the "
        f"flow's body (its {off['tasks']} task calls; runs {body['min_ms']:.2f} to "
        f"{body['max_ms']:.2f}), {wall['median_ms']:.2f} ms of the whole flow run's wall time"
    )
    if aimops:
        share = aimops["added_per_task_run"]["median_ms"] / body["median_ms"]
        line += f"; capture's median adds {100 * share:.1f}% to the body's"
    before, after = off["before_body_ms"], off["after_body_ms"]
    return [
        line,
        f"  off: before the body (flow run created) median {before['median_ms']:.0f} ms, after "
        f"it (end state, hooks) {after['median_ms']:.0f} ms; between runs the server took "
        f"{fmt_range(off['drain_s'])} s to record the task runs (not timed)",
    ]


def _median_gap(aimops: dict[str, Any], off: dict[str, Any], key: str) -> float:
    return float(aimops[key]["median_ms"] - off[key]["median_ms"])


def fmt_range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def breakdown_lines(aimops: dict[str, Any]) -> list[str]:
    kinds = ", ".join(
        f"{kind} {stats['n'] / (aimops['runs'] * aimops['tasks']):.1f}x median "
        f"{stats['median_ms']:.3f} ms"
        for kind, stats in sorted(aimops["report_kinds"].items())
    )
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in aimops["end_parts_median_ms"].items())
    totals = aimops["capture_total_ms_per_task_run"]
    ends = [e for e in aimops["emits"] if e["phase"] == "end"]
    steps = statistics.fmean(e["steps"] for e in ends) if ends else 0.0
    return [
        f"  per task run: {aimops['report_calls_per_task_run']:.1f} reports ({kinds}); "
        f"all capture time of a flow run / its task runs: {fmt_range(totals)} ms over the runs",
        f"  flow run start median {aimops['start_ms']['median_ms']:.2f} ms, end median "
        f"{aimops['end_ms']['median_ms']:.2f} ms (max {aimops['end_ms']['max_ms']:.2f}); the "
        f"end's parts, medians in ms: {parts}",
        f"  warm-up run (server start, engine install, store creation): wall "
        f"{aimops['warm_up_wall_s']:.1f} s, start {aimops['warm_up_start_ms']:.1f} ms, end "
        f"{aimops['warm_up_end_ms']:.1f} ms; the end event holds {steps:.0f} steps",
        f"  store checked: {aimops['store_runs']} runs, steps per run {aimops['store_steps']}",
    ]


# -- profiling ----------------------------------------------------------------------------


# -- the subprocess ---------------------------------------------------------------------------


class CaptureTimer:
    """Times aimops' capture calls in the flow's process, per flow run and per task run."""

    def __init__(self, profile_path: str | None) -> None:
        self.run: dict[str, Any] = self.new_run()
        self._phase = "report"
        self._profile_path = profile_path
        self._profiler: Any = None
        if profile_path is not None:
            import cProfile

            self._profiler = cProfile.Profile()
        self.profiling = False

    @staticmethod
    def new_run() -> dict[str, Any]:
        return {
            "task_runs": defaultdict(int),
            "report_kinds": defaultdict(list),
            "report_calls": 0,
            "start_ns": 0,
            "end_ns": 0,
            "end_calls": 0,
            "parts": defaultdict(int),
            "emits": [],
        }

    def install(self) -> None:
        """Wrap the capture's entry points (before any flow is decorated)."""
        from aimops.flows.capture import engine, events, subflows, tracked
        from aimops.metadata.capture.sink import CaptureSink

        wrappers: list[tuple[Any, str, Callable[[Any], Any]]] = [
            (engine, "_report", self._timed_report),
            (tracked, "_start", lambda found: self._timed_hook(found, "start")),
            (tracked, "aimops_capture", lambda found: self._timed_hook(found, "end")),
            (events, "flow_run_event", lambda found: self._timed_part(found, "build event")),
            (subflows, "parent_run", lambda found: self._timed_part(found, "parent query")),
            (subflows, "subflow_runs", self._timed_subflows),
            (CaptureSink, "emit", self._timed_emit),
        ]
        for owner, name, wrap in wrappers:
            setattr(owner, name, wrap(getattr(owner, name)))

    def _on(self) -> None:
        if self.profiling and self._profiler is not None:
            self._profiler.enable()

    def _off(self) -> None:
        if self.profiling and self._profiler is not None:
            self._profiler.disable()

    def _timed_report(self, original: Callable[..., None]) -> Callable[..., None]:
        def report(what: Any, engine: Any, value: Any) -> None:
            self._on()
            start = time.perf_counter_ns()
            try:
                original(what, engine, value)
            finally:
                elapsed = time.perf_counter_ns() - start
                self._off()
                task_run = getattr(engine, "task_run", None)
                self.run["task_runs"][str(getattr(task_run, "id", "?"))] += elapsed
                self.run["report_kinds"][getattr(what, "__name__", "?")].append(elapsed)
                self.run["report_calls"] += 1

        return report

    def _timed_hook(self, original: Callable[..., Any], phase: str) -> Callable[..., Any]:
        def hook(*args: Any, **kwargs: Any) -> Any:
            self._phase = phase
            self._on()
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter_ns() - start
                self._off()
                self.run[f"{phase}_ns"] += elapsed
                if phase == "end":
                    self.run["end_calls"] += 1
                self._phase = "report"

        return hook

    def _timed_part(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        def part(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.run["parts"][name] += time.perf_counter_ns() - start

        return part

    def _timed_subflows(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def subflow_runs(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                found = list(original(*args, **kwargs))
            finally:
                self.run["parts"]["subflow query"] += time.perf_counter_ns() - start
            return iter(found)

        return subflow_runs

    def _timed_emit(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def emit(sink: Any, event: Any) -> Any:
            start = time.perf_counter_ns()
            outcome = original(sink, event)
            elapsed = time.perf_counter_ns() - start
            phase = self._phase
            if phase == "end":
                self.run["parts"]["store write"] += elapsed
            steps = sum(len(args.get("steps", ())) for name, args in event.ops if name == "steps")
            self.run["emits"].append(
                {
                    "phase": phase,
                    "ops": len(event),
                    "steps": steps,
                    "outcome": outcome,
                    "ns": elapsed,
                }
            )
            return outcome

        return emit

    def save_profile(self) -> None:
        if self._profiler is not None and self._profile_path:
            self._profiler.dump_stats(self._profile_path)


def make_flow(mode: str, marks: dict[str, float]) -> Any:
    """The benchmark's flow: one trivial task called ``tasks`` times, in sequence; its body
    notes when it starts and ends in ``marks``."""
    from prefect import flow, task

    from aimops.flows import tracked

    @task
    def noop(index: int) -> int:
        return index

    @flow(name=FLOW_NAME)
    def bench_flow(tasks: int) -> int:
        marks["body_start"] = time.perf_counter()
        for index in range(tasks):
            noop(index)
        marks["body_end"] = time.perf_counter()
        return tasks

    return bench_flow if mode == "plain" else tracked(bench_flow)


def run_once(flow: Any, timer: CaptureTimer, marks: dict[str, float], tasks: int) -> dict[str, Any]:
    """One flow run, timed; what the capture did in it. Then wait for the server to catch up."""
    timer.run = timer.new_run()
    marks.clear()
    gc.collect()
    start = time.perf_counter()
    state = flow(tasks, return_state=True)
    wall = time.perf_counter() - start
    run = timer.run
    run["task_runs"] = dict(run["task_runs"])
    run["report_kinds"] = dict(run["report_kinds"])
    run["parts"] = dict(run["parts"])
    flow_run_id = str(state.state_details.flow_run_id)
    run.update(
        wall_s=wall,
        body_s=marks["body_end"] - marks["body_start"],
        before_body_s=marks["body_start"] - start,
        after_body_s=start + wall - marks["body_end"],
        state=str(state.name),
        flow_run_id=flow_run_id,
    )
    run["drain_s"], run["server_completed"] = wait_for_server(flow_run_id, tasks)
    return run


def wait_for_server(flow_run_id: str, tasks: int) -> tuple[float, int]:
    """Wait (up to ``DRAIN_TIMEOUT``) until Prefect's server has recorded every task run of the
    flow run as completed; the seconds waited and how many it had.

    Task runs reach the server as events, written after the flow run returns; a flow run
    started before they are all written waits for the busy server (its API answers
    "retry later" and the client sleeps), which made wall times vary from 1 s to 17 s.
    """
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterFlowRunId,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    wanted = TaskRunFilter(
        flow_run_id=TaskRunFilterFlowRunId(any_=[UUID(flow_run_id)]),
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.COMPLETED])),
    )
    start = time.perf_counter()
    found = 0
    with get_client(sync_client=True) as client:
        while time.perf_counter() - start < DRAIN_TIMEOUT:
            found = len(client.read_task_runs(task_run_filter=wanted, limit=tasks))
            if found >= tasks:
                break
            time.sleep(0.25)
    time.sleep(SETTLE_S)
    return time.perf_counter() - start, found


def child_main(spec_path: Path) -> int:
    """Run in the subprocess: time the flow and the capture's calls."""
    spec = json.loads(spec_path.read_text())
    timer = CaptureTimer(spec["profile"])
    timer.install()
    marks: dict[str, float] = {}
    flow = make_flow(spec["mode"], marks)
    tasks = spec["tasks"]
    warm_up = run_once(flow, timer, marks, tasks)
    print(f"warm-up {warm_up['wall_s']:.2f} s", flush=True)
    timer.profiling = spec["profile"] is not None
    runs = []
    for _ in range(spec["runs"]):
        runs.append(run_once(flow, timer, marks, tasks))
        print(f"run {runs[-1]['wall_s']:.2f} s", flush=True)
    timer.save_profile()
    result = {"mode": spec["mode"], "warm_up": warm_up, "runs": runs}
    Path(spec["output"]).write_text(json.dumps(result))
    return 0


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, help="task runs per flow run (default 200)")
    parser.add_argument("--runs", type=int, help="timed flow runs per mode (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 tasks, 2 runs")
    parser.add_argument("--modes", default=DEFAULT_MODES, help=",".join(MODE_NAMES))
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the capture in an extra run (auto: when median or p95 misses the goal)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--workdir", type=Path, help="keep the runs' files here (default: temp)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (20 if args.quick else 200)
    args.runs = args.runs or (2 if args.quick else 5)
    args.profile_runs = 2
    args.modes = names_from(parser, args.modes, MODE_NAMES, "modes")
    if args.tasks < 1 or args.runs < 1:
        parser.error("--tasks and --runs must be at least 1")
    return args


def should_profile(args: argparse.Namespace, figures: dict[str, dict[str, Any]]) -> bool:
    if args.profile == "never" or "aimops" not in args.modes:
        return False
    added = figures.get("aimops", {}).get("added_per_task_run", {})
    worst = max(added.get("median_ms", 0.0), added.get("p95_ms", 0.0))
    return args.profile == "always" or worst >= GOAL_MS


def run_all(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], list[str]]:
    figures: dict[str, Any] = {}
    failures = []
    for mode in args.modes:
        log(f"mode {mode}: {args.runs} timed runs of {args.tasks} task runs, fresh subprocess")
        result = run_mode(mode, args, root / "runs")
        problems = check(mode, result, args.tasks)
        figures[mode] = figures_of(result, args.tasks)
        figures[mode]["problems"] = problems
        log(
            f"  warm-up {result['warm_up']['wall_s']:.1f} s, median flow wall "
            f"{figures[mode]['wall_median_s']:.2f} s, process {result['process_s']:.0f} s"
        )
        for problem in problems:
            failures.append(f"{mode}: {problem}")
            log(f"  !! {mode} DID NOT DO ITS WORK: {problem}")
    if should_profile(args, figures):
        log(f"profiling aimops in an extra subprocess ({args.profile_runs} runs, not in the table)")
        result = run_mode("aimops", args, root / "runs", profile=True)
        prof = Path(result["workdir"]) / "capture.prof"
        task_runs = args.profile_runs * args.tasks
        figures["aimops_profile"] = profile_lines(
            prof,
            task_runs,
            heading=f"cProfile of the capture (reports, start, end) over {task_runs} task runs, "
            "per task run (profiling inflates the times):",
            caller=__file__,
            top=14,
            digits=2,
        )
    return figures, failures


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    off_wall = figures.get("off", {}).get("wall_median_s")
    rows = [table_row(m, figures[m], off_wall) for m in MODE_NAMES if m in figures]
    print(
        f"\na Prefect flow of {args.tasks} trivial task runs (direct calls, in sequence), "
        f"{args.runs} timed runs per mode after a warm-up; 'added' = the capture's reports of "
        "the task run + its share of the flow run's start and end"
    )
    print()
    print(render_table(HEADER, rows, left=(0, -1)))
    print()
    for line in summary_lines(figures):
        print(line)
    print(
        f"anchor: the issue's goal, < {GOAL_MS:.0f} ms added per task run, as aimops' Airflow "
        "listener per task event (benchmarks/capture_bench.py)"
    )
    if "aimops_profile" in figures:
        print()
        print("\n".join(figures["aimops_profile"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": config_of(args),
        "anchors": ANCHORS,
        "environment": environment(prefect=version("prefect")),
    }
    results["environment"]["git"] = git_state()
    with working_directory(args.workdir, "aimops_prefect_capture_bench_") as root:
        figures, failures = run_all(args, root)
    results["modes"] = figures
    results["failures"] = failures
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_at_end"] = os.getloadavg()
    report(figures, args)
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
