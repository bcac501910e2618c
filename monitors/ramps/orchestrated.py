"""What a ramp task shares whichever orchestrator runs it: how it reads its arguments, what
``before_analysis`` gets, and the lines and failure messages it writes.

The Airflow operators (:mod:`aimops.operators.ramps`) and the Prefect tasks
(:mod:`aimops.flows.ramps`) run the same jobs (:func:`aimops.monitors.ramps.jobs.run_ramp_action`)
and say what happened in the same words, from here.

Example:
    >>> duration_seconds("600", "bake_time"), parsed_argument("5, 25, 100")
    (600.0, [5, 25, 100])
    >>> gate_line({"name": "latency_p99", "status": "fail", "detail": "912 ms > 500 ms"})
    'gate latency_p99: fail (912 ms > 500 ms)'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


def parsed_argument(value: Any) -> Any:
    """An argument given as text read as Python: text holding JSON (``"[50, 100]"``, ``"5"``)
    parsed, ``"50, 100"`` read as a list; anything else as it is (an Airflow template renders
    as text; a Prefect parameter may come from a form).

    Example:
        >>> parsed_argument("[50, 100]"), parsed_argument(" 5 "), parsed_argument(7)
        ([50, 100], 5, 7)
        >>> parsed_argument("x")
        'x'
    """
    if not isinstance(value, str):
        return value
    for text in (value.strip(), f"[{value.strip()}]"):
        try:
            return json.loads(text)
        except ValueError:
            continue
    return value


def duration_seconds(value: Any, what: str, *, optional: bool = False) -> float | None:
    """``value`` (a timedelta, a number of seconds, or text holding one) in seconds; None for
    None when ``optional``."""
    from aimops import validation

    value = parsed_argument(value)
    if value is None and optional:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return validation.real_number(value, what, minimum=0)


def analysis_info(status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What ``before_analysis`` gets before the analysis due at ``now`` (``status``: the ramp's
    status report): ``model``, ``environment``, ``weights`` (``{version: percent}``),
    ``window_start`` and ``window_end`` (ISO 8601: the traffic that no analysis of the step has
    seen yet: from the step's start, or its last analysis when it held for too few requests;
    the analysis itself reads the whole step since it started, ``analysis_start``), ``ramp``
    (its record), ``challenger`` and ``champion``."""
    from aimops.metadata.store_values import iso

    ramp = status["ramp"]
    step_start = utc(ramp["step_started_at"])
    seen = [
        utc(analysis["window_end"])
        for analysis in ramp.get("analyses") or ()
        if int(analysis["step"]) == int(ramp["step"])
    ]
    return {
        "model": ramp["model"],
        "environment": ramp["environment"],
        "weights": {str(v): int(w) for v, w in status["deployment"]["weights"].items()},
        "window_start": iso(max([step_start, *seen])),
        "window_end": iso(now),
        "analysis_start": iso(step_start),
        "ramp": dict(ramp),
        "challenger": str(ramp["version"]),
        "champion": None if ramp.get("champion") is None else str(ramp["champion"]),
    }


def utc(value: Any) -> datetime:
    """A recorded moment (ISO 8601 text or a datetime) in UTC; a naive one is taken as UTC.

    Example:
        >>> utc("2026-05-01T12:00:00+02:00").isoformat()
        '2026-05-01T10:00:00+00:00'
    """
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ramp_line(done: Mapping[str, Any]) -> str:
    """The line a ramp task logs for one analysis.

    Example:
        >>> ramp_line({"did": "advanced", "ramp": {"urn": "urn:aim:ramp:churn/production/1",
        ...     "model": "churn", "version": "2", "note": "step 1 of 2 (50%) passed: 50% -> 100%"},
        ...     "analysis": {"verdict": "pass", "requests": {"churn/2": 990, "churn/1": 1010}}})
        'churn/2 advanced: step 1 of 2 (50%) passed: 50% -> 100% (verdict pass; requests \
churn/2=990, churn/1=1010; urn:aim:ramp:churn/production/1)'
    """
    ramp, analysis = done["ramp"], done.get("analysis") or {}
    served = ", ".join(
        f"{name}={count}" for name, count in (analysis.get("requests") or {}).items()
    )
    return (
        f"{ramp['model']}/{ramp['version']} {done['did']}: {ramp.get('note') or ''} "
        f"(verdict {analysis.get('verdict')}; requests {served or 'none'}; {ramp['urn']})"
    )


def gate_line(gate: Mapping[str, Any]) -> str:
    """``gate latency_p99: fail (912 ms > 500 ms)``."""
    return f"gate {gate['name']}: {gate['status']} ({gate.get('detail') or 'no detail'})"


def rollback_message(done: Mapping[str, Any]) -> str:
    """Why a rolled-back ramp fails its task: the failed gates and what serves now."""
    ramp, analysis = done["ramp"], done.get("analysis") or {}
    gates = analysis.get("gates") or (ramp.get("analyses") or [{}])[-1].get("gates") or []
    failed = [gate for gate in gates if gate.get("status") == "fail"]
    named = "; ".join(f"{g['name']} ({g.get('detail')})" for g in failed) or ramp.get("note")
    champion = ramp.get("champion")
    restored = (
        f"the champion {ramp['model']}/{champion} was restored to 100%"
        if champion
        else f"nothing serves {ramp['model']} in {ramp['environment']} now"
    )
    return (
        f"the ramp of {ramp['model']}/{ramp['version']} in {ramp['environment']} was rolled "
        f"back: failed gate(s) {named}; {restored} ({ramp['urn']})"
    )


def abort_message(done: Mapping[str, Any]) -> str:
    """Why an aborted ramp fails its task: who aborted it (the ramp's note) and what serves."""
    ramp = done["ramp"]
    champion = ramp.get("champion")
    serving = f"; {ramp['model']}/{champion} serves 100%" if champion else ""
    return (
        f"the ramp of {ramp['model']}/{ramp['version']} in {ramp['environment']} was "
        f"{ramp.get('note') or 'aborted'}{serving} ({ramp['urn']})"
    )


def paused_message(ramp: Mapping[str, Any]) -> str:
    """What a task says of a paused ramp: why, and how a person resumes or aborts it.

    Example:
        >>> paused_message({"urn": "urn:aim:ramp:churn/production/1",
        ...                 "note": "step 1 of 2 (50%) inconclusive past the progress deadline"})
        'urn:aim:ramp:churn/production/1 is paused: step 1 of 2 (50%) inconclusive past the \
progress deadline. A person resumes it (aimops resume urn:aim:ramp:churn/production/1) or aborts \
it (aimops abort urn:aim:ramp:churn/production/1)'
    """
    urn = ramp["urn"]
    return (
        f"{urn} is paused: {ramp.get('note')}. A person resumes it (aimops resume {urn}) or "
        f"aborts it (aimops abort {urn})"
    )
