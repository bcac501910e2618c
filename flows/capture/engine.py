"""The capture engine: Prefect's task-run engine, reporting what it does to a tracked flow.

Prefect runs every task call (``task(...)``, ``.submit``, ``.map``, sync or async, in the
flow's thread or the task runner's) through one engine class, ``SyncTaskRunEngine`` or
``AsyncTaskRunEngine``, which ``prefect.task_engine`` looks up when each call starts.
:func:`install` puts a subclass of each in its place. The subclasses behave exactly like
Prefect's; they also tell the tracked flow run in progress (if any) about:

- every state a task run enters (``set_state``), including ``Retrying`` and ``NotReady``, which
  no task hook sees;
- the error of every try (``handle_exception``, ``handle_timeout``, ``handle_crash``), which
  Prefect keeps only in a log line once the task retries;
- the resolved inputs, the returned value, and the assets of the try (``handle_success``).

A flow that is not tracked pays one context-variable lookup per state. Reporting never raises
into Prefect: a failure is logged once and the task carries on. Task runs that run in another
process (a Dask or Ray task runner) are not seen.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("aimops.capture")
P = ParamSpec("P")
R = TypeVar("R")

_installed = False
_install_lock = threading.Lock()
_logged: set[str] = set()


def install() -> bool:
    """Put the capture engine in Prefect's place (once per process); False if it cannot."""
    global _installed
    if _installed:
        return True
    with _install_lock:
        if _installed:
            return True
        try:
            import prefect.task_engine as engine

            if not all(
                hasattr(engine, name)
                for name in ("SyncTaskRunEngine", "AsyncTaskRunEngine", "run_task_sync")
            ):
                raise AttributeError("prefect.task_engine has no SyncTaskRunEngine")
            sync_engine, async_engine = _engines(engine)
            engine.SyncTaskRunEngine = sync_engine  # type: ignore[misc, assignment]
            engine.AsyncTaskRunEngine = async_engine  # type: ignore[misc, assignment]
            from aimops.flows.capture import ordering

            ordering.install()  # task run ids in call order: the steps' <n>
        except Exception as exc:  # capture must never stop a flow
            _log_once("install", "aimops cannot watch Prefect's task runs here: %r", exc)
            return False
        _installed = True
        return True


def _engines(engine: Any) -> tuple[type, type]:
    """The two subclasses (made here, so Prefect is imported only when a tracked flow runs)."""
    base_sync: Any = engine.SyncTaskRunEngine
    base_async: Any = engine.AsyncTaskRunEngine
    if getattr(base_sync, "_aimops_capture", False):  # already ours (a re-import)
        return base_sync, base_async
    return _sync_engine(base_sync), _async_engine(base_async)


def _sync_engine(base: Any) -> type:
    from aimops.flows.capture import observer

    class CaptureSyncTaskRunEngine(base[P, R]):  # type: ignore[misc]
        """Prefect's SyncTaskRunEngine, reporting to aimops' capture."""

        _aimops_capture = True

        def set_state(self, state: Any, force: bool = False) -> Any:
            new_state = super().set_state(state, force=force)
            _report(observer.state_entered, self, new_state)
            return new_state

        def handle_success(self, result: Any, transaction: Any) -> Any:
            _report(observer.returned, self, result)
            return super().handle_success(result, transaction)

        def handle_exception(self, exc: Exception) -> None:
            _report(observer.raised, self, exc)
            super().handle_exception(exc)

        def handle_timeout(self, exc: TimeoutError) -> None:
            _report(observer.raised, self, exc)
            super().handle_timeout(exc)

        def handle_crash(self, exc: BaseException) -> None:
            _report(observer.raised, self, exc)
            super().handle_crash(exc)

    return CaptureSyncTaskRunEngine


def _async_engine(base: Any) -> type:
    from aimops.flows.capture import observer

    class CaptureAsyncTaskRunEngine(base[P, R]):  # type: ignore[misc]
        """Prefect's AsyncTaskRunEngine, reporting to aimops' capture."""

        _aimops_capture = True

        async def set_state(self, state: Any, force: bool = False) -> Any:
            new_state = await super().set_state(state, force=force)
            _report(observer.state_entered, self, new_state)
            return new_state

        async def handle_success(self, result: Any, transaction: Any) -> Any:
            _report(observer.returned, self, result)
            return await super().handle_success(result, transaction)

        async def handle_exception(self, exc: Exception) -> None:
            _report(observer.raised, self, exc)
            await super().handle_exception(exc)

        async def handle_timeout(self, exc: TimeoutError) -> None:
            _report(observer.raised, self, exc)
            await super().handle_timeout(exc)

        async def handle_crash(self, exc: BaseException) -> None:
            _report(observer.raised, self, exc)
            await super().handle_crash(exc)

    return CaptureAsyncTaskRunEngine


def _report(what: Any, engine: Any, value: Any) -> None:
    try:
        what(engine, value)
    except Exception as exc:  # a capture problem never changes a task's outcome
        _log_once(what.__name__, "aimops capture skipped a task run's %s: %r", what.__name__, exc)


def _log_once(kind: str, message: str, *args: object) -> None:
    if kind not in _logged:
        _logged.add(kind)
        log.warning(message, *args)
