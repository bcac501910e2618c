"""The background worker: jobs run in order off the caller's thread, bounded, never raising."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from aimops.metadata.capture.background import Background


def test_jobs_run_in_order_on_another_thread() -> None:
    worker = Background("order")
    seen: list[tuple[int, str]] = []
    for number in range(5):
        assert worker.submit(
            lambda n=number: seen.append((n, threading.current_thread().name)), f"job {number}"
        )
    assert worker.wait(5.0)
    assert [n for n, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"aimops-order"}
    assert [timing.what for timing in worker.timings] == [f"job {n}" for n in range(5)]


def test_a_full_queue_drops_the_job_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    worker = Background("full", limit=1)
    gate = threading.Event()
    started = threading.Event()

    def blocking() -> None:
        started.set()
        gate.wait(5.0)

    assert worker.submit(blocking, "the blocking job")
    assert started.wait(5.0)
    assert worker.submit(lambda: None, "fills the queue")
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert worker.submit(lambda: None, "run x ended") is False
        assert worker.submit(lambda: None, "run y ended") is False
    gate.set()
    assert worker.wait(5.0)
    dropped = [r.getMessage() for r in caplog.records if "behind" in r.getMessage()]
    assert dropped == ["aimops capture is 1 jobs behind; dropped run x ended (and may drop more)"]


def test_a_failing_job_costs_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    worker = Background("failing")
    done: list[str] = []

    def broken() -> None:
        raise ConnectionError("the metadata DB went away")

    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        worker.submit(broken, "run a ended")
        worker.submit(broken, "run b ended")
        worker.submit(lambda: done.append("c"), "run c ended")
        assert worker.wait(5.0)
    assert done == ["c"]
    assert [t.ok for t in worker.timings] == [False, False, True]
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [
        "aimops capture skipped run a ended: ConnectionError('the metadata DB went away')"
    ]


def test_wait_gives_up_after_its_timeout() -> None:
    worker = Background("slow")
    gate = threading.Event()
    worker.submit(lambda: gate.wait(5.0), "a slow job")
    assert worker.wait(0.05) is False
    gate.set()
    assert worker.wait(5.0) is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_its_own_jobs() -> None:
    worker = Background("forked")
    assert worker.submit(lambda: None, "in the parent") and worker.wait(5.0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a thread of its own, the parent's queue forgotten
        done: list[int] = []
        ok = worker.submit(lambda: done.append(1), "in the child") and worker.wait(5.0)
        os.write(write, b"ok" if ok and done == [1] else b"no")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 2)
    os.waitpid(pid, 0)
    assert answer == b"ok"
