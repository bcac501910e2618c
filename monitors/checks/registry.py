"""The check kinds: each declares itself once, and everything that knows kinds reads it here.

A kind (data quality, drift, feature consistency, health, anomaly, or one a team adds) is a
:class:`CheckKind`: its name, its title, the result type its check returns, the one line that
says what failed, what its page shows beyond the headline metrics, and the metrics it records
as time series (``check.<kind>.<metric>`` on each target). Recording a check accepts only a
registered kind; ``aimops checks list --kind``, the check's page and the failure line of a
task or an alert all read the kind from here.

The built-in kinds declare themselves in their own modules, which the entry point group
``aimops.check_kinds`` names (a package adds its kinds the same way); they load on the first
lookup. :func:`register_check_kind` adds one from code (a notebook, a test).

Example:
    >>> sorted(check_kinds())
    ['anomaly', 'data_quality', 'drift', 'feature_consistency', 'health']
    >>> check_kind("drift").title
    'Data drift'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from aimops.errors import InvalidInputError

log = logging.getLogger(__name__)

#: The entry point group whose entries are modules (or objects) that register check kinds.
GROUP = "aimops.check_kinds"

Document = Mapping[str, Any]
#: Draws the kind's own sections of its page (HTML strings) from a result's document.
PageSections = Callable[[Document], list[str]]


@dataclass(frozen=True)
class CheckPage:
    """What a kind's page shows besides its header and headline metrics.

    ``rows`` names the document key holding the kind's rows (``columns``, ``versions``...) and
    ``rows_type`` the type it must have for ``sections`` to draw them; ``shown`` the other keys
    those sections show. Keys no section shows are listed as plain key/value pairs, so nothing
    in a document is hidden.
    """

    rows: str
    rows_type: type
    sections: PageSections
    shown: frozenset[str] = frozenset()

    def draws(self, document: Document) -> bool:
        """Whether ``document`` has the rows this page draws (else it gets plain tables)."""
        return isinstance(document.get(self.rows), self.rows_type)


@dataclass(frozen=True)
class CheckKind:
    """One kind of check, declared once.

    ``describe`` turns a result's ``to_dict()`` document into one line saying what failed (or
    warned), for a task log or an alert. ``metrics`` are the headline numbers its results
    carry; ``detail_metrics`` is a prefix of per-item metrics (a drift score per column) that
    the page leaves to its own table.
    """

    name: str
    title: str
    result: type
    describe: Callable[[Document], str]
    page: CheckPage | None = None
    metrics: tuple[str, ...] = ()
    detail_metrics: str | None = None

    def shows_metric(self, metric: str) -> bool:
        """Whether the page's metrics section lists ``metric`` (detail metrics are left to
        the kind's own table)."""
        return not (self.detail_metrics and metric.startswith(self.detail_metrics))


_kinds: dict[str, CheckKind] = {}
_loaded = False
_lock = threading.RLock()


def register_check_kind(kind: CheckKind) -> CheckKind:
    """Add ``kind`` to the registry and return it. Another kind of the same name (another
    result type) is refused; the same kind again (its module imported anew) replaces it.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Freshness:
        ...     status: str = "pass"
        >>> toy = register_check_kind(CheckKind(
        ...     name="doc_freshness", title="Freshness", result=Freshness,
        ...     describe=lambda document: f"stale data ({document['status']})"))
        >>> check_kind("doc_freshness") is toy
        True
        >>> forget_check_kind("doc_freshness")
    """
    if not kind.name or not kind.name.replace("_", "").isalnum():
        raise InvalidInputError(f"a check kind's name is letters, digits and _, not {kind.name!r}")
    with _lock:
        found = _kinds.get(kind.name)
        if found is not None and _type_name(found.result) != _type_name(kind.result):
            raise InvalidInputError(f"the check kind {kind.name!r} is registered already")
        _kinds[kind.name] = kind
    return kind


def forget_check_kind(name: str) -> None:
    """Remove the kind ``name`` (one a test or a notebook registered)."""
    with _lock:
        _kinds.pop(name, None)


def check_kind(name: str) -> CheckKind:
    """The kind ``name``; :class:`~aimops.errors.InvalidInputError` lists the known ones."""
    found = find_check_kind(name)
    if found is None:
        raise InvalidInputError(
            f"unknown check kind {name!r}; kinds: {', '.join(sorted(check_kinds()))}"
        )
    return found


def find_check_kind(name: Any) -> CheckKind | None:
    """The kind ``name``, or None when no kind has that name."""
    _load()
    return _kinds.get(name) if isinstance(name, str) else None


def check_kinds() -> dict[str, CheckKind]:
    """Every registered kind, by name."""
    _load()
    return dict(_kinds)


def describe_failure(result: Any) -> str:
    """What made ``result`` (a check result, or its ``to_dict()``) fail or warn, in one line a
    task log or an alert can show: its kind's own words."""
    document = result.to_dict() if hasattr(result, "to_dict") else result
    kind = find_check_kind(document.get("kind"))
    if kind is None:
        return f"{document.get('kind')} check: {document.get('status')}"
    return kind.describe(document)


def _load() -> None:
    """Load the kinds the installed packages declare (once; a broken one is logged)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for point in entry_points(group=GROUP):
            try:
                point.load()
            except Exception as exc:  # another team's broken kind must not hide the others
                log.warning(
                    "aimops check kind %r (%s) cannot be loaded: %s", point.name, point, exc
                )
        _loaded = True


def _type_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
