"""Operator arguments as the jobs take them: a templated field renders as text, a list as a
tuple, so numbers and names are checked and converted once, here.

Example:
    >>> names("age"), names(["age", "income"]), number_map({"auroc": "0.9"}, "min_metrics")
    (('age',), ('age', 'income'), {'auroc': 0.9})
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
