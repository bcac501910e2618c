"""Listener-hook timing inside every Airflow process, for ``capture_bench.py``'s per-process modes.

Not imported by aimops. ``capture_bench.py`` writes a ``sitecustomize.py`` that loads this file
and calls :func:`install` into a directory it puts on ``PYTHONPATH`` of ``airflow standalone``;
every Python process Airflow starts (scheduler, LocalExecutor workers, and the task processes
they fork) then carries it. With ``CAPTURE_BENCH_HOOK_LOG`` unset it does nothing.

What it does, without importing anything heavy at start-up (a post-import hook patches modules
as they load):

- every Airflow ``ListenerManager`` (the Task SDK's and the core one) gets pluggy hook-call
  monitoring when it is created, after Airflow's own, so it is the outermost wrapper around the
  dispatch, the same as the in-process benchmark's ``HookTimer``; each hook call is timed with
  ``perf_counter_ns`` around all implementations together, and each implementation on its own;
- in aimops' listener and sink, the steps of a capture are timed (``phases``): getting the
  process's sink (``sink``, which imports the store modules on first use), resolving the store
  URL (``store_url``), opening the store (``open``), writing (``write``), and the whole
  ``emit``; each emit's outcome is recorded;
- after each hook call one JSON line (hook, pid, task, times, phases, which store modules were
  already loaded when the call began, the modules it imported) is appended to the file named by
  ``CAPTURE_BENCH_HOOK_LOG``; the write happens after the time is taken.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

LOG_ENV = "CAPTURE_BENCH_HOOK_LOG"
#: Modules whose presence before a hook call tells whether the store machinery was preloaded.
WATCHED_MODULES = ("aimops.metadata.capture.sink", "aimops.metadata.store", "sqlalchemy")

_state: dict[str, Any] = {"pid": None, "index": 0, "stack": [], "phases": {}, "emits": []}


def _reset_if_forked() -> None:
    """A forked child starts its own numbering and forgets its parent's call in progress."""
    if _state["pid"] != os.getpid():
        _state.update(pid=os.getpid(), index=0, stack=[], phases={}, emits=[])


def _write(record: dict[str, Any]) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as stream:  # one short append per line
            stream.write(json.dumps(record, default=str) + "\n")


def _field(obj: Any, name: str) -> Any:
    """``obj.name`` if already loaded: never an ORM refresh (a query, or an error if detached)."""
    try:
        return vars(obj).get(name)
    except TypeError:
        return None


def plugin_label(plugin: object) -> str:
    """Which listener a registered plugin is: ``aimops``, ``openlineage`` or its class."""
    module = type(plugin).__module__
    if module.startswith("aimops"):
        return "aimops"
    if "openlineage" in module:
        return "openlineage"
    return f"{module}.{type(plugin).__qualname__}"


# -- hook-call monitoring ----------------------------------------------------------------------


def _timed_impl(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter_ns() - start
            if _state["stack"]:
                impls = _state["stack"][-1]["impls"]
                impls[name] = impls.get(name, 0) + elapsed

    timed._bench = True  # type: ignore[attr-defined]
    return timed


def _guarded(function: Callable[..., None]) -> Callable[..., None]:
    """Never raise into Airflow: a monitor failure becomes a line the benchmark reports."""

    def guarded(*args: Any) -> None:
        try:
            function(*args)
        except Exception as exc:
            _write({"hook": "monitor_error", "pid": os.getpid(), "error": repr(exc)})

    return guarded


@_guarded
def _before(hook_name: str, hook_impls: Any, kwargs: Any) -> None:
    _reset_if_forked()
    for impl in hook_impls:  # time each implementation (wrapped once, at its first call)
        if not getattr(impl.function, "_bench", False):
            impl.function = _timed_impl(impl.function, plugin_label(impl.plugin))
    if not _state["stack"]:
        _state["phases"], _state["emits"] = {}, []
    _state["stack"].append(
        {
            "impls": {},
            "preloaded": {name: name in sys.modules for name in WATCHED_MODULES},
            "modules": set(sys.modules),
            "start": time.perf_counter_ns(),
        }
    )


def _after(manager: str) -> Callable[..., None]:
    def after(outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        end = time.perf_counter_ns()
        _reset_if_forked()
        if not _state["stack"]:
            return
        frame = _state["stack"].pop()
        ti = kwargs.get("task_instance")
        dag_run = kwargs.get("dag_run")
        _state["index"] += 1
        record = {
            "hook": hook_name,
            "manager": manager,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "index": _state["index"],
            "task_id": _field(ti, "task_id"),
            "try_number": _field(ti, "try_number"),
            "run_id": _field(ti, "run_id") or _field(dag_run, "run_id"),
            "ns": end - frame["start"],
            "impls": frame["impls"],
            "preloaded": frame["preloaded"],
            "new_modules": _new_modules(frame["modules"]),
            "phases": dict(_state["phases"]) if not _state["stack"] else {},
            "emits": list(_state["emits"]) if not _state["stack"] else [],
            "wall": time.time(),
        }
        if not _state["stack"]:
            _state["phases"], _state["emits"] = {}, []
        _write(record)

    return _guarded(after)


def _new_modules(before: set[str]) -> dict[str, int]:
    """Modules imported during the hook call, counted by top-level package."""
    counts: dict[str, int] = {}
    for name in set(sys.modules) - before:
        package = name.partition(".")[0]
        counts[package] = counts.get(package, 0) + 1
    return counts


def _patch_listener_manager(module: Any) -> None:
    manager_class = module.ListenerManager
    original = manager_class.__init__
    label = "sdk" if module.__name__.startswith("airflow.sdk") else "core"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.pm.add_hookcall_monitoring(_before, _after(label))

    manager_class.__init__ = __init__


# -- aimops' capture steps -----------------------------------------------------------------------


def _phase(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            phases = _state["phases"]
            phases[name] = phases.get(name, 0) + time.perf_counter_ns() - start

    return timed


def _patch_aimops_listener(module: Any) -> None:
    module.sink = _phase("sink", module.sink)
    module._store_url = _phase("store_url", module._store_url)


def _patch_aimops_sink(module: Any) -> None:
    module.apply_event = _phase("write", module.apply_event)
    sink_class = module.CaptureSink
    sink_class._open = _phase("open", sink_class._open)
    emit = sink_class.emit

    def recorded_emit(self: Any, event: Any) -> Any:
        start = time.perf_counter_ns()
        outcome = emit(self, event)
        elapsed = time.perf_counter_ns() - start
        _state["emits"].append({"outcome": outcome, "ops": len(event), "ns": elapsed})
        phases = _state["phases"]
        phases["emit"] = phases.get("emit", 0) + elapsed
        return outcome

    sink_class.emit = recorded_emit


PATCHES: dict[str, Callable[[Any], None]] = {
    "airflow.sdk._shared.listeners.listener": _patch_listener_manager,
    "airflow._shared.listeners.listener": _patch_listener_manager,
    "aimops.operators.capture.listener": _patch_aimops_listener,
    "aimops.metadata.capture.sink": _patch_aimops_sink,
}


class _PostImportPatcher:
    """A meta-path finder that patches the modules of :data:`PATCHES` right after they load."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            try:
                PATCHES[fullname](module)
            except Exception as exc:  # never break the import: report it to the benchmark
                _write({"hook": "patch_error", "module": fullname, "error": repr(exc)})

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Patch the listener managers and aimops' capture as they are imported (idempotent)."""
    if not os.environ.get(LOG_ENV):
        return
    if any(isinstance(finder, _PostImportPatcher) for finder in sys.meta_path):
        return
    already = [name for name in PATCHES if name in sys.modules]
    if already:
        raise RuntimeError(f"process_hooks installed too late: {already} already imported")
    sys.meta_path.insert(0, _PostImportPatcher())
