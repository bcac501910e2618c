"""The processes of one Airflow home, found and stopped through ``psutil``.

A process belongs to a home when it is in the process group ``start`` created, when its
environment carries the marker :data:`MARKER_ENV` set to the home (everything ``start``
launches inherits it), or when it is an ``airflow`` command whose ``AIRFLOW_HOME`` is the home.
This process and its ancestors are never signalled, whatever their environment says, and
zombies are skipped (they are gone; only their parent can reap them).

:func:`terminate` sends SIGTERM to the group and to members outside it, waits, then SIGKILL
(Airflow's orphaned workers may ignore SIGTERM), and verifies that none is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: Set in the environment of everything ``start`` launches; ``stop`` finds leftovers by it.
MARKER_ENV = "AIMOPS_AIRFLOW_LOCAL_HOME"

#: Popen objects of servers started by this process, reaped while stopping (no zombies in tests).
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Proc:
    """A process as it was seen (its psutil handle refuses to signal a recycled pid)."""

    pid: int
    ppid: int
    pgid: int
    status: str
    cmdline: str
    process: psutil.Process = field(repr=False, compare=False)

    @property
    def short(self) -> str:
        return self.cmdline if len(self.cmdline) <= 60 else self.cmdline[:57] + "..."


def _seen(process: psutil.Process) -> Proc | None:
    """A snapshot of ``process``; ``None`` when it is gone, a zombie, or not readable."""
    try:
        with process.oneshot():
            status = process.status()
            if status == psutil.STATUS_ZOMBIE:
                return None
            return Proc(
                process.pid,
                process.ppid(),
                os.getpgid(process.pid),
                status,
                " ".join(process.cmdline()),
                process,
            )
    except (psutil.Error, ProcessLookupError):
        return None


def _protected_pids() -> set[int]:
    """This process and its ancestors: never signalled."""
    me = psutil.Process()
    return {me.pid, *(parent.pid for parent in me.parents())}


def _is_airflow_command(process: psutil.Process) -> bool:
    """``airflow ...`` or ``python .../airflow ...``."""
    with contextlib.suppress(psutil.Error):
        heads = [Path(word).name for word in process.cmdline()[:2]]
        return bool(heads) and (
            heads[0] == "airflow" or ("python" in heads[0] and "airflow" in heads)
        )
    return False


def _belongs_to(process: psutil.Process, home: Path) -> bool:
    try:
        env = process.environ()
    except psutil.Error:
        return False
    if env.get(MARKER_ENV) == str(home):
        return True
    return env.get("AIRFLOW_HOME") == str(home) and _is_airflow_command(process)


def find_processes(home: Path | str, pgid: int | None = None) -> list[Proc]:
    """Live (non-zombie) processes in group ``pgid`` or started for this Airflow home."""
    home = Path(home).resolve()
    protected = _protected_pids()
    found = []
    for process in psutil.process_iter():
        if process.pid in protected:
            continue
        proc = _seen(process)
        if proc is None:
            continue
        if (pgid is not None and proc.pgid == pgid) or _belongs_to(process, home):
            found.append(proc)
    return found


def group_is_ours(pgid: int, home: Path) -> bool:
    """Guard against a recycled id: some live member of the group must belong to this home."""
    for process in psutil.process_iter():
        proc = _seen(process)
        if proc is not None and proc.pgid == pgid and _belongs_to(process, home):
            return True
    return False


def send(pgid: int | None, procs: list[Proc], sig: signal.Signals) -> None:
    """``sig`` to the whole group ``pgid`` and to each of ``procs`` outside it."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for proc in procs:
        if proc.pgid != pgid:
            with contextlib.suppress(psutil.Error):
                proc.process.send_signal(sig)


def reap_children() -> None:
    """Collect the exit status of servers this process started that have ended."""
    for pid, child in list(CHILDREN.items()):
        if child.poll() is not None:
            del CHILDREN[pid]


def wait_gone(home: Path, pgid: int | None, timeout: float) -> list[Proc]:
    """Wait up to ``timeout`` s until no process of the group or home is left; those left."""
    deadline = time.monotonic() + timeout
    while True:
        reap_children()
        left = find_processes(home, pgid)
        remaining = deadline - time.monotonic()
        if not left or remaining <= 0:
            return left
        # Our own children are left to their Popen (psutil's wait would reap them under it).
        others = [proc.process for proc in left if proc.pid not in CHILDREN]
        if others:
            psutil.wait_procs(others, timeout=min(0.5, remaining))
        else:
            time.sleep(min(0.2, remaining))


@dataclass
class StopReport:
    """What :func:`terminate` did, and who (if anyone) survived it."""

    home: str
    pgid: int | None
    terminated: int = 0
    killed: int = 0
    survivors: list[Proc] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.survivors


def terminate(
    home: Path, pgid: int | None, procs: list[Proc], grace: float, out: Callable[[str], None]
) -> StopReport:
    """SIGTERM ``procs`` (and group ``pgid``), SIGKILL what is left after ``grace`` s; verify."""
    started = time.monotonic()
    report = StopReport(str(home), pgid, terminated=len(procs))
    group = f"process group {pgid}" if pgid else "no process group"
    out(f"stopping Airflow for {home} ({group}, {len(procs)} processes): SIGTERM")
    send(pgid, procs, signal.SIGTERM)
    left = wait_gone(home, pgid, grace)
    if left:
        report.killed = len(left)
        names = ", ".join(sorted({proc.short for proc in left}))
        out(f"{len(left)} still running after {grace:.0f} s ({names}): SIGKILL")
        send(pgid, left, signal.SIGKILL)
        left = wait_gone(home, pgid, 5.0)
    report.survivors = left
    report.seconds = time.monotonic() - started
    return report
