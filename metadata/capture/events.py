"""Capture events: what an orchestrator saw, as JSON that can be stored now or spooled.

An orchestrator adapter (the Airflow listener, the Prefect hooks) turns each thing it sees (a
task started, a try failed, a run ended) into one :class:`CaptureEvent`: an ordered list of
recording operations with JSON arguments. Applying an event runs its operations in one
transaction, so an event is recorded whole or not at all. Every operation is idempotent
(identity is deterministic, and writing what is already there adds no version), so an event
that is applied twice, by a retry or by a spool replay, changes nothing the second time.

Example:
    >>> from aimops.metadata.store import AimStore
    >>> event = CaptureEvent(source="python")
    >>> run = event.run(orchestrator="python", pipeline="churn", run_id="r1", state="running")
    >>> step = event.step(run, "train", operator="train_fn")
    >>> event.attempt(step, 1, state="success")
    >>> store = AimStore.open("sqlite://")
    >>> apply_event(store, CaptureEvent.from_json(event.to_json()))
    >>> store.get_aspect(step, "stepInfo").value["state"]
    'success'
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.metadata.references import MARKER, is_reference
from aimops.metadata.urns import Urn, run_urn, step_urn

if TYPE_CHECKING:  # building events needs none of the store: only applying them does
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter

EVENT_FORMAT = 1
Operation = tuple[str, dict[str, Any]]


class CaptureEvent:
    """An ordered batch of recording operations, built by an orchestrator adapter."""

    def __init__(
        self,
        *,
        source: str,
        ops: Iterable[Operation] = (),
        event_id: str | None = None,
        at: str | None = None,
    ) -> None:
        self.source = source
        self.ops: list[Operation] = list(ops)
        self.id = event_id or uuid.uuid4().hex
        self.at = at or datetime.now(UTC).isoformat()

    def __len__(self) -> int:
        return len(self.ops)

    def add(self, op: str, **arguments: Any) -> None:
        """Append one operation (see :data:`OPERATIONS`); None arguments are dropped."""
        if op not in OPERATIONS:
            raise InvalidInputError(f"unknown capture operation {op!r}")
        self.ops.append((op, {k: _plain(v) for k, v in arguments.items() if v is not None}))

    # -- the operations, with the URN each one names ----------------------------------------

    def pipeline(self, **arguments: Any) -> None:
        """Record a pipeline (``recording.record_pipeline`` arguments)."""
        self.add("pipeline", **arguments)

    def aspect(self, urn: Urn | str, aspect: str, value: Mapping[str, Any]) -> None:
        """Write an aspect as given (no-op when it equals the latest)."""
        self.add("aspect", urn=str(urn), aspect=aspect, value=dict(value))

    def run(self, *, orchestrator: str, pipeline: str, run_id: str, **arguments: Any) -> Urn:
        """Record a run; returns its URN."""
        self.add("run", orchestrator=orchestrator, pipeline=pipeline, run_id=run_id, **arguments)
        return run_urn(orchestrator, pipeline, run_id)

    def step(self, run: Urn, task_id: str, **arguments: Any) -> Urn:
        """Record a step of ``run``; returns its URN."""
        self.add("step", run=str(run), task_id=task_id, **arguments)
        orchestrator, pipeline, run_id = run.segments
        return step_urn(orchestrator, pipeline, run_id, task_id, arguments.get("map_index"))

    def attempt(self, step: Urn, try_number: int, **arguments: Any) -> None:
        """Record try ``try_number`` of ``step``."""
        self.add("attempt", step=str(step), try_number=try_number, **arguments)

    def final_steps(self, run: Urn, steps: Iterable[Mapping[str, Any]]) -> None:
        """Bring many steps of ``run`` to their final states (``recording.record_final_steps``)."""
        items = [dict(step) for step in steps]
        if items:
            self.add("steps", run=str(run), steps=items)

    def io(
        self, step: Urn, *, consumed: Iterable[Urn | str] = (), produced: Iterable[Urn | str] = ()
    ) -> None:
        """Record what ``step`` consumed and produced (entities recorded earlier in the event)."""
        consumed, produced = [str(u) for u in consumed], [str(u) for u in produced]
        if consumed or produced:
            self.add("io", step=str(step), consumed=consumed, produced=produced)

    def edge(self, src: Urn | str, relation: str, dst: Urn | str) -> None:
        """Record one edge."""
        self.add("edge", src=str(src), relation=relation, dst=str(dst))

    def reference(self, ref: Mapping[str, Any]) -> str:
        """Record the entity a reference (``aimops.dataset_ref`` and friends) names; its URN."""
        if not is_reference(ref):
            raise InvalidInputError(f"not an aimops reference: {ref!r}")
        fields = {k: v for k, v in ref.items() if k not in (MARKER, "urn")}
        kind = ref[MARKER]
        if kind == "dataset":
            self.add("dataset", **fields)
        elif kind == "artifact":
            self.add("artifact", key=list(Urn.parse(ref["urn"]).segments), **fields)
        else:
            self.add("model_version", **fields)
        return str(ref["urn"])

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> str:
        """One line of JSON (the spool's format)."""
        document = {
            "format": EVENT_FORMAT,
            "id": self.id,
            "at": self.at,
            "source": self.source,
            "ops": [[op, arguments] for op, arguments in self.ops],
        }
        # ASCII only: a line separator inside a value (U+2028, U+0085) stays escaped, so a
        # spooled event is always exactly one "\n"-terminated line.
        return json.dumps(document, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> CaptureEvent:
        """Parse a line written by :meth:`to_json`, naming what is wrong when it cannot."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"a capture event is not JSON: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != EVENT_FORMAT:
            raise InvalidInputError(f"not a capture event of format {EVENT_FORMAT}: {text[:120]!r}")
        ops = document.get("ops")
        if not isinstance(ops, list) or not all(
            isinstance(op, list) and len(op) == 2 and isinstance(op[1], dict) for op in ops
        ):
            raise InvalidInputError(f"capture event {document.get('id')} has malformed ops")
        return cls(
            source=str(document.get("source", "unknown")),
            ops=[(str(name), arguments) for name, arguments in ops],
            event_id=str(document.get("id")),
            at=str(document.get("at")),
        )


def apply_event(target: AimStore | StoreWriter, event: CaptureEvent) -> None:
    """Record ``event`` whole, in one transaction (or in the writer's batch)."""
    from aimops.metadata.writer import StoreWriter

    def work(tx: StoreWriter) -> None:
        for op, arguments in event.ops:
            handler = _handlers().get(op)
            if handler is None:
                raise InvalidInputError(f"capture event {event.id}: unknown operation {op!r}")
            try:
                handler(tx, dict(arguments))
            except (TypeError, KeyError) as exc:  # arguments that do not fit the operation
                raise InvalidInputError(
                    f"capture event {event.id}: bad arguments for {op!r}: {exc}"
                ) from exc

    if isinstance(target, StoreWriter):
        work(target)
    else:
        target.write(work)


def sets_state(op: Operation) -> bool:
    """True for an operation that sets a state (which may come back, so is never skipped)."""
    name, arguments = op
    return name == "steps" or "state" in arguments or "native_state" in arguments


def _plain(value: Any) -> Any:
    """JSON-ready: timestamps as ISO 8601 text, URNs as text, containers recursively."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Urn):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


#: The operations an event may hold, each an idempotent recording call (see _handlers).
OPERATIONS = frozenset(
    {
        "pipeline",
        "aspect",
        "run",
        "step",
        "steps",
        "attempt",
        "dataset",
        "artifact",
        "model_version",
        "io",
        "edge",
    }
)
Handler = Callable[["StoreWriter", dict[str, Any]], Any]


@functools.cache
def _handlers() -> dict[str, Handler]:
    """Each operation's recording call; loaded with the first event applied, not built."""
    from aimops.metadata import recording as r

    return {
        "pipeline": lambda tx, a: r.record_pipeline(tx, **a),
        "aspect": lambda tx, a: tx.put_aspect(a["urn"], a["aspect"], a["value"]),
        "run": lambda tx, a: r.record_run(tx, **a),
        "step": lambda tx, a: r.record_step(tx, a.pop("run"), a.pop("task_id"), **a),
        "steps": lambda tx, a: r.record_final_steps(tx, a["run"], a["steps"]),
        "attempt": lambda tx, a: r.record_attempt(tx, a.pop("step"), a.pop("try_number"), **a),
        "dataset": lambda tx, a: r.record_dataset(tx, a.pop("name"), **a),
        "artifact": lambda tx, a: r.record_artifact(tx, a.pop("name"), **a),
        "model_version": lambda tx, a: r.record_model_version(
            tx, a.pop("model"), a.pop("version"), **a
        ),
        "io": lambda tx, a: r.record_io(
            tx, a["step"], consumed=a.get("consumed", ()), produced=a.get("produced", ())
        ),
        "edge": lambda tx, a: tx.put_edge(a["src"], a["relation"], a["dst"]),
    }
