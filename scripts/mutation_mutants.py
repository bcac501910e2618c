"""What a mutant is, how mutants are made from a module's syntax tree, and how one is loaded
in place of the module (in the forked child, and in subprocesses through ``sitecustomize``).

Part of ``scripts/mutation.py`` (see its docstring); this file is also copied, as
``aimops_mutation``, into the folder a run puts on the tests' ``PYTHONPATH``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
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
