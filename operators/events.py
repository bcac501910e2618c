"""Airflow objects → capture events: DAGs, DAG runs and task-instance tries as AIM records.

Identity is deterministic: a DAG run is ``urn:aim:run:airflow/<dag_id>/<run_id>``, a task
instance ``urn:aim:step:airflow/<dag_id>/<run_id>/<task_id>[/<map_index>]``, and each
``try_number`` is an attempt of that step. Retries, clears and replays therefore update what is
there instead of adding to it, and two DAGs with the same task ids never meet.

The functions here only read attributes; the listener decides when to call them. They work on
the Task SDK's ``RuntimeTaskInstance`` (in the task's process) and on the core models the
scheduler passes (``DagRun``, and a ``TaskInstance`` when a task died before it ran).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aimops.metadata.capture import CaptureEvent
from aimops.metadata.references import (
    MARKER,
    declared_references,
    find_references,
    forget_declared_references,
)
from aimops.metadata.urns import Urn, make_urn, pipeline_urn, run_urn

ORCHESTRATOR = "airflow"
OPT_IN_TAG = "aimops"
PROJECT_TAG_PREFIX = "aimops:project="
MAX_FIELD_TEXT = 2000
MAX_ERROR_TEXT = 4000

# The MLflow run that was last active when each task instance started (see mlflow_run_id).
_mlflow_before: dict[str, str | None] = {}


def forget_task_state() -> None:
    """Forget what the process remembers of running tasks (a new store, a test)."""
    _mlflow_before.clear()


def opted_in(dag: Any) -> bool:
    """True when the DAG carries the ``aimops`` tag."""
    return dag is not None and OPT_IN_TAG in set(getattr(dag, "tags", None) or ())


def project_of(dag: Any) -> str:
    """The project a ``aimops:project=<name>`` tag names; the DAG id without one."""
    for tag in sorted(getattr(dag, "tags", None) or ()):
        if tag.startswith(PROJECT_TAG_PREFIX) and tag[len(PROJECT_TAG_PREFIX) :].strip():
            return str(tag[len(PROJECT_TAG_PREFIX) :].strip())
    return str(dag.dag_id)


def add_pipeline(event: CaptureEvent, dag: Any) -> Urn:
    """Record the DAG: owner, schedule, file, tasks (the sink writes it once per process)."""
    urn = pipeline_urn(ORCHESTRATOR, dag.dag_id)
    event.pipeline(
        orchestrator=ORCHESTRATOR,
        name=dag.dag_id,
        project=project_of(dag),
        description=_first_line(getattr(dag, "description", None) or _doc(dag)),
        owner=getattr(dag, "owner", None) or None,
        schedule=_schedule(dag),
        file=getattr(dag, "fileloc", None) or None,
    )
    event.aspect(urn, "pipelineTasks", {"tasks": _tasks(dag)})
    return urn


def add_dag_run(event: CaptureEvent, dag_id: str, dag_run: Any, native: str | None) -> Urn:
    """Record a DAG run in Airflow's state ``native`` (None: leave the state as recorded).

    Task events leave the run's state alone: the scheduler may have finished the run before
    the last task's listener writes, and a task must not set it back to running.
    """
    ended = getattr(dag_run, "end_date", None) if native in ("success", "failed") else None
    return event.run(
        orchestrator=ORCHESTRATOR,
        pipeline=dag_id,
        run_id=dag_run.run_id,
        native_state=native,
        started_at=getattr(dag_run, "start_date", None),
        ended_at=ended,
        run_type=_text(getattr(dag_run, "run_type", None)),
        conf=redact(dict(getattr(dag_run, "conf", None) or {})) or None,
    )


def dag_run_changed(dag: Any, dag_run: Any, native: str) -> CaptureEvent:
    """The event of a DAG run starting or ending (the scheduler's view)."""
    event = CaptureEvent(source=ORCHESTRATOR)
    add_pipeline(event, dag)
    add_dag_run(event, dag.dag_id, dag_run, native)
    return event


def native_state(ti: Any, *, default: str) -> str:
    """Airflow's word for the task instance's state (``up_for_retry`` when it will retry)."""
    return _text(getattr(ti, "state", None)) or default


def task_started(ti: Any) -> CaptureEvent:
    """The event of a try starting: pipeline, run, step, attempt, rendered fields, inputs."""
    forget_declared_references()
    _mlflow_before[_ti_key(ti)] = _last_mlflow_run_id()
    event = CaptureEvent(source=ORCHESTRATOR)
    step = _step(event, ti)
    event.attempt(
        step,
        ti.try_number,
        native_state="running",
        started_at=getattr(ti, "start_date", None),
        hostname=getattr(ti, "hostname", None) or None,
        rendered_fields=rendered_fields(ti.task),
    )
    consumed = [_dataset_of(event, asset) for asset in _assets(ti.task.inlets)]
    inputs = find_references([getattr(ti.task, f, None) for f in _template_fields(ti.task)])
    consumed += [event.reference(ref) for ref in inputs]
    event.io(step, consumed=[c for c in consumed if c])
    return event


def task_finished(
    ti: Any, native_state: str, error: BaseException | str | None = None
) -> CaptureEvent:
    """The event of a try ending: its state, end, duration, error, outputs and MLflow links."""
    event = CaptureEvent(source=ORCHESTRATOR)
    step = _step(event, ti)
    started = getattr(ti, "start_date", None)
    ended = getattr(ti, "end_date", None) or datetime.now(UTC)
    duration = (ended - started).total_seconds() if started else None
    event.attempt(
        step,
        ti.try_number,
        native_state=native_state,
        started_at=started,
        ended_at=ended,
        duration_s=max(duration, 0.0) if duration is not None else None,
        hostname=getattr(ti, "hostname", None) or None,
        error=_error_text(error) if error is not None else None,
    )
    if native_state == "success":
        _outputs(event, ti, step)
    _mlflow(event, ti, step)
    return event


def _outputs(event: CaptureEvent, ti: Any, step: Urn) -> None:
    task = getattr(ti, "task", None)
    produced = [_dataset_of(event, asset) for asset in _assets(getattr(task, "outlets", ()))]
    for ref in declared_references():
        urn = event.reference(ref)
        if ref[MARKER] == "modelVersion":
            event.edge(urn, "producedBy", step)
        else:
            produced.append(urn)
    event.io(step, produced=[p for p in produced if p])


def _step(event: CaptureEvent, ti: Any) -> Urn:
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
    map_index = getattr(ti, "map_index", None)
    return event.step(
        run,
        ti.task_id,
        map_index=map_index if map_index is not None and map_index >= 0 else None,
        operator=_operator_name(task),
    )


def _dag_run(ti: Any) -> Any:
    context = getattr(ti, "_ti_context_from_server", None)
    if context is not None and getattr(context, "dag_run", None) is not None:
        return context.dag_run
    return getattr(ti, "dag_run", None)


def rendered_fields(task: Any) -> dict[str, str] | None:
    """The task's templated fields as rendered for this try, secrets masked, text capped."""
    fields: dict[str, str] = {}
    for name in _template_fields(task):
        value = getattr(task, name, None)
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = str(redact(value, name))
        fields[name] = text if len(text) <= MAX_FIELD_TEXT else text[:MAX_FIELD_TEXT] + "…"
    return fields or None


def _template_fields(task: Any) -> tuple[str, ...]:
    return tuple(getattr(task, "template_fields", ()) or ())


def redact(value: Any, name: str | None = None) -> Any:
    """Airflow's secrets masker over ``value`` (connection passwords, sensitive keys)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as mask
    except ImportError:  # pragma: no cover - the scheduler's copy
        try:
            from airflow._shared.secrets_masker import redact as mask
        except ImportError:
            return value
    return mask(value, name)


def _error_text(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = str(redact(text))
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


def _assets(items: Iterable[Any] | None) -> list[Any]:
    found = []
    for item in items or ():
        if getattr(item, "uri", None) or getattr(item, "name", None):
            found.append(item)
    return found


def _dataset_of(event: CaptureEvent, asset: Any) -> str | None:
    """Record an Airflow asset as a data set named by the asset's name (its URI when nameless)."""
    name = getattr(asset, "name", None) or getattr(asset, "uri", None)
    if not name:
        return None
    uri = getattr(asset, "uri", None)
    event.add("dataset", name=str(name), uri=str(uri) if uri else None)
    return str(make_urn("dataset", str(name)))


def _mlflow(event: CaptureEvent, ti: Any, step: Urn) -> None:
    """Link the step to the MLflow run it logged to, and record versions registered from it."""
    if "mlflow" not in sys.modules:  # the task never touched MLflow: nothing to look up
        return
    run_id = _last_mlflow_run_id()
    if not run_id or run_id == _mlflow_before.pop(_ti_key(ti), None):
        return
    import mlflow

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    event.aspect(
        step,
        "mlflowRun",
        {
            "run_id": run_id,
            "experiment_id": run.info.experiment_id,
            "run_name": run.info.run_name,
            "tracking_uri": _safe_uri(mlflow.get_tracking_uri()),
        },
    )
    metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
    if metrics:  # searchable in the store: store.search("step", where=[("metrics.auroc", ...)])
        event.aspect(step, "metrics", metrics)
    if run.data.params:
        event.aspect(step, "params", {k: str(v) for k, v in run.data.params.items()})
    for version in client.search_model_versions(f"run_id = '{run_id}'"):
        urn = event.reference(
            {
                MARKER: "modelVersion",
                "urn": str(make_urn("modelVersion", version.name, version.version)),
                "model": version.name,
                "version": str(version.version),
                "uri": f"models:/{version.name}/{version.version}",
                "mlflow_run_id": run_id,
            }
        )
        event.edge(urn, "producedBy", step)


def _last_mlflow_run_id() -> str | None:
    if "mlflow" not in sys.modules:
        return None
    fluent = sys.modules.get("mlflow.tracking.fluent")
    active = getattr(fluent, "active_run", None)
    current = active() if callable(active) else None
    if current is not None:
        return str(current.info.run_id)
    last: Any = getattr(fluent, "_last_active_run_id", None)
    if last is not None and hasattr(last, "get"):  # a ThreadLocalVariable in MLflow 3
        last = last.get()
    return str(last) if last else None


def _safe_uri(uri: str) -> str:
    from aimops.metadata.engine import redact as redact_url

    return redact_url(uri) if "@" in uri else uri


def _ti_key(ti: Any) -> str:
    return f"{ti.dag_id}\x1f{ti.run_id}\x1f{ti.task_id}\x1f{getattr(ti, 'map_index', -1)}"


def _operator_name(task: Any) -> str | None:
    """The operator's class path, the same from a live task and from a serialized one."""
    if task is None:
        return None
    module = getattr(task, "_task_module", None)
    task_type = getattr(task, "task_type", None)
    if module and task_type:  # a serialized operator (scheduler) names the original class
        return f"{module}.{task_type}"
    kind = type(task)
    return f"{kind.__module__}.{kind.__qualname__}"


def _tasks(dag: Any) -> list[dict[str, Any]]:
    tasks = []
    for task_id, task in sorted((getattr(dag, "task_dict", None) or {}).items()):
        tasks.append(
            {
                "task_id": task_id,
                "operator": _operator_name(task),
                "upstream": sorted(getattr(task, "upstream_task_ids", ()) or ()),
                "doc": _first_line(_doc(task)),
            }
        )
    return tasks


def _schedule(dag: Any) -> str | None:
    timetable = getattr(dag, "timetable", None)
    summary = getattr(timetable, "summary", None)
    if summary:
        return None if str(summary) == "None" else str(summary)
    schedule = getattr(dag, "schedule", None)
    return str(schedule) if schedule is not None else None


def _doc(node: Any) -> str | None:
    for attribute in ("doc_md", "doc", "description"):
        value = getattr(node, attribute, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    for line in text.strip().splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    raw = getattr(value, "value", value)
    return str(raw)
