"""One event the store can never hold must not block the events behind it, on either backend.

What PostgreSQL refuses and SQLite accepts (a NUL byte, a name longer than its column) is
checked before anything is written, the same way on both: a value that can be stored is (a
NUL in a searchable text shows as U+FFFD in the index; the JSON value keeps it exactly), a name
that cannot be is refused with a clear error. The sink and the spool's replay set such an event
aside in ``rejected.jsonl`` with its reason, and the next events go in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aimops.errors import InvalidInputError
from aimops.metadata.capture.events import CaptureEvent, apply_event
from aimops.metadata.capture.sink import CaptureSink
from aimops.metadata.capture.spool import REJECTED, Spool
from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn


def run_event(run_id: str, **arguments: object) -> CaptureEvent:
    event = CaptureEvent(source="python")
    event.run(orchestrator="python", pipeline="etl", run_id=run_id, **arguments)
    return event


POISON = {
    "a metric name longer than its column": {"metrics": {"m" * 300: 1.0}},
    "a tag name with a NUL byte": {"tags": {"team\x00": "risk"}},
    "a URN longer than its column": {},  # the run id below makes it so
}


def poison(kind: str) -> CaptureEvent:
    if kind == "a URN longer than its column":
        return run_event("r" * 1100)
    return run_event("poison", **POISON[kind])  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(POISON))
def test_both_backends_refuse_what_one_could_not_hold(store: AimStore, kind: str) -> None:
    with pytest.raises(InvalidInputError):
        apply_event(store, poison(kind))
    assert store.count("run") == 0  # nothing half written


def test_a_nul_in_a_value_is_stored_exactly_and_searchable(store: AimStore) -> None:
    apply_event(store, run_event("r1", tags={"owner": "ann\x00bob"}))
    run = run_urn("python", "etl", "r1")
    assert store.get_aspect(run, "tags").value == {"owner": "ann\x00bob"}
    found = store.search("run", tags={"owner": "ann\ufffdbob"})
    assert [e.urn for e in found] == [str(run)]


@pytest.mark.parametrize("kind", sorted(POISON))
def test_a_spooled_poison_event_is_set_aside_and_the_next_ones_go_in(
    store: AimStore, tmp_path: Path, kind: str
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("before"))
    spool.append(poison(kind))
    spool.append(run_event("after"))
    report = spool.replay(store)
    assert report is not None and (report.applied, report.rejected, report.remaining) == (2, 1, 0)
    assert store.count("run") == 2
    rejected = (tmp_path / "spool" / REJECTED).read_text().splitlines()
    assert rejected[0].startswith("# InvalidInputError: ") and len(rejected) == 2
    assert CaptureEvent.from_json(rejected[1]).ops == poison(kind).ops  # kept, to inspect
    assert spool.replay(store) == type(report)(0, 0, 0)  # and it never blocks again


def test_the_sink_sets_a_poison_event_aside_instead_of_spooling_it(tmp_path: Path) -> None:
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))
    assert sink.emit(poison("a metric name longer than its column")) == "dropped"
    assert sink.emit(run_event("after")) == "stored"
    assert not sink.spool.has_pending()
    assert "at most 256 characters" in (tmp_path / "spool" / REJECTED).read_text()
    sink.close()
