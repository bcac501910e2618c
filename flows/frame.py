"""The task frame in Prefect's terms: what every aimops Prefect task shares around its core job.

The shared frame (:mod:`aimops.tasks`: ``TaskOutcome``, ``is_transient``) decides from the
error whether a failure is permanent, as it does for the Airflow operators; here that decision
is only translated:

- the error is raised as it is, and the task's ``retry_condition_fn`` (:func:`retry_if_transient`)
  asks the shared frame whether it is worth another try: a permanent error (bad input, a failed
  gate or check, a refused transition, a wrong setting) fails the task run at once, whatever its
  ``retries``; a transient one (the store busy or unreachable, a model version not recorded yet)
  keeps them. Every aimops task has 2 retries, 10 s apart; ``task.with_options(retries=...)``
  changes them;
- the job runs as it is, in the task run (:func:`in_frame` opens and closes the store); only
  its error is judged;
- what a task records is keyed by the task run's identity (:func:`current_identity`):
  ``prefect/<flow>/<flow run id>/<task>[/<n>]`` and produced by its step, the same step
  ``@tracked`` capture records, so a retry records over its first try;
- transitions and ramps act as ``prefect:<flow>`` unless given an ``actor``, and name the flow
  run and the task run they came from (:meth:`TaskIdentity.origin`).

Example:
    >>> identity = TaskIdentity("churn", "0b9c", "evaluate_model", None)
    >>> identity.key, identity.actor
    ('prefect/churn/0b9c/evaluate_model', 'prefect:churn')
    >>> identity.origin()["task"]
    'urn:aim:step:prefect/churn/0b9c/evaluate_model'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from aimops.tasks import TaskOutcome

if TYPE_CHECKING:
    from prefect import Task

    from aimops.flows.blocks import AimopsStore
    from aimops.metadata.store import AimStore

T = TypeVar("T")

ORCHESTRATOR = "prefect"
#: The retries of every aimops task, and the seconds between them (``with_options`` changes
#: them; only transient errors use them).
RETRIES, RETRY_DELAY_SECONDS = 2, 10
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskIdentity:
    """Which task run is recording: its flow, flow run, task and call number (None for the
    first call of the task in the flow run; Prefect's dynamic key for later ones)."""

    flow_name: str
    flow_run_id: str
    task_name: str
    index: int | None = None

    @property
    def key(self) -> str:
        """The key of what the task run records (an evaluation, a check)."""
        parts = [ORCHESTRATOR, self.flow_name, self.flow_run_id, self.task_name]
        return "/".join(parts if self.index is None else [*parts, str(self.index)])

    @property
    def producer(self) -> str:
        """The URN of the task run's step."""
        from aimops.metadata.urns import step_urn

        return str(
            step_urn(ORCHESTRATOR, self.flow_name, self.flow_run_id, self.task_name, self.index)
        )

    @property
    def actor(self) -> str:
        """Who a transition acts as when no ``actor`` is given."""
        return f"{ORCHESTRATOR}:{self.flow_name}"

    def origin(self) -> dict[str, str]:
        """Where a transition or ramp comes from: the flow run's and the task run's URNs."""
        from aimops.metadata.urns import run_urn

        run = run_urn(ORCHESTRATOR, self.flow_name, self.flow_run_id)
        return {"kind": ORCHESTRATOR, "run": str(run), "task": self.producer}


def current_identity() -> TaskIdentity:
    """The identity of the task run in progress. A task run outside any flow run (Prefect
    allows it) is its own run: ``prefect/<task>/<task run id>/<task>``."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_context = TaskRunContext.get()
    if task_context is None:
        from aimops.errors import ConfigurationError

        raise ConfigurationError("an aimops Prefect task runs only as a task run")
    task_name = str(task_context.task.name)
    flow_context = FlowRunContext.get()
    task_run = task_context.task_run
    if flow_context is None or flow_context.flow_run is None or task_run.flow_run_id is None:
        return TaskIdentity(task_name, str(task_run.id), task_name)
    flow_run_id = str(task_run.flow_run_id)
    return TaskIdentity(
        str(getattr(flow_context.flow, "name", "") or task_name), flow_run_id, task_name,
        _call_number(flow_run_id, task_name, str(task_run.id)),
    )  # fmt: skip


#: Task run ids per (flow run, task name), in the order their first try ran in this process.
_CALLS: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
_CALLS_LOCK = threading.Lock()
_CALLS_KEPT = 512


def _call_number(flow_run_id: str, task_name: str, task_run_id: str) -> int | None:
    """The task run's place among the runs of its task in the flow run: None for the first,
    then 1, 2... A retry (the same task run) keeps its number. Prefect's own dynamic keys are
    random, so the count is kept here, for the flow runs of this process."""
    with _CALLS_LOCK:
        seen = _CALLS.setdefault((flow_run_id, task_name), [])
        _CALLS.move_to_end((flow_run_id, task_name))
        while len(_CALLS) > _CALLS_KEPT:
            _CALLS.popitem(last=False)
        if task_run_id not in seen:
            seen.append(task_run_id)
        number = seen.index(task_run_id)
    return number or None


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """The ``retry_condition_fn`` of every aimops task: retry only a transient error."""
    error = getattr(state, "data", None)
    if not isinstance(error, BaseException):
        try:
            error = state.result(raise_on_failure=False)
        except Exception as exc:  # the result could not be read: the error is that
            error = exc
    if not isinstance(error, Exception):
        return True  # not an error we can judge: the task's retries decide
    outcome: TaskOutcome[Any] = TaskOutcome(error=error)
    if outcome.permanent:
        run_logger().error("%s (permanent: not retried)", outcome.message)
    return outcome.transient


def in_frame(store: AimopsStore | str | None, job: Callable[[AimStore], T]) -> T:
    """Run ``job`` on the store the task was given (a block, a saved block's name or None) and
    close it: the job's value, or its error raised as it is, for :func:`retry_if_transient` to
    judge. A missing block is an error like any other."""
    from aimops.flows.blocks import resolve_store

    with resolve_store(store).open(actor=None) as aim:
        return job(aim)


def run_logger() -> Any:
    """The logger aimops tasks write their lines to: the task run's (in Prefect's UI), a plain
    one outside a run."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        import logging

        return logging.getLogger("aimops.flows")


def aimops_task(fn: Callable[P, R]) -> Task[P, R]:
    """``fn`` as an aimops Prefect task: its name, :data:`RETRIES` retries
    :data:`RETRY_DELAY_SECONDS` apart, the tag ``aimops`` and the frame's retry condition."""
    from prefect import task

    made: Task[P, R] = task(
        retries=RETRIES,
        retry_delay_seconds=RETRY_DELAY_SECONDS,
        tags={"aimops"},
        retry_condition_fn=retry_if_transient,
    )(fn)
    return made
