"""Checking the arguments a public function is given, before anything is computed or written.

Each helper returns the value (normalised where that is harmless: a ``tuple`` of items, an
``int`` from a numpy integer) or raises :class:`~aimops.errors.InvalidInputError` naming the
argument, what it must be and what it was. Text must be storable: both backends hold UTF-8,
so a lone surrogate (``"\\ud800"``, what a bad decode with ``surrogateescape`` leaves behind)
is refused here rather than by the database driver. Pure Python: the facade's light modules
(references, which every DAG file imports) use it too.

Example:
    >>> text("churn", "model")
    'churn'
    >>> whole_number(3, "try_number", minimum=1)
    3
    >>> text("\\ud800", "model")
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidInputError: model must be text that UTF-8 can encode, but it holds a \
lone surrogate at position 0: '\\ud800'
"""

from __future__ import annotations

import contextlib
import errno
import math
import numbers
import operator
import os
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aimops.errors import InvalidInputError

#: How much of a refused value a message shows.
SHOWN = 60


def shown(value: Any) -> str:
    """A short ``repr`` of ``value`` for a message."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}..."


def _kind(value: Any) -> str:
    return type(value).__name__


def unstorable_position(value: str) -> int | None:
    """Where ``value`` holds a lone surrogate (text UTF-8 cannot encode), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def text(
    value: Any,
    what: str,
    *,
    empty: bool = True,
    limit: int | None = None,
    nul: bool = True,
    storable: bool = True,
) -> str:
    """``value`` when it is storable text; ``empty=False`` refuses ``""`` and blank text,
    ``limit`` text longer than that many characters, ``nul=False`` text with a NUL.
    ``storable=False`` takes a lone surrogate too: text that is only shown (a page shows it
    as its escape), never stored."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, not {_kind(value)} {shown(value)}")
    position = unstorable_position(value) if storable else None
    if position is not None:
        raise InvalidInputError(
            f"{what} must be text that UTF-8 can encode, but it holds a lone surrogate at "
            f"position {position}: {shown(value)}"
        )
    if not empty and not value.strip():
        raise InvalidInputError(f"{what} must not be empty, got {shown(value)}")
    if limit is not None and len(value) > limit:
        raise InvalidInputError(
            f"{what} may have at most {limit} characters, got {len(value)}: {shown(value)}"
        )
    if not nul and "\x00" in value:
        raise InvalidInputError(f"{what} must not hold a NUL character: {shown(value)}")
    return value


def optional_text(value: Any, what: str, **rules: Any) -> str | None:
    """None, or ``value`` checked as :func:`text`."""
    return None if value is None else text(value, what, **rules)


def storable(value: Any, what: str) -> Any:
    """``value`` when it is JSON both backends can hold: every text in it (keys included,
    however nested) storable, and no NaN or infinity (JSON has none).

    Example:
        >>> storable({"a": ["b", {"c": 1}]}, "conf")
        {'a': ['b', {'c': 1}]}
    """
    _check_storable(value, what, depth=0)
    return value


#: How deep :func:`storable` looks; JSON data deeper than this is refused as it is.
MAX_DEPTH = 64


def _check_storable(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInputError(f"{where} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        text(value, where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{where} is {value}: JSON holds no NaN or infinity")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                text(key, f"a key of {where}")
            _check_storable(item, f"{where}[{shown(key)}]", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}[{index}]", depth + 1)


def mapping(value: Any, what: str) -> Mapping[Any, Any]:
    """``value`` when it is a mapping (a ``dict``, say)."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a mapping, not {_kind(value)} {shown(value)}")
    return value


def optional_mapping(value: Any, what: str) -> Mapping[Any, Any] | None:
    """None, or ``value`` checked as :func:`mapping`."""
    return None if value is None else mapping(value, what)


def text_mapping(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a ``dict`` whose keys are non-empty storable text."""
    found = mapping(value, what)
    for key in found:
        text(key, f"a key of {what}", empty=False)
    return dict(found)


def text_pairs(value: Any, what: str, **rules: Any) -> dict[str, str]:
    """``value`` as a ``dict`` of text to text (named links, where an alert comes from), every
    key and value checked as :func:`text` with ``rules``.

    Example:
        >>> text_pairs({"log": "http://airflow/log"}, "links")
        {'log': 'http://airflow/log'}
    """
    return {
        text(key, f"a key of {what}", **rules): text(item, f"{what}[{shown(key)}]", **rules)
        for key, item in mapping(value, what).items()
    }


def number_mapping(value: Any, what: str, **rules: Any) -> dict[str, float]:
    """``value`` as a ``dict`` of names to finite numbers (plain floats): headline metrics.
    A name is non-empty text, checked as :func:`text` with ``rules``.

    Example:
        >>> number_mapping({"auroc": 1}, "metrics")
        {'auroc': 1.0}
    """
    return {
        text(name, f"a key of {what}", empty=False, **rules): real_number(
            number, f"{what}[{shown(name)}]"
        )
        for name, number in mapping(value, what).items()
    }


def choice(value: Any, what: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of the words ``choices``.

    Example:
        >>> choice("spark", "engine", ("aimops", "evidently"))
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidInputError: engine is 'aimops' or 'evidently', not 'spark'
    """
    if isinstance(value, str) and value in choices:
        return value
    words = [repr(word) for word in choices]
    listed = f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else "".join(words)
    raise InvalidInputError(f"{what} is {listed}, not {shown(value)}")


def hashable(value: Any, what: str) -> Hashable:
    """``value`` when it can name something in a dict or a frame's columns (a column name)."""
    try:
        hash(value)
    except TypeError:
        raise InvalidInputError(
            f"{what} must be a name (text, a number...), not {_kind(value)} {shown(value)}"
        ) from None
    return value  # type: ignore[no-any-return]


def optional_hashable(value: Any, what: str) -> Hashable | None:
    """None, or ``value`` checked as :func:`hashable`."""
    return None if value is None else hashable(value, what)


def hashables(value: Any, what: str) -> tuple[Hashable, ...]:
    """A collection of names (column names), each checked as :func:`hashable`."""
    return tuple(hashable(item, f"item {i} of {what}") for i, item in enumerate(items(value, what)))


def optional_hashables(value: Any, what: str) -> tuple[Hashable, ...] | None:
    """None, or ``value`` checked as :func:`hashables`."""
    return None if value is None else hashables(value, what)


def items(value: Any, what: str) -> tuple[Any, ...]:
    """The items of a collection (a list, tuple, set, generator...), not of one text or a
    mapping, which would be taken apart by mistake."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"{what} must be a collection of items (a list, say), not {_kind(value)} {shown(value)}"
        )
    return tuple(value)


def texts(value: Any, what: str, **rules: Any) -> tuple[str, ...]:
    """A collection of texts, each checked as :func:`text`."""
    return tuple(
        text(item, f"item {i} of {what}", **rules) for i, item in enumerate(items(value, what))
    )


def whole_number(
    value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int`` (numpy integers too; not a bool, not a float) within bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{what} must be a whole number, not {_kind(value)} {shown(value)}")
    number = operator.index(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "" if minimum is None else f" >= {minimum}"
        high = "" if maximum is None else f" <= {maximum}"
        joined = " and".join(part for part in (low, high) if part)
        raise InvalidInputError(f"{what} must be a whole number{joined}, got {number}")
    return number


def optional_whole_number(value: Any, what: str, **bounds: Any) -> int | None:
    """None, or ``value`` checked as :func:`whole_number`."""
    return None if value is None else whole_number(value, what, **bounds)


def real_number(
    value: Any,
    what: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    finite: bool = True,
) -> float:
    """``value`` as a finite ``float`` (not a bool, not text) within ``[minimum, maximum]``;
    ``finite=False`` takes NaN and infinities too (a score that is undefined)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{what} must be a number, not {_kind(value)} {shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        if not finite:
            return number
        raise InvalidInputError(f"{what} must be a finite number, got {number}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        bounds = f"[{low}, {high}]"
        raise InvalidInputError(f"{what} must be within {bounds}, got {number:g}")
    return number


def optional_real_number(value: Any, what: str, **bounds: Any) -> float | None:
    """None, or ``value`` checked as :func:`real_number`."""
    return None if value is None else real_number(value, what, **bounds)


def flag(value: Any, what: str) -> bool:
    """``value`` when it is a bool (numpy's too)."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise InvalidInputError(f"{what} must be True or False, not {_kind(value)} {shown(value)}")
    return bool(value)


def moment(value: Any, what: str) -> datetime:
    """``value`` when it is a ``datetime``."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{what} must be a datetime, not {_kind(value)} {shown(value)}")
    return value


def optional_moment(value: Any, what: str) -> datetime | None:
    """None, or ``value`` checked as :func:`moment`."""
    return None if value is None else moment(value, what)


def day(value: Any, what: str) -> date:
    """``value`` when it is a ``date`` (a ``datetime`` is one too)."""
    if not isinstance(value, date):
        raise InvalidInputError(f"{what} must be a date, not {_kind(value)} {shown(value)}")
    return value


def key_segment(value: Any, what: str) -> str:
    """A URN key segment given as non-empty text or a whole number (a version: ``3``).

    Example:
        >>> key_segment(3, "version"), key_segment("3", "version")
        ('3', '3')
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(operator.index(value))
    return text(value, what, empty=False)


def file_path(value: Any, what: str) -> Path:
    """``value`` (text or an ``os.PathLike``) as a ``Path`` when it can name a file: not
    empty, with no NUL and no lone surrogate (which no file system call takes).

    Example:
        >>> file_path("reports/drift.html", "path").name
        'drift.html'
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{what} must be a path (text or a pathlib.Path), not {_kind(value)} {shown(value)}"
        )
    return Path(text(value, what, empty=False, nul=False))


def optional_file_path(value: Any, what: str) -> Path | None:
    """None, or ``value`` checked as :func:`file_path`."""
    return None if value is None else file_path(value, what)


#: What a file system says of a path that cannot name a file there: a name too long, a
#: folder where a file should be (or a file where a folder should be), a loop of links, a
#: name it does not take.
UNUSABLE_PATH = frozenset(
    {errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ELOOP, errno.EINVAL}
)


@contextlib.contextmanager
def usable_path(path: Any, what: str) -> Iterator[None]:
    """Turn the file system's refusal of ``path`` itself (:data:`UNUSABLE_PATH`) into
    :class:`~aimops.errors.InvalidInputError` naming it; any other ``OSError`` (no
    permission, a full disk) goes on as it is: the same path may work later.

    Example:
        >>> with usable_path("x" * 300, "path"):
        ...     open("x" * 300)
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidInputError: path cannot name a file here (File name too long): \
'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in UNUSABLE_PATH:
            raise
        raise InvalidInputError(
            f"{what} cannot name a file here ({exc.strerror or exc}): {shown(str(path))}"
        ) from exc
