"""A bounded background worker: capture work that must not hold the caller (a scheduler).

An orchestrator hook that fires inside its scheduler's loop hands a job to :class:`Background`
and returns at once; one daemon thread per process runs the jobs in the order they came. The
queue is bounded: when it is full a job is dropped and that is logged once (capture never
blocks its caller). A job that raises costs only what it would have recorded, logged once per
kind of failure. A forked process starts a thread of its own with its first job, and at exit
the process waits a few seconds (``EXIT_WAIT_SECONDS``) for the jobs already queued, so a
short-lived process (``airflow dags test``) still records its run's end.

Example:
    >>> worker = Background("example")
    >>> done = []
    >>> worker.submit(lambda: done.append("recorded"), "a run's end")
    True
    >>> worker.wait(5.0), done
    (True, ['recorded'])
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("aimops.capture")

#: How many jobs may wait; beyond it a job is dropped (and that is logged once).
QUEUE_LIMIT = 1000
#: How long a process waits at exit for the jobs already queued.
EXIT_WAIT_SECONDS = 10.0
#: How many recent job durations are kept (for benchmarks and ``status``).
KEPT_TIMINGS = 256


@dataclass(frozen=True)
class JobTiming:
    """How long one job took, and what it was."""

    what: str
    seconds: float
    ok: bool


class Background:
    """One daemon thread and a bounded queue of jobs; see the module docstring."""

    def __init__(self, name: str, *, limit: int = QUEUE_LIMIT) -> None:
        self.name = name
        self.limit = limit
        self.timings: deque[JobTiming] = deque(maxlen=KEPT_TIMINGS)
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Callable[[], object], str]] = queue.Queue(limit)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._logged: set[str] = set()
        self._exit_hook = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's thread, queue and lock are not this process's."""
        self._lock = threading.Lock()
        self._queue = queue.Queue(self.limit)
        self._thread = None
        self._pid = None

    def submit(self, job: Callable[[], object], what: str) -> bool:
        """Queue ``job`` (described by ``what``, for the log); False when it was dropped."""
        self._ensure_thread()
        try:
            self._queue.put_nowait((job, what))
        except queue.Full:
            self._log_once(
                "full",
                "aimops capture is %d jobs behind; dropped %s (and may drop more)",
                self.limit,
                what,
            )
            return False
        return True

    def wait(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Wait until every queued job has run; False if ``timeout`` seconds passed first."""
        if self._pid != os.getpid():
            return True  # nothing was queued in this process
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def _ensure_thread(self) -> None:
        if self._alive():
            return
        with self._lock:
            if self._alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name=f"aimops-{self.name}", daemon=True
            )
            self._thread.start()
            if not self._exit_hook:
                atexit.register(self.wait, EXIT_WAIT_SECONDS)
                self._exit_hook = True

    def _run(self) -> None:
        while True:
            job, what = self._queue.get()
            began = time.perf_counter()
            ok = False
            try:
                job()
                ok = True
            except Exception as exc:  # a job costs only its own rows
                self._log_once(type(exc).__name__, "aimops capture skipped %s: %r", what, exc)
            finally:
                self.timings.append(JobTiming(what, time.perf_counter() - began, ok))
                self._queue.task_done()

    def _log_once(self, kind: str, message: str, *args: object) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(message, *args)
