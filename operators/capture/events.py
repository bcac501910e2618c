"""Airflow objects → capture events: DAGs, DAG runs and task-instance tries as AIM records.

Identity is deterministic: a DAG run is ``urn:aim:run:airflow/<dag_id>/<run_id>``, a task
instance ``urn:aim:step:airflow/<dag_id>/<run_id>/<task_id>[/<map_index>]``, and each
``try_number`` is an attempt of that step. Retries, clears and replays therefore update what is
there instead of adding to it, and two DAGs with the same task ids never meet.

The functions here only read attributes; the listener decides when to call them. They work on
the Task SDK's ``RuntimeTaskInstance`` (in the task's process) and on the core models the
scheduler and the API server pass (``DagRun``, ``TaskInstance``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aimops.metadata.capture import mlflow_runs
from aimops.metadata.capture.events import CaptureEvent, Operation
from aimops.metadata.references import (
    MARKER,
    declared_references,
    find_references,
    forget_declared_references,
)
from aimops.metadata.urns import Urn, make_urn, pipeline_urn, run_urn
from aimops.operators.capture import task_values
from aimops.operators.capture.dag_facts import operator_name, pipeline_fields, pipeline_tasks

ORCHESTRATOR = "airflow"

MAX_CACHED_DAGS = 64

# Per DAG object (kept alive here, so its id is not reused): its pipeline operations.
_pipeline_ops: dict[int, tuple[Any, list[Operation]]] = {}


def forget_task_state() -> None:
    """Forget what the process remembers of tries in flight (a new store, a test)."""
    _pipeline_ops.clear()
    task_values.forget()
    mlflow_runs.forget()


def add_pipeline(event: CaptureEvent, dag: Any) -> Urn:
    """Record the DAG: owner, schedule, file, tasks (the sink writes it once per process).

    The operations are built once per DAG object: every event of every task repeats them.
    """
    urn = pipeline_urn(ORCHESTRATOR, dag.dag_id)
    cached = _pipeline_ops.get(id(dag))
    if cached is None or cached[0] is not dag:
        built = CaptureEvent(source=ORCHESTRATOR)
        built.pipeline(orchestrator=ORCHESTRATOR, **pipeline_fields(dag))
        built.aspect(urn, "pipelineTasks", {"tasks": pipeline_tasks(dag)})
        if len(_pipeline_ops) >= MAX_CACHED_DAGS:
            _pipeline_ops.clear()
        cached = _pipeline_ops[id(dag)] = (dag, built.ops)
    event.ops.extend(cached[1])
    return urn


def add_dag_run(event: CaptureEvent, dag_id: str, dag_run: Any, native: str | None) -> Urn:
    """Record a DAG run in Airflow's state ``native`` (None: leave the state as recorded).

    Task events leave the run's state alone: the scheduler may have finished the run before
    the last task's listener writes, and a task must not set it back to running.
    """
    ended = getattr(dag_run, "end_date", None) if native in ("success", "failed") else None
    conf = dict(getattr(dag_run, "conf", None) or {})
    return event.run(
        orchestrator=ORCHESTRATOR,
        pipeline=dag_id,
        run_id=dag_run.run_id,
        native_state=native,
        started_at=getattr(dag_run, "start_date", None),
        ended_at=ended,
        run_type=airflow_word(getattr(dag_run, "run_type", None)),
        conf=task_values.mask_secrets(task_values.sample(conf)) or None,
    )


def dag_run_changed(dag: Any, dag_run: Any, native: str) -> CaptureEvent:
    """A DAG run starting or ending, as the scheduler sees it."""
    event = CaptureEvent(source=ORCHESTRATOR)
    add_pipeline(event, dag)
    add_dag_run(event, dag.dag_id, dag_run, native)
    return event


def native_state(ti: Any, *, default: str) -> str:
    """Airflow's word for the task instance's state (``up_for_retry`` when it will retry)."""
    return airflow_word(getattr(ti, "state", None)) or default


def task_started(ti: Any) -> CaptureEvent:
    """The event of a try starting: pipeline, run, step, attempt, rendered fields, inputs."""
    key = _ti_key(ti)
    forget_declared_references()
    mlflow_runs.try_started(key)
    task_values.watch_return_value(ti.task, key)
    event = CaptureEvent(source=ORCHESTRATOR)
    step = _step(event, ti)
    event.attempt(
        step,
        ti.try_number,
        native_state="running",
        started_at=getattr(ti, "start_date", None),
        hostname=getattr(ti, "hostname", None) or None,
        rendered_fields=task_values.rendered_fields(ti.task),
    )
    consumed = [_dataset_of(event, asset) for asset in _assets(ti.task.inlets)]
    consumed += [event.reference(ref) for ref in find_references(task_values.inputs(ti.task))]
    event.io(step, consumed=[c for c in consumed if c])
    return event


def task_finished(
    ti: Any,
    state: str,
    error: BaseException | str | None = None,
    *,
    mlflow_timeout: float = 2.0,
) -> CaptureEvent:
    """The event of a try ending: its state, end, duration, error, outputs and MLflow links."""
    key = _ti_key(ti)
    event = CaptureEvent(source=ORCHESTRATOR)
    if (ti.try_number or 0) < 1:  # set by hand before it ever ran: a state, no try
        _step(event, ti, native_state=state)
        return event
    step = _step(event, ti)
    started = getattr(ti, "start_date", None)
    ended = getattr(ti, "end_date", None) or datetime.now(UTC)
    duration = (ended - started).total_seconds() if started else None
    event.attempt(
        step,
        ti.try_number,
        native_state=state,
        started_at=started,
        ended_at=ended,
        duration_s=max(duration, 0.0) if duration is not None else None,
        hostname=getattr(ti, "hostname", None) or None,
        error=task_values.error_text(error) if error is not None else None,
    )
    returned = task_values.returned_value(key)
    if state == "success":
        _outputs(event, ti, step, returned)
    mlflow_runs.add_links(event, step, key, mlflow_timeout)
    return event


def _outputs(event: CaptureEvent, ti: Any, step: Urn, returned: Any) -> None:
    """Outlets, and the references the task made itself and returned, as its outputs.

    A reference the task received and passes on is not its output; one it made but did not
    return (say, to compare against) is not either. When the return value was not seen (an
    operator outside the Task SDK's hooks), the references it made stand in for it.
    """
    task = getattr(ti, "task", None)
    produced = [_dataset_of(event, asset) for asset in _assets(getattr(task, "outlets", ()))]
    made = declared_references()
    if returned is not task_values.NOT_SEEN:
        returned_urns = {ref["urn"] for ref in find_references(returned)}
        made = [ref for ref in made if ref["urn"] in returned_urns]
    for ref in made:
        urn = event.reference(ref)
        if ref[MARKER] == "modelVersion":
            event.edge(urn, "producedBy", step)
        else:
            produced.append(urn)
    event.io(step, produced=[p for p in produced if p])


def _step(event: CaptureEvent, ti: Any, native_state: str | None = None) -> Urn:
    """Pipeline, run and step of a task instance; the same ops at every event of one try.

    The step's state is left to its attempts (the latest try's), so these ops repeat
    verbatim and the sink skips them after the first time.
    """
    task = getattr(ti, "task", None)
    dag = getattr(task, "dag", None)
    if dag is not None:
        add_pipeline(event, dag)
    run = run_urn(ORCHESTRATOR, ti.dag_id, ti.run_id)
    dag_run = _dag_run(ti)
    if dag_run is not None:
        add_dag_run(event, ti.dag_id, dag_run, None)
    else:
        event.run(orchestrator=ORCHESTRATOR, pipeline=ti.dag_id, run_id=ti.run_id)
    return event.step(
        run,
        ti.task_id,
        map_index=_map_index(ti),
        operator=operator_name(task),
        native_state=native_state,
    )


def _dag_run(ti: Any) -> Any:
    context = getattr(ti, "_ti_context_from_server", None)
    if context is not None and getattr(context, "dag_run", None) is not None:
        return context.dag_run
    return getattr(ti, "dag_run", None)


def _map_index(ti: Any) -> int | None:
    index = getattr(ti, "map_index", None)
    return index if index is not None and index >= 0 else None


def _assets(items: Iterable[Any] | None) -> list[Any]:
    return [
        item for item in items or () if getattr(item, "uri", None) or getattr(item, "name", None)
    ]


def _dataset_of(event: CaptureEvent, asset: Any) -> str | None:
    """Record an Airflow asset as a data set named by the asset's name (its URI when nameless)."""
    name = getattr(asset, "name", None) or getattr(asset, "uri", None)
    if not name:
        return None
    uri = getattr(asset, "uri", None)
    event.add("dataset", name=str(name), uri=str(uri) if uri else None)
    return str(make_urn("dataset", str(name)))


def _ti_key(ti: Any) -> str:
    return f"{ti.dag_id}\x1f{ti.run_id}\x1f{ti.task_id}\x1f{getattr(ti, 'map_index', -1)}"


def airflow_word(value: Any) -> str | None:
    """Airflow's word for a state or run type (an enum's value), as text."""
    if value is None:
        return None
    raw = getattr(value, "value", value)
    return str(raw)
