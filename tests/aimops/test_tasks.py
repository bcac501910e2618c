"""The task frame: which failures fail a task now and which keep its retries, for every error."""

from __future__ import annotations

import pytest

import aimops.errors as errors
from aimops.tasks import TaskOutcome, is_transient, run_task

#: Every error class, and whether an orchestrator should try again after it. A new class in
#: aimops.errors fails test_every_error_class_is_pinned until it is added here.
TRANSIENT = {
    "AimopsError": False,
    "ConfigurationError": False,
    "InvalidInputError": False,
    "MalformedUrnError": False,
    "UnknownAspectError": False,
    "InvalidAspectError": False,
    "UnknownRelationError": False,
    "MissingEntityError": True,  # an entity not recorded yet: capture may record it
    "InvalidDataError": False,
    "NotFoundError": True,  # a table, model version or reference data not there yet
    "GateFailedError": False,
    "CheckFailedError": False,
    "UnknownAnalyzerError": False,
    "TransitionRefusedError": False,  # the guards would refuse it again
    "StoreError": True,
    "StoreUnavailableError": True,
    "SchemaError": False,  # a person must run aimops init / db upgrade
    "SchemaMissingError": False,
    "SchemaOutdatedError": False,
    "StoreBusyError": True,
    "ConcurrentUpdateError": True,
    "LifecycleConflictError": True,  # a retry reads the new state and decides again
    "RampRolledBackError": False,  # the champion is back; a retry would not ramp again
    "RampAbortedError": False,  # a person ended it
    "RouterUnavailableError": True,  # the router's endpoint may answer later
}


def _error_classes() -> dict[str, type[errors.AimopsError]]:
    found: dict[str, type[errors.AimopsError]] = {}
    pending: list[type[errors.AimopsError]] = [errors.AimopsError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return {name: cls for name, cls in found.items() if cls.__module__ == errors.__name__}


def test_every_error_class_is_pinned() -> None:
    assert sorted(_error_classes()) == sorted(TRANSIENT)


@pytest.mark.parametrize("name", sorted(TRANSIENT))
def test_each_error_class_fails_now_or_keeps_the_retries(name: str) -> None:
    error = _error_classes()[name]("what went wrong")
    outcome = run_task(lambda: _raise(error))
    assert outcome.failed and outcome.error is error
    assert outcome.transient is TRANSIENT[name]
    assert outcome.permanent is (not TRANSIENT[name])
    assert outcome.message == "what went wrong"


def test_the_attribute_decides_not_the_place_in_the_tree() -> None:
    # MissingEntityError sits under InvalidInputError (bad input: permanent) yet is transient
    assert issubclass(errors.MissingEntityError, errors.InvalidInputError)
    assert is_transient(errors.MissingEntityError("urn:aim:modelVersion:churn/9"))
    assert not is_transient(errors.InvalidInputError("bad"))


@pytest.mark.parametrize("error", [OSError("disk"), ConnectionError("reset"), KeyError("x")])
def test_foreign_errors_are_transient_and_left_to_the_retry_policy(error: Exception) -> None:
    outcome = run_task(lambda: _raise(error))
    assert outcome.transient and not outcome.permanent
    with pytest.raises(type(error)):
        outcome.result()


def test_a_job_that_succeeds_gives_its_value() -> None:
    outcome: TaskOutcome[int] = run_task(lambda: 42)
    assert not outcome.failed and outcome.result() == 42 and outcome.message == ""


def test_interrupts_and_exits_pass_through() -> None:
    with pytest.raises(KeyboardInterrupt):
        run_task(lambda: _raise(KeyboardInterrupt()))


def test_an_error_without_text_is_named_by_its_type() -> None:
    assert run_task(lambda: _raise(errors.StoreBusyError())).message == "StoreBusyError"


def _raise(error: BaseException) -> None:
    raise error
