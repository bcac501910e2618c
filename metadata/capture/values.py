"""The values of a try, bounded and masked, for any orchestrator: inputs, errors, return values.

A task's inputs can be large (an XCom or a Prefect parameter holding a data frame's rows); the
capture keeps a bounded sample of them (``MAX_ITEMS`` per container, ``MAX_DEPTH`` levels,
``MAX_TEXT`` characters), so what it stores does not grow with the data. A :class:`Masker`
runs on each piece before it is cut, so a secret is never kept in part: each orchestrator
brings its own (Airflow's secrets masker, say); :data:`BY_NAME` only hides values kept under
sensitive names.

Example:
    >>> sample(list(range(1000)))[-1]
    '… 950 more'
    >>> sample({"password": "hunter2", "rows": 3})
    {'password': '***', 'rows': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

MAX_ITEMS = 50
MAX_DEPTH = 4
MAX_TEXT = 2000
MAX_ERROR_TEXT = 4000
#: Parts of a name under which a value is never kept (as Airflow's default sensitive fields).
SENSITIVE_NAME_PARTS = (
    "access_token", "api_key", "apikey", "authorization", "passphrase", "passwd", "password",
    "private_key", "secret", "token",
)  # fmt: skip


class Masker(Protocol):
    """Hides secrets: ``hides(name)`` for a value kept under a sensitive name, ``redact``
    for the secrets inside a value (a registered password inside a connection string)."""

    def hides(self, name: str) -> bool: ...

    def redact(self, value: Any, name: str | None = None) -> Any: ...


class NameMasker:
    """Hides values under sensitive names only; knows no registered secrets."""

    def hides(self, name: str) -> bool:
        lowered = name.lower()
        return any(part in lowered for part in SENSITIVE_NAME_PARTS)

    def redact(self, value: Any, name: str | None = None) -> Any:
        return "***" if name is not None and self.hides(name) else value


#: The masker of orchestrators that bring none.
BY_NAME = NameMasker()


def sample(
    value: Any, depth: int = MAX_DEPTH, name: str | None = None, *, masker: Masker = BY_NAME
) -> Any:
    """A bounded, masked copy of ``value``: secrets are masked before anything is cut.

    Text is masked whole, then cut to ``MAX_TEXT``; a value under a sensitive key
    (``password``, ``token``...) is ``***``; containers keep ``MAX_ITEMS`` items; below
    ``MAX_DEPTH`` only their size is kept.
    """
    if name is not None and masker.hides(name):
        return "***"
    if isinstance(value, str):
        return cut(str(masker.redact(value, name)))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if depth <= 0:
            return f"<{type(value).__name__} of {len(value)} items>"
        items = list(value.items())
        copy: dict[Any, Any] = {
            k: sample(v, depth - 1, k if isinstance(k, str) else None, masker=masker)
            for k, v in items[:MAX_ITEMS]
        }
        if len(items) > MAX_ITEMS:
            copy["…"] = f"{len(items) - MAX_ITEMS} more"
        return copy
    if isinstance(value, list | tuple | set | frozenset):
        if depth <= 0:
            return f"<{type(value).__name__} of {len(value)} items>"
        listed = list(value)
        kept = [sample(v, depth - 1, name, masker=masker) for v in listed[:MAX_ITEMS]]
        if len(listed) > MAX_ITEMS:
            kept.append(f"… {len(listed) - MAX_ITEMS} more")
        return tuple(kept) if isinstance(value, tuple) else kept
    return cut(str(masker.redact(_repr(value), name)))


def error_text(error: BaseException | str, *, masker: Masker = BY_NAME) -> str:
    """The error as ``Type: message``, masked whole, then cut to ``MAX_ERROR_TEXT``."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = str(masker.redact(text))
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


def cut(text: str) -> str:
    """``text`` cut to ``MAX_TEXT`` characters, with an ellipsis when it was longer."""
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break capture
        return f"<{type(value).__name__}>"
