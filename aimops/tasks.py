"""The task frame: one way to run a core job as an orchestrated task, and to say how it ended.

An Airflow operator and a Prefect task do the same thing around a job of the core (evaluate a
model, run a check, move a lifecycle state): run it, and on failure decide whether the
orchestrator should try again. That decision is made here, once, from the error itself:

- a **permanent** failure (bad input, a failed gate or check, a wrong setting: the error's
  ``transient`` is false) fails the task now; trying again would fail the same way;
- a **transient** failure (the store busy or unreachable, a model version, a file or reference
  data not recorded yet: ``transient`` is true) keeps the task's retries;
- an error from outside aimops (a network error, a library's own) is transient: the
  orchestrator's retry policy decides, as it would without aimops.

:func:`run_task` runs the job and returns a :class:`TaskOutcome`; each adapter only translates
it into its orchestrator's terms (Airflow: ``AirflowFailException`` for permanent, the error
itself for transient).

Example:
    >>> from aimops.errors import InvalidDataError, StoreBusyError
    >>> run_task(lambda: 42).value
    42
    >>> outcome = run_task(lambda: (_ for _ in ()).throw(InvalidDataError("labels hold NaN")))
    >>> outcome.failed, outcome.permanent, outcome.message
    (True, True, 'labels hold NaN')
    >>> is_transient(StoreBusyError("locked")), is_transient(OSError("disk")), is_transient(
    ...     InvalidDataError("NaN"))
    (True, True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aimops.errors import AimopsError

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    """Whether trying again may help: the error's own ``transient`` for aimops errors, true for
    anything else (the orchestrator's retry policy then decides)."""
    if isinstance(error, AimopsError):
        return bool(error.transient)
    return True


@dataclass(frozen=True)
class TaskOutcome(Generic[T]):
    """How a job ended: its ``value``, or the ``error`` it raised and whether that is final."""

    value: T | None = None
    error: Exception | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def permanent(self) -> bool:
        """The job failed and would fail again: fail the task, no retry."""
        return self.error is not None and not is_transient(self.error)

    @property
    def transient(self) -> bool:
        """The job failed, and a later try may succeed: keep the task's retries."""
        return self.error is not None and is_transient(self.error)

    @property
    def message(self) -> str:
        """The error's text (its type's name when it has none); empty when it succeeded."""
        if self.error is None:
            return ""
        return str(self.error).strip() or type(self.error).__name__

    def result(self) -> T:
        """The value; the error raised again when the job failed."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def run_task(job: Callable[[], T]) -> TaskOutcome[T]:
    """Run ``job`` and return how it ended. Only ``Exception`` is caught: an interrupt, a
    timeout the orchestrator raises or a process exit passes through untouched."""
    try:
        return TaskOutcome(value=job())
    except Exception as exc:
        return TaskOutcome(error=exc)
