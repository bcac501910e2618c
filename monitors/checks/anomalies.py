"""Anomalies in a recorded time series: seasonal medians, then modified z-scores.

:func:`detect_anomalies` scores every point of a series and flags those whose score exceeds
``threshold``. The method, and why it was chosen:

1. **Seasonal component by phase medians.** With ``season=k`` (in points, e.g. 24 for hourly
   data with a daily cycle, 168 for a weekly one), point ``i`` has phase ``i % k`` and its
   seasonal level is the median of the *other* values with that phase. Subtracting it leaves
   residuals, so a value normal at noon but abnormal at midnight stands out. Medians, not
   means, so that the anomalies themselves do not bend the seasonal profile; leaving the
   point itself out keeps it from pulling its own expectation (with an odd count per phase,
   the plain median would give one point in every phase a residual of exactly 0 and shrink
   the MAD below). With few seasons the scores are slightly conservative (with two, a
   residual is the difference of two noisy values). Phases count points, so the series
   should be regularly spaced, as metrics sampled on a schedule are. With ``season=None``
   (the default) there is no seasonal component.
2. **Modified z-score of the residuals** (Iglewicz & Hoaglin, 1993): with ``m`` the median of
   the residuals and ``MAD`` their median absolute deviation from ``m``,
   ``score = |residual - m| / (1.4826 * MAD)``; 1.4826 makes ``1.4826 * MAD`` estimate the
   standard deviation of normal data, and 3.5 is the authors' recommended cut-off. Median and
   MAD have a 50% breakdown point: up to half of the points can be outliers without moving
   the baseline, unlike a mean and standard deviation, which the very outliers sought would
   inflate and so mask.
3. **When MAD is 0** (more than half the residuals equal, e.g. a flat series with a spike),
   the scale falls back to ``1.2533 * mean absolute deviation`` from ``m`` (1.2533 =
   sqrt(pi/2) makes it estimate the standard deviation too); if that is 0 as well, every
   residual equals ``m``, and every score is 0. ``spread`` on the result says which was used.

No model is fitted: the cost is a few sorts, the result is deterministic, and every number
can be checked by hand. (Values beyond 1e100 are scored in units of a power of two, which
changes no score but keeps their differences and sums from overflowing.) The baseline is
global (the whole series), so give it the window you want judged, e.g. the last weeks of a
metric.

Input: ``(timestamp, value)`` pairs, as :class:`aimops.metadata.store_values.Point` objects from
``store.get_points(...)`` or plain tuples, or a pandas Series indexed by time. Points are
sorted by timestamp; a repeated timestamp is an error (which value counts would be a guess),
and so is a NaN or infinite value (the error says how many).

``status`` is ``"fail"`` when the latest point is anomalous (something is wrong now),
``"warn"`` when only earlier points are, ``"pass"`` when none is, and ``"inconclusive"`` with
fewer than ``min_points`` points (default: four full seasons, and at least 10; with fewer,
an anomaly also skews the expected level of the other points in its phase): the scores are
still there, but a gate should not act on them.

Example:
    >>> from datetime import datetime, timedelta
    >>> start = datetime(2024, 1, 1)
    >>> values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 9.9, 10.2, 25.0, 10.0]
    >>> series = [(start + timedelta(hours=i), v) for i, v in enumerate(values)]
    >>> result = detect_anomalies(series)
    >>> result.status, result.anomalies
    ('warn', 1)
    >>> [point.timestamp.hour for point in result.points if point.anomalous]
    [10]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.checks import wording
from aimops.monitors.checks.base import CheckStatus, RecordableCheck
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.inputs import is_real_number, overflow_safe_unit
from aimops.monitors.reports import blocks

if TYPE_CHECKING:
    import pandas as pd

    from aimops.metadata.store_values import Point

#: Makes 1.4826 * MAD estimate the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
#: Makes 1.2533 * mean absolute deviation estimate the standard deviation (sqrt(pi / 2)).
MEAN_AD_SCALE = 1.2533
#: The fewest points, seasons aside, that make a verdict.
MIN_POINTS = 10
#: The fewest full seasons that make a verdict: a point's expected level is the median of the
#: others in its phase, which resists an outlier among them only when there are three or more.
SEASONS_NEEDED = 4

Spread = Literal["mad", "mean_absolute_deviation", "none"]


@dataclass(frozen=True)
class ScoredPoint:
    """One point: its value, the value expected there, its score and whether it is flagged."""

    timestamp: datetime
    value: float
    expected: float
    score: float
    anomalous: bool

    def to_dict(self) -> dict[str, Any]:
        """The point as JSON-compatible data, the timestamp in ISO 8601."""
        return {**self.__dict__, "timestamp": self.timestamp.isoformat()}


@dataclass(frozen=True)
class AnomalyResult(RecordableCheck):
    """Every point scored and flagged, the count of anomalies and the verdict.

    ``metrics`` holds ``anomalies``, and ``latest_score`` and ``max_score`` when there are
    points; ``spread`` is the scale used (see the module docstring).
    """

    kind: ClassVar[str] = "anomaly"
    points: tuple[ScoredPoint, ...]
    anomalies: int
    status: CheckStatus
    threshold: float
    season: int | None
    min_points: int
    spread: Spread
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "status": self.status,
            "anomalies": self.anomalies,
            "threshold": self.threshold,
            "season": self.season,
            "min_points": self.min_points,
            "spread": self.spread,
            "metrics": dict(self.metrics),
            "points": [point.to_dict() for point in self.points],
        }


def detect_anomalies(
    points: Sequence[Point] | Sequence[tuple[datetime, float]] | pd.Series,
    *,
    season: int | None = None,
    threshold: float = 3.5,
    min_points: int | None = None,
) -> AnomalyResult:
    """Score every point of a time series and flag those scoring above ``threshold``.

    ``season`` is the length of the cycle in points (None: no seasonality); ``min_points``
    defaults to ``max(10, 4 * season)``. See the module docstring for the method.

    Example:
        >>> from datetime import datetime, timedelta
        >>> start = datetime(2024, 1, 1)
        >>> series = [(start + timedelta(days=i), 1.0) for i in range(5)]
        >>> detect_anomalies(series).status
        'inconclusive'
    """
    _check_settings(season, threshold, min_points)
    needed = max(MIN_POINTS, SEASONS_NEEDED * (season or 0)) if min_points is None else min_points
    timestamps, given = _series(points)
    unit = overflow_safe_unit(given)  # a power of two: changes no score
    values = given / unit
    seasonal = _seasonal_medians(values, season)
    residuals = values - seasonal
    center = float(np.median(residuals)) if len(values) else 0.0
    scale, spread = _scale(residuals - center)
    scores = np.abs(residuals - center) / scale if scale > 0 else np.zeros(len(values))
    scored = tuple(
        ScoredPoint(
            when, float(value), float(level + center) * unit, float(score), bool(score > threshold)
        )
        for when, value, level, score in zip(timestamps, given, seasonal, scores, strict=True)
    )
    return _result(scored, threshold, season, needed, spread)


def _check_settings(season: int | None, threshold: float, min_points: int | None) -> None:
    if season is not None and (isinstance(season, bool) or not isinstance(season, int)):
        raise InvalidInputError(f"season must be a whole number of points, got {season!r}")
    if season is not None and season < 2:
        raise InvalidInputError(f"season must be at least 2 points, got {season}")
    if not (is_real_number(threshold) and threshold > 0):
        raise InvalidInputError(f"threshold must be a positive number, got {threshold!r}")
    whole = isinstance(min_points, int) and not isinstance(min_points, bool)
    if min_points is not None and (not whole or min_points < 1):
        raise InvalidInputError(
            f"min_points must be at least 1, a whole number: got {min_points!r}"
        )


def _series(
    points: Sequence[Point] | Sequence[tuple[datetime, float]] | pd.Series,
) -> tuple[list[datetime], np.ndarray[Any, np.dtype[np.float64]]]:
    """The timestamps in order and their values; refuses bad values and repeated times."""
    pairs = _pairs(points)
    for when, _ in pairs:
        if not isinstance(when, datetime):
            raise InvalidDataError(f"timestamps must be datetimes, got {when!r}")
    values = np.array([value for _, value in pairs], dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise InvalidDataError(f"{bad} of {len(values)} values are NaN or infinite")
    try:
        order = sorted(range(len(pairs)), key=lambda index: pairs[index][0])
    except TypeError as exc:
        raise InvalidDataError("timestamps mix naive and timezone-aware datetimes") from exc
    timestamps = [pairs[index][0] for index in order]
    repeated = sorted({str(a) for a, b in pairwise(timestamps) if a == b})
    if repeated:
        raise InvalidDataError(f"repeated timestamps: {', '.join(repeated[:5])}")
    return timestamps, values[order]


def _pairs(
    points: Sequence[Point] | Sequence[tuple[datetime, float]] | pd.Series,
) -> list[tuple[Any, Any]]:
    """Raw ``(timestamp, value)`` pairs from a Series, Point objects or tuples."""
    if hasattr(points, "index") and hasattr(points, "to_numpy") and hasattr(points, "dtype"):
        series: Any = points
        pairs: list[tuple[Any, Any]] = list(zip(series.index, series.to_numpy(), strict=True))
    else:
        pairs = [_pair(point) for point in validation.items(points, "points")]
    try:
        return [(when, float(value)) for when, value in pairs]
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"values must be numbers: {exc}") from exc


def _pair(point: object) -> tuple[Any, Any]:
    if isinstance(point, tuple) and len(point) == 2:
        return point[0], point[1]
    if hasattr(point, "timestamp") and hasattr(point, "value"):
        return point.timestamp, point.value
    raise InvalidDataError(f"expected (timestamp, value) pairs, got {point!r}")


def _seasonal_medians(
    values: np.ndarray[Any, np.dtype[np.float64]], season: int | None
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Each point's seasonal level: the median of the other values in its phase (0 without
    season; the point's own value when its phase has no other)."""
    if season is None:
        return np.zeros(len(values))
    if season >= len(values):  # every phase holds one point (and a huge season stays Python's)
        return values.copy()
    phases = np.arange(len(values)) % season
    levels = values.copy()
    for phase in range(min(season, len(values))):
        in_phase = phases == phase
        if np.count_nonzero(in_phase) > 1:
            levels[in_phase] = _medians_of_the_others(values[in_phase])
    return levels


def _medians_of_the_others(
    values: np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """For each value, the median of all the others (at least two values)."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    left_out = np.arange(len(values))[:, None]
    remaining = len(values) - 1
    middle = np.array([(remaining - 1) // 2, remaining // 2])[None, :]
    # Rank q among the others is rank q (below the left-out one) or q + 1 in the full order.
    picked = ranked[middle + (middle >= left_out)].mean(axis=1)
    medians = np.empty(len(values))
    medians[order] = picked
    return medians


def _scale(deviations: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, Spread]:
    """The robust standard deviation of ``deviations`` (from the center) and which one it is."""
    if not len(deviations):
        return 0.0, "none"
    absolute = np.abs(deviations)
    mad = float(np.median(absolute))
    if mad > 0:
        return MAD_SCALE * mad, "mad"
    mean_ad = float(np.mean(absolute))
    if mean_ad > 0:
        return MEAN_AD_SCALE * mean_ad, "mean_absolute_deviation"
    return 0.0, "none"


def _result(
    scored: tuple[ScoredPoint, ...],
    threshold: float,
    season: int | None,
    min_points: int,
    spread: Spread,
) -> AnomalyResult:
    anomalies = sum(point.anomalous for point in scored)
    metrics: dict[str, float] = {"anomalies": float(anomalies)}
    if scored:
        metrics["latest_score"] = scored[-1].score
        metrics["max_score"] = max(point.score for point in scored)
    status: CheckStatus
    if len(scored) < min_points:
        status = "inconclusive"
    elif scored[-1].anomalous:
        status = "fail"
    else:
        status = "warn" if anomalies else "pass"
    return AnomalyResult(
        points=scored,
        anomalies=anomalies,
        status=status,
        threshold=threshold,
        season=season,
        min_points=min_points,
        spread=spread,
        metrics=metrics,
    )


# -- the kind: what failed in words, what its page shows -----------------------------------


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """The series' settings, then the points it flagged."""
    points = document["points"]
    flagged = [point for point in points if blocks.get(point, "anomalous") is True]
    rows: list[blocks.Row] = [
        (
            "row-fail",
            [blocks.get(point, key) for key in ("timestamp", "value", "expected", "score")],
        )
        for point in flagged
    ]
    summary = [
        (
            "Flagged points",
            f"{blocks.format_value(document.get('anomalies', len(flagged)))} of {len(points)}",
        ),
        ("Score threshold", document.get("threshold")),
        ("Season (points)", document.get("season")),
        ("Points needed", document.get("min_points")),
        ("Spread", document.get("spread")),
    ]
    table = blocks.table(("Time", "Value", "Expected", "Score"), rows)
    return [
        blocks.section("Series", blocks.key_values(summary)),
        blocks.section(
            "Flagged points", table if rows else '<p class="note">No point was flagged.</p>'
        ),
    ]


def _describe(document: Mapping[str, Any]) -> str:
    """``anomaly check: fail: the latest point is anomalous (score 12.3 > 3.5)``, or why there
    is no verdict: ``anomaly check: inconclusive: 5 points, fewer than 10 needed``."""
    points, status = document.get("points") or [], document["status"]
    needed = document.get("min_points")
    if status == "inconclusive":
        detail = f"{len(points)} points, fewer than {needed} needed"
        flagged = document.get("anomalies")
        detail += f" ({flagged} flagged all the same)" if flagged else ""
    elif status == "fail":
        latest = points[-1] if points else {}
        detail = (
            f"the latest point is anomalous (score {wording.number(latest.get('score'))} > "
            f"{wording.number(document.get('threshold'))})"
        )
    elif status == "warn":
        detail = f"{document.get('anomalies')} earlier point(s) anomalous, the latest is not"
    else:
        detail = "no point is anomalous"
    return f"anomaly check: {status}: {detail}"


KIND = register_check_kind(
    CheckKind(
        name="anomaly",
        title="Anomaly detection",
        result=AnomalyResult,
        describe=_describe,
        page=CheckPage(
            rows="points",
            rows_type=list,
            sections=_page_sections,
            shown=frozenset({"anomalies", "threshold", "season", "min_points", "spread"}),
        ),
        metrics=("anomalies", "latest_score", "max_score"),
    )
)
