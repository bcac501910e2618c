"""Recording a plain-Python pipeline as it runs: the run and its steps as context managers.

The orchestrator is ``python``. A step that raises is recorded as failed with its error, and
so is the run; the exception still propagates, so the pipeline fails as it would have.

Recording goes through the capture sink, as the Airflow and Prefect capture does, so it never
fails or stalls the pipeline it watches: when the store cannot be reached, events wait in the
spool (``$AIMOPS_HOME/spool``) until the next capture or ``aimops spool replay`` moves them in,
and ``AIMOPS_CAPTURE=off`` turns recording off. Wrong input (a name the store can never hold, a
metric that is not a finite number) still raises :class:`~aimops.errors.InvalidInputError` at
once, before anything is recorded. The ``record_*`` functions of
:mod:`aimops.metadata.recording` write straight to an open store and raise when it fails.

Example:
    >>> from aimops.metadata import AimStore
    >>> store = AimStore.open("sqlite://")
    >>> with PipelineRun("churn", store=store, run_id="r1") as run:
    ...     with run.step("prepare") as step:
    ...         raw = step.consumes_dataset("raw-customers")
    ...         clean = step.produces_dataset("clean-customers", rows=100)
    >>> store.get_aspect(run.urn, "runInfo").value["status"]
    'success'
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.references import artifact_ref, dataset_ref, model_version_ref
from aimops.metadata.urns import Urn, run_urn, step_urn
from aimops.settings import capture_enabled, default_actor

if TYPE_CHECKING:
    from aimops.metadata.capture.sink import CaptureSink, Outcome
    from aimops.metadata.capture.spool import Spool
    from aimops.metadata.store import AimStore

ORCHESTRATOR = "python"
SOURCE = "python"


def _now() -> datetime:
    return datetime.now(UTC)


class StepRecorder:
    """One step of a :class:`PipelineRun`: record what it consumes and produces.

    Each call is recorded at once (or spooled); the URN it returns is known without the store.
    """

    def __init__(self, run: PipelineRun, urn: Urn) -> None:
        self.run = run
        self.urn = urn
        self._metrics: dict[str, float] = {}
        self._params: dict[str, str] = {}

    def consumes(self, *entities: Urn | str) -> None:
        """Record entities this step read (recorded earlier, by this run or another)."""
        self._io(consumed=entities)

    def produces(self, *entities: Urn | str) -> None:
        """Record entities this step wrote (recorded earlier, by this run or another)."""
        self._io(produced=entities)

    def consumes_dataset(self, name: str, **info: Any) -> Urn:
        """Record a data set (by name) and that this step read it."""
        return self._reference(dataset_ref(name, **info), "consumed")

    def produces_dataset(self, name: str, **info: Any) -> Urn:
        """Record a data set (by name) and that this step wrote it."""
        return self._reference(dataset_ref(name, **info), "produced")

    def produces_artifact(self, name: str, **info: Any) -> Urn:
        """Record an artifact and that this step wrote it."""
        return self._reference(artifact_ref(name, **info), "produced")

    def registers_model_version(self, model: str, version: str | int, **info: Any) -> Urn:
        """Record a model version produced by this step."""
        event = self.run.event()
        urn = Urn.parse(event.reference(model_version_ref(model, version, **info)))
        event.edge(urn, "producedBy", self.urn)
        self.run.emit(event)
        return urn

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record metrics of the step (searchable one by one); later values of a name win."""
        merged = {**self._metrics, **_checked("metrics", metrics)}
        self._emit_aspect("metrics", merged)
        self._metrics = merged

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters of the step as text (searchable one by one)."""
        text = {str(key): str(value) for key, value in _mapping("params", params).items()}
        merged = {**self._params, **_checked("params", text)}
        self._emit_aspect("params", merged)
        self._params = merged

    def _reference(self, ref: Mapping[str, Any], direction: str) -> Urn:
        event = self.run.event()
        urn = Urn.parse(event.reference(ref))
        event.io(self.urn, **{direction: [urn]})
        self.run.emit(event)
        return urn

    def _io(self, **entities: tuple[Urn | str, ...]) -> None:
        parsed = {key: [Urn.parse(u) for u in urns] for key, urns in entities.items()}
        event = self.run.event()
        event.io(self.urn, **parsed)
        self.run.emit(event)

    def _emit_aspect(self, aspect: str, value: Mapping[str, Any]) -> None:
        event = self.run.event()
        event.aspect(self.urn, aspect, value)
        self.run.emit(event)


class PipelineRun:
    """A run of a plain-Python pipeline, recorded from start to end.

    ``store`` is a store URL, an open :class:`~aimops.metadata.store.AimStore` (which stays
    the caller's), or None for the default store (``AIMOPS_STORE_URL``, else
    ``$AIMOPS_HOME/aim.db``). Nothing connects until the run starts.
    """

    def __init__(
        self,
        pipeline: str,
        store: str | AimStore | None = None,
        *,
        run_id: str | None = None,
        project: str | None = None,
        spool: Spool | None = None,
    ) -> None:
        if not isinstance(pipeline, str):
            raise InvalidInputError(
                "PipelineRun takes the pipeline's name first and the store as store=...; "
                f"got {type(pipeline).__name__} for the name"
            )
        self.pipeline = pipeline
        self.run_id = run_id if run_id is not None else _new_run_id()
        self.project = project
        self.urn = _storable(run_urn(ORCHESTRATOR, pipeline, self.run_id))
        if project is not None:
            Urn("project", (project,))
        self._store = store
        self._spool = spool
        self._sink: CaptureSink | None = None
        self.outcomes: dict[str, int] = {}

    def event(self) -> CaptureEvent:
        """A new capture event of this run (for adapters that record more than steps)."""
        return CaptureEvent(source=SOURCE)

    def emit(self, event: CaptureEvent) -> Outcome | None:
        """Record ``event`` now or spool it; never raises; None when capture is off."""
        if self._sink is None:
            if not capture_enabled():
                return None
            self._sink = self._new_sink()
        outcome = self._sink.emit(event)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    def __enter__(self) -> PipelineRun:
        event = self.event()
        event.run(
            orchestrator=ORCHESTRATOR,
            pipeline=self.pipeline,
            run_id=self.run_id,
            state="running",
            started_at=_now(),
            project=self.project,
        )
        self.emit(event)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        event = self.event()
        event.run(
            orchestrator=ORCHESTRATOR,
            pipeline=self.pipeline,
            run_id=self.run_id,
            state="failed" if exc is not None else "success",
            ended_at=_now(),
        )
        self.emit(event)
        if self._sink is not None:
            self._sink.close()

    @contextmanager
    def step(self, task_id: str) -> Iterator[StepRecorder]:
        """Record a step; its one attempt ends as success, or failed with the error."""
        urn = _storable(step_urn(ORCHESTRATOR, self.pipeline, self.run_id, task_id))
        event = self.event()
        event.step(self.urn, task_id, operator="python")
        event.attempt(urn, 1, state="running", started_at=_now(), hostname=socket.gethostname())
        self.emit(event)
        try:
            yield StepRecorder(self, urn)
        except BaseException as exc:
            self._end_attempt(urn, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        self._end_attempt(urn, "success")

    def _end_attempt(self, urn: Urn, state: str, error: str | None = None) -> None:
        event = self.event()
        event.attempt(urn, 1, state=state, ended_at=_now(), error=error)
        self.emit(event)

    def _new_sink(self) -> CaptureSink:
        from aimops.metadata.capture.sink import CaptureSink
        from aimops.metadata.store import AimStore

        if isinstance(self._store, AimStore):
            return CaptureSink(store=self._store, spool=self._spool, actor=self._store.actor)
        return CaptureSink(self._store, spool=self._spool, actor=default_actor())


def _storable(urn: Urn) -> Urn:
    """``urn`` when the store can hold it (its length), else the error saying why."""
    from aimops.metadata.writer import storable_urn

    storable_urn(urn)
    return urn


def _new_run_id() -> str:
    return f"{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _mapping(what: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a mapping of names to values, not {value!r}")
    return value


def _checked(aspect: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as the ``aspect`` the store will hold, or the error naming what is wrong."""
    from aimops.metadata.aspects.registry import index_rows, to_jsonable

    checked = dict(to_jsonable(aspect, dict(_mapping(aspect, value))))
    for _ in index_rows(aspect, checked):  # the names the store indexes, each checked
        pass
    return checked
