"""The values of an Airflow try: rendered fields, inputs, error and return value, bounded and
masked by Airflow's secrets masker (connection passwords, sensitive keys) before they are cut.

The bounding and masking themselves are the capture's, for every orchestrator
(:mod:`aimops.metadata.capture.values`); this module brings Airflow's masker and reads what
only an Airflow task has (its templated fields, its post-execute hook).

Example:
    >>> sample(list(range(1000)))[-1]
    '… 950 more'
"""

from __future__ import annotations

from typing import Any

from aimops.metadata.capture import values
from aimops.metadata.capture.values import MAX_TEXT, cut

__all__ = ["MAX_TEXT", "NOT_SEEN", "AirflowMasker", "error_text", "mask_secrets", "sample"]

# Per task instance: what the try's execute() returned (see watch_return_value).
_returned: dict[str, Any] = {}
NOT_SEEN = object()


class AirflowMasker:
    """Airflow's secrets masker: the Task SDK's copy in a task, the core's in the scheduler."""

    def hides(self, name: str) -> bool:
        try:
            from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
        except ImportError:  # pragma: no cover - the scheduler's copy
            try:
                from airflow._shared.secrets_masker import should_hide_value_for_key
            except ImportError:
                return values.BY_NAME.hides(name)
        return bool(should_hide_value_for_key(name))  # type: ignore[no-untyped-call]

    def redact(self, value: Any, name: str | None = None) -> Any:
        try:
            from airflow.sdk._shared.secrets_masker import redact as mask
        except ImportError:  # pragma: no cover - the scheduler's copy
            try:
                from airflow._shared.secrets_masker import redact as mask
            except ImportError:
                return values.BY_NAME.redact(value, name)
        return mask(value, name)


MASKER = AirflowMasker()


def sample(value: Any, depth: int = values.MAX_DEPTH, name: str | None = None) -> Any:
    """A bounded copy of ``value``, masked by Airflow (see
    :func:`aimops.metadata.capture.values.sample`)."""
    return values.sample(value, depth, name, masker=MASKER)


def mask_secrets(value: Any, name: str | None = None) -> Any:
    """Airflow's secrets masker over ``value`` (connection passwords, sensitive keys)."""
    return MASKER.redact(value, name)


def error_text(error: BaseException | str) -> str:
    """The error as ``Type: message``, masked by Airflow and capped."""
    return values.error_text(error, masker=MASKER)


def rendered_fields(task: Any) -> dict[str, str] | None:
    """The task's templated fields as rendered for this try: sampled, masked, capped."""
    fields: dict[str, str] = {}
    for name in template_fields(task):
        value = getattr(task, name, None)
        if value is None or value == "" or value == [] or value == {}:
            continue
        fields[name] = cut(str(sample(value, name=name)))
    return fields or None


def template_fields(task: Any) -> tuple[str, ...]:
    """The names of the task's templated fields."""
    return tuple(getattr(task, "template_fields", ()) or ())


def inputs(task: Any) -> list[Any]:
    """The task's rendered inputs, as they are (references are looked for in them)."""
    return [getattr(task, name, None) for name in template_fields(task)]


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
