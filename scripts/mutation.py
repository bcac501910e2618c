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
- Mutant keys are hashes of the file, the line's text and the change, so they stay valid when
  other lines move. ``--max-per-module`` keeps a deterministic sample (lowest keys) of each
  module's mutants; the report says when it sampled.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "scripts" / "mutation_equivalent.txt"
#: The folders the package-dir mapping puts under ``aimops`` (pyproject.toml).
PACKAGE_FOLDERS = {
    "aimops": "aimops",
    "metadata": "aimops.metadata",
    "monitors": "aimops.monitors",
    "hooks": "aimops.hooks",
    "operators": "aimops.operators",
    "flows": "aimops.flows",
}
MUTANT_ENV = "AIMOPS_MUTANT"  # "<root>\t<module file>\t<source snapshot>\t<mutant index>"
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


@dataclass(frozen=True)
class Module:
    """A module under mutation: its file, the tests that may reach it, and the primary tests
    that run for a mutant of a line executed at import."""

    path: str
    primary: tuple[str, ...]
    tests: tuple[str, ...] = ()

    @property
    def all_tests(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.primary, *self.tests)))


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


def module_name(path: str) -> str:
    """``metadata/capture/sink.py`` -> ``aimops.metadata.capture.sink``."""
    folder, *rest = Path(path).with_suffix("").parts
    return ".".join([PACKAGE_FOLDERS[folder], *rest])


# -- making mutants -------------------------------------------------------------------------

Transform = Callable[[], ast.AST]


@dataclass(frozen=True)
class Mutant:
    """One change at one place of one module."""

    path: str
    index: int  # position among the module's mutants, in tree order
    key: str
    line: int
    lines: tuple[int, int]  # the statement (or its header) that holds the change
    change: str
    source_line: str
    #: In a function whose result is cached: the tests that ran it first are not the only
    #: ones that depend on it, so it is tested as a line run at import is.
    cached: bool = False
    #: For a change run at import (a module constant, a default argument, a decorator): the
    #: lines that use what it defines, whose tests are those to run.
    uses: tuple[tuple[int, int], ...] = ()

    def where(self) -> str:
        return f"{self.path}:{self.line}"


_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINARY_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.BitXor: ast.BitAnd,
}
_LOG_CALLS = re.compile(r"^(log|logger|logging|warnings)\.|_log_once$")


@dataclass
class _Slot:
    """Where a node sits in its parent, so that it can be replaced."""

    node: ast.AST
    parent: ast.AST | None
    field: str
    position: int | None
    statement: ast.stmt | None
    quiet: bool  # inside a message: strings are not mutated
    cached: bool  # inside a function whose result is cached (functools.cache, ...)

    def replace(self, new: ast.AST) -> None:
        assert self.parent is not None
        ast.copy_location(new, self.node)
        if self.position is None:
            setattr(self.parent, self.field, new)
        else:
            getattr(self.parent, self.field)[self.position] = new


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _skipped(node: ast.AST, parent: ast.AST | None, name: str) -> bool:
    """Subtrees that only hold types, messages or documentation."""
    if name in ("annotation", "returns", "type_comment"):
        return True
    if isinstance(node, ast.Raise | ast.Assert | ast.JoinedStr | ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return True
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in _TYPE_FORMS:
        return True
    if isinstance(node, ast.Call) and ast.unparse(node.func) in ("TypeVar", "typing.TypeVar"):
        return True
    if isinstance(node, ast.keyword) and node.arg == "strict" and isinstance(parent, ast.Call):
        return ast.unparse(parent.func) == "zip"  # an assertion, as ``assert`` is
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
    ):
        return True
    return name == "body" and _is_docstring(node) and isinstance(parent, _SCOPES)


#: Subscripts that only make types (their strings are names of types, not values).
_TYPE_FORMS = ("Literal", "ClassVar", "Callable", "typing.Callable")
_SCOPES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _walk(tree: ast.Module) -> Iterator[_Slot]:
    """Every node that may be mutated, with its slot, in a fixed order."""

    def visit(
        node: ast.AST,
        parent: ast.AST | None,
        name: str,
        position: int | None,
        statement: ast.stmt | None,
        quiet: bool,
        cached: bool,
    ) -> Iterator[_Slot]:
        if _skipped(node, parent, name):
            return
        if isinstance(node, ast.stmt):
            statement = node
        yield _Slot(node, parent, name, position, statement, quiet, cached)
        if isinstance(node, ast.Call) and _LOG_CALLS.search(ast.unparse(node.func)):
            quiet = True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            cached = cached or any("cache" in ast.unparse(d) for d in node.decorator_list)
        for child_name, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if isinstance(item, ast.AST):
                    at = i if isinstance(value, list) else None
                    yield from visit(item, node, child_name, at, statement, quiet, cached)

    yield from visit(tree, None, "", None, None, False, False)


def _compare_variants(node: ast.Compare) -> list[Transform]:
    found: list[Transform] = []
    for i, op in enumerate(node.ops):
        if type(op) in _COMPARE_SWAPS:
            ops = [*node.ops[:i], _COMPARE_SWAPS[type(op)](), *node.ops[i + 1 :]]
            found.append(lambda ops=ops: ast.Compare(node.left, ops, node.comparators))  # type: ignore[misc]
    return found


def _operator_variants(node: ast.BinOp | ast.AugAssign) -> list[Transform]:
    swapped = _BINARY_SWAPS.get(type(node.op))
    if swapped is None:
        return []
    if isinstance(node, ast.BinOp):
        return [lambda: ast.BinOp(node.left, swapped(), node.right)]
    return [lambda: ast.AugAssign(node.target, swapped(), node.value)]


def _return_variants(node: ast.Return) -> list[Transform]:
    # ``return False`` -> ``return None`` reads the same wherever a bool is tested, and
    # True <-> False is a mutant of its own.
    value = node.value
    if value is None or (
        isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, bool))
    ):
        return []
    return [lambda: ast.Return(ast.Constant(None))]


def _variants(slot: _Slot) -> list[Transform]:
    """The replacements of one node (each builds the new node when called)."""
    node = slot.node
    if isinstance(node, ast.Compare):
        return _compare_variants(node)
    if isinstance(node, ast.BinOp | ast.AugAssign):
        return _operator_variants(node)
    if isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        return [lambda: ast.BoolOp(other(), node.values)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return [lambda: node.operand]
    if isinstance(node, ast.Constant):
        return _constant_variants(node, slot.quiet)
    if isinstance(node, ast.Return):
        return _return_variants(node)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return [ast.Pass]
    return []


def _constant_variants(node: ast.Constant, quiet: bool) -> list[Transform]:
    value = node.value
    if isinstance(value, bool):
        return [lambda: ast.Constant(not value)]
    if isinstance(value, int | float):
        return [lambda: ast.Constant(value + 1)]
    if isinstance(value, str) and value and not quiet:
        return [lambda: ast.Constant("")]
    return []


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 70 else text[:67] + "..."


def _statement_lines(statement: ast.stmt | None, fallback: int) -> tuple[int, int]:
    """The lines of a simple statement, or of a compound statement's header."""
    if statement is None:
        return fallback, fallback
    end = statement.end_lineno or statement.lineno
    body = getattr(statement, "body", None)
    if isinstance(body, list) and body and not isinstance(statement, ast.Lambda):
        end = max(statement.lineno, body[0].lineno - 1)
    return statement.lineno, end


def _skip_lines(source: str) -> set[int]:
    return {
        number
        for number, text in enumerate(source.splitlines(), 1)
        if "pragma: no mutate" in text or "pragma: no cover" in text
    }


def _sites(tree: ast.Module, source: str) -> Iterator[tuple[_Slot, Transform]]:
    skip = _skip_lines(source)
    for slot in _walk(tree):
        if getattr(slot.node, "lineno", None) in skip or slot.parent is None:
            continue
        for transform in _variants(slot):
            yield slot, transform


def make_mutants(path: str, source: str) -> list[Mutant]:
    """Every mutant of a module, in tree order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    uses = _uses(tree)
    mutants: list[Mutant] = []
    seen: dict[str, int] = {}
    for index, (slot, transform) in enumerate(_sites(tree, source)):
        line = slot.node.lineno  # type: ignore[attr-defined]
        before, after = _short(slot.node), _short(transform())
        change = f"delete `{before}`" if after == "pass" else f"`{before}` -> `{after}`"
        text = lines[line - 1].strip()
        identity = f"{path}\n{text}\n{change}"
        seen[identity] = seen.get(identity, 0) + 1
        digest = hashlib.sha1(f"{identity}\n{seen[identity]}".encode()).hexdigest()[:10]
        statement_lines = _statement_lines(slot.statement, line)
        used = uses.get(id(slot.statement), ())
        mutants.append(
            Mutant(path, index, digest, line, statement_lines, change, text, slot.cached, used)
        )
    return mutants


def _uses(tree: ast.Module) -> dict[int, tuple[tuple[int, int], ...]]:
    """For each statement run at import that defines something (a module-level assignment or a
    function), the lines that use it: where its names are read, and a function's body."""
    readers: dict[str, list[tuple[int, int]]] = {}

    def visit(node: ast.AST, statement: ast.stmt | None) -> None:
        if isinstance(node, ast.stmt):
            statement = node
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and statement:
            readers.setdefault(node.id, []).append(_statement_lines(statement, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, statement)

    visit(tree, None)
    found: dict[int, tuple[tuple[int, int], ...]] = {}
    for statement in ast.walk(tree):
        names: list[str] = []
        own: list[tuple[int, int]] = []
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.col_offset == 0:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [statement.name] if statement.col_offset == 0 else []
            own = [(statement.body[0].lineno, statement.end_lineno or statement.lineno)]
        else:  # a class's decorator: its instances are used from lines no tracer ties to it
            continue
        found[id(statement)] = tuple(own + [r for n in names for r in readers.get(n, [])])
    return found


def mutated_code(file: Path, source: str, index: int) -> types.CodeType:
    """The module compiled with mutant ``index`` applied."""
    tree = ast.parse(source)
    for position, (slot, transform) in enumerate(_sites(tree, source)):
        if position == index:
            slot.replace(transform())
            break
    else:
        raise LookupError(f"{file} has no mutant {index}")
    ast.fix_missing_locations(tree)
    return compile(tree, str(file), "exec")


# -- loading a mutant in place of the module ------------------------------------------------


class _CodeLoader(importlib.abc.Loader):
    def __init__(self, code: types.CodeType) -> None:
        self.code = code

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self.code, module.__dict__)


class _CodeFinder(importlib.abc.MetaPathFinder):
    """Loads the given modules from code compiled here, not from their files."""

    def __init__(self, modules: dict[str, tuple[Path, types.CodeType]]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        file, code = self.modules[fullname]
        return importlib.util.spec_from_file_location(fullname, file, loader=_CodeLoader(code))


def install_sources(root: Path, sources: dict[str, str], mutant: int | None = None) -> None:
    """Make the next imports of these modules load ``sources`` (a snapshot: the files may change
    while the run goes on), the one module of them with mutant ``mutant`` applied."""
    modules: dict[str, tuple[Path, types.CodeType]] = {}
    for path, source in sources.items():
        name = module_name(path)
        if name in sys.modules:
            raise RuntimeError(f"{name} was imported before its snapshot could be installed")
        file = root / path
        if mutant is None:
            modules[name] = (file, compile(source, str(file), "exec"))
        else:
            modules[name] = (file, mutated_code(file, source, mutant))
    sys.meta_path.insert(0, _CodeFinder(modules))


def install_from_environment() -> None:
    """For a subprocess a test starts: load the mutant named in ``$AIMOPS_MUTANT``."""
    spec = os.environ.get(MUTANT_ENV)
    if spec:
        root, path, snapshot, index = spec.split("\t")
        source = Path(snapshot).read_text(encoding="utf-8")
        install_sources(Path(root), {path: source}, None if index == "-1" else int(index))


#: Copied with this file into the run's own folder, which subprocesses get on PYTHONPATH.
_SITECUSTOMIZE = f"""\
import os
if os.environ.get({MUTANT_ENV!r}):
    import aimops_mutation
    aimops_mutation.install_from_environment()
"""


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
    shutil.copyfile(__file__, workdir / "hook" / "aimops_mutation.py")
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
