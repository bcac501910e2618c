"""Capture events, the spool and the sink: promises an earlier mutation run found untested.

Each test asserts what a user of capture would notice: an event recorded, skipped, spooled or
set aside; the order of events kept; the spool file private, durable and without leaks; the
sink's memory bounded; a store the caller gave left open. (Found by ``make mutation``.)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import aimops
import aimops.metadata.capture.sink as sink_module
import aimops.metadata.capture.spool as spool_module
from aimops.errors import InvalidInputError, StoreError
from aimops.metadata.capture.events import CaptureEvent, apply_event, sets_state
from aimops.metadata.capture.sink import CaptureSink, capture_timeout
from aimops.metadata.capture.spool import Spool
from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn, run_urn, step_urn

UNREACHABLE = "postgresql://aim@127.0.0.1:9/aim"


def run_event(run_id: str, state: str | None = "running") -> CaptureEvent:
    event = CaptureEvent(source="python")
    event.run(orchestrator="python", pipeline="p", run_id=run_id, native_state=state)
    return event


def aspect_event(name: str) -> CaptureEvent:
    """An event of one operation that sets no state (the sink may skip it when repeated)."""
    event = CaptureEvent(source="python")
    event.aspect(f"urn:aim:dataset:{name}", "datasetInfo", {"name": name})
    return event


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """Hold one of the spool's lock files, as another process would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Applied:
    """Records the operations the sink applies to the store (and applies them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ops: list[list[str]] = []
        real = sink_module.apply_event

        def spy(target: Any, event: CaptureEvent) -> None:
            self.ops.append([name for name, _ in event.ops])
            real(target, event)

        monkeypatch.setattr(sink_module, "apply_event", spy)


class Clock:
    """The sink's clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(sink_module, "time", self)

    def monotonic(self) -> float:
        return self.now


# -- events -----------------------------------------------------------------------------------


def test_every_kind_of_operation_an_adapter_builds_is_recorded() -> None:
    event = CaptureEvent(source="python")
    event.pipeline(orchestrator="python", name="p", owner="team")
    run = event.run(orchestrator="python", pipeline="p", run_id="r1", native_state="running")
    step = event.step(run, "fit", map_index=0)
    assert step == step_urn("python", "p", "r1", "fit", 0)
    event.aspect("urn:aim:dataset:d", "datasetInfo", {"name": "d"})
    assert event.reference(aimops.dataset_ref("train")) == "urn:aim:dataset:train"
    artifact = aimops.artifact_ref("model.bin", key=["p", "r1", "model"])
    assert event.reference(artifact) == "urn:aim:artifact:p/r1/model"
    version = aimops.model_version_ref("churn", 3)
    assert event.reference(version) == "urn:aim:modelVersion:churn/3"
    event.edge("urn:aim:dataset:train", "consumed", "urn:aim:dataset:d")
    names = [name for name, _ in event.ops]
    assert names == [
        *("pipeline", "run", "step", "aspect"),
        *("dataset", "artifact", "model_version", "edge"),
    ]
    store = AimStore.open("sqlite://")
    apply_event(store, CaptureEvent.from_json(event.to_json()))
    for urn in ("urn:aim:pipeline:python/p", str(step), "urn:aim:dataset:train"):
        assert store.get_entity(urn) is not None, urn
    assert store.get_aspect(step, "stepInfo").value["map_index"] == 0
    assert store.get_aspect("urn:aim:dataset:d", "datasetInfo").value["name"] == "d"
    assert store.get_entity("urn:aim:artifact:p/r1/model") is not None
    assert store.get_entity("urn:aim:modelVersion:churn/3") is not None
    assert [e.urn for e in store.related("urn:aim:dataset:train", "consumed")] == [
        "urn:aim:dataset:d"
    ]


def test_an_event_applied_through_an_open_transaction_commits_with_it() -> None:
    store = AimStore.open("sqlite://")
    with store.transaction() as tx:
        apply_event(tx, run_event("r1"))
        assert tx.read_aspect(run_urn("python", "p", "r1"), "runInfo")[1] == 1
    assert store.get_entity(run_urn("python", "p", "r1")) is not None


def test_an_event_keeps_its_time_and_source_through_json() -> None:
    before = datetime.now(UTC)
    event = CaptureEvent(source="airflow")
    assert before <= datetime.fromisoformat(event.at) <= datetime.now(UTC)
    given = CaptureEvent(source="airflow", at="2026-01-02T03:04:05+00:00")
    again = CaptureEvent.from_json(given.to_json())
    assert (again.at, again.source) == ("2026-01-02T03:04:05+00:00", "airflow")
    assert json.loads(given.to_json())["at"] == "2026-01-02T03:04:05+00:00"
    bare = CaptureEvent.from_json('{"format": 1, "id": "x", "ops": []}')
    assert bare.source == "unknown"


def test_a_spooled_line_is_ascii_so_no_tool_splits_it() -> None:
    event = run_event("r1")
    event.aspect("urn:aim:dataset:d", "datasetInfo", {"name": "d\u2028\u00e9t\u00e9"})
    line = event.to_json()
    assert line.isascii()
    assert len(line.splitlines()) == 1


@pytest.mark.parametrize("text", ["[1, 2]", '"run"', '{"format": 2, "ops": []}', "{}"])
def test_json_that_is_not_an_event_is_named_as_such(text: str) -> None:
    with pytest.raises(InvalidInputError, match="not a capture event of format 1"):
        CaptureEvent.from_json(text)


def test_timestamps_and_urns_in_arguments_become_text() -> None:
    event = CaptureEvent(source="python")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event.run(orchestrator="python", pipeline="p", run_id="r1", start_date=moment)
    event.add("edge", src=Urn.parse("urn:aim:dataset:a"), relation="consumed", dst="x")
    assert event.ops[0][1]["start_date"] == "2026-01-02T03:04:05+00:00"
    assert event.ops[1][1]["src"] == "urn:aim:dataset:a"
    json.dumps(event.ops)  # plain JSON


@pytest.mark.parametrize(
    ("op", "sets"),
    [
        (("steps", {"run": "r"}), True),
        (("attempt", {"state": "success"}), True),
        (("run", {"native_state": "running"}), True),
        (("run", {"pipeline": "p"}), False),
        (("aspect", {"urn": "u"}), False),
    ],
)
def test_which_operations_set_a_state(op: tuple[str, dict[str, Any]], sets: bool) -> None:
    assert sets_state(op) is sets


# -- the sink ---------------------------------------------------------------------------------


def test_the_sink_skips_what_it_wrote_and_writes_what_sets_a_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied = Applied(monkeypatch)
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))
    first = aspect_event("a")
    first.run(orchestrator="python", pipeline="p", run_id="r1", native_state="running")
    assert sink.emit(first) == "stored"
    assert sink.emit(first) == "stored"  # the very same event object again
    assert sink.emit(aspect_event("a")) == "stored"  # an equal one: nothing to write
    assert applied.ops == [["aspect", "run"], ["run"]]


def test_the_sink_remembers_the_most_recently_used_operations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink_module, "WRITTEN_MEMORY", 2)
    applied = Applied(monkeypatch)
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))
    for name in ("a", "b", "a", "c", "a", "c"):
        event = aspect_event(name)  # an operation the sink may skip, and a state it may not
        event.run(orchestrator="python", pipeline="p", run_id="r1", native_state="running")
        assert sink.emit(event) == "stored"
    # "a" was used again before "c" came, so "b" was forgotten, not "a" nor "c".
    both, state = ["aspect", "run"], ["run"]
    assert applied.ops == [both, both, state, both, state, state]
    assert len(sink._written) == 2


def test_the_sink_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sink_module, "WRITTEN_MEMORY", 3)
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))
    for n in range(8):
        sink.emit(aspect_event(f"d{n}"))
        assert len(sink._written) <= 3 and len(sink._keys) <= 3
    assert len(sink._written) == 3


def test_events_are_recorded_as_the_capture_actor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    CaptureSink(url, spool=Spool(tmp_path / "spool")).emit(run_event("r1"))
    with AimStore.open(url) as store:
        assert [v.actor for v in store.history(run_urn("python", "p", "r1"))] == ["aimops-capture"]


def test_a_zero_or_negative_timeout_setting_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for text in ("0", "-1", " "):
        monkeypatch.setenv("AIMOPS_CAPTURE_TIMEOUT", text)
        assert capture_timeout() == 2.0


def test_a_sink_that_cannot_even_spool_drops_the_event_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "spool"
    not_a_directory.write_text("a file where the spool should be")
    sink = CaptureSink(UNREACHABLE, spool=Spool(not_a_directory), timeout=1)
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert sink.emit(run_event("r1")) == "dropped"
        assert sink.emit(run_event("r2")) == "dropped"
    dropped = [r for r in caplog.records if "capture dropped an event" in r.getMessage()]
    assert len(dropped) == 1


def test_an_invalid_event_is_set_aside_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "deep" / "er" / "spool")
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=spool)
    bad = CaptureEvent(source="python")
    bad.edge("urn:aim:dataset:a", "consumed", "urn:aim:dataset:b")
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert sink.emit(bad) == "dropped"
    assert "capture set aside an event" in caplog.text and str(spool.directory) in caplog.text
    assert bad.id in (spool.directory / "rejected.jsonl").read_text()


def test_a_failing_store_is_logged_at_the_first_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = CaptureSink(UNREACHABLE, spool=Spool(tmp_path / "spool"), timeout=1)
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert sink.emit(run_event("r1")) == "spooled"
        assert len(caplog.records) == 1
        assert "cannot take capture events now" in caplog.text


def test_a_failing_replay_is_logged_and_keeps_new_events_behind_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("old"))

    def full_disk(store: AimStore, event: CaptureEvent) -> None:
        raise StoreError("the AIM store failed: database or disk is full")

    monkeypatch.setattr(spool_module, "apply_event", full_disk)
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=spool)
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert sink.emit(run_event("new")) == "spooled"  # after "old", whose replay failed
    assert "disk is full" in caplog.text
    assert spool.pending() == 2


def test_the_sink_knocks_again_only_after_the_recheck_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    spool = Spool(tmp_path / "spool")
    sink = CaptureSink(url, spool=spool)
    monkeypatch.setattr(sink, "_open", _failing_then(sink._open, failures=1))
    assert sink.emit(run_event("r0")) == "spooled"  # the store fails at t = 1000
    clock.now += 29.9
    assert sink.emit(run_event("r1")) == "spooled"  # too soon to knock again: keep the order
    clock.now = 1000.0 + 30.0
    assert sink.emit(run_event("r2")) == "stored"  # drained r0 and r1 first
    assert spool.pending() == 0
    with AimStore.open(url) as store:
        assert store.count("run") == 3


def _failing_then(open_store: Any, *, failures: int) -> Any:
    calls = {"n": 0}

    def flaky() -> AimStore:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise StoreError("the AIM store is busy")
        return open_store()  # type: ignore[no-any-return]

    return flaky


def test_the_sink_does_not_wait_for_a_replay_running_elsewhere(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("old"))
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=spool)
    outcome: list[str] = []
    with held_lock(spool.directory / ".replay.lock"):
        worker = threading.Thread(target=lambda: outcome.append(sink.emit(run_event("new"))))
        worker.start()
        worker.join(10)
        finished = not worker.is_alive()
    worker.join()
    assert finished and outcome == ["spooled"]  # behind "old", without waiting


def test_draining_the_spool_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("old"))
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=spool)
    with caplog.at_level(logging.INFO, logger="aimops.capture"):
        assert sink.emit(run_event("new")) == "stored"
    assert "capture replayed 1 spooled event(s)" in caplog.text


def test_reading_through_the_sink_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    down = CaptureSink(UNREACHABLE, spool=Spool(tmp_path / "spool"), timeout=1)
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert down.read(lambda store: store.count("run")) is None
        assert "cannot take capture events now" in caplog.text
        clock.now += 1
        began = time.monotonic()
        assert down.emit(run_event("r1")) == "spooled"  # no second knock right after
        assert time.monotonic() - began < 0.5
        up = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "s2"))
        assert up.read(lambda store: 1 / 0) is None
        assert "capture could not read the store: ZeroDivisionError" in caplog.text


def test_the_sink_closes_the_stores_it_opened_but_not_one_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[AimStore] = []
    real_close = AimStore.close

    def close(store: AimStore) -> None:
        closed.append(store)
        real_close(store)

    monkeypatch.setattr(AimStore, "close", close)
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    given = AimStore.open(url, actor="pipeline")
    sink = CaptureSink(store=given, spool=Spool(tmp_path / "spool"))
    assert sink.emit(run_event("r1")) == "stored"
    sink.close()
    assert sink.emit(run_event("r2")) == "stored"
    assert closed == []
    opened = CaptureSink(url, spool=Spool(tmp_path / "spool"))
    assert opened.emit(run_event("r3")) == "stored"
    opened.close()
    assert len(closed) == 1 and closed[0] is not given
    failing = CaptureSink(url, spool=Spool(tmp_path / "spool"), timeout=0.2)
    assert failing.emit(run_event("r4")) == "stored"
    store = failing._store
    monkeypatch.setattr(spool_module.Spool, "has_pending", lambda self: False)
    monkeypatch.setattr(sink_module, "apply_event", _raise_store_error)
    assert failing.emit(run_event("r5")) == "spooled"
    assert closed[-1] is store  # a store that failed is let go


def _raise_store_error(target: Any, event: CaptureEvent) -> None:
    raise StoreError("the AIM store is busy")


def test_a_given_store_is_kept_with_its_actor_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    given = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}", actor="pipeline")
    sink = CaptureSink(store=given, spool=Spool(tmp_path / "spool"))
    real_apply = sink_module.apply_event
    monkeypatch.setattr(sink_module, "apply_event", _raise_store_error)
    assert sink.emit(run_event("r1")) == "spooled"
    monkeypatch.setattr(sink_module, "apply_event", real_apply)
    clock.now += 60
    assert sink.emit(run_event("r2")) == "stored"
    actors = {v.actor for urn in ("r1", "r2") for v in given.history(run_urn("python", "p", urn))}
    assert actors == {"pipeline"}


# -- the spool --------------------------------------------------------------------------------


def test_the_default_spool_is_under_aimops_home(monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["AIMOPS_HOME"])
    assert Spool().directory == home / "spool"


def test_a_spool_that_was_never_written_is_empty(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "missing")
    assert spool.has_pending() is False
    assert spool.pending() == 0
    assert spool.replay(AimStore.open("sqlite://")) == (0, 0, 0)
    assert not spool.directory.exists()


def test_the_spool_file_is_private_synced_and_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "a" / "b" / "spool")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(spool_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    descriptors = len(os.listdir("/proc/self/fd"))
    for n in range(20):
        spool.append(run_event(f"r{n}"))
    assert len(os.listdir("/proc/self/fd")) <= descriptors
    assert len(synced) == 20
    assert spool.active_file.stat().st_mode & 0o777 == 0o600
    assert spool.pending() == 20


def test_pending_events_are_seen_in_the_file_and_in_an_interrupted_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir()
    spool.active_file.write_text("")
    assert spool.has_pending() is False
    spool.active_file.write_text("x")  # a torn line still waits to be replayed (and set aside)
    assert spool.has_pending() is True and spool.pending() == 1
    spool.active_file.unlink()
    for n in range(3):
        spool.append(run_event(f"r{n}"))
    real_apply = spool_module.apply_event

    def dies_at_the_second(store: AimStore, event: CaptureEvent) -> None:
        if event.ops[0][1]["run_id"] == "r1":
            raise StoreError("connection lost")
        real_apply(store, event)

    store = AimStore.open("sqlite://")
    monkeypatch.setattr(spool_module, "apply_event", dies_at_the_second)
    with pytest.raises(StoreError):
        spool.replay(store)
    assert not spool.active_file.exists()
    assert spool.has_pending() is True and spool.pending() == 2
    monkeypatch.setattr(spool_module, "apply_event", real_apply)
    assert spool.replay(store) == (2, 0, 0)
    assert sorted(p.name for p in spool.directory.iterdir()) == [".append.lock", ".replay.lock"]


def test_a_torn_last_line_is_dropped_by_a_replay(tmp_path: Path) -> None:
    """A line without its newline was never completely written: nothing to apply."""
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir()
    spool.active_file.write_text("x")
    assert spool.replay(AimStore.open("sqlite://")) == (0, 0, 0)
    assert spool.pending() == 0 and not spool.has_pending()


def test_an_empty_offset_file_replays_from_the_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir()
    replaying = spool.directory / "replaying-00000000000000000001.jsonl"
    replaying.write_text(run_event("r1").to_json() + "\n" + run_event("r2").to_json() + "\n")
    replaying.with_suffix(".offset").write_text("")  # a write cut short by a full disk
    store = AimStore.open("sqlite://")
    assert spool.replay(store) == (2, 0, 0)
    assert store.count("run") == 2


def test_a_limited_replay_counts_rejected_events_against_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("stop"))
    spool.append(run_event("a"))
    spool.directory.joinpath("events.jsonl").open("a").write("not an event\n")
    real_apply = spool_module.apply_event

    def stop_once(store: AimStore, event: CaptureEvent) -> None:
        if event.ops[0][1]["run_id"] == "stop":
            monkeypatch.setattr(spool_module, "apply_event", real_apply)
            raise StoreError("connection lost")
        real_apply(store, event)

    store = AimStore.open("sqlite://")
    monkeypatch.setattr(spool_module, "apply_event", stop_once)
    with pytest.raises(StoreError):
        spool.replay(store)  # leaves a replay file at its first line
    for name in ("b", "c", "d"):  # a second file of events, behind the first
        spool.append(run_event(name))
    assert spool.pending() == 6
    # 4 events of the first file ("stop", "a", the bad line) and of the second ("b").
    assert spool.replay(store, limit=4) == (3, 1, 2)
    assert spool.replay(store, limit=2) == (2, 0, 0)
    assert store.count("run") == 5


def test_replay_waits_for_another_replay_unless_told_not_to(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("r1"))
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    results: list[Any] = []
    with held_lock(spool.directory / ".replay.lock"):
        assert spool.replay(store, wait=False) is None
        waiting = threading.Thread(target=lambda: results.append(spool.replay(store)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # it waits for the other replay to end
    waiting.join(10)
    assert results == [(1, 0, 0)]


def test_appending_waits_for_the_lock_of_another_writer(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    with held_lock(spool.directory / ".append.lock"):
        writer = threading.Thread(target=lambda: spool.append(run_event("r1")))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()
        assert not spool.active_file.exists()
    writer.join(10)
    assert spool.pending() == 1
