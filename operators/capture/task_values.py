"""The values of a try: rendered fields, inputs, error and return value, bounded and masked.

A task's inputs can be large (an XCom holding a data frame's rows); the capture keeps a
bounded sample of them (``MAX_ITEMS`` per container, ``MAX_DEPTH`` levels, ``MAX_TEXT``
characters), so what it stores does not grow with the data. Airflow's secrets masker runs on
each piece before it is cut, so a secret is never kept in part.

Example:
    >>> sample(list(range(1000)))[-1]
    '… 950 more'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ITEMS = 50
MAX_DEPTH = 4
MAX_TEXT = 2000
MAX_ERROR_TEXT = 4000

# Per task instance: what the try's execute() returned (see watch_return_value).
_returned: dict[str, Any] = {}
NOT_SEEN = object()


def sample(value: Any, depth: int = MAX_DEPTH, name: str | None = None) -> Any:
    """A bounded, masked copy of ``value``: secrets are masked before anything is cut.

    Text is masked whole (connection passwords and other registered secrets), then cut to
    ``MAX_TEXT``; a value under a sensitive key (``password``, ``token``...) is ``***``;
    containers keep ``MAX_ITEMS`` items; below ``MAX_DEPTH`` only their size is kept.
    """
    if name is not None and _sensitive(name):
        return "***"
    if isinstance(value, str):
        return _cut(str(mask_secrets(value, name)))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if depth <= 0:
            return f"<{type(value).__name__} of {len(value)} items>"
        items = list(value.items())
        copy: dict[Any, Any] = {
            k: sample(v, depth - 1, k if isinstance(k, str) else None) for k, v in items[:MAX_ITEMS]
        }
        if len(items) > MAX_ITEMS:
            copy["…"] = f"{len(items) - MAX_ITEMS} more"
        return copy
    if isinstance(value, list | tuple | set | frozenset):
        if depth <= 0:
            return f"<{type(value).__name__} of {len(value)} items>"
        listed = list(value)
        cut = [sample(v, depth - 1, name) for v in listed[:MAX_ITEMS]]
        if len(listed) > MAX_ITEMS:
            cut.append(f"… {len(listed) - MAX_ITEMS} more")
        return tuple(cut) if isinstance(value, tuple) else cut
    return _cut(str(mask_secrets(_repr(value), name)))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break capture
        return f"<{type(value).__name__}>"


def _sensitive(name: str) -> bool:
    try:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    except ImportError:  # pragma: no cover - the scheduler's copy
        try:
            from airflow._shared.secrets_masker import should_hide_value_for_key
        except ImportError:
            return False
    return bool(should_hide_value_for_key(name))  # type: ignore[no-untyped-call]


def mask_secrets(value: Any, name: str | None = None) -> Any:
    """Airflow's secrets masker over ``value`` (connection passwords, sensitive keys)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as mask
    except ImportError:  # pragma: no cover - the scheduler's copy
        try:
            from airflow._shared.secrets_masker import redact as mask
        except ImportError:
            return value
    return mask(value, name)


def rendered_fields(task: Any) -> dict[str, str] | None:
    """The task's templated fields as rendered for this try: sampled, masked, capped."""
    fields: dict[str, str] = {}
    for name in template_fields(task):
        value = getattr(task, name, None)
        if value is None or value == "" or value == [] or value == {}:
            continue
        fields[name] = _cut(str(sample(value, name=name)))
    return fields or None


def template_fields(task: Any) -> tuple[str, ...]:
    """The names of the task's templated fields."""
    return tuple(getattr(task, "template_fields", ()) or ())


def inputs(task: Any) -> list[Any]:
    """The task's rendered inputs, as they are (references are looked for in them)."""
    return [getattr(task, name, None) for name in template_fields(task)]


def error_text(error: BaseException | str) -> str:
    """The error as ``Type: message``, masked and capped."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = str(mask_secrets(text))  # masked whole, then cut
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


def watch_return_value(task: Any, key: str) -> None:
    """Keep what the try's ``execute()`` returns, through the operator's post-execute hook.

    The task runner calls ``task._post_execute_hook(context, result)`` after a successful
    execute; a hook the DAG author set is chained, unchanged. Nothing is kept when the
    author's hook is a generator (the runner treats those specially) or absent attributes
    say this is not a Task SDK operator.
    """
    if not hasattr(task, "_post_execute_hook"):
        return
    original = task._post_execute_hook
    if original is not None and _is_generator(original):
        return

    def keep_result(context: Any, result: Any) -> Any:
        _returned[key] = result
        return original(context, result) if original is not None else None

    task._post_execute_hook = keep_result


def returned_value(key: str) -> Any:
    """What the try returned, or ``NOT_SEEN`` when the hook did not see it."""
    return _returned.pop(key, NOT_SEEN)


def forget() -> None:
    """Forget every try in flight (a new store, a test)."""
    _returned.clear()


def _is_generator(function: Any) -> bool:
    import inspect

    return inspect.isgeneratorfunction(function)
