"""Mutation testing of aimops' core modules: would the tests notice a small wrong change?

``make mutation`` (or ``.venv/bin/python scripts/mutation.py``) changes one thing at a time in a
core module (a ``<`` into ``<=``, a ``+`` into ``-``, ``and`` into ``or``, a constant plus one,
``True`` into ``False``, ``not x`` into ``x``, a string emptied, a returned value into None, a
call statement deleted), runs the tests that reach the changed line, and counts the mutant
killed (a test failed, or the run timed out) or survived (every test passed). A surviving mutant
is a change no test would notice; it is listed with its key, file, line and change so that
someone can judge it: write a test, or, when the change cannot alter behaviour, list its key in
``scripts/mutation_equivalent.txt`` with the reason. The score is killed / (mutants -
equivalent).

How it runs, without touching any file:

- Each module's source is read once (a snapshot: others may edit the file meanwhile); mutants
  are made on its syntax tree. Left alone: docstrings, type annotations and type forms
  (``Literal[...]``, ``Callable[...]``, ``TypeVar``), ``if TYPE_CHECKING:`` blocks, ``raise`` and
  ``assert`` statements, ``zip(..., strict=True)``, f-strings, log messages, and lines marked
  ``# pragma: no mutate`` or ``# pragma: no cover``.
- Two baseline runs of the module's tests, unmutated: one with a line tracer, which records
  which tests execute each line, and one without, for their durations. A mutant runs the tests
  that execute its statement. A statement run at import (a module constant, a default argument,
  a decorator) runs the tests of the lines that use what it defines, else the module's primary
  test files; so does a line in a cached function (``functools.cache``: the first test to call
  it is not the only one that depends on it). A line no test reaches is a survivor without a
  run. Tests slower than ``--slow`` seconds run only for lines no faster test reaches.
- Each mutant runs in a forked child of this process (which has imported pytest, numpy,
  SQLAlchemy... but not aimops): an import hook compiles the mutated tree as the module when the
  tests import it. Subprocesses the tests start (``spawn``) get the same mutant through a
  ``sitecustomize`` on their ``PYTHONPATH``. Tests run fastest first with ``-x``, with a timeout
  of a few times their baseline duration; Hypothesis runs derandomized, without its database.
- SQLite always; PostgreSQL too when ``AIMOPS_TEST_POSTGRES_URL`` names a reachable server (else
  the ``postgres`` tests are deselected and the report says so). Tests that fail without any
  mutant are left out, and the report names them.
- The script is three files, one idea each: ``mutation_mutants.py`` (what a mutant is, making
  them, loading one in place of its module; copied for subprocesses), ``mutation_runner.py``
  (forked children, the baseline, the queue) and this one (the modules, the report, the CLI).
- Mutant keys are hashes of the file, the line's text and the change, so they stay valid when
  other lines move. ``--max-per-module`` keeps a deterministic sample (lowest keys) of each
  module's mutants; the report says when it sampled.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.abc
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import mutation_mutants
from mutation_mutants import _SITECUSTOMIZE, ROOT, Module, Mutant, make_mutants
from mutation_runner import (
    ModuleReport,
    Outcome,
    Settings,
    postgres_available,
    run_baseline,
    run_mutants,
)

EQUIVALENT_FILE = ROOT / "scripts" / "mutation_equivalent.txt"
#: Third-party modules the forked children share instead of importing them again.
PRELOADED = (
    "pytest",
    "hypothesis",
    "numpy",
    "pandas",
    "scipy.stats",
    "scipy.special",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "alembic",
    "pydantic",
    "psycopg",
)


_STORE_TESTS = (
    "tests/metadata/test_recording.py",
    "tests/metadata/test_lineage.py",
    "tests/metadata/test_schema.py",
    "tests/metadata/test_url_secrets.py",
    "tests/metadata/test_concurrent_writers.py",
    "tests/metadata/test_crash_consistency.py",
    "tests/metadata/aspects",
    "tests/metadata/test_damaged_stores.py",
    "tests/metadata/test_mutation_survivors_store.py",
    "tests/test_facade_contracts.py",
)
_STORE_PRIMARY = ("tests/metadata/test_store.py", "tests/metadata/test_bulk_writes.py")
_CAPTURE_TESTS = ("tests/metadata/capture",)
#: Groups of core modules, as the report shows them.
GROUPS: dict[str, tuple[Module, ...]] = {
    "store": (
        Module("metadata/store.py", _STORE_PRIMARY, _STORE_TESTS),
        Module("metadata/writer.py", _STORE_PRIMARY, _STORE_TESTS),
    ),
    "urns": (
        Module(
            "metadata/urns.py",
            ("tests/metadata/test_urns.py",),
            ("tests/metadata/test_store.py", "tests/metadata/test_recording.py", *_CAPTURE_TESTS),
        ),
    ),
    "capture": (
        Module("metadata/capture/events.py", _CAPTURE_TESTS),
        Module("metadata/capture/sink.py", _CAPTURE_TESTS),
        Module("metadata/capture/spool.py", _CAPTURE_TESTS),
    ),
    "evaluation": (
        Module(
            "monitors/evaluation/binary.py",
            (
                "tests/monitors/evaluation/test_binary.py",
                "tests/monitors/evaluation/test_binary_mutation_survivors.py",
            ),
            ("tests/monitors/evaluation/test_analyzers.py",),
        ),
    ),
    "checks": (
        Module(
            "monitors/checks/drift_methods.py",
            (
                "tests/monitors/checks/test_drift_methods.py",
                "tests/monitors/checks/test_drift_methods_mutation_survivors.py",
            ),
        ),
    ),
}


def read_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """Mutant key -> the line that lists it (with its reason)."""
    found: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found[line.split()[0]] = line
    return found


# -- the report -----------------------------------------------------------------------------


def _score(killed: int, judged: int) -> str:
    return f"{100.0 * killed / judged:5.1f}%" if judged else "    -"


def format_report(reports: dict[str, list[ModuleReport]], header: list[str], seconds: float) -> str:
    """The per-module table, the totals and the survivors."""
    out = [*header, ""]
    columns = f"{'group':<11}{'module':<33}{'mutants':>8}{'run':>6}{'killed':>8}{'timeout':>8}"
    columns += f"{'survived':>9}{'equiv':>7}{'score':>8}"
    out += [columns, "-" * len(columns)]
    grand = [0, 0, 0, 0, 0, 0]
    for group, module_reports in reports.items():
        sums = [0, 0, 0, 0, 0, 0]
        for report in module_reports:
            row = [
                report.total,
                len(report.outcomes),
                report.count("killed"),
                report.count("timeout"),
                report.count("survived", "untested", "error"),
                report.count("equivalent"),
            ]
            sums = [a + b for a, b in zip(sums, row, strict=True)]
            out.append(_row(group, report.module.path, row))
        if len(module_reports) > 1:
            out.append(_row(group, "(all)", sums))
        grand = [a + b for a, b in zip(grand, sums, strict=True)]
    out += ["-" * len(columns), _row("total", "", grand), ""]
    out.append(
        f"score = (killed + timeout) / (mutants run - equivalent); wall time {seconds / 60:.1f} min"
    )
    survivors = [
        o
        for reports_ in reports.values()
        for r in reports_
        for o in r.outcomes
        if o.status in ("survived", "untested", "error")
    ]
    out += ["", f"Surviving mutants ({len(survivors)}): key  file:line  change  | source line"]
    for o in sorted(survivors, key=lambda o: (o.mutant.path, o.mutant.line, o.mutant.change)):
        note = {"untested": "  [no test reaches this line]", "error": "  [error: see log]"}
        out.append(
            f"{o.mutant.key}  {o.mutant.where()}  {o.mutant.change}"
            f"{note.get(o.status, '')}  | {o.mutant.source_line}"
        )
    return "\n".join(out) + "\n"


def _row(group: str, module: str, row: list[int]) -> str:
    total, run, killed, timeout, survived, equivalent = row
    score = _score(killed + timeout, run - equivalent)
    return (
        f"{group:<11}{module:<33}{total:>8}{run:>6}{killed:>8}{timeout:>8}{survived:>9}"
        f"{equivalent:>7}{score:>8}"
    )


def _sample(found: list[Mutant], limit: int | None) -> list[Mutant]:
    if limit is None or len(found) <= limit:
        return found
    kept = {m.key for m in sorted(found, key=lambda m: m.key)[:limit]}
    return [m for m in found if m.key in kept]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--group", action="append", choices=sorted(GROUPS), help="(repeatable)")
    parser.add_argument("--module", action="append", help="only this file (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--max-per-module", type=int, default=None, help="sample this many")
    parser.add_argument("--timeout-factor", type=float, default=4.0)
    parser.add_argument("--min-timeout", type=float, default=30.0)
    parser.add_argument(
        "--slow",
        type=float,
        default=10.0,
        help="tests slower than this (s) run only for lines no faster test reaches",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="TEST_FILE",
        help="leave this test file out (repeatable): what does it add to the score?",
    )
    parser.add_argument(
        "--controls",
        type=int,
        default=2,
        help="per module, run the widest test selections unmutated first: they must pass",
    )
    parser.add_argument("--keep-workdir", action="store_true")
    return parser.parse_args(argv)


def _selection(args: argparse.Namespace) -> dict[str, tuple[Module, ...]]:
    groups = {g: GROUPS[g] for g in (args.group or GROUPS)}
    if args.module:
        groups = {g: tuple(m for m in mods if m.path in args.module) for g, mods in groups.items()}
    if args.without:
        groups = {
            g: tuple(
                dataclasses.replace(
                    m,
                    primary=tuple(t for t in m.primary if t not in args.without),
                    tests=tuple(t for t in m.tests if t not in args.without),
                )
                for m in mods
            )
            for g, mods in groups.items()
        }
    return {g: mods for g, mods in groups.items() if mods}


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the clean-up below
    os.chdir(ROOT)
    groups = _selection(args)
    sources = {
        m.path: (ROOT / m.path).read_text(encoding="utf-8") for ms in groups.values() for m in ms
    }
    every = {path: make_mutants(path, source) for path, source in sources.items()}
    chosen = {path: _sample(found, args.max_per_module) for path, found in every.items()}
    if args.list:
        for found in chosen.values():
            for m in found:
                print(f"{m.key}  {m.where()}  {m.change}")
        return 0
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in PRELOADED:
        importlib.import_module(name)
    assert not any(n.startswith("aimops") for n in sys.modules), "aimops must not be preloaded"
    postgres_url, backend_note = postgres_available()
    workdir = Path(tempfile.mkdtemp(prefix="aimops-mutation-"))
    (workdir / "hook").mkdir()
    (workdir / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    shutil.copyfile(Path(mutation_mutants.__file__), workdir / "hook" / "aimops_mutation.py")
    settings = Settings(
        workdir,
        postgres_url,
        args.jobs,
        args.timeout_factor,
        args.min_timeout,
        args.slow,
        tuple(args.without),
        args.controls,
    )
    equivalents = read_equivalents()
    started = time.monotonic()
    reports: dict[str, list[ModuleReport]] = {}
    notes: list[str] = []
    try:
        for group, modules in groups.items():
            reports[group] = _run_group(
                group, modules, every, chosen, sources, settings, equivalents, notes
            )
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    sampled = [
        f"{p}: {len(chosen[p])} of {len(every[p])}" for p in every if len(chosen[p]) < len(every[p])
    ]
    keys = {m.key for found in every.values() for m in found}
    stale = sorted(set(equivalents) - keys) if not args.module and not args.group else []
    header = [
        "aimops mutation testing (scripts/mutation.py)",
        f"backends: SQLite; {backend_note}",
        f"equivalent mutants listed in {EQUIVALENT_FILE.relative_to(ROOT)}: {len(equivalents)}"
        + (f" ({len(stale)} match no mutant now: {' '.join(stale)})" if stale else ""),
        "sampled (deterministic, lowest keys): "
        + ("; ".join(sampled) if sampled else "no, every mutant ran"),
        f"tests slower than {args.slow:g} s run only for lines that no faster test reaches",
        *([f"left out: {', '.join(args.without)}"] if args.without else []),
        *notes,
    ]
    text = format_report(reports, header, time.monotonic() - started)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


def _run_group(
    group: str,
    modules: tuple[Module, ...],
    every: dict[str, list[Mutant]],
    chosen: dict[str, list[Mutant]],
    sources: dict[str, str],
    settings: Settings,
    equivalents: dict[str, str],
    notes: list[str],
) -> list[ModuleReport]:
    began = time.monotonic()
    print(f">> {group}: baseline run of the tests, tracing lines", file=sys.stderr, flush=True)
    baseline = run_baseline(modules, sources, settings)
    if baseline.failed:
        notes.append(
            f"{group}: {len(baseline.failed)} test(s) failed without any mutant and were left "
            f"out: {', '.join(sorted(baseline.failed))}"
        )
        print(f">> {notes[-1]}", file=sys.stderr, flush=True)
    counts = {"done": 0, "total": sum(len(chosen[m.path]) for m in modules)}

    def progress(outcome: Outcome) -> None:
        if outcome.status.startswith("control"):
            print("c" if outcome.status == "control passed" else "C", end="", file=sys.stderr)
            return
        counts["done"] += 1
        mark = {"killed": ".", "timeout": "T", "survived": "S", "untested": "u", "error": "E"}
        print(mark.get(outcome.status, "="), end="", file=sys.stderr, flush=True)
        if counts["done"] % 60 == 0 or counts["done"] == counts["total"]:
            print(f" {counts['done']}/{counts['total']}", file=sys.stderr, flush=True)

    mutants = {m.path: chosen[m.path] for m in modules}
    outcomes = run_mutants(
        modules, mutants, sources, baseline, settings, set(equivalents), progress
    )
    print(f">> {group}: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    controls = [o for o in outcomes if o.status.startswith("control")]
    failed = [o.mutant.path for o in controls if o.status == "control failed"]
    notes.append(
        f"{group}: {len(controls) - len(failed)} of {len(controls)} control runs (the widest "
        "test selections, unmutated) passed"
        + (f"; FAILED for {', '.join(failed)}: kills there may be false" if failed else "")
    )
    outcomes = [o for o in outcomes if not o.status.startswith("control")]
    return [
        ModuleReport(m, len(every[m.path]), [o for o in outcomes if o.mutant.path == m.path])
        for m in modules
    ]


if __name__ == "__main__":
    sys.exit(main())
