"""The aspects of ``check`` entities: what was checked, how it came out, and the whole result.

A check (data quality, drift, feature consistency, health, anomaly) keeps its headline numbers
in the shared ``metrics`` aspect (indexed: ``metrics.drift_share > 0.3`` finds it), what it is
in ``checkInfo`` and its full result document in ``checkResult``. Registered with the rest of
the registry when :mod:`aimops.metadata.aspects` loads (it imports this module).

Example:
    >>> from aimops.metadata.aspects import canonical_json
    >>> canonical_json("checkResult", {"document": {"kind": "drift"}})
    '{"document":{"kind":"drift"}}'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from aimops.metadata.aspects.registry import AspectModel, register_aspect

CHECK = frozenset({"check"})


class CheckInfo(AspectModel):
    """What a check is: its kind, its status, what it checked, and when."""

    indexed = ("kind", "status", "checked_at")
    #: A check kind; which ones exist is the monitors' registry's to say (checked when recorded).
    kind: str
    status: Literal["pass", "warn", "fail", "inconclusive"]
    targets: tuple[str, ...] = ()
    checked_at: datetime
    name: str | None = None
    #: Reports saved beside the check, by name (``check``, ``evidently``): file URIs.
    reports: dict[str, str] = Field(default_factory=dict)


class CheckResultAspect(AspectModel):
    """The check's whole result, as its ``to_dict()`` gave it."""

    document: dict[str, Any] = Field(default_factory=dict)


register_aspect("checkInfo", CheckInfo, CHECK)
register_aspect("checkResult", CheckResultAspect, CHECK)
