"""The spool and the sink: capture that never fails or stalls, and loses nothing."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from aimops.errors import StoreError, StoreUnavailableError
from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.capture.sink import CaptureSink, capture_timeout
from aimops.metadata.capture.spool import Spool
from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn
from aimops.settings import capture_enabled

UNREACHABLE = "postgresql://aim:hunter2@127.0.0.1:9/aim"


def run_event(run_id: str, state: str = "running") -> CaptureEvent:
    event = CaptureEvent(source="python")
    event.run(orchestrator="python", pipeline="p", run_id=run_id, native_state=state)
    return event


def test_replay_applies_in_order_and_twice_is_a_no_op(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("r1", "running"))
    spool.append(run_event("r1", "success"))
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    assert spool.replay(store) == (2, 0, 0)
    assert store.get_aspect(run_urn("python", "p", "r1"), "runInfo").value["status"] == "success"
    assert spool.replay(store) == (0, 0, 0)
    assert len(store.history(run_urn("python", "p", "r1"))) == 2


def test_a_replay_into_a_busy_store_stops_and_keeps_every_event(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for n in range(3):
        spool.append(run_event(f"r{n}"))
    path = tmp_path / "aim.db"
    AimStore.open(f"sqlite:///{path}").close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the store
    try:
        with pytest.raises(StoreError), AimStore.open(f"sqlite:///{path}", timeout=0.2) as busy:
            spool.replay(busy)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert spool.pending() == 3
    with AimStore.open(f"sqlite:///{path}") as store:
        assert spool.replay(store) == (3, 0, 0)
        assert store.count("run") == 3


def test_a_replay_cut_short_resumes_after_the_last_event_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aimops.metadata.capture.spool as spool_module

    spool = Spool(tmp_path / "spool")
    for n in range(4):
        spool.append(run_event(f"r{n}"))
    real_apply = spool_module.apply_event
    calls: list[str] = []

    def flaky(store: AimStore, event: CaptureEvent) -> None:  # the store dies mid-replay
        calls.append(event.id)
        if len(calls) == 3:
            raise StoreUnavailableError("connection lost")
        real_apply(store, event)

    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    monkeypatch.setattr(spool_module, "apply_event", flaky)
    with pytest.raises(StoreUnavailableError):
        spool.replay(store)
    monkeypatch.setattr(spool_module, "apply_event", real_apply)
    assert spool.pending() == 2
    assert spool.replay(store) == (2, 0, 0)
    assert store.count("run") == 4


def test_an_event_the_store_refuses_is_set_aside_with_the_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    bad = CaptureEvent(source="python")
    bad.io(run_urn("python", "p", "r9"), produced=["urn:aim:dataset:missing"])
    spool.append(run_event("r1"))
    spool.append(bad)
    spool.append(run_event("r2"))
    store = AimStore.open("sqlite://")
    assert spool.replay(store) == (2, 1, 0)
    rejected = (tmp_path / "spool" / "rejected.jsonl").read_text()
    assert "MissingEntityError" in rejected and bad.id in rejected


def _append_many(directory: str, worker: int) -> None:
    spool = Spool(directory)
    for n in range(50):
        spool.append(run_event(f"w{worker}-{n}"))


def test_processes_appending_at_once_never_interleave_lines(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 200
    assert all(CaptureEvent.from_json(line) for line in lines)


def test_an_unreachable_store_spools_and_logs_once_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = CaptureSink(UNREACHABLE, spool=Spool(tmp_path / "spool"), timeout=1)
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        outcomes = [sink.emit(run_event(f"r{n}")) for n in range(3)]
    assert outcomes == ["spooled"] * 3
    assert Spool(tmp_path / "spool").pending() == 3
    assert len(caplog.records) == 1 and "hunter2" not in caplog.text


def test_a_locked_store_delays_a_task_by_the_timeout_at_most(tmp_path: Path) -> None:
    path = tmp_path / "aim.db"
    AimStore.open(f"sqlite:///{path}").close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        sink = CaptureSink(f"sqlite:///{path}", spool=Spool(tmp_path / "spool"), timeout=0.3)
        began = time.monotonic()
        assert sink.emit(run_event("r1")) == "spooled"
        assert time.monotonic() - began < 2.0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_events_wait_behind_the_spool_and_drain_once_the_store_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aimops.metadata.capture.sink as sink_module

    spool = Spool(tmp_path / "spool")
    spool.append(run_event("r1", "running"))  # left by an earlier outage
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    sink = CaptureSink(url, spool=spool)
    assert sink.emit(run_event("r1", "success")) == "stored"  # after draining the older event
    with AimStore.open(url) as store:
        info = store.get_aspect(run_urn("python", "p", "r1"), "runInfo").value
        assert info["status"] == "success"
    # Right after a failure the sink does not knock again at every event: it spools.
    monkeypatch.setattr(sink_module, "RECHECK_SECONDS", 3600.0)
    down = CaptureSink(UNREACHABLE, spool=spool, timeout=1)
    assert down.emit(run_event("r2")) == "spooled"
    began = time.monotonic()
    assert down.emit(run_event("r3")) == "spooled"
    assert time.monotonic() - began < 0.5


def test_invalid_events_are_dropped_not_raised(tmp_path: Path) -> None:
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))
    bad = CaptureEvent(source="python")
    bad.edge("urn:aim:dataset:a", "consumed", "urn:aim:dataset:b")
    assert sink.emit(bad) == "dropped"
    assert Spool(tmp_path / "spool").pending() == 0


@pytest.mark.parametrize(("value", "on"), [("", True), ("on", True), ("off", False), ("0", False)])
def test_the_kill_switch_words(value: str, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMOPS_CAPTURE", value)
    assert capture_enabled() is on


def test_the_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMOPS_CAPTURE_TIMEOUT", "0.5")
    assert capture_timeout() == 0.5
    monkeypatch.setenv("AIMOPS_CAPTURE_TIMEOUT", "soon")
    assert capture_timeout() == 2.0


def test_what_the_sink_wrote_once_it_does_not_write_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    sink = CaptureSink(url, spool=Spool(tmp_path / "spool"))
    started = CaptureEvent(source="python")
    run = started.run(orchestrator="python", pipeline="p", run_id="r1")
    step = started.step(run, "fit")
    started.attempt(step, 1, native_state="running")
    assert sink.emit(started) == "stored"
    with AimStore.open(url) as store:  # meanwhile the scheduler ends the run
        store.put_aspect(
            run, "runInfo", {**store.get_aspect(run, "runInfo").value, "status": "success"}
        )
        versions = len(store.history(run))
    finished = CaptureEvent(source="python")
    finished.run(orchestrator="python", pipeline="p", run_id="r1")
    finished.step(run, "fit")
    finished.attempt(step, 1, native_state="success")
    assert sink.emit(finished) == "stored"
    with AimStore.open(url) as store:
        assert len(store.history(run)) == versions  # the repeated run op was skipped
        assert store.get_aspect(run, "runInfo").value["status"] == "success"
        assert store.get_aspect(step, "stepInfo").value["state"] == "success"


def test_unicode_line_breaks_in_values_never_split_a_spooled_event(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    event = CaptureEvent(source="python")
    run = event.run(orchestrator="python", pipeline="p", run_id="r1")
    step = event.step(run, "fit")
    event.attempt(step, 1, native_state="failed", error="line\u2028separator\u0085next\u2029end")
    spool.append(event)
    assert spool.pending() == 1
    store = AimStore.open("sqlite://")
    assert spool.replay(store) == (1, 0, 0)
    attempt = store.get_aspect(step, "stepAttempts").value["attempts"][0]
    assert attempt["error"] == "line\u2028separator\u0085next\u2029end"


def test_a_large_backlog_drains_a_batch_per_event_in_order(tmp_path: Path) -> None:
    import aimops.metadata.capture.sink as sink_module

    spool = Spool(tmp_path / "spool")
    backlog = sink_module.DRAIN_BATCH * 2 + 5
    for n in range(backlog):
        spool.append(run_event(f"r{n}"))
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    sink = CaptureSink(url, spool=spool)
    outcomes = [sink.emit(run_event(f"new{n}")) for n in range(4)]
    assert outcomes == ["spooled", "spooled", "stored", "stored"]
    with AimStore.open(url) as store:
        assert store.count("run") == backlog + 4
    assert spool.pending() == 0


def test_a_misconfigured_store_spools_instead_of_dropping(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for url in ("mysql://aim@db/aim", "postgresql://aim@db:notaport/aim"):
        assert CaptureSink(url, spool=spool).emit(run_event("r1")) == "spooled"
    assert spool.pending() == 2


def test_a_line_that_is_not_an_event_is_set_aside_not_blocking(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(run_event("r1"))
    with (tmp_path / "spool" / "events.jsonl").open("a") as sink:
        sink.write('{"format": 1, "ops": "truncated by a full disk\n')
    spool.append(run_event("r2"))
    store = AimStore.open("sqlite://")
    assert spool.replay(store) == (2, 1, 0)
    assert store.count("run") == 2


def test_a_store_failure_stops_the_replay_and_keeps_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aimops.metadata.capture.spool as spool_module

    spool = Spool(tmp_path / "spool")
    for n in range(3):
        spool.append(run_event(f"r{n}"))

    def full_disk(store: AimStore, event: CaptureEvent) -> None:
        raise StoreError("the AIM store at x failed: database or disk is full")

    monkeypatch.setattr(spool_module, "apply_event", full_disk)
    with pytest.raises(StoreError, match="disk is full"):
        spool.replay(AimStore.open("sqlite://"))
    assert spool.pending() == 3  # nothing set aside as rejected
    assert not (tmp_path / "spool" / "rejected.jsonl").exists()
