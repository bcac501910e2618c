"""One ramp step's analysis: the challenger's gates over the requests of the step's window.

:func:`analyze_requests` judges a request log (the columns
:func:`~aimops.monitors.check_health` reads) against :class:`~aimops.monitors.ramps.gates.
RampGates`: the challenger's own health, its health relative to the champion's over the same
requests, and (from the store, :func:`analyze_step`) the checks and bounded metrics recorded on
it in the window. Each gate is ``pass``, ``fail``, ``inconclusive`` or ``skipped``; the verdict
is ``fail`` when any gate failed, else ``inconclusive`` when any is, else ``pass``. A
challenger with fewer than ``min_requests`` requests in the window (none at all included) is
``inconclusive``: its rates rest on too few requests to fail it.

Example:
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "timestamp": pd.date_range("2026-01-01", periods=400, freq="s", tz="UTC"),
    ...     "model_version": ["churn/1"] * 200 + ["churn/2"] * 200,
    ...     "latency_ms": [40.0] * 200 + [900.0] * 200,
    ...     "status": 200,
    ... })
    >>> result = analyze_requests(log, challenger="churn/2", champion="churn/1")
    >>> result.verdict, [g.name for g in result.gates if g.status == "fail"]
    ('fail', ['latency_p99', 'latency_p99_vs_champion'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aimops.monitors.ramps.gates import RampGates

if TYPE_CHECKING:
    import pandas as pd

    from aimops.metadata.store import AimStore
    from aimops.monitors.checks.health import VersionHealth


@dataclass(frozen=True)
class Gate:
    """One gate's outcome: what was measured against which limit."""

    name: str
    status: str
    value: float | None = None
    limit: float | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "value": self.value,
                "limit": self.limit, "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class Analysis:
    """The gates of one analysis, the requests each version served, and the verdict."""

    gates: tuple[Gate, ...]
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        statuses = {gate.status for gate in self.gates}
        return "fail" if "fail" in statuses else (
            "inconclusive" if "inconclusive" in statuses else "pass"
        )  # fmt: skip

    @property
    def failed(self) -> list[Gate]:
        return [gate for gate in self.gates if gate.status == "fail"]

    def summary(self) -> str:
        """``latency_p99 912 > 500; success_rate ...``: the gates that did not pass."""
        shown = [g for g in self.gates if g.status in ("fail", "inconclusive")]
        return "; ".join(f"{g.name}: {g.detail}" for g in shown) or "every gate passed"


def analyze_requests(
    requests: pd.DataFrame,
    *,
    challenger: str,
    champion: str | None = None,
    gates: RampGates | None = None,
) -> Analysis:
    """The health gates of ``challenger`` (a ``name/version`` label as the log holds it)
    over ``requests``, alone and against ``champion``'s."""
    from aimops.monitors.checks.health import check_health

    limits = gates or RampGates()
    objectives = {
        "success_rate_min": limits.success_rate_min,
        "latency_p99_max_ms": limits.latency_p99_max_ms,
    }
    versions = [challenger] + ([champion] if champion else [])
    health = {
        name: check_health(
            requests, model_version=name, objectives=objectives, min_requests=limits.min_requests
        ).versions[name]
        for name in versions
    }
    mine = health[challenger]
    counts = {name: found.requests for name, found in health.items()}
    enough = mine.requests >= limits.min_requests
    found = [
        Gate("requests", "pass" if enough else "inconclusive", mine.requests, limits.min_requests,
             f"{mine.requests} requests" + ("" if enough else f", fewer than "
                                             f"{limits.min_requests}")),
    ]  # fmt: skip
    found += _own_health(mine, limits, enough)
    if champion is not None:
        found += _against_champion(mine, health[champion], limits, enough)
    return Analysis(tuple(found), counts)


def _own_health(mine: VersionHealth, limits: RampGates, enough: bool) -> list[Gate]:
    status = "inconclusive"
    rate, p99 = mine.success_rate, mine.latency_p99_ms
    gates = []
    if rate is None or p99 is None:
        return [
            Gate("success_rate", status, None, limits.success_rate_min, "no requests"),
            Gate("latency_p99", status, None, limits.latency_p99_max_ms, "no requests"),
        ]
    ok = rate >= limits.success_rate_min
    gates.append(Gate(
        "success_rate", ("pass" if ok else "fail") if enough else status, rate,
        limits.success_rate_min,
        f"{rate:.2%} {'>=' if ok else '<'} {limits.success_rate_min:.2%}",
    ))  # fmt: skip
    ok = p99 <= limits.latency_p99_max_ms
    gates.append(Gate(
        "latency_p99", ("pass" if ok else "fail") if enough else status, p99,
        limits.latency_p99_max_ms,
        f"{p99:.0f} ms {'<=' if ok else '>'} {limits.latency_p99_max_ms:g} ms",
    ))  # fmt: skip
    return gates


def _against_champion(
    mine: VersionHealth, theirs: VersionHealth, limits: RampGates, enough: bool
) -> list[Gate]:
    gates = []
    compared = theirs.requests >= limits.min_requests and mine.requests > 0
    why = f"the champion served {theirs.requests} requests, fewer than {limits.min_requests}"
    if limits.latency_p99_max_ratio is not None:
        if not compared or not theirs.latency_p99_ms or mine.latency_p99_ms is None:
            gates.append(Gate("latency_p99_vs_champion", "skipped", None,
                              limits.latency_p99_max_ratio, why))  # fmt: skip
        else:
            ratio = mine.latency_p99_ms / theirs.latency_p99_ms
            ok = ratio <= limits.latency_p99_max_ratio
            gates.append(Gate(
                "latency_p99_vs_champion", ("pass" if ok else "fail") if enough else
                "inconclusive", ratio, limits.latency_p99_max_ratio,
                f"p99 {mine.latency_p99_ms:.0f} ms is {ratio:.2f}x the champion's "
                f"{theirs.latency_p99_ms:.0f} ms ({'<=' if ok else '>'} "
                f"{limits.latency_p99_max_ratio:g}x)",
            ))  # fmt: skip
    if limits.success_rate_max_drop is not None:
        if not compared or theirs.success_rate is None or mine.success_rate is None:
            gates.append(Gate("success_rate_vs_champion", "skipped", None,
                              limits.success_rate_max_drop, why))  # fmt: skip
        else:
            drop = theirs.success_rate - mine.success_rate
            ok = drop <= limits.success_rate_max_drop
            gates.append(Gate(
                "success_rate_vs_champion", ("pass" if ok else "fail") if enough else
                "inconclusive", drop, limits.success_rate_max_drop,
                f"{mine.success_rate:.2%} vs the champion's {theirs.success_rate:.2%} "
                + (f"(drop {drop:.2%} {'<=' if ok else '>'} {limits.success_rate_max_drop:.2%})"
                   if drop > 0 else "(no drop)"),
            ))  # fmt: skip
    return gates


def recorded_gates(
    store: AimStore,
    version: str,
    start: datetime,
    end: datetime,
    gates: RampGates,
) -> list[Gate]:
    """The gates read from the store: checks of ``gates.check_kinds`` recorded on the model
    version URN ``version`` in [start, end], and each bounded metric's newest point there."""
    from aimops.monitors.checks.recording import list_checks

    found: list[Gate] = []
    if gates.check_kinds:
        model = version.split(":", 3)[-1].split("/")[0]
        window = [
            check for check in list_checks(store, model=model, limit=100_000)
            if version in check["targets"] and check["kind"] in gates.check_kinds
            and start <= datetime.fromisoformat(check["created_at"]) <= end
        ]  # fmt: skip
        failing = [check for check in window if check["status"] == "fail"]
        found.append(Gate(
            "checks", "fail" if failing else "pass", float(len(failing)), 0.0,
            (f"{len(failing)} failing check(s) in the window: " + ", ".join(
                f"{c['kind']} {c['urn']}" for c in failing[:3]))
            if failing else f"{len(window)} {'/'.join(gates.check_kinds)} check(s) in the "
            "window, none failing",
        ))  # fmt: skip
    for metric, (low, high) in gates.metric_bounds.items():
        points = store.get_points(version, metric, since=start, until=end)
        if not points:
            found.append(Gate(f"metric:{metric}", "inconclusive", None, None,
                              f"no {metric} recorded in the window"))  # fmt: skip
            continue
        value = float(points[-1].value)
        ok = (low is None or value >= low) and (high is None or value <= high)
        limit = low if low is not None and value < low else high
        found.append(Gate(
            f"metric:{metric}", "pass" if ok else "fail", value, limit,
            f"{metric} {value:.4g} within {_range(low, high)}" if ok
            else f"{metric} {value:.4g} outside {_range(low, high)}",
        ))  # fmt: skip
    return found


def _range(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


def combined(health: Analysis, recorded: Sequence[Gate]) -> Analysis:
    """``health``'s gates followed by the recorded ones."""
    return Analysis((*health.gates, *recorded), dict(health.requests))
