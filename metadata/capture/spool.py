"""The capture spool: events kept in a local file while the store cannot be reached.

Events are appended, one JSON line each, to ``$AIMOPS_HOME/spool/events.jsonl`` under an
exclusive file lock, so task processes running side by side never interleave lines. A replay
takes the lock, moves the file aside (new events start a new file), and applies its events in
order, remembering after each one how far it got; a replay that is cut short resumes there, and
a replay of nothing does nothing. A replay stops at the first event the store cannot take for
a reason of its own (unreachable, busy, full, wrong schema, misconfigured); an event that can
never be applied (malformed, invalid) is moved to ``rejected.jsonl`` with the reason instead of
blocking those behind it.

Example:
    >>> import tempfile
    >>> from aimops.metadata.capture.events import CaptureEvent
    >>> from aimops.metadata.store import AimStore
    >>> spool = Spool(tempfile.mkdtemp())
    >>> event = CaptureEvent(source="python")
    >>> _ = event.run(orchestrator="python", pipeline="churn", run_id="r1")
    >>> spool.append(event)
    >>> spool.pending()
    1
    >>> spool.replay(AimStore.open("sqlite://"))
    ReplayReport(applied=1, rejected=0, remaining=0)
    >>> spool.pending()
    0
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from aimops.errors import ConfigurationError, StoreError
from aimops.metadata.capture.events import CaptureEvent, apply_event
from aimops.metadata.store import AimStore
from aimops.settings import aimops_home

ACTIVE = "events.jsonl"
REPLAYING_PREFIX = "replaying-"
REJECTED = "rejected.jsonl"
#: Failures of the store or its configuration, not of an event: keep the event, try later.
#: (A store error can also be permanent, say a disk that stays full: then the replay keeps
#: stopping at that event, with the store's message, and loses nothing.)
RETRY_LATER = (StoreError, ConfigurationError)
APPEND_LOCK = ".append.lock"
REPLAY_LOCK = ".replay.lock"


def default_spool_dir() -> Path:
    """``$AIMOPS_HOME/spool``."""
    return aimops_home() / "spool"


class ReplayReport(NamedTuple):
    """What a replay did: events applied, events rejected as invalid, events still waiting."""

    applied: int
    rejected: int
    remaining: int


class Spool:
    """A directory of spooled capture events (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_spool_dir()

    @property
    def active_file(self) -> Path:
        return self.directory / ACTIVE

    def append(self, event: CaptureEvent) -> None:
        """Add ``event`` at the end of the spool (durably: the file is synced)."""
        line = (event.to_json() + "\n").encode("utf-8")
        with self._locked(APPEND_LOCK):
            descriptor = os.open(self.active_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def has_pending(self) -> bool:
        """True when any event waits for a replay (a cheap check: no file is read)."""
        if not self.directory.is_dir():
            return False
        with contextlib.suppress(OSError):
            if self.active_file.stat().st_size > 0:
                return True
        return any(self._replaying_files())

    def pending(self) -> int:
        """How many events wait for a replay."""
        if not self.directory.is_dir():
            return 0
        count = _count_lines(self.active_file)
        for path in self._replaying_files():
            count += _count_lines(path) - _read_offset(path)
        return count

    def replay(
        self, store: AimStore, *, wait: bool = True, limit: int | None = None
    ) -> ReplayReport | None:
        """Apply every spooled event to ``store``, oldest first; safe to run again any time.

        Stops at the first event the store cannot take for a reason of its own (the error,
        one of :data:`RETRY_LATER`, propagates; what was applied before it stays applied, and
        the next replay starts at that event).
        Appending never waits for a replay: new events go to a new file meanwhile. With
        ``wait=False`` it returns None at once when another replay is running; ``limit`` caps
        how many events this call applies (the rest wait for the next one).
        """
        if not self.directory.is_dir():
            return ReplayReport(0, 0, 0)
        applied = rejected = 0
        with self._locked(REPLAY_LOCK, wait=wait) as locked:
            if not locked:
                return None
            with self._locked(APPEND_LOCK):
                if self.active_file.exists() and self.active_file.stat().st_size > 0:
                    stamp = f"{time.time_ns():020d}"
                    self.active_file.rename(self.directory / f"{REPLAYING_PREFIX}{stamp}.jsonl")
            for path in self._replaying_files():
                budget = None if limit is None else limit - applied - rejected
                if budget is not None and budget <= 0:
                    break
                done, refused = self._replay_file(path, store, budget)
                applied += done
                rejected += refused
        return ReplayReport(applied, rejected, self.pending())

    def _replay_file(self, path: Path, store: AimStore, budget: int | None) -> tuple[int, int]:
        applied = rejected = 0
        offset = _read_offset(path)
        lines = _read_lines(path)
        end = len(lines) if budget is None else min(len(lines), offset + budget)
        for number in range(offset, end):
            line = lines[number]
            if line.strip():
                try:
                    apply_event(store, CaptureEvent.from_json(line))
                    applied += 1
                except RETRY_LATER:  # the store, not the event: stop here, replay again later
                    raise
                except Exception as exc:  # this event can never be applied: set it aside
                    self.set_aside(line, exc)
                    rejected += 1
            _write_offset(path, number + 1)
        if end == len(lines):
            path.unlink()
            _offset_file(path).unlink(missing_ok=True)
        return applied, rejected

    def set_aside(self, line: str, error: Exception) -> None:
        """Keep an event that can never be stored in ``rejected.jsonl``, after its reason."""
        self.directory.mkdir(parents=True, exist_ok=True)
        reason = " ".join(f"{type(error).__name__}: {error}".split())  # one comment line
        with (self.directory / REJECTED).open("a", encoding="utf-8") as sink:
            sink.write(f"# {reason}\n{line}\n")

    def _replaying_files(self) -> list[Path]:
        return sorted(p for p in self.directory.glob(f"{REPLAYING_PREFIX}*.jsonl") if p.is_file())

    @contextlib.contextmanager
    def _locked(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / name).open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _read_lines(path: Path) -> list[str]:
    """The file's lines, split on ``\n`` only (never on other Unicode line breaks)."""
    return path.read_bytes().decode("utf-8").split("\n")[:-1] if path.exists() else []


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as source:
            return sum(1 for _line in source)
    except FileNotFoundError:
        return 0


def _offset_file(path: Path) -> Path:
    return path.with_suffix(".offset")


def _read_offset(path: Path) -> int:
    try:
        return int(_offset_file(path).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _write_offset(path: Path, offset: int) -> None:
    target = _offset_file(path)
    scratch = target.with_suffix(".offset.tmp")
    scratch.write_text(str(offset))
    os.replace(scratch, target)
