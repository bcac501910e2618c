"""What every check result shares: a kind, a status, headline metrics, a JSON form.

Data quality, drift, feature consistency, health and anomaly checks each return a frozen dataclass
with ``kind`` (a kind :mod:`aimops.monitors.checks.registry` knows), ``status`` (``pass``,
``warn``, ``fail`` or ``inconclusive``), ``metrics`` (a plain ``dict`` of finite numbers; undefined
ones are left out) and ``to_dict()`` (the whole result as JSON-compatible data, ``kind``,
``status`` and ``metrics`` included). :class:`RecordableCheck` gives them ``record()``.

Example:
    >>> worst_status(["pass", "warn", "pass"])
    'warn'
    >>> worst_status([])
    'inconclusive'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from aimops import validation

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn

CheckStatus = Literal["pass", "warn", "fail", "inconclusive"]
STATUSES: tuple[CheckStatus, ...] = ("pass", "warn", "fail", "inconclusive")
_SEVERITY = {"pass": 0, "inconclusive": 1, "warn": 2, "fail": 3}


class CheckResult(Protocol):
    """The shape every check result has."""

    kind: ClassVar[str]

    # read-only, as the results are frozen dataclasses
    @property
    def status(self) -> CheckStatus: ...

    @property
    def metrics(self) -> Mapping[str, float]: ...

    def to_dict(self) -> dict[str, Any]: ...


class RecordableCheck:
    """Gives a check result ``record(store, target=..., key=..., producer=...)``, and refuses,
    as the result is made, what no check result may hold: a status that is not one of
    :data:`STATUSES`, a metric that is not a finite number (a NaN would pass every gate's
    comparison unnoticed, and is no JSON), a metric name that is not text. The metrics are
    kept as plain floats (numpy's are not JSON)."""

    def __post_init__(self) -> None:
        validation.choice(getattr(self, "status", None), "a check's status", STATUSES)
        metrics = validation.number_mapping(
            getattr(self, "metrics", None), "a check's metrics", storable=False
        )
        object.__setattr__(self, "metrics", metrics)

    def record(
        self,
        store: AimStore,
        *,
        target: str | Urn | list[str | Urn] | None = None,
        key: str | None = None,
        producer: str | Urn | None = None,
    ) -> Urn:
        """Record this result as a ``check`` entity
        (see :mod:`aimops.monitors.checks.recording`)."""
        from aimops.monitors.checks.recording import record_check

        return record_check(store, self, target=target, key=key, producer=producer)  # type: ignore[arg-type]


def worst_status(statuses: Iterable[str]) -> CheckStatus:
    """The most severe of ``statuses`` (fail > warn > inconclusive > pass); inconclusive when
    there are none."""
    found = list(statuses)
    if not found:
        return "inconclusive"
    worst = max(found, key=lambda status: _SEVERITY[status])
    return worst  # type: ignore[return-value]
