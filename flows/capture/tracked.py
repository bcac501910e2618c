"""``@tracked``: a Prefect flow whose runs, task runs, tries and lineage go to the AIM store.

Place it above ``@flow`` (or call it on a flow made elsewhere); tasks stay plain ``@task`` s.
While the flow's body runs, the capture engine (:mod:`aimops.flows.capture.engine`) reports
every task run's states, errors, inputs and outputs to the run's records; when the flow run
ends (a state hook on the flow), they are written to the store as one event, together with
the subflow runs it started (read from Prefect's API, one query per flow run). The run itself
is written when it starts, so it shows as running meanwhile.

Capture never fails a flow: a store that cannot answer within ``AIMOPS_CAPTURE_TIMEOUT``
seconds sends the events to the spool (``aimops spool replay`` brings them in), any other
problem is logged once, and ``AIMOPS_CAPTURE=off`` turns it off.

Example:
    >>> from prefect import flow, task
    >>> @task
    ... def add(a: int, b: int) -> int:
    ...     return a + b
    >>> @tracked(project="demo")
    ... @flow
    ... def pipeline(x: int = 1) -> int:
    ...     return add(x, 2)
    >>> pipeline.name
    'pipeline'
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aimops.errors import InvalidInputError
from aimops.flows.capture import engine, observer, values
from aimops.flows.capture.records import FlowRunRecord
from aimops.settings import capture_enabled

if TYPE_CHECKING:
    from aimops.metadata.capture.sink import CaptureSink

F = TypeVar("F")
log = logging.getLogger("aimops.capture")

TRACKED_ATTRIBUTE = "_aimops_tracked"
_sink: CaptureSink | None = None
_sink_pid: int | None = None
_sink_lock = threading.Lock()
_recorders: dict[str, observer.FlowRecorder] = {}
#: Flow runs a tracked flow's own hook recorded (a tracked subflow): its parent skips them.
_self_recorded: dict[str, None] = {}
MAX_REMEMBERED = 10_000
_logged: set[str] = set()


@overload
def tracked(flow: F, *, project: str | None = None) -> F: ...
@overload
def tracked(flow: None = None, *, project: str | None = None) -> Callable[[F], F]: ...
def tracked(flow: Any = None, *, project: str | None = None) -> Any:
    """Capture the runs of a Prefect flow into the AIM store; returns the tracked flow.

    ``project`` names the AIM project the pipeline belongs to (default: the flow's name).
    """
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise InvalidInputError(f"@tracked's project is a name (text): got {project!r}")
    if flow is None:
        return lambda made: tracked(made, project=project)
    from prefect import Flow

    if not isinstance(flow, Flow):
        raise InvalidInputError(
            f"@tracked goes above @flow (or takes a Prefect flow): got {type(flow).__name__} "
            f"{getattr(flow, '__name__', flow)!r}"
        )
    if hasattr(flow, TRACKED_ATTRIBUTE):
        return flow
    if inspect.isgeneratorfunction(flow.fn) or inspect.isasyncgenfunction(flow.fn):
        raise InvalidInputError(f"@tracked does not take generator flows: {flow.name!r} is one")
    made = flow.with_options(
        on_completion=[*flow.on_completion_hooks, aimops_capture],
        on_failure=[*flow.on_failure_hooks, aimops_capture],
        on_crashed=[*flow.on_crashed_hooks, aimops_capture],
        on_cancellation=[*flow.on_cancellation_hooks, aimops_capture],
    )
    made.fn = _recording(flow.fn, made, project)
    setattr(made, TRACKED_ATTRIBUTE, project or "")  # its project; "" for the flow's name
    return made


def _recording(fn: Any, flow: Any, project: str | None) -> Any:
    """``fn`` run with the flow run's recorder active (sync or async, like ``fn``)."""
    wrapper = _wrapper(fn, flow, project)
    # Prefect validates parameters against the signature, resolving text annotations (``from
    # __future__ import annotations``) in the wrapper's module: resolve them in the flow's. A
    # forward reference that cannot be resolved yet stays Prefect's own problem.
    with contextlib.suppress(Exception):
        wrapper.__signature__ = inspect.signature(fn, eval_str=True)
    return wrapper


def _wrapper(fn: Any, flow: Any, project: str | None) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            token = _start(flow, project)
            try:
                return await fn(*args, **kwargs)
            finally:
                _body_ended(token)

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = _start(flow, project)
        try:
            return fn(*args, **kwargs)
        finally:
            _body_ended(token)

    return run


def _start(flow: Any, project: str | None) -> Any:
    """Begin recording the flow run in progress; the context token, None when not capturing."""
    try:
        if not capture_enabled() or not engine.install():
            return None
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        flow_run = getattr(context, "flow_run", None)
        if flow_run is None:  # the body called as a plain function (flow.fn(...))
            return None
        # the flow that runs: a copy made by with_options(name=...) keeps this body
        running = getattr(context, "flow", None) or flow
        record = _flow_record(running, flow_run, project)
        recorder = _recorders[record.id] = observer.FlowRecorder(record, deliver=sink().emit)
        from aimops.flows.capture.events import run_started_event

        sink().emit(run_started_event(record))
        return observer.active.set(recorder)
    except Exception as exc:  # capture never stops a flow
        _log_once("start", "aimops capture skipped a flow run's start: %r", exc)
        return None


def _body_ended(token: Any) -> None:
    """The flow's body returned or raised: note whether it called subflows (Prefect numbers
    each subflow call in the flow run's context; task calls have ids of their own), so the end
    asks Prefect's API for subflow runs only when there may be some."""
    if token is None:
        return
    recorder = observer.active.get()
    observer.active.reset(token)
    try:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        if recorder is not None and context is not None:
            recorder.called_subflows = bool(context.task_run_dynamic_keys)
    except Exception as exc:  # then the end asks the API, as it would without this
        _log_once("subflows", "aimops capture could not tell whether subflows ran: %r", exc)
        if recorder is not None:
            recorder.called_subflows = True


def _flow_record(flow: Any, flow_run: Any, project: str | None) -> FlowRunRecord:
    return FlowRunRecord(
        str(flow_run.id),
        flow_name=flow.name,
        description=values.first_line(getattr(flow, "description", None)),
        file=values.source_file(getattr(flow, "fn", None)),
        project=project or flow.name,
        started_at=getattr(flow_run, "start_time", None),
        parameters=values.masked_parameters(getattr(flow_run, "parameters", None) or {}),
        run_type="deployment" if getattr(flow_run, "deployment_id", None) else "manual",
    )


def aimops_capture(flow: Any, flow_run: Any, state: Any) -> None:
    """The flow's state hook (``aimops_capture`` in the flow's log): write the run, its task
    runs and its subflow runs."""
    try:
        if not capture_enabled():
            return
        from aimops.flows.capture import subflows
        from aimops.flows.capture.events import flow_run_event

        recorder = _recorders.pop(str(flow_run.id), None)
        if recorder is None and _ended_already(flow, flow_run, state):
            return
        if recorder is None:  # it ended before its body ran (its parameters were refused)
            recorder = observer.FlowRecorder(
                _flow_record(flow, flow_run, getattr(flow, TRACKED_ATTRIBUTE, None) or None)
            )
        root = recorder.root
        root.native_state = str(state.name)
        root.ended_at = state.timestamp
        root.started_at = root.started_at or getattr(flow_run, "start_time", None)
        parent = subflows.parent_run(flow_run)
        deliver = sink()
        deliver.emit(flow_run_event(root, parent=parent))
        _self_recorded[root.id] = None
        while len(_self_recorded) > MAX_REMEMBERED:
            del _self_recorded[next(iter(_self_recorded))]
        if not recorder.may_have_subflows():
            return
        for record, parent_urn in subflows.subflow_runs(recorder, skip=_self_recorded):
            deliver.emit(flow_run_event(record, parent=parent_urn))
    except Exception as exc:  # capture never changes a flow's outcome
        _log_once("end", "aimops capture skipped a flow run's end: %r", exc)


def _ended_already(flow: Any, flow_run: Any, state: Any) -> bool:
    """Whether a late cancellation or crash of a run another process recorded as ended (a
    served flow run whose process was stopped after its state was final: the runner calls the
    flow's hooks again) must be left alone: the store keeps the state the run ended in."""
    if not (state.is_cancelled() or state.is_crashed()):
        return False
    from aimops.metadata.capture.sink import capture_timeout
    from aimops.metadata.states import TERMINAL_STATES
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn
    from aimops.settings import default_store_url

    urn = run_urn("prefect", str(flow.name), str(flow_run.id))
    try:
        with AimStore.open(default_store_url(), create=False, timeout=capture_timeout()) as store:
            info = store.get_aspect(urn, "runInfo")
    except Exception:  # the store cannot say: record the state, as for any other end
        return False
    status = info.value.get("status") if info is not None else None
    if status not in TERMINAL_STATES or status == "cancelled":
        return False
    log.info("aimops: %s ended %s already; its late %s is not recorded", urn, status, state.name)
    return True


def sink() -> CaptureSink:
    """The process's capture sink (a forked process gets its own), on the default store."""
    global _sink, _sink_pid
    from aimops.metadata.capture.sink import CaptureSink
    from aimops.settings import default_store_url

    with _sink_lock:
        if _sink is None or _sink_pid != os.getpid():
            _sink = CaptureSink(default_store_url())
            _sink_pid = os.getpid()
        return _sink


def reset_capture() -> None:
    """Forget the process's sink and every flow run in progress (a new store, a test)."""
    global _sink
    with _sink_lock:
        if _sink is not None:
            _sink.close()
        _sink = None
        _recorders.clear()
        _self_recorded.clear()
        _logged.clear()


def _log_once(kind: str, message: str, *args: object) -> None:
    if kind not in _logged:
        _logged.add(kind)
        log.warning(message, *args)
