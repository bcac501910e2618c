"""Running a module's tests for each mutant: forked children, the baseline with its line
coverage, the queue of mutants and how each ended. Part of ``scripts/mutation.py``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mutation_mutants import MUTANT_ENV, ROOT, Module, Mutant, install_sources

# -- running tests in forked children -------------------------------------------------------


@dataclass
class Settings:
    """How the tests run: backends, scratch directory, worker count."""

    workdir: Path
    postgres_url: str | None
    jobs: int
    timeout_factor: float
    min_timeout: float
    slow: float
    without: tuple[str, ...] = ()
    controls: int = 2

    def pytest_args(self, basetemp: Path) -> list[str]:
        args = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", f"--basetemp={basetemp}"]
        args += ["--no-header", *(f"--ignore={path}" for path in self.without)]
        return args if self.postgres_url else [*args, "-m", "not postgres"]


def _quiet_hypothesis() -> None:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "mutation",
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("mutation")


def _fork(log: Path, settings: Settings, mutant_env: str, work: Callable[[], int]) -> int:
    """Run ``work`` in a forked child, its own process group, output to ``log``; its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 3
    try:
        os.setpgid(0, 0)
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        os.environ["AIMOPS_TEST_POSTGRES_URL"] = settings.postgres_url or ""
        os.environ.pop("CI", None)
        os.environ[MUTANT_ENV] = mutant_env
        hook_dir = str(settings.workdir / "hook")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [hook_dir, os.environ.get("PYTHONPATH")])
        )
        _quiet_hypothesis()
        code = work()
    except BaseException as exc:  # the child must never return into the parent's code
        print(f"mutation child failed: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _wait(pid: int, deadline: float) -> int | None:
    """The child's exit code, or None when it was killed at the deadline."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            _kill_group(pid)
            return None
        time.sleep(0.02)


class _Coverage:
    """A pytest plugin that traces which test executes which line of the target files."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files  # absolute path -> repository path
        self.context = "<import>"
        self.hits: dict[str, dict[int, set[str]]] = {path: {} for path in files.values()}
        self.durations: dict[str, float] = {}
        self.failed: set[str] = set()

    def trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        path = self.files.get(frame.f_code.co_filename)
        if path is None:
            return None
        lines = self.hits[path]

        def local(frame: types.FrameType, event: str, arg: Any) -> Any:
            if event == "line":
                lines.setdefault(frame.f_lineno, set()).add(self.context)
            return local

        lines.setdefault(frame.f_lineno, set()).add(self.context)
        return local

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.context = nodeid

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.context = "<between tests>"


@dataclass
class Baseline:
    """What the unmutated tests do: durations, failures, and who runs which line."""

    durations: dict[str, float]
    failed: set[str]
    hits: dict[str, dict[int, set[str]]]


def run_baseline(
    modules: Sequence[Module], sources: dict[str, str], settings: Settings
) -> Baseline:
    """Run every test of ``modules`` twice, unmutated: once tracing the modules' lines, once
    untraced for the durations (tracing slows some tests far more than others)."""
    files = {str(ROOT / m.path): m.path for m in modules}
    tests = list(dict.fromkeys(t for m in modules for t in m.all_tests if (ROOT / t).exists()))
    name = "-".join(Path(m.path).stem for m in modules)
    snapshots = {m.path: sources[m.path] for m in modules}
    runs = {}
    for traced in (True, False):
        result = settings.workdir / f"baseline-{name}-{'traced' if traced else 'timed'}.json"
        work = functools.partial(_baseline_child, files, snapshots, tests, traced, result, settings)
        pid = _fork(result.with_suffix(".log"), settings, "", work)
        runs[pid] = result
    documents = []
    for pid, result in runs.items():
        code = _wait(pid, time.monotonic() + 3600)
        if code not in (0, 1) or not result.exists():
            log = result.with_suffix(".log")
            raise SystemExit(f"the baseline run of {name} failed (exit {code}); see {log}")
        documents.append(json.loads(result.read_text()))
    traced_run, timed_run = documents
    hits = {p: {int(n): set(c) for n, c in h.items()} for p, h in traced_run["hits"].items()}
    failed = set(traced_run["failed"]) | set(timed_run["failed"])
    return Baseline(timed_run["durations"], failed, hits)


def _baseline_child(
    files: dict[str, str],
    sources: dict[str, str],
    tests: list[str],
    traced: bool,
    result: Path,
    settings: Settings,
) -> int:
    import threading

    import pytest

    install_sources(ROOT, sources)
    plugin = _Coverage(files)
    if traced:
        sys.settrace(plugin.trace)
        threading.settrace(plugin.trace)
    basetemp = result.with_suffix(".tmp")
    code = pytest.main([*tests, *settings.pytest_args(basetemp)], plugins=[plugin])
    sys.settrace(None)
    document = {
        "durations": plugin.durations,
        "failed": sorted(plugin.failed),
        "hits": {p: {n: sorted(c) for n, c in h.items()} for p, h in plugin.hits.items()},
    }
    result.write_text(json.dumps(document))
    return int(code)


# -- the mutation run -------------------------------------------------------------------------


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, timeout, survived, untested, equivalent, error
    seconds: float = 0.0


@dataclass
class _Job:
    mutant: Mutant
    tests: list[str]
    started: float
    deadline: float
    log: Path
    control: bool


@dataclass
class ModuleReport:
    module: Module
    total: int
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)


def _selected_tests(mutant: Mutant, module: Module, baseline: Baseline, slow: float) -> list[str]:
    """The tests that reach the mutant's statement, fastest first; tests slower than ``slow``
    seconds only when no faster one reaches it."""
    hits = baseline.hits[mutant.path]
    contexts: set[str] = set()
    for line in range(mutant.lines[0], mutant.lines[1] + 1):
        contexts |= hits.get(line, set())
    tests = {c for c in contexts if not c.startswith("<")}
    if "<import>" in contexts and not mutant.cached:  # the tests of the lines that use it
        for start, end in mutant.uses:
            for line in range(start, end + 1):
                tests |= {c for c in hits.get(line, set()) if not c.startswith("<")}
    if mutant.cached or ("<import>" in contexts and not tests):  # the primary tests
        tests |= {t for t in baseline.durations if any(t.startswith(p) for p in module.primary)}
    tests -= baseline.failed
    fast = {t for t in tests if baseline.durations.get(t, 0.0) <= slow}
    return sorted(fast or tests, key=lambda t: (baseline.durations.get(t, 0.0), t))


def _classify(code: int | None, log: Path) -> str:
    if code is None:
        return "timeout"
    if code == 0:
        return "survived"
    text = log.read_text(errors="replace") if log.exists() else ""
    if code in (4, 5) and ("not found:" in text or "no tests ran" in text):
        return "error"
    return "killed"


def run_mutants(
    modules: Sequence[Module],
    mutants: dict[str, list[Mutant]],
    sources: dict[str, str],
    baseline: Baseline,
    settings: Settings,
    equivalent: set[str],
    progress: Callable[[Outcome], None],
) -> list[Outcome]:
    """Run every mutant's selected tests, ``settings.jobs`` at a time."""
    by_path = {m.path: m for m in modules}
    queue: list[_Queued] = []
    outcomes: list[Outcome] = []
    for path, found in mutants.items():
        runs: list[_Queued] = []
        for mutant in found:
            tests = _selected_tests(mutant, by_path[path], baseline, settings.slow)
            if mutant.key in equivalent:
                outcomes.append(Outcome(mutant, "equivalent"))
            elif not tests:
                outcomes.append(Outcome(mutant, "untested"))
            else:
                runs.append((mutant, tests, False))
        # Controls: the largest selections run on the unmutated module first. They must pass,
        # or kills may come from tests that fail when run apart from the others.
        widest = sorted(runs, key=lambda run: (-len(run[1]), run[0].key))[: settings.controls]
        queue += [(mutant, tests, True) for mutant, tests, _ in widest] + runs
    for outcome in outcomes:
        progress(outcome)
    snapshots = settings.workdir / "sources"
    snapshots.mkdir(exist_ok=True)
    for path, source in sources.items():
        (snapshots / path.replace("/", "__")).write_text(source, encoding="utf-8")
    running: dict[int, _Job] = {}
    try:
        _run_queue(queue, running, outcomes, sources, snapshots, baseline, settings, progress)
    finally:
        for pid in running:  # interrupted: stop what still runs
            _kill_group(pid)
            _drop_leftover_databases(settings.postgres_url, pid)
    return outcomes


#: A mutant, its tests, and whether this run is a control (the module left unmutated).
_Queued = tuple[Mutant, list[str], bool]


def _run_queue(
    queue: list[_Queued],
    running: dict[int, _Job],
    outcomes: list[Outcome],
    sources: dict[str, str],
    snapshots: Path,
    baseline: Baseline,
    settings: Settings,
    progress: Callable[[Outcome], None],
) -> None:
    import pytest

    while queue or running:
        while queue and len(running) < settings.jobs:
            mutant, tests, control = queue.pop(0)
            index = None if control else mutant.index
            snapshot = snapshots / mutant.path.replace("/", "__")
            log = settings.workdir / f"mutant-{mutant.key}.log"
            basetemp = settings.workdir / f"tmp-{mutant.key}"

            def work(
                path: str = mutant.path,
                index: int | None = index,
                tests: list[str] = tests,
                tmp: Path = basetemp,
            ) -> int:
                install_sources(ROOT, {path: sources[path]}, index)
                return int(pytest.main([*tests, "-x", *settings.pytest_args(tmp)]))

            env = f"{ROOT}\t{mutant.path}\t{snapshot}\t{-1 if index is None else index}"
            budget = sum(baseline.durations.get(t, 1.0) for t in tests)
            timeout = max(settings.min_timeout, settings.timeout_factor * budget + 15.0)
            now = time.monotonic()
            pid = _fork(log, settings, env, work)
            running[pid] = _Job(mutant, tests, now, now + timeout, log, control)
        for pid, job in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            timed_out = not done and time.monotonic() > job.deadline
            if not done and not timed_out:
                continue
            if timed_out:
                _kill_group(pid)
                _drop_leftover_databases(settings.postgres_url, pid)
            del running[pid]
            code = None if timed_out else os.waitstatus_to_exitcode(status)
            verdict = _classify(code, job.log)
            if job.control:
                verdict = "control passed" if verdict == "survived" else "control failed"
            outcome = Outcome(job.mutant, verdict, time.monotonic() - job.started)
            if outcome.status not in ("error", "control failed"):
                job.log.unlink(missing_ok=True)
            shutil.rmtree(settings.workdir / f"tmp-{job.mutant.key}", ignore_errors=True)
            outcomes.append(outcome)
            progress(outcome)
        time.sleep(0.02)


def _drop_leftover_databases(url: str | None, pid: int) -> None:
    """Drop the test databases of a killed child (conftest names them ``*_<pid>_*``)."""
    if not url:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname ~ %s", (rf"^aimops_\w+_{pid}_",)
        ).fetchall()
        for (name,) in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> tuple[str | None, str]:
    """The PostgreSQL URL to test against, or None, and why."""
    url = os.environ.get("AIMOPS_TEST_POSTGRES_URL", "").strip()
    if not url:
        return None, "AIMOPS_TEST_POSTGRES_URL is not set: PostgreSQL tests deselected"
    try:
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3):
            pass
    except Exception as exc:
        return None, f"PostgreSQL at {url} is not reachable ({exc}): its tests deselected"
    return url, f"PostgreSQL at {url}"
