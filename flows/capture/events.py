"""Records of a tracked flow run → one capture event: pipeline, run, steps, tries, lineage.

The shapes are the Airflow capture's: the flow is a pipeline
``urn:aim:pipeline:prefect/<flow name>``, the flow run a run
``urn:aim:run:prefect/<flow name>/<flow run id>``, each task run a step
``urn:aim:step:prefect/<flow name>/<flow run id>/<task name>[/<n>]`` (``<n>`` numbers the calls
of a task called more than once in the run, in the order they were made, as a map index does
in Airflow), and each try an attempt of it. A subflow run is a run of its own flow with a
``partOf`` edge to its parent run. References a task received are ``consumed``; those it
returned, and did not receive, are ``produced`` (a model version is ``producedBy`` the step);
Prefect assets are data sets named by the asset's name (its key when nameless).

Example:
    >>> from datetime import UTC, datetime
    >>> from aimops.flows.capture.records import FlowRunRecord, TaskRunRecord
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> flow = FlowRunRecord("8c1f", "train", started_at=at, ended_at=at, native_state="Completed")
    >>> fit = flow.tasks["t1"] = TaskRunRecord("t1", "fit")
    >>> fit.entered("Running", at, running=True, final=False)
    >>> fit.entered("Completed", at, running=False, final=True)
    >>> event = flow_run_event(flow)
    >>> [op for op, _ in event.ops]
    ['pipeline', 'aspect', 'run', 'steps']
"""

from __future__ import annotations

from typing import Any

from aimops.flows.capture.records import FlowRunRecord, TaskRunRecord
from aimops.metadata.capture import mlflow_runs
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.capture.values import cut
from aimops.metadata.references import MARKER
from aimops.metadata.urns import Urn, make_urn, pipeline_urn, step_urn

ORCHESTRATOR = "prefect"


def run_started_event(flow: FlowRunRecord) -> CaptureEvent:
    """The pipeline and the run, running: written when a tracked flow run starts."""
    event = CaptureEvent(source=ORCHESTRATOR)
    _pipeline(event, flow, with_tasks=False)
    _run(event, flow)
    return event


def flow_run_event(flow: FlowRunRecord, *, parent: str | None = None) -> CaptureEvent:
    """Everything recorded of ``flow`` at its end: its run, every task run, their lineage."""
    event = CaptureEvent(source=ORCHESTRATOR)
    _pipeline(event, flow, with_tasks=True)
    run = _run(event, flow)
    if parent is not None:
        event.edge(run, "partOf", parent)
    ordinals = flow.ordinals()
    tasks = sorted(flow.tasks.values(), key=lambda r: r.created)
    event.final_steps(run, [_step_item(record, ordinals[record.id]) for record in tasks])
    for record in tasks:
        step = step_urn(
            ORCHESTRATOR, flow.flow_name, flow.id, record.task_name, ordinals[record.id]
        )
        _lineage(event, record, step)
        logged = next((t.mlflow for t in reversed(record.tries) if t.mlflow is not None), None)
        mlflow_runs.add_snapshot(event, step, logged)
    return event


def outputs_event(record: TaskRunRecord) -> CaptureEvent | None:
    """The entities a task run that just succeeded made (data sets, artifacts, model versions
    it returned or registered in MLflow), written at once so that the tasks after it can use
    them (record an evaluation of its model version, say); None when it made none. Its step
    and the edges to them come with the flow run's end."""
    made = _made(record)
    logged = next((t.mlflow for t in reversed(record.tries) if t.mlflow is not None), None)
    made += mlflow_runs.version_references(logged)
    if not made:
        return None
    event = CaptureEvent(source=ORCHESTRATOR)
    for reference in made:
        event.reference(reference)
    return event


def _made(record: TaskRunRecord) -> list[dict[str, Any]]:
    """The references the task run returned and did not receive (passed on is not made)."""
    received = {ref["urn"] for ref in record.consumed_refs}
    return [ref for ref in record.returned_refs if ref["urn"] not in received]


def _pipeline(event: CaptureEvent, flow: FlowRunRecord, *, with_tasks: bool) -> None:
    event.pipeline(
        orchestrator=ORCHESTRATOR,
        name=flow.flow_name,
        project=flow.project or flow.flow_name,
        description=flow.description,
        file=flow.file,
    )
    if with_tasks:
        urn = pipeline_urn(ORCHESTRATOR, flow.flow_name)
        event.aspect(urn, "pipelineTasks", {"tasks": _pipeline_tasks(flow)})


def _pipeline_tasks(flow: FlowRunRecord) -> list[dict[str, Any]]:
    """Each task the run called: its function, the tasks it waited for, its docs."""
    names = {record.id: record.task_name for record in flow.tasks.values()}
    tasks: dict[str, dict[str, Any]] = {}
    for record in flow.tasks.values():
        entry = tasks.setdefault(
            record.task_name,
            {"task_id": record.task_name, "operator": record.operator, "upstream": set(),
             "doc": record.doc},
        )  # fmt: skip
        entry["upstream"].update(names[i] for i in record.upstream_ids if i in names)
    return [
        {**entry, "upstream": sorted(entry["upstream"] - {name})}
        for name, entry in sorted(tasks.items())
    ]


def _run(event: CaptureEvent, flow: FlowRunRecord) -> Urn:
    return event.run(
        orchestrator=ORCHESTRATOR,
        pipeline=flow.flow_name,
        run_id=flow.id,
        native_state=flow.native_state or "Running",
        started_at=flow.started_at,
        ended_at=flow.ended_at if flow.native_state else None,
        run_type=flow.run_type,
        conf=flow.parameters,
    )


def _step_item(record: TaskRunRecord, ordinal: int | None) -> dict[str, Any]:
    return {
        "task_id": record.task_name,
        "map_index": ordinal,
        "operator": record.operator,
        "native_state": record.native_state,
        "attempts": [
            {
                "try_number": t.number,
                "state": t.state,
                "native_state": t.native_state,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "duration_s": (
                    max((t.ended_at - t.started_at).total_seconds(), 0.0) if t.ended_at else None
                ),
                "error": t.error,
                "rendered_fields": {k: cut(str(v)) for k, v in (t.inputs or {}).items()} or None,
            }
            for t in record.tries
        ],
    }


def _lineage(event: CaptureEvent, record: TaskRunRecord, step: Urn) -> None:
    """What the task run read and made: references, assets; outputs only when it succeeded."""
    consumed = [event.reference(ref) for ref in record.consumed_refs]
    consumed += [_dataset(event, name, uri) for name, uri in record.consumed_assets]
    produced: list[str] = []
    if record.state == "success":
        for ref in _made(record):
            urn = event.reference(ref)
            if ref[MARKER] == "modelVersion":
                event.edge(urn, "producedBy", step)
            else:
                produced.append(urn)
        produced += [_dataset(event, name, uri) for name, uri in record.produced_assets]
    event.io(step, consumed=consumed, produced=produced)


def _dataset(event: CaptureEvent, name: str, uri: str | None) -> str:
    event.add("dataset", name=name, uri=uri)
    return str(make_urn("dataset", name))
