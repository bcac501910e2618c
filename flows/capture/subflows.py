"""Subflow runs, read from Prefect's API at a tracked flow run's end.

A subflow run is a flow run whose ``parent_task_run_id`` is a task run of its parent. Prefect
creates and moves flow runs through its API directly (task runs only through events), so what
the API says at the parent's end is complete. Each flow run costs one query for its children;
a subflow's task runs come from the in-process records (:mod:`aimops.flows.capture.observer`).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

from aimops.flows.capture import values
from aimops.flows.capture.events import ORCHESTRATOR
from aimops.flows.capture.observer import FlowRecorder
from aimops.flows.capture.records import FlowRunRecord
from aimops.metadata.urns import run_urn

#: How deep subflows are followed (a guard against a cycle, which Prefect never makes).
MAX_DEPTH = 20


def parent_run(flow_run: Any) -> str | None:
    """The run URN of a subflow run's parent; None for a flow run started on its own."""
    parent_task_run_id = getattr(flow_run, "parent_task_run_id", None)
    if parent_task_run_id is None:
        return None
    with _client() as client:
        parent_id = client.read_task_run(parent_task_run_id).flow_run_id
        parent = client.read_flow_run(parent_id)
        name = client.read_flow(parent.flow_id).name
    return str(run_urn(ORCHESTRATOR, name, str(parent_id)))


def subflow_runs(
    recorder: FlowRecorder, *, skip: Container[str] = ()
) -> Iterator[tuple[FlowRunRecord, str]]:
    """Each subflow run under the recorder's root (deepest last), with its parent's run URN.

    Subflows in ``skip`` (tracked themselves: their own hook recorded them) are left out, with
    what runs under them.
    """
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId, FlowRunFilter
    from prefect.client.schemas.filters import FlowRunFilterParentFlowRunId as ParentId

    queue = [(recorder.root, 0)]
    names: dict[Any, str] = {}
    with _client() as client:
        while queue:
            parent, depth = queue.pop(0)
            if depth >= MAX_DEPTH:
                continue
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=ParentId(any_=[parent.id]))
            )
            children = [c for c in children if str(c.id) not in skip]
            unknown = [c.flow_id for c in children if c.flow_id not in names]
            if unknown:
                for found in client.read_flows(
                    flow_filter=FlowFilter(id=FlowFilterId(any_=unknown))
                ):
                    names[found.id] = found.name
            parent_urn = str(run_urn(ORCHESTRATOR, parent.flow_name, parent.id))
            for child in children:
                record = _filled(recorder.flow_run_known(str(child.id)), child, names)
                yield record, parent_urn
                queue.append((record, depth + 1))


def _filled(record: FlowRunRecord | None, flow_run: Any, names: dict[Any, str]) -> FlowRunRecord:
    """The subflow run's record, completed from what the API holds."""
    if record is None:
        record = FlowRunRecord(str(flow_run.id), flow_name="")
    record.flow_name = record.flow_name or names.get(flow_run.flow_id, "") or "unknown-flow"
    state = flow_run.state
    record.native_state = str(state.name) if state is not None else None
    record.started_at = record.started_at or flow_run.start_time
    record.ended_at = flow_run.end_time or (state.timestamp if state is not None else None)
    if not record.parameters:
        record.parameters = values.masked_parameters(flow_run.parameters or {})
    record.run_type = "subflow"
    return record


def _client() -> Any:
    """Prefect's client, each request bounded by ``AIMOPS_CAPTURE_TIMEOUT`` (not Prefect's 60 s):
    the flow run waits for its end hook."""
    from prefect.client.orchestration import get_client

    from aimops.metadata.capture.sink import capture_timeout

    return get_client(httpx_settings={"timeout": capture_timeout()}, sync_client=True)
