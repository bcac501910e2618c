"""A DAG run's start and end, recorded off the scheduler's thread.

The scheduler fires ``on_dag_run_*`` inside its scheduling pass, before it commits, and a query
through its ``DagRun`` would detach it and stop the scheduler's loop. So the hook only takes a
:class:`RunSnapshot` (attributes the scheduler already loaded) and hands it to the process's
background worker (:mod:`aimops.metadata.capture.background`). For a run's end the worker then,
with a session of its own, waits up to ``COMMIT_WAIT_SECONDS`` until the run's final state is
committed (the last ``skipped`` / ``upstream_failed`` states commit with it), reads every task
instance, and records what the store does not hold yet
(:mod:`~aimops.metadata.capture.final_states`): branches not taken, trigger-rule skips,
``upstream_failed``, ``EmptyOperator`` s the scheduler marked ``success``, states set by hand.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aimops.metadata.capture.background import Background
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.capture.final_states import FinalTask, add_final_states, recorded_steps
from aimops.metadata.urns import run_urn
from aimops.operators.capture import events
from aimops.operators.capture.dag_facts import operator_name

log = logging.getLogger("aimops.capture")

#: How long the worker waits for the scheduler to commit a run's final state.
COMMIT_WAIT_SECONDS = 5.0
FIRST_POLL_SECONDS = 0.01
LAST_POLL_SECONDS = 0.2
ENDED = frozenset({"success", "failed"})

worker = Background("capture")


class CommitTimeoutError(TimeoutError):
    """The run's final state was not committed in time (its task instances are not recorded)."""


@dataclass(frozen=True)
class RunSnapshot:
    """What the hook read off the scheduler's ``DagRun``: attributes only, no query."""

    dag: Any
    dag_id: str
    run_id: str
    state: str
    start_date: datetime | None = None
    end_date: datetime | None = None
    run_type: str | None = None
    conf: dict[str, Any] = field(default_factory=dict)


def snapshot(dag: Any, dag_run: Any, state: str) -> RunSnapshot:
    """The hook's part: copy what it needs, in microseconds."""
    return RunSnapshot(
        dag=dag,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        state=state,
        start_date=getattr(dag_run, "start_date", None),
        end_date=getattr(dag_run, "end_date", None),
        run_type=getattr(dag_run, "run_type", None),
        conf=dict(getattr(dag_run, "conf", None) or {}),
    )


def run_event(run: RunSnapshot) -> CaptureEvent:
    """The pipeline and the run in the snapshot's state."""
    return events.dag_run_changed(run.dag, run, run.state)


def record_run_change(run: RunSnapshot, emit: Any, read: Any) -> int:
    """The worker's part: record the run, and at its end every task instance that differs.

    ``emit(event)`` delivers an event; ``read(work)`` runs ``work(store)`` on the AIM store
    (None when it cannot answer). Returns how many task instances were brought up to date.
    """
    event = run_event(run)
    changed = 0
    if run.state in ENDED:
        try:
            committed = wait_for_commit(run.dag_id, run.run_id, run.state)
        except CommitTimeoutError:
            emit(event)  # the run's own state is known: only its task instances wait
            raise
        tasks = read_task_instances(run.dag, run.dag_id, run.run_id)
        urn = run_urn(events.ORCHESTRATOR, run.dag_id, run.run_id)
        recorded = read(lambda store: recorded_steps(store, urn)) or {}
        if committed is not None:
            event = run_event(dataclasses.replace(run, end_date=committed))
        changed = add_final_states(event, urn, tasks, recorded)
    emit(event)
    return changed


def _session() -> Any:
    """A session of the worker's own on Airflow's metadata DB (never the scheduler's)."""
    from airflow import settings

    if settings.NonScopedSession is None:  # pragma: no cover - only outside Airflow's processes
        raise RuntimeError("Airflow's metadata DB is not configured in this process")
    return settings.NonScopedSession()


def wait_for_commit(dag_id: str, run_id: str, state: str) -> datetime | None:
    """Wait until the run's ``state`` is committed; its committed end date.

    Each poll is a transaction of its own (SQLite keeps a reader's snapshot until it ends).
    Raises :class:`CommitTimeoutError` after ``COMMIT_WAIT_SECONDS``.
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    query = select(DagRun.state, DagRun.end_date).where(
        DagRun.dag_id == dag_id, DagRun.run_id == run_id
    )
    deadline = time.monotonic() + COMMIT_WAIT_SECONDS
    pause = FIRST_POLL_SECONDS
    session = _session()
    try:
        while True:
            row = session.execute(query).first()
            session.rollback()
            if row is not None and events.airflow_word(row.state) == state:
                return row.end_date  # type: ignore[no-any-return]
            if time.monotonic() + pause > deadline:
                seen = events.airflow_word(row.state) if row is not None else "no such run"
                raise CommitTimeoutError(
                    f"the {state} state of DAG run {dag_id}/{run_id} was not committed within "
                    f"{COMMIT_WAIT_SECONDS:g} s (still {seen}); its task instances are not "
                    "recorded until its next end"
                )
            time.sleep(pause)
            pause = min(pause * 2, LAST_POLL_SECONDS)
    finally:
        session.close()


def read_task_instances(dag: Any, dag_id: str, run_id: str) -> list[FinalTask]:
    """Every task instance of the run that has a state, as Airflow's database holds it."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    query = select(
        TI.task_id,
        TI.map_index,
        TI.state,
        TI.try_number,
        TI.start_date,
        TI.end_date,
        TI.hostname,
    ).where(TI.dag_id == dag_id, TI.run_id == run_id)
    session = _session()
    try:
        rows = session.execute(query).all()
        session.rollback()
    finally:
        session.close()
    task_dict = getattr(dag, "task_dict", None) or {}
    return [
        FinalTask(
            task_id=row.task_id,
            map_index=row.map_index,
            native_state=str(events.airflow_word(row.state)),
            try_number=int(row.try_number or 0),
            operator=operator_name(task_dict.get(row.task_id)),
            started_at=row.start_date,
            ended_at=row.end_date,
            hostname=row.hostname or None,
        )
        for row in rows
        if row.state is not None
    ]
