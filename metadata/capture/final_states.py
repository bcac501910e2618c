"""A run's end: bring its steps to the final states the orchestrator's database holds.

Task hooks see only the tasks that ran. Task instances that end without running (a branch not
taken, a skip set by a trigger rule, ``upstream_failed``, an ``EmptyOperator`` the scheduler
marks ``success``) and states set by hand reach no task hook. At a run's end the orchestrator
adapter reads every task instance as a :class:`FinalTask`; :func:`add_final_states` compares
them with what the store holds (:func:`recorded_steps`) and adds to an event only what differs:
a step that is missing or in another state, and the try that ended the task when the store has
it in another state (or not at all). A task that never ran gets a step with no attempts.
Applying the same end twice changes nothing the second time.

Example:
    >>> from aimops.metadata.capture.events import CaptureEvent, apply_event
    >>> from aimops.metadata.store import AimStore
    >>> from aimops.metadata.urns import run_urn
    >>> store = AimStore.open("sqlite://")
    >>> event = CaptureEvent(source="python")
    >>> run = event.run(orchestrator="airflow", pipeline="etl", run_id="r1")
    >>> tasks = [FinalTask("load", None, "success", 1), FinalTask("skip_me", None, "skipped", 0)]
    >>> add_final_states(event, run, tasks, recorded_steps(store, run))
    2
    >>> apply_event(store, event)
    >>> add_final_states(CaptureEvent(source="python"), run, tasks, recorded_steps(store, run))
    0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.urns import Urn, step_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

#: The states a try ends in, which a run's end may write onto that try.
TRY_END_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True)
class FinalTask:
    """One task instance of an ended run, as the orchestrator's database holds it.

    ``try_number`` 0 means it never ran; ``native_state`` is the orchestrator's own word.
    """

    task_id: str
    map_index: int | None
    native_state: str
    try_number: int
    operator: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class RecordedStep:
    """What the store holds of a step: its native state and each try's."""

    native_state: str | None
    tries: Mapping[int, str | None] = field(default_factory=dict)


def recorded_steps(store: AimStore, run: Urn | str) -> dict[str, RecordedStep]:
    """Every step the store holds of ``run``, by URN (three queries, whatever the count)."""
    urns = [entity.urn for entity in store.related(run, "partOf", incoming=True)]
    infos = store.latest_values(urns, "stepInfo")
    attempts = store.latest_values(urns, "stepAttempts")
    return {
        urn: RecordedStep(
            native_state=(infos.get(urn) or {}).get("native_state"),
            tries={
                int(a["try_number"]): a.get("native_state")
                for a in (attempts.get(urn) or {}).get("attempts", [])
            },
        )
        for urn in urns
    }


def add_final_states(
    event: CaptureEvent,
    run: Urn,
    tasks: Iterable[FinalTask],
    recorded: Mapping[str, RecordedStep],
) -> int:
    """Add to ``event`` the steps and tries of ``tasks`` the store lacks; how many tasks that is.

    The try is written only for a task that ran (``try_number`` above 0) and ended in
    :data:`TRY_END_STATES`: a task skipped or failed upstream after a clear keeps the tries it
    had, and only its step takes the new state.
    """
    orchestrator, pipeline, run_id = run.segments
    changed = []
    for task in tasks:
        index = task.map_index if task.map_index is not None and task.map_index >= 0 else None
        urn = str(step_urn(orchestrator, pipeline, run_id, task.task_id, index))
        known = recorded.get(urn)
        step_differs = known is None or known.native_state != task.native_state
        try_differs = (
            task.try_number > 0
            and task.native_state in TRY_END_STATES
            and (known is None or known.tries.get(task.try_number) != task.native_state)
        )
        if step_differs or try_differs:
            changed.append(
                {
                    "task_id": task.task_id,
                    "map_index": index,
                    "operator": task.operator,
                    "native_state": task.native_state,
                    "attempt": _try_fields(task) if try_differs else None,
                }
            )
    event.final_steps(run, changed)
    return len(changed)


def _try_fields(task: FinalTask) -> dict[str, Any]:
    duration = None
    if task.started_at is not None and task.ended_at is not None:
        duration = max((task.ended_at - task.started_at).total_seconds(), 0.0)
    return {
        "try_number": task.try_number,
        "native_state": task.native_state,
        "started_at": task.started_at,
        "ended_at": task.ended_at,
        "duration_s": duration,
        "hostname": task.hostname or None,
    }
