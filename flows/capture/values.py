"""The values a Prefect run shows the capture, made safe to keep: secrets out, size bounded.

Prefect has no secrets masker of its own, so a value is made plain first: a pydantic
``SecretStr`` (or ``SecretBytes``), a ``Secret`` block and a block reference in a flow run's
parameters (``{"$ref": {"block_document_id": ...}}``) become ``***``, any other block its type's
name; then the capture's sampling cuts it and hides values kept under sensitive names.

Example:
    >>> from pydantic import SecretStr
    >>> masked_parameters({"password": "hunter2", "token": SecretStr("t"), "rows": 3})
    {'password': '***', 'token': '***', 'rows': 3}
    >>> masked_parameters({"creds": {"$ref": {"block_document_id": "8f2c"}}})
    {'creds': '***'}
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from aimops.metadata.capture import values

HIDDEN = "***"


def masked_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the capture keeps them: secrets masked, each value sampled."""
    return {
        str(name): values.sample(plain(value), name=str(name)) for name, value in parameters.items()
    }


def plain(value: Any, depth: int = values.MAX_DEPTH) -> Any:
    """``value`` with Prefect's and pydantic's secrets replaced by ``***``."""
    kind = type(value)
    if kind.__name__ in ("SecretStr", "SecretBytes", "Secret") or _is_secret_block(value):
        return HIDDEN
    if _is_block(value):
        return f"<{kind.__name__} block>"
    if isinstance(value, Mapping):
        if "$ref" in value and len(value) == 1:  # a block reference
            return HIDDEN
        if depth <= 0:
            return value
        items = list(value.items())  # only the items sampling keeps are walked
        walked = {k: plain(v, depth - 1) for k, v in items[: values.MAX_ITEMS]}
        return {**walked, **dict(items[values.MAX_ITEMS :])}
    if isinstance(value, list | tuple) and depth > 0:
        kept = [plain(v, depth - 1) for v in value[: values.MAX_ITEMS]] + list(
            value[values.MAX_ITEMS :]
        )
        return tuple(kept) if isinstance(value, tuple) else kept
    return value


def _is_block(value: Any) -> bool:
    return any(base.__name__ == "Block" for base in type(value).__mro__[1:])


def _is_secret_block(value: Any) -> bool:
    return _is_block(value) and type(value).__name__ in ("Secret", "SecretDict")


def first_line(text: str | None) -> str | None:
    """The first non-empty line of ``text``, without Markdown heading marks, capped."""
    for line in (text or "").strip().splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return None


def function_path(fn: Any) -> str | None:
    """``module.qualname`` of a task's or flow's function."""
    if fn is None:
        return None
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def source_file(fn: Any) -> str | None:
    """The file a function is defined in; None when it has none (typed in a shell)."""
    try:
        return inspect.getsourcefile(inspect.unwrap(fn)) if fn is not None else None
    except (TypeError, OSError):
        return None
