"""From the capture engine's reports to the records of the tracked flow run in progress.

The tracked flow sets :data:`active` (a context variable, so the task runner's threads and a
subflow called inline see it too) to its :class:`FlowRecorder` while its body runs. Each report
finds the task run's record there (made at its first state) and updates it; a task run of a
subflow goes to that subflow's record. With no tracked flow in progress, a report returns at
once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aimops.flows.capture import values
from aimops.flows.capture.events import outputs_event
from aimops.flows.capture.records import FlowRunRecord, TaskRunRecord
from aimops.metadata.capture import mlflow_runs
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.references import find_references

_order = itertools.count()


class FlowRecorder:
    """The records of one tracked flow run and of the subflow runs started inside it."""

    def __init__(
        self, root: FlowRunRecord, deliver: Callable[[CaptureEvent], object] | None = None
    ) -> None:
        self.root = root
        #: Where the entities a task run made go at its end (the capture sink).
        self.deliver = deliver
        #: Whether the flow's body called a subflow (Prefect numbered a subflow's call).
        self.called_subflows = False
        self.flows: dict[str, FlowRunRecord] = {root.id: root}
        self._lock = threading.Lock()

    def may_have_subflows(self) -> bool:
        """Whether subflow runs may have started under the root: the body called one, or a
        task run of another flow run was seen (a subflow called inside a task)."""
        return self.called_subflows or len(self.flows) > 1

    def flow_run_known(self, flow_run_id: str) -> FlowRunRecord | None:
        """The record of ``flow_run_id`` if a task run of it was seen."""
        return self.flows.get(flow_run_id)

    def flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """The record of ``flow_run_id``: the root, or a subflow run seen for the first time."""
        found = self.flows.get(flow_run_id)
        if found is not None:
            return found
        with self._lock:
            found = self.flows.get(flow_run_id)
            if found is None:
                found = self.flows[flow_run_id] = _subflow_record(flow_run_id)
            return found


active: ContextVar[FlowRecorder | None] = ContextVar("aimops_flow_recorder", default=None)


def _subflow_record(flow_run_id: str) -> FlowRunRecord:
    """A subflow run's record, from the flow run context its task runs see."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow_run = getattr(context, "flow_run", None)
    flow = getattr(context, "flow", None)
    if flow_run is None or str(flow_run.id) != flow_run_id:
        return FlowRunRecord(flow_run_id, flow_name="")  # named from the API at the end
    return FlowRunRecord(
        flow_run_id,
        flow_name=flow.name if flow is not None else "",
        description=values.first_line(getattr(flow, "description", None)),
        file=values.source_file(getattr(flow, "fn", None)),
        started_at=getattr(flow_run, "start_time", None),
        parameters=values.masked_parameters(getattr(flow_run, "parameters", None) or {}),
    )


def _record(engine: Any) -> TaskRunRecord | None:
    found = _recorded(engine)
    return found[1] if found is not None else None


def _recorded(engine: Any) -> tuple[FlowRecorder, TaskRunRecord] | None:
    recorder = active.get()
    task_run = getattr(engine, "task_run", None)
    if recorder is None or task_run is None:
        return None
    flow = recorder.flow_run(str(task_run.flow_run_id))
    task = engine.task
    return recorder, flow.task_run(
        str(task_run.id),
        lambda: TaskRunRecord(
            str(task_run.id),
            task.name,
            operator=values.function_path(getattr(task, "fn", None)),
            doc=values.first_line(getattr(task, "description", None))
            or values.first_line(getattr(getattr(task, "fn", None), "__doc__", None)),
            created=_call_order(task_run.id),
        ),
    )


def _call_order(task_run_id: Any) -> int:
    """Where the call stands among the flow run's calls: Prefect makes task run ids (UUID 7,
    made strictly increasing by :mod:`aimops.flows.capture.ordering`) in the calling thread, in
    call order, so a ``.map`` or a row of ``.submit`` s keeps its order even when the runs start
    in another order on the threads."""
    if getattr(task_run_id, "version", None) == 7:
        return int(task_run_id.int)
    return next(_order)


def state_entered(engine: Any, state: Any) -> None:
    """A task run entered ``state``: open, close or mark its tries; once it succeeded, what it
    made goes to the store."""
    found = _recorded(engine)
    if found is None:
        return
    recorder, record = found
    task_run = engine.task_run
    running = bool(state.is_running())
    final = bool(state.is_final())
    inputs = None
    if not record.upstream_ids:
        record.upstream_ids.update(_upstream_ids(task_run))
    if running:
        parameters = getattr(engine, "parameters", None) or {}
        if not record.tries:
            record.consumed_refs = find_references(list(parameters.values()))
        inputs = values.masked_parameters(parameters)
    closing = record.closes_try(str(state.name), running=running, final=final)
    record.entered(
        str(state.name),
        state.timestamp,
        running=running,
        final=final,
        message=getattr(state, "message", None),
        inputs=inputs,
        mlflow=_mlflow_run(record.id) if closing else None,
    )
    if running:
        mlflow_runs.try_started(record.id)
    elif final and record.state == "success" and recorder.deliver is not None:
        made = outputs_event(record)
        if made is not None:
            recorder.deliver(made)


def _mlflow_run(key: str) -> mlflow_runs.RunSnapshot | None:
    """The MLflow run the ending try logged to, read now (a version registered later from it,
    by another task, is not this try's)."""
    run_id = mlflow_runs.try_run_id(key)
    if run_id is None:
        return None
    from aimops.metadata.capture.sink import capture_timeout

    return mlflow_runs.read_run(run_id, capture_timeout())


def raised(engine: Any, error: BaseException) -> None:
    """The running try raised ``error``."""
    record = _record(engine)
    if record is not None:
        record.failed_with(error)


def returned(engine: Any, result: Any) -> None:
    """The try returned ``result``: the references in it, and the assets it materialized."""
    record = _record(engine)
    if record is None:
        return
    record.returned_refs = find_references(result)
    from prefect.context import AssetContext

    context = AssetContext.get()
    if context is not None:
        record.produced_assets = [_asset(a) for a in context.downstream_assets]
        read = set(context.upstream_assets) | set(context.direct_asset_dependencies)
        record.consumed_assets = sorted(_asset(a) for a in read)


def _asset(asset: Any) -> tuple[str, str | None]:
    properties = getattr(asset, "properties", None)
    name = getattr(properties, "name", None) or asset.key
    return str(name), str(asset.key)


def _upstream_ids(task_run: Any) -> set[str]:
    """The task runs this one waited for or took a result from."""
    found: set[str] = set()
    for name, inputs in (getattr(task_run, "task_inputs", None) or {}).items():
        if name == "__parents__":  # the task run it was called from, not one it waited for
            continue
        for item in inputs:
            if getattr(item, "input_type", None) == "task_run" and getattr(item, "id", None):
                found.add(str(item.id))
    return found
