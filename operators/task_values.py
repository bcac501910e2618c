"""The values of a try: rendered fields, inputs, error and return value, bounded and masked.

A task's inputs can be large (an XCom holding a data frame's rows); the capture looks at a
bounded sample of them (``MAX_ITEMS`` per container, ``MAX_DEPTH`` levels, ``MAX_TEXT``
characters), so its cost does not grow with the data. Airflow's secrets masker runs over the
sample before anything is kept.

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


def sample(value: Any, depth: int = MAX_DEPTH) -> Any:
    """A bounded copy of ``value``: containers cut to ``MAX_ITEMS``, text to ``MAX_TEXT``."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth <= 0:
        return _short_repr(value)
    if isinstance(value, Mapping):
        items = list(value.items())
        copy: dict[Any, Any] = {k: sample(v, depth - 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            copy["…"] = f"{len(items) - MAX_ITEMS} more"
        return copy
    if isinstance(value, list | tuple | set | frozenset):
        listed = list(value)
        cut = [sample(v, depth - 1) for v in listed[:MAX_ITEMS]]
        if len(listed) > MAX_ITEMS:
            cut.append(f"… {len(listed) - MAX_ITEMS} more")
        return tuple(cut) if isinstance(value, tuple) else cut
    return _short_repr(value)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break capture
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


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
        text = str(mask_secrets(sample(value), name))
        fields[name] = text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
    return fields or None


def template_fields(task: Any) -> tuple[str, ...]:
    """The names of the task's templated fields."""
    return tuple(getattr(task, "template_fields", ()) or ())


def inputs_sample(task: Any) -> list[Any]:
    """A bounded sample of the task's rendered inputs (for references and MLflow run ids)."""
    return [sample(getattr(task, name, None)) for name in template_fields(task)]


def error_text(error: BaseException | str) -> str:
    """The error as ``Type: message``, masked and capped."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = str(mask_secrets(text))
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
