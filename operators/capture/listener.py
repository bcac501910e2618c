"""The capture listener: Airflow tells it what runs; it records what opted-in DAGs do.

Task-instance hooks run in the task's own process, DAG-run hooks in the scheduler (both in
the test process under ``dag.test()``). Each task hook builds one capture event and hands it to
a per-process :class:`~aimops.metadata.capture.sink.CaptureSink`, which writes it to the AIM
store with a short timeout or spools it. A DAG-run hook only queues the run for a background
worker (:mod:`~aimops.operators.capture.run_end`), which records the run and, at its end, every
task instance that no task hook saw (skips, ``upstream_failed``, ``EmptyOperator`` s, states set
by hand). Nothing here raises into Airflow: a failure is logged once and the task carries on.
``AIMOPS_CAPTURE=off`` (or ``[aimops] capture = off`` in Airflow's config) turns capture off.

The plugin registers :data:`listener`; nothing else needs to be configured.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.listeners import hookimpl

from aimops.metadata.capture.events import CaptureEvent
from aimops.operators.capture import dag_facts, events, run_end
from aimops.settings import CAPTURE_ENV, capture_enabled

if TYPE_CHECKING:  # the store's machinery loads with the first event of an opted-in DAG
    from aimops.metadata.capture.sink import CaptureSink

log = logging.getLogger("aimops.capture")

_sink: CaptureSink | None = None
_sink_pid: int | None = None
_sink_lock = threading.Lock()
_failures_logged: set[str] = set()
_stored_dags: dict[str, tuple[float, Any]] = {}
STORED_DAG_SECONDS = 60.0


def capture_on() -> bool:
    """The kill switch: ``AIMOPS_CAPTURE``, else ``[aimops] capture`` in Airflow's config."""
    if os.environ.get(CAPTURE_ENV, "").strip():
        return capture_enabled()
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - older layouts
        from airflow.configuration import conf
    return capture_enabled(str(conf.get("aimops", "capture", fallback="on")))


def sink() -> CaptureSink:
    """The process's sink (a forked process gets its own), on the store AimHook resolves."""
    global _sink, _sink_pid
    from aimops.metadata.capture.sink import CaptureSink

    with _sink_lock:
        if _sink is None or _sink_pid != os.getpid():
            _sink = CaptureSink(_store_url())
            _sink_pid = os.getpid()
        return _sink


def reset_sink() -> None:
    """Forget the process's sink and what it recorded (the next event starts afresh)."""
    global _sink
    run_end.worker.wait()  # what is queued goes to the store it was meant for
    with _sink_lock:
        if _sink is not None:
            _sink.close()
        _sink = None
        events.forget_task_state()
        _failures_logged.clear()


def _store_url() -> str:
    from aimops.settings import default_store_url

    try:
        from aimops.hooks.aim import AimHook

        return str(AimHook().get_store_url())
    except Exception as exc:  # a broken connection must not stop capture: use the default
        _log_once("hook", "aimops could not resolve its connection (%r); using the default", exc)
        return default_store_url()


def _emit(build: Callable[[], CaptureEvent | None], what: str) -> None:
    try:
        if not capture_on():
            return
        event = build()
        if event is not None and len(event):
            sink().emit(event)
    except Exception as exc:  # capture never changes a task's outcome
        _log_once(what, "aimops capture skipped %s: %r", what, exc)


def _log_once(kind: str, message: str, *args: object) -> None:
    if kind not in _failures_logged:
        _failures_logged.add(kind)
        log.warning(message, *args)


def _task_dag(task_instance: Any) -> Any:
    """The task's DAG; from Airflow's DB when the hook's caller did not attach it."""
    dag = getattr(getattr(task_instance, "task", None), "dag", None)
    return dag if dag is not None else _stored_dag(task_instance.dag_id)


def _run_dag(dag_run: Any) -> Any:
    dag = getattr(dag_run, "dag", None)
    return dag if dag is not None else _stored_dag(dag_run.dag_id)


def _stored_dag(dag_id: str) -> Any:
    """The serialized DAG, for hooks fired without one (a state set from the UI or API).

    Read with a session of its own, never the caller's (the scheduler's and ``dag.test()``'s
    thread-local session must not be committed or closed from a hook), and kept for a minute
    per DAG, so marking many task instances reads it once. Only Airflow's own processes can
    read its DB; in a task's process this returns None.
    """
    now = time.monotonic()
    cached = _stored_dags.get(dag_id)
    if cached is not None and now - cached[0] < STORED_DAG_SECONDS:
        return cached[1]
    dag = None
    try:
        from airflow import settings
        from airflow.models.serialized_dag import SerializedDagModel

        if settings.NonScopedSession is not None:
            session = settings.NonScopedSession()
            try:
                dag = SerializedDagModel.get_dag(dag_id, session=session)
            finally:
                session.close()
    except Exception:
        dag = None
    _stored_dags[dag_id] = (now, dag)
    return dag


def _finished(task_instance: Any, state: str, error: BaseException | str | None = None) -> Any:
    from aimops.metadata.capture.sink import capture_timeout

    return events.task_finished(task_instance, state, error, mlflow_timeout=capture_timeout())


def preload() -> None:
    """Load the store's machinery now (imports, validators), in a process that forks workers.

    The scheduler starts LocalExecutor workers, and they start task processes, by forking: what
    the scheduler loaded here each task process inherits, instead of paying it on its first
    event.
    """
    from aimops.metadata import recording  # noqa: F401
    from aimops.metadata.aspects import ASPECTS
    from aimops.metadata.capture import sink  # noqa: F401

    for spec in ASPECTS.values():
        spec.model.model_rebuild()


class AimopsListener:
    """Airflow listener hooks; see the module docstring."""

    @hookimpl
    def on_starting(self, component: Any) -> None:
        # A scheduler, triggerer or DAG processor job starting, not a task (it pays on use).
        if type(component).__name__ != "TaskRunnerMarker" and capture_on():
            try:
                preload()
            except Exception as exc:
                _log_once("preload", "aimops could not preload its store: %r", exc)

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        if dag_facts.opted_in(_task_dag(task_instance)):
            _emit(lambda: events.task_started(task_instance), "a task start")

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        if dag_facts.opted_in(_task_dag(task_instance)):
            _emit(lambda: _finished(task_instance, "success"), "a task success")

    @hookimpl
    def on_task_instance_failed(
        self, previous_state: Any, task_instance: Any, error: BaseException | str | None
    ) -> None:
        if dag_facts.opted_in(_task_dag(task_instance)):
            state = events.native_state(task_instance, default="failed")
            _emit(lambda: _finished(task_instance, state, error), "a task failure")

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        if dag_facts.opted_in(_task_dag(task_instance)):
            _emit(lambda: _finished(task_instance, "skipped"), "a task skip")

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        self._dag_run(dag_run, "running")

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._dag_run(dag_run, "success")

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._dag_run(dag_run, "failed")

    def _dag_run(self, dag_run: Any, state: str) -> None:
        # The scheduler waits on this hook: it only copies what the scheduler already loaded
        # and queues it (run_end explains why nothing here may query through its DagRun).
        try:
            dag = _run_dag(dag_run)
            if dag_facts.opted_in(dag) and capture_on():
                run = run_end.snapshot(dag, dag_run, state)
                run_end.worker.submit(
                    lambda: _record_run_change(run), f"DAG run {run.dag_id}/{run.run_id} {state}"
                )
        except Exception as exc:  # capture never changes what the scheduler does
            _log_once("dag run", "aimops capture skipped a DAG run %s: %r", state, exc)


def _record_run_change(run: run_end.RunSnapshot) -> None:
    """In the background worker: the run, and at its end every task instance that differs."""
    current = sink()
    run_end.record_run_change(run, current.emit, current.read)


def flush_capture(timeout: float = 10.0) -> bool:
    """Wait until this process has recorded the DAG-run starts and ends it has seen.

    DAG-run events are recorded by a background worker; a process that reads the store right
    after ``dag.test()`` returns (a test, a notebook) calls this first. False on timeout.

    Example:
        >>> flush_capture(1.0)
        True
    """
    return run_end.worker.wait(timeout)


listener = AimopsListener()
