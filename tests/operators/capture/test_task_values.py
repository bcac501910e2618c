"""What capture reads from a try stays cheap and harmless, whatever the task holds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aimops.metadata.capture import mlflow_runs
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.urns import step_urn
from aimops.operators.capture import task_values


class _NoRuns:
    def get(self) -> list[Any]:
        return []


class _Task:
    template_fields = ("op_kwargs", "bash_command")

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_rendered_fields_look_at_a_bounded_sample_of_large_inputs() -> None:
    rows = [{"id": n, "x": n * 0.5} for n in range(200_000)]
    task = _Task(op_kwargs={"rows": rows, "password": "hunter2"}, bash_command="echo hi")
    fields = task_values.rendered_fields(task)
    assert fields is not None and "199950 more" in fields["op_kwargs"]
    assert len(fields["op_kwargs"]) <= task_values.MAX_TEXT + 1
    assert "hunter2" not in fields["op_kwargs"]  # a sensitive key is masked by name
    assert fields["bash_command"] == "echo hi"


def test_an_unreachable_mlflow_costs_the_links_not_the_event(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import mlflow  # the task "used" MLflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    event = CaptureEvent(source="airflow")
    step = step_urn("airflow", "d", "r", "t")
    event.attempt(step, 1, native_state="success")
    mlflow_runs.try_started("key")
    # the try logged to a run (on a tracking server that has gone away)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_run_stack", _NoRuns())
    mlflow.tracking.fluent._last_active_run_id.set("0" * 32)
    began = time.monotonic()
    mlflow_runs.add_links(event, step, "key", timeout=1.0)
    assert time.monotonic() - began < 10
    assert [op for op, _ in event.ops] == ["attempt"]  # the try's record is intact
    assert "could not read the task's MLflow run" in caplog.text


def test_secrets_are_masked_before_anything_is_cut() -> None:
    from airflow.sdk.log import mask_secret

    mask_secret("SUPERSECRETPASSWORD-1234")
    task = _Task(
        op_kwargs={"a": {"b": {"c": {"d": {"password": "hunter2"}}}}},
        bash_command="echo " + "x" * 1985 + "SUPERSECRETPASSWORD-1234",
    )
    fields = task_values.rendered_fields(task)
    assert fields is not None
    assert "hunter2" not in fields["op_kwargs"]  # deep below the sampled levels
    assert "SUPERSEC" not in fields["bash_command"]  # masked whole, then cut
