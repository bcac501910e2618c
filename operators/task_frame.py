"""The task frame in Airflow's terms: what every aimops operator shares around its core job.

:func:`aimops.tasks.run_task` runs the job and says how it ended; :func:`task_result` only
translates that: a permanent failure fails the task at once (``AirflowFailException``: no
retry, the error's message as the task's failure), a transient one is raised as it is, so the
task's ``retries`` apply. :func:`task_identity` keys what a task records by the task
instance, so that a retry records over its first try.

Example:
    >>> task_key("churn", "manual__1", "evaluate", 2)
    'airflow/churn/manual__1/evaluate/2'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aimops.tasks import TaskOutcome

T = TypeVar("T")


def task_result(outcome: TaskOutcome[T]) -> T:
    """The job's value; its failure as Airflow should see it (see the module docstring)."""
    from airflow.sdk.exceptions import AirflowFailException

    if outcome.error is None:
        return outcome.result()
    if outcome.permanent:
        raise AirflowFailException(outcome.message) from outcome.error
    raise outcome.error


def task_key(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1) -> str:
    """The key of what a task instance records (an evaluation, a check): its identity."""
    parts = ["airflow", dag_id, run_id, task_id]
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    return "/".join(parts)


def task_identity(ti: Any, key: str | None = None) -> tuple[str, str]:
    """(key, producer) of what a running task instance records: ``key`` or the task's
    identity (:func:`task_key`), and its step's URN."""
    from aimops.metadata.urns import step_urn

    producer = step_urn("airflow", ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    return key or task_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index), str(producer)
