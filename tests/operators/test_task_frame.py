"""The task frame in Airflow's terms: permanent failures fail the task now, transient ones retry."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from aimops.errors import GateFailedError, InvalidDataError, MissingEntityError, StoreBusyError
from aimops.operators.task_frame import task_result
from aimops.tasks import run_task


@pytest.mark.parametrize("error", [InvalidDataError("NaN in labels"), GateFailedError("auroc")])
def test_a_permanent_failure_fails_the_task_without_retries(error: Exception) -> None:
    with pytest.raises(AirflowFailException, match=str(error)) as raised:
        task_result(run_task(lambda: _raise(error)))
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "error", [StoreBusyError("locked"), MissingEntityError("not yet"), OSError("disk")]
)
def test_a_transient_failure_is_raised_as_it_is_so_the_retries_apply(error: Exception) -> None:
    with pytest.raises(type(error)) as raised:
        task_result(run_task(lambda: _raise(error)))
    assert raised.value is error


def test_a_value_passes_through() -> None:
    assert task_result(run_task(lambda: "urn:aim:check:x")) == "urn:aim:check:x"


def _raise(error: Exception) -> None:
    raise error
