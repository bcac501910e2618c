"""Recording a plain-Python pipeline as it runs: the run and its steps as context managers.

The orchestrator is ``python``. A step that raises is recorded as failed with its error, and
so is the run; the exception still propagates, so the pipeline fails as it would have.

Example:
    >>> from aimops.metadata import AimStore
    >>> store = AimStore.open("sqlite://")
    >>> with PipelineRun(store, "churn", run_id="r1") as run:
    ...     with run.step("prepare") as step:
    ...         raw = step.consumes_dataset("raw-customers")
    ...         clean = step.produces_dataset("clean-customers", rows=100)
    >>> store.get_aspect(run.urn, "runInfo").value["status"]
    'success'
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aimops.metadata.recording import (
    record_artifact,
    record_attempt,
    record_dataset,
    record_io,
    record_model_version,
    record_run,
    record_step,
)
from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn

ORCHESTRATOR = "python"


def _now() -> datetime:
    return datetime.now(UTC)


class StepRecorder:
    """One step of a :class:`PipelineRun`: record what it consumes and produces."""

    def __init__(self, store: AimStore, urn: Urn) -> None:
        self.store = store
        self.urn = urn

    def consumes(self, *entities: Urn | str) -> None:
        """Record entities this step read."""
        record_io(self.store, self.urn, consumed=entities)

    def produces(self, *entities: Urn | str) -> None:
        """Record entities this step wrote."""
        record_io(self.store, self.urn, produced=entities)

    def consumes_dataset(self, name: str, **info: Any) -> Urn:
        """Record a data set (by name) and that this step read it."""
        urn = record_dataset(self.store, name, **info)
        self.consumes(urn)
        return urn

    def produces_dataset(self, name: str, **info: Any) -> Urn:
        """Record a data set (by name) and that this step wrote it."""
        urn = record_dataset(self.store, name, **info)
        self.produces(urn)
        return urn

    def produces_artifact(self, name: str, **info: Any) -> Urn:
        """Record an artifact and that this step wrote it."""
        urn = record_artifact(self.store, name, **info)
        self.produces(urn)
        return urn

    def registers_model_version(self, model: str, version: str | int, **info: Any) -> Urn:
        """Record a model version produced by this step."""
        return record_model_version(self.store, model, version, produced_by=self.urn, **info)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Record the step's metrics (searchable one by one)."""
        self.store.put_aspect(self.urn, "metrics", metrics)

    def log_params(self, params: dict[str, Any]) -> None:
        """Record the step's parameters as text (searchable one by one)."""
        self.store.put_aspect(self.urn, "params", {k: str(v) for k, v in params.items()})


class PipelineRun:
    """A run of a plain-Python pipeline, recorded from start to end."""

    def __init__(
        self,
        store: AimStore,
        pipeline: str,
        *,
        run_id: str | None = None,
        project: str | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.run_id = run_id or f"{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.project = project
        self.urn = Urn("run", (ORCHESTRATOR, pipeline, self.run_id))

    def __enter__(self) -> PipelineRun:
        record_run(
            self.store,
            orchestrator=ORCHESTRATOR,
            pipeline=self.pipeline,
            run_id=self.run_id,
            state="running",
            started_at=_now(),
            project=self.project,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        record_run(
            self.store,
            orchestrator=ORCHESTRATOR,
            pipeline=self.pipeline,
            run_id=self.run_id,
            state="failed" if exc is not None else "success",
            ended_at=_now(),
        )

    @contextmanager
    def step(self, task_id: str) -> Iterator[StepRecorder]:
        """Record a step; its one attempt ends as success, or failed with the error."""
        urn = record_step(self.store, self.urn, task_id, operator="python")
        record_attempt(
            self.store, urn, 1, state="running", started_at=_now(), hostname=socket.gethostname()
        )
        try:
            yield StepRecorder(self.store, urn)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            record_attempt(self.store, urn, 1, state="failed", ended_at=_now(), error=error)
            raise
        record_attempt(self.store, urn, 1, state="success", ended_at=_now())
