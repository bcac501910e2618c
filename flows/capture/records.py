"""What a tracked flow run saw, kept in memory until the flow run ends.

The capture engine (:mod:`aimops.flows.capture.engine`) reports each state a task run enters,
the error of each try and the value it returned; a :class:`TaskRunRecord` turns that stream
into tries: a running state (``Running``, or ``Retrying`` after a failed try) opens a try, the
next state closes it. A try closed by ``Retrying`` or ``AwaitingRetry`` failed, with the error
the engine raised in it; a final state closes the last one. ``NotReady`` (an upstream task
failed) means the task never ran: no tries, state ``upstream_failed``. Nothing here imports
Prefect, and nothing here touches the store: :mod:`aimops.flows.capture.events` turns the
records into one capture event at the flow run's end.

Example:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> run = TaskRunRecord("id-1", "fit")
    >>> run.entered("Running", now, running=True, final=False)
    >>> run.failed_with(ValueError("feature store timed out"))
    >>> run.entered("Retrying", now, running=True, final=False)
    >>> run.entered("Completed", now, running=False, final=True)
    >>> [(t.number, t.state, t.error) for t in run.tries]
    [(1, 'failed', 'ValueError: feature store timed out'), (2, 'success', None)]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aimops.metadata.capture import values
from aimops.metadata.states import normalize_state

#: Prefect's name for a task run whose upstream did not complete (it never ran).
NOT_READY = "NotReady"
#: States that end a try without ending the task run: it will run again.
RETRY_STATES = frozenset({"Retrying", "AwaitingRetry"})


@dataclass
class TryRecord:
    """One try of a task run: when it ran, how it ended, what went wrong."""

    number: int
    started_at: datetime
    inputs: dict[str, Any] | None = None
    ended_at: datetime | None = None
    native_state: str = "Running"
    state: str = "running"
    error: str | None = None
    #: What MLflow held of the run the try logged to, read when the try ended.
    mlflow: Any = None


@dataclass
class TaskRunRecord:
    """One task run: its task, its tries, its inputs and outputs, as far as they were seen."""

    id: str
    task_name: str
    operator: str | None = None
    doc: str | None = None
    upstream_ids: set[str] = field(default_factory=set)
    created: float = 0.0
    native_state: str = "Pending"
    tries: list[TryRecord] = field(default_factory=list)
    #: aimops references the task received and returned (lineage), and Prefect assets
    #: (name, URI) it read and materialized.
    consumed_refs: list[dict[str, Any]] = field(default_factory=list)
    returned_refs: list[dict[str, Any]] = field(default_factory=list)
    consumed_assets: list[tuple[str, str | None]] = field(default_factory=list)
    produced_assets: list[tuple[str, str | None]] = field(default_factory=list)
    _error: str | None = None

    @property
    def state(self) -> str:
        """The shared state word: the last try's, ``upstream_failed`` for one that never ran."""
        if self.native_state == NOT_READY:
            return "upstream_failed"
        return normalize_state("prefect", self.native_state)

    @property
    def open_try(self) -> TryRecord | None:
        last = self.tries[-1] if self.tries else None
        return last if last is not None and last.ended_at is None else None

    def closes_try(self, name: str, *, running: bool, final: bool) -> bool:
        """Whether entering state ``name`` ends the try in progress (if one is)."""
        return self.open_try is not None and (running or final or name in RETRY_STATES)

    def failed_with(self, error: BaseException | str) -> None:
        """The error the running try raised (kept until the state that ends the try)."""
        self._error = values.error_text(error)

    def entered(
        self,
        name: str,
        at: datetime,
        *,
        running: bool,
        final: bool,
        message: str | None = None,
        inputs: dict[str, Any] | None = None,
        mlflow: Any = None,
    ) -> None:
        """The task run entered state ``name`` (Prefect's own word) at ``at``."""
        self.native_state = name
        current = self.open_try
        if self.closes_try(name, running=running, final=final) and current is not None:
            failed_try = not final  # closed by Retrying / AwaitingRetry: that try failed
            current.ended_at = at
            current.native_state = name
            current.state = "failed" if failed_try else normalize_state("prefect", name)
            if current.state == "failed":
                current.error = self._error or (message or None)
            current.mlflow = mlflow
            self._error = None
        if running:
            self.tries.append(TryRecord(len(self.tries) + 1, at, inputs=inputs))


@dataclass
class FlowRunRecord:
    """One flow run (a tracked flow, or a subflow of one) and the task runs seen in it."""

    id: str
    flow_name: str
    parent_id: str | None = None
    description: str | None = None
    file: str | None = None
    project: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    native_state: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    run_type: str | None = None
    tasks: dict[str, TaskRunRecord] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def task_run(self, task_run_id: str, make: Any) -> TaskRunRecord:
        """The record of a task run, made by ``make()`` the first time it is seen."""
        with self.lock:
            record = self.tasks.get(task_run_id)
            if record is None:
                record = self.tasks[task_run_id] = make()
            return record

    def ordinals(self) -> dict[str, int | None]:
        """Each task run's ``<n>``: its place among the calls of its task, in the order the
        calls were made; None for a task called once in the run."""
        by_task: dict[str, list[TaskRunRecord]] = {}
        for record in self.tasks.values():
            by_task.setdefault(record.task_name, []).append(record)
        found: dict[str, int | None] = {}
        for calls in by_task.values():
            calls.sort(key=lambda r: r.created)
            for n, record in enumerate(calls):
                found[record.id] = n if len(calls) > 1 else None
        return found
