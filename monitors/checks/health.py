"""Service health from a log of served requests, judged against service-level objectives.

:func:`check_health` reads a data frame with one row per request and the columns
``timestamp`` (datetimes), ``model_version``, ``latency_ms`` (finite numbers >= 0) and
``status``; other columns (features, score, ...) are ignored. A request succeeded when its
``status`` is an HTTP code in 200-399 or the string ``"ok"``; it failed for a code in 100-199 or
400-599 or the string ``"error"`` (strings compared without case). Anything else is an error.

Per model version (or only ``model_version`` when given):

- ``requests``, ``errors``, ``error_rate = errors / requests``, ``success_rate = 1 - error_rate``;
- ``latency_p50_ms``, ``latency_p90_ms``, ``latency_p99_ms``: ``numpy.percentile`` with its
  default linear interpolation;
- ``throughput_rps = requests / window`` and ``throughput_rpm`` (x 60), where the window is
  the span from the log's first to its last timestamp (all versions together, so the versions'
  throughputs add up); undefined (None, left out of ``metrics``) when the span is 0.

Objectives (:data:`DEFAULT_OBJECTIVES`, as Flagger's default canary metrics: success rate >= 99%
and p99 latency <= 500 ms) are merged with ``objectives``; a value of None drops one. Known
ones: ``success_rate_min`` and ``latency_p50_max_ms`` / ``latency_p90_max_ms`` /
``latency_p99_max_ms``. A version with fewer than ``min_requests`` requests
(:data:`MIN_REQUESTS` by default: a p99 of fewer rests on one or two requests) is
``"inconclusive"``; otherwise ``"fail"`` when it misses any objective (listed in
``violations``), ``"pass"`` when it meets all. The overall ``status`` is the worst of the
versions' (fail > warn > inconclusive > pass).

No requests is too few requests, not an error: a log without rows is ``"inconclusive"`` (no
versions), and so is a ``model_version`` the log does not hold (a canary that got no traffic
in the window: a ramp pauses on it rather than aborting). Such a version's rates and
latencies are None.

``metrics`` holds ``requests``, ``error_rate``, ``latency_p50_ms``, ``latency_p90_ms``,
``latency_p99_ms`` and ``throughput_rps`` for a single version; with several, each is prefixed
by the version: ``<version>.<metric>``.

Example:
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "timestamp": pd.date_range("2024-01-01", periods=200, freq="s"),
    ...     "model_version": "v1",
    ...     "latency_ms": [20.0] * 198 + [900.0] * 2,
    ...     "status": [200] * 200,
    ... })
    >>> result = check_health(log)
    >>> result.status, round(result.versions["v1"].latency_p99_ms, 1)
    ('pass', 28.8)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.checks.base import CheckStatus, RecordableCheck, worst_status
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.inputs import is_real_number, unique_columns
from aimops.monitors.reports import blocks

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("timestamp", "model_version", "latency_ms", "status")
#: The fewest requests a version's verdict rests on, by default: with fewer, its p99 latency
#: is one of its slowest two requests, and one error moves its success rate past 99%.
MIN_REQUESTS = 100
#: Flagger's default canary objectives: request success rate and request duration (p99).
DEFAULT_OBJECTIVES: dict[str, float] = {"success_rate_min": 0.99, "latency_p99_max_ms": 500.0}
LATENCY_OBJECTIVES = {
    "latency_p50_max_ms": "latency_p50_ms",
    "latency_p90_max_ms": "latency_p90_ms",
    "latency_p99_max_ms": "latency_p99_ms",
}
KNOWN_OBJECTIVES = ("success_rate_min", *LATENCY_OBJECTIVES)
HEADLINE_METRICS = (
    "requests",
    "error_rate",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "throughput_rps",
)


@dataclass(frozen=True)
class VersionHealth:
    """One model version's traffic, errors, latency percentiles and verdict (rates and
    latencies None when it served no request)."""

    model_version: str
    requests: int
    errors: int
    error_rate: float | None
    success_rate: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    throughput_rps: float | None
    throughput_rpm: float | None
    status: CheckStatus
    violations: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The version's health as JSON-compatible data."""
        return asdict(self)


@dataclass(frozen=True)
class HealthResult(RecordableCheck):
    """Every version's health, the objectives used and the overall verdict."""

    kind: ClassVar[str] = "health"
    versions: dict[str, VersionHealth]
    status: CheckStatus
    objectives: dict[str, float]
    min_requests: int
    window_seconds: float
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "status": self.status,
            "objectives": dict(self.objectives),
            "min_requests": self.min_requests,
            "window_seconds": self.window_seconds,
            "metrics": dict(self.metrics),
            "versions": {name: version.to_dict() for name, version in self.versions.items()},
        }


def check_health(
    requests: pd.DataFrame,
    *,
    model_version: str | float | None = None,
    objectives: Mapping[str, float | None] | None = None,
    min_requests: int = MIN_REQUESTS,
) -> HealthResult:
    """Latency, errors and throughput per model version of a request log, against objectives.

    Raises :class:`~aimops.errors.InvalidDataError` naming the column for a log that cannot be
    read. See the module docstring for the definitions and an example.
    """
    merged = _merged_objectives(validation.optional_mapping(objectives, "objectives"))
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or min_requests < 1:
        raise InvalidDataError(f"min_requests must be a whole number >= 1, not {min_requests!r}")
    if model_version is not None and not isinstance(model_version, str | numbers.Number):
        raise InvalidInputError(
            "model_version names one version (text or a number), not "
            f"{type(model_version).__name__} {validation.shown(model_version)}"
        )
    window = _window_seconds(_validated_log(requests))
    succeeded = _succeeded(requests["status"])
    latencies = requests["latency_ms"].to_numpy(dtype=np.float64)
    report = {
        name: _version_health(name, rows, succeeded, latencies, window, merged, min_requests)
        for name, rows in _version_rows(requests["model_version"], model_version)
    }
    status = worst_status(version.status for version in report.values())
    return HealthResult(report, status, merged, min_requests, window, _metrics(report))


def _merged_objectives(objectives: Mapping[str, float | None] | None) -> dict[str, float]:
    merged: dict[str, float | None] = {**DEFAULT_OBJECTIVES, **(objectives or {})}
    unknown = [name for name in merged if name not in KNOWN_OBJECTIVES]
    if unknown:
        raise InvalidDataError(
            f"unknown objective(s) {unknown}; known: {', '.join(KNOWN_OBJECTIVES)}"
        )
    for name, value in merged.items():
        if value is not None and not (is_real_number(value) and value >= 0):
            raise InvalidDataError(
                f"objective {name!r} must be a finite number >= 0, not {validation.shown(value)}"
            )
    return {name: float(value) for name, value in merged.items() if value is not None}


def _version_rows(
    versions: pd.Series[Any], model_version: str | float | None
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """Each version's name and which rows it served: ``model_version`` alone when given,
    else the versions the log holds, in the order they first appear."""
    if model_version is not None:
        if isinstance(model_version, str) and _holds_text(versions):
            rows = np.asarray(versions.to_numpy() == model_version, dtype=bool)
        else:
            rows = (versions == model_version).to_numpy()
        return [(str(model_version), rows)]
    try:
        codes, names = _factorized(versions)
    except TypeError:
        _version_names(versions)  # names the value that cannot name a version
        raise
    return [(str(name), codes == code) for code, name in enumerate(names)]


def _factorized(values: pd.Series[Any]) -> tuple[npt.NDArray[np.intp], list[Any]]:
    """Each row's code and the distinct values in the order they first appear, as
    ``dict.fromkeys`` would give them (equal values are one, the first seen names it)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(codes, dtype=np.intp), list(uniques)


def _holds_text(values: pd.Series[Any]) -> bool:
    """Whether ``values`` is an object column of ``str`` only (so none is missing)."""
    from pandas.api import types

    return bool(values.dtype == object) and types.infer_dtype(values, skipna=False) == "string"


def _version_names(versions: pd.Series[Any]) -> list[Any]:
    """The versions the log holds, in the order they first appear; a value that cannot name
    one (a list, a dict) is refused."""
    try:
        return list(dict.fromkeys(versions))
    except TypeError:
        for value in versions:
            try:
                hash(value)
            except TypeError:
                raise InvalidDataError(
                    "column 'model_version' must hold names (text or numbers), not "
                    f"{type(value).__name__} {validation.shown(value)}"
                ) from None
        raise


def _validated_log(requests: Any) -> pd.DataFrame:
    import pandas as pd
    from pandas.api import types

    if not isinstance(requests, pd.DataFrame):
        raise InvalidDataError(
            f"requests must be a pandas DataFrame, not {type(requests).__name__}"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in requests.columns]
    if missing:
        raise InvalidDataError(f"requests lacks column(s) {missing}")
    unique_columns(requests, "requests", REQUIRED_COLUMNS)
    if requests.empty:
        return requests  # no requests: no values to be wrong (nor types, read from a file)
    for name in REQUIRED_COLUMNS:  # an object column of text only has none, seen quicker
        if not _holds_text(requests[name]) and requests[name].isna().any():
            raise InvalidDataError(f"column {name!r} has missing values")
    if not types.is_datetime64_any_dtype(requests["timestamp"]):
        raise InvalidDataError(
            f"column 'timestamp' must hold datetimes, not {requests['timestamp'].dtype}"
        )
    latency = requests["latency_ms"]
    if not types.is_numeric_dtype(latency) or types.is_bool_dtype(latency):
        raise InvalidDataError(f"column 'latency_ms' must hold numbers, not {latency.dtype}")
    values = latency.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InvalidDataError("column 'latency_ms' must hold finite numbers >= 0")
    return requests


def _window_seconds(requests: pd.DataFrame) -> float:
    """The span from the first request to the last (0 without requests)."""
    if requests.empty:
        return 0.0
    timestamps = requests["timestamp"]
    return float((timestamps.max() - timestamps.min()).total_seconds())


def _succeeded(status: pd.Series[Any]) -> npt.NDArray[np.bool_]:
    """Whether each request succeeded: an HTTP code in 200-399 or ``"ok"``.

    Whole columns at once for integer, float and text statuses (each distinct word judged
    once); :func:`_is_success` value by value for anything else (a column mixing numbers and
    text, say). Either way the first value that is not a status (in row order) is refused,
    with the same message.
    """
    import pandas as pd
    from pandas.api import types

    if types.is_integer_dtype(status) or types.is_float_dtype(status):  # bools are neither
        numbers = status.to_numpy(dtype=np.float64)  # exact for HTTP codes; huge stays huge
        valid = (numbers >= 100) & (numbers <= 599) & (np.trunc(numbers) == numbers)
        if not valid.all():
            first = int(np.argmin(valid))
            for value in status.iloc[first : first + 1]:  # the value as iterating gives it
                _is_success(value)  # raises, naming it
        return np.asarray((numbers >= 200) & (numbers <= 399), dtype=bool)
    if _holds_text(status) or isinstance(status.dtype, pd.StringDtype):  # a few distinct words
        codes, words = _factorized(status)
        outcome = np.array([_is_success(word) for word in words], dtype=bool)
        return outcome[codes] if len(words) else np.zeros(0, dtype=bool)
    return np.array([_is_success(value) for value in status], dtype=bool)


def _is_success(value: object) -> bool:
    if isinstance(value, str) and value.lower() in ("ok", "error"):
        return value.lower() == "ok"
    is_integer = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if is_integer and 100 <= value <= 599:  # type: ignore[operator]
        return 200 <= value <= 399  # type: ignore[operator]
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return _is_success(int(value))
    raise InvalidDataError(
        f"column 'status' holds {value!r}: expected an HTTP code (100-599), 'ok' or 'error'"
    )


def _version_health(
    name: str,
    rows: npt.NDArray[np.bool_],
    succeeded: npt.NDArray[np.bool_],
    latencies: npt.NDArray[np.float64],
    window: float,
    objectives: Mapping[str, float],
    min_requests: int,
) -> VersionHealth:
    count = int(rows.sum())
    rps = count / window if window > 0 else None
    rpm = rps * 60 if rps is not None else None
    if not count:  # no traffic: nothing but the throughput is measured
        return VersionHealth(
            name, requests=0, errors=0, error_rate=None, success_rate=None,
            latency_p50_ms=None, latency_p90_ms=None, latency_p99_ms=None,
            throughput_rps=rps, throughput_rpm=rpm, status="inconclusive", violations=[],
        )  # fmt: skip
    errors = count - int(np.count_nonzero(succeeded & rows))
    p50, p90, p99 = (float(p) for p in np.percentile(latencies[rows], [50, 90, 99]))
    measured = {"latency_p50_ms": p50, "latency_p90_ms": p90, "latency_p99_ms": p99}
    success_rate = 1 - errors / count
    violations = [
        objective
        for objective, limit in objectives.items()
        if (
            success_rate < limit
            if objective == "success_rate_min"
            else measured[LATENCY_OBJECTIVES[objective]] > limit
        )
    ]
    status: CheckStatus = (
        "inconclusive" if count < min_requests else "fail" if violations else "pass"
    )
    return VersionHealth(
        name,
        count,
        errors,
        errors / count,
        success_rate,
        p50,
        p90,
        p99,
        rps,
        rpm,
        status,
        violations,
    )


def _metrics(report: Mapping[str, VersionHealth]) -> dict[str, float]:
    prefixed = len(report) > 1
    metrics: dict[str, float] = {}
    for name, version in report.items():
        for metric in HEADLINE_METRICS:
            value = getattr(version, metric)
            if value is not None and math.isfinite(value):
                metrics[f"{name}.{metric}" if prefixed else metric] = float(value)
    return metrics


# -- the kind: what failed in words, what its page shows -----------------------------------


def _describe(document: Mapping[str, Any]) -> str:
    """``service health: churn/4: p99 latency 1006 ms > 500 ms``"""
    parts = []
    for name, version in document["versions"].items():
        if version["status"] == "pass":
            continue
        missed = [
            _violation(name, version, document["objectives"]) for name in version["violations"]
        ]
        if version["status"] == "inconclusive":  # too few requests, whatever they measured
            missed.insert(
                0, f"{version['requests']} requests, fewer than {document['min_requests']}"
            )
        parts.append(f"{name}: {'; '.join(missed) or version['status']}")
    if not document["versions"]:
        parts.append(f"no requests in the log, fewer than {document['min_requests']}")
    return "service health: " + (" | ".join(parts) or document["status"])


def _violation(objective: str, version: Mapping[str, Any], objectives: Mapping[str, Any]) -> str:
    """``p99 latency 1012 ms > 500 ms``: a missed objective with the measured value."""
    limit = float(objectives[objective])
    if objective == "success_rate_min":
        return f"success rate {version['success_rate']:.2%} < {limit:.2%}"
    measured = objective.replace("_max_ms", "_ms")  # latency_p99_max_ms -> latency_p99_ms
    percentile = measured.split("_")[1]
    return f"{percentile} latency {version[measured]:.0f} ms > {limit:g} ms"


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """Each model version's traffic, latency and errors, then the objectives."""
    rows: list[blocks.Row] = []
    for name, version in document["versions"].items():
        measured = ("requests", "errors", "error_rate", "latency_p50_ms", "latency_p90_ms",
                    "latency_p99_ms", "throughput_rps")  # fmt: skip
        status, violations = blocks.get(version, "status"), blocks.get(version, "violations")
        cells = [
            blocks.get(version, "model_version") or name,
            *(blocks.get(version, k) for k in measured),
        ]
        cells += [blocks.Markup(blocks.badge(status)), violations or None]
        rows.append((blocks.status_class(status), cells))
    objectives = document.get("objectives")
    limits = list(objectives.items()) if isinstance(objectives, Mapping) else []
    limits += [
        ("min_requests", document.get("min_requests")),
        ("window_seconds", document.get("window_seconds")),
    ]
    headers = ("Model version", "Requests", "Errors", "Error rate", "p50 ms", "p90 ms",
               "p99 ms", "Throughput (req/s)", "Status", "Violations")  # fmt: skip
    return [
        blocks.section("Model versions", blocks.table(headers, rows)),
        blocks.section("Objectives", blocks.key_values(limits, headers=("Objective", "Limit"))),
    ]


KIND = register_check_kind(
    CheckKind(
        name="health",
        title="Service health",
        result=HealthResult,
        describe=_describe,
        page=CheckPage(
            rows="versions",
            rows_type=Mapping,
            sections=_page_sections,
            shown=frozenset({"objectives", "min_requests", "window_seconds"}),
        ),
        metrics=HEADLINE_METRICS,
    )
)
