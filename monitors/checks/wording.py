"""How check results are put in words: numbers, long values and long lists, shortened.

Example:
    >>> listed(f"column_{n}" for n in range(10))
    'column_0, column_1, column_2, column_3, column_4, column_5, column_6, column_7, and 2 more'
    >>> number(0.000123456), number(None)
    ('0.000123', 'undefined')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: At most this many failed items are named in a message; the check's page has them all.
NAMED_AT_MOST = 8


def listed(items: Iterable[str], separator: str = ", ") -> str:
    """The first :data:`NAMED_AT_MOST` items, and how many more there are."""
    found = list(items)
    shown = separator.join(found[:NAMED_AT_MOST])
    hidden = len(found) - NAMED_AT_MOST
    return f"{shown}{separator}and {hidden} more" if hidden > 0 else shown


def no_verdict(reasons: Mapping[str, str | None]) -> str:
    """The items without a verdict and why, as the tail of a check's one line (empty when
    every item has one).

    Example:
        >>> no_verdict({"plan": "only 2 values in current", "age": None})
        '; no verdict on 2: plan (only 2 values in current), age'
        >>> no_verdict({})
        ''
    """
    if not reasons:
        return ""
    items = [f"{name} ({why})" if why else name for name, why in reasons.items()]
    return f"; no verdict on {len(items)}: {listed(items)}"


def number(value: Any) -> str:
    return "undefined" if value is None else f"{float(value):.3g}"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
