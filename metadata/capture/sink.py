"""Where capture events go: the store when it answers in time, else the local spool.

Capture must never fail or stall the task it watches. :class:`CaptureSink` therefore opens
the store with a short timeout on every wait (``AIMOPS_CAPTURE_TIMEOUT``, default 2 s), sends
events to the spool while the store is unreachable or while older events still wait there (so
events stay in order), drains the spool by itself once the store answers again (at most once
every ``RECHECK_SECONDS`` per process), and logs each kind of failure once instead of raising.
It remembers the operations it wrote (the pipeline, the run, the step repeat at every event of
a task) and skips writing them again: most events are then one attempt update.
``AIMOPS_CAPTURE=off`` turns capture off altogether.

Example:
    >>> import tempfile
    >>> from aimops.metadata.capture.events import CaptureEvent
    >>> home = tempfile.mkdtemp()
    >>> sink = CaptureSink(f"sqlite:///{home}/aim.db", spool=Spool(f"{home}/spool"))
    >>> event = CaptureEvent(source="python")
    >>> _ = event.run(orchestrator="python", pipeline="churn", run_id="r1")
    >>> sink.emit(event)
    'stored'
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, TypeVar

from aimops.errors import AimopsError, InvalidInputError
from aimops.metadata.capture.events import CaptureEvent, Operation, apply_event, sets_state
from aimops.metadata.capture.spool import RETRY_LATER, Spool
from aimops.metadata.engine import redact
from aimops.metadata.store import AimStore
from aimops.settings import default_store_url

TIMEOUT_ENV = "AIMOPS_CAPTURE_TIMEOUT"
DEFAULT_TIMEOUT = 2.0
RECHECK_SECONDS = 30.0
CAPTURE_ACTOR = "aimops-capture"
#: How many operations the sink remembers having written, to skip writing them again.
WRITTEN_MEMORY = 4096
#: How many spooled events one capture call may replay once the store is back.
DRAIN_BATCH = 25

Outcome = Literal["stored", "spooled", "dropped"]
T = TypeVar("T")
log = logging.getLogger("aimops.capture")


def _op_key(op: Operation) -> str | None:
    """The op's identity for skipping repeats; None for an op that sets a state.

    A state may come back (a run that ran, ended and is cleared runs again), so writing it
    again is never skipped: only what is written the same way every time is.
    """
    if sets_state(op):
        return None
    name, arguments = op
    return f"{name}:{json.dumps(arguments, sort_keys=True, separators=(',', ':'))}"


def capture_timeout() -> float:
    """Seconds any one store wait may take during capture (``$AIMOPS_CAPTURE_TIMEOUT``)."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


class CaptureSink:
    """Delivers capture events to one store, with the spool as the fallback."""

    def __init__(
        self,
        url: str | None = None,
        *,
        spool: Spool | None = None,
        timeout: float | None = None,
        actor: str = CAPTURE_ACTOR,
        store: AimStore | None = None,
    ) -> None:
        self.url = store.label if store is not None else url or default_store_url()
        self.spool = spool or Spool()
        self.timeout = timeout if timeout is not None else capture_timeout()
        self.actor = actor
        #: An open store the caller gave (and keeps: the sink never closes it).
        self._given = store
        self._store: AimStore | None = store
        self._failed_at: float | None = None
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self._written: OrderedDict[str, None] = OrderedDict()
        self._keys: dict[int, tuple[Operation, str | None]] = {}

    def emit(self, event: CaptureEvent) -> Outcome:
        """Record ``event`` now, or spool it; never raises.

        An event goes to the spool when the store cannot take it for a reason of its own
        (unreachable, busy, full, wrong schema, misconfigured: :data:`RETRY_LATER`), so
        nothing is lost; an event that can never be recorded is dropped and logged once.
        """
        with self._lock:
            try:
                return self._deliver(event)
            except Exception as exc:  # capture must never break the task it watches
                self._log_once(type(exc).__name__, "capture dropped an event: %r", exc)
                return "dropped"

    def _deliver(self, event: CaptureEvent) -> Outcome:
        if self.spool.has_pending() and not self._drain():
            self.spool.append(event)
            return "spooled"
        keys = [self._key(op) for op in event.ops]
        news = [
            op
            for op, key in zip(event.ops, keys, strict=True)
            if key is None or key not in self._written
        ]
        if not news:
            return "stored"  # all of it was written before by this sink
        try:
            apply_event(self._open(), CaptureEvent(source=event.source, ops=news))
        except RETRY_LATER as exc:
            self._store_failed(exc)
            self.spool.append(event)
            return "spooled"
        except InvalidInputError as exc:  # never storable: set aside, the next ones go in
            self.spool.set_aside(event.to_json(), exc)
            self._log_once(
                "invalid",
                "capture set aside an event the store can never hold (in %s): %s",
                self.spool.directory,
                exc,
            )
            return "dropped"
        self._remember(keys)
        return "stored"

    def read(self, work: Callable[[AimStore], T]) -> T | None:
        """``work(store)`` on the sink's store; None when the store cannot answer now.

        For an adapter that must see what is recorded before it decides what to add (a run's
        end); failures are logged once, as for events.
        """
        with self._lock:
            try:
                return work(self._open())
            except RETRY_LATER as exc:
                self._store_failed(exc)
            except Exception as exc:
                self._log_once(type(exc).__name__, "capture could not read the store: %r", exc)
            return None

    def _key(self, op: Operation) -> str | None:
        """The op's identity; computed once for an op object that events share (a pipeline)."""
        cached = self._keys.get(id(op))
        if cached is not None and cached[0] is op:
            return cached[1]
        key = _op_key(op)
        if len(self._keys) >= WRITTEN_MEMORY:
            self._keys.clear()
        self._keys[id(op)] = (op, key)
        return key

    def _remember(self, keys: list[str | None]) -> None:
        for key in filter(None, keys):
            self._written[key] = None
            self._written.move_to_end(key)
        while len(self._written) > WRITTEN_MEMORY:
            self._written.popitem(last=False)

    def _drain(self) -> bool:
        """Replay part of the spool if the store may be back; True when it is empty afterwards.

        At most ``DRAIN_BATCH`` events per call, so no task (or the scheduler) waits long for
        a backlog: a large one drains over the following events, or by ``aimops spool replay``.
        """
        if self._failed_at is not None and time.monotonic() - self._failed_at < RECHECK_SECONDS:
            return False
        try:
            report = self.spool.replay(self._open(), wait=False, limit=DRAIN_BATCH)
        except RETRY_LATER as exc:
            self._store_failed(exc)
            return False
        if report is None:  # someone else is replaying; keep the order by spooling
            return False
        if report.applied or report.rejected:
            log.info(
                "capture replayed %d spooled event(s) into %s (%d rejected)",
                report.applied,
                redact(self.url),
                report.rejected,
            )
        return report.remaining == 0

    def _open(self) -> AimStore:
        if self._store is None:
            self._store = AimStore.open(self.url, actor=self.actor, timeout=self.timeout)
        return self._store

    def _store_failed(self, exc: AimopsError) -> None:
        self._failed_at = time.monotonic()
        if self._store is not None and self._store is not self._given:
            self._store.close()
            self._store = None
        self._log_once(
            "store",
            "the AIM store cannot take capture events now (%s); they go to %s until "
            "`aimops spool replay` (or the next capture) moves them into the store",
            exc,
            self.spool.directory,
        )

    def _log_once(self, kind: str, message: str, *args: object) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(message, *args)

    def close(self) -> None:
        """Release the store's connections (not those of a store the caller gave)."""
        if self._store is not None and self._store is not self._given:
            self._store.close()
        self._store = self._given
