"""Arguments as an orchestrator hands them to the jobs, checked and converted once, here.

An Airflow templated field renders as text and a list may arrive as a tuple; a Prefect
parameter may come back from JSON (a tuple as a list, a number as text from a form). The
operators and the Prefect tasks convert names and numbers with these before calling a job,
so both refuse the same input with the same message, naming the argument.

Example:
    >>> names("age"), names(["age", "income"]), number_map({"auroc": "0.9"}, "min_metrics")
    (('age',), ('age', 'income'), {'auroc': 0.9})
    >>> optional_number_map({"latency_p99_max_ms": "300", "success_rate_min": None}, "objectives")
    {'latency_p99_max_ms': 300.0, 'success_rate_min': None}
    >>> switch("true"), switch("0"), switch(1)
    (True, False, True)
    >>> number("high", "threshold")
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidInputError: threshold must be a number, got 'high'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimops.errors import InvalidInputError


def names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    """Column or metric names: one name, a list of them, or none."""
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(name) for name in value)


def number(value: Any, name: str) -> float:
    """``value`` as a float; :class:`~aimops.errors.InvalidInputError` naming ``name`` if not."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from None


def number_map(given: Mapping[str, Any] | None, name: str) -> dict[str, float] | None:
    """A mapping of names to numbers (gate bounds, thresholds); None when empty."""
    if not given:
        return None
    if not isinstance(given, Mapping):
        raise InvalidInputError(f"{name} maps names to numbers, got {given!r}")
    return {str(key): number(bound, f"{name}[{key!r}]") for key, bound in given.items()}


def optional_number_map(
    given: Mapping[str, Any] | None, name: str
) -> dict[str, float | None] | None:
    """A mapping of names to numbers or None (objectives, where None drops a default); None
    when empty."""
    if not given:
        return None
    if not isinstance(given, Mapping):
        raise InvalidInputError(f"{name} maps names to numbers, got {given!r}")
    return {
        str(key): None if bound is None else number(bound, f"{name}[{key!r}]")
        for key, bound in given.items()
    }


def switch(value: Any) -> bool:
    """A switch that may come as text (a rendered template, a form): ``True``, ``"true"``,
    ``"1"``, ``"yes"``, ``"on"`` are on."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
