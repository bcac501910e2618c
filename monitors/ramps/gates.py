"""What a ramp step's analysis holds the challenger to: its gates, with Flagger's defaults.

- ``success_rate_min`` (0.99) and ``latency_p99_max_ms`` (500): the challenger's health over
  the requests it served in the step's window (:func:`~aimops.monitors.check_health`);
- ``min_requests`` (100): fewer requests than this make the analysis ``inconclusive``, never
  a failure (a canary that got no traffic yet holds its weight);
- ``latency_p99_max_ratio`` (1.5) and ``success_rate_max_drop`` (0.01): the challenger against
  the champion over the same window (skipped while the champion serves fewer than
  ``min_requests``, as at 100%); None drops one;
- ``check_kinds`` (drift, data_quality): a check of one of these kinds recorded on the
  challenger in the window that failed fails the step;
- ``metric_bounds``: ``{metric: [min, max]}`` (either may be None) on the newest point of a
  time series recorded on the challenger in the window; no point in the window is
  ``inconclusive``.

Example:
    >>> gates = RampGates.from_mapping({"latency_p99_max_ms": 300, "metric_bounds": {
    ...     "auroc": [0.8, None]}})
    >>> gates.latency_p99_max_ms, gates.metric_bounds, gates.success_rate_min
    (300.0, {'auroc': (0.8, None)}, 0.99)
    >>> RampGates.from_mapping({"p99": 3})
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidInputError: unknown ramp gate(s) ['p99']; known: success_rate_min, \
latency_p99_max_ms, min_requests, latency_p99_max_ratio, success_rate_max_drop, check_kinds, \
metric_bounds
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.monitors.inputs import is_real_number

Bounds = tuple[float | None, float | None]


@dataclass(frozen=True)
class RampGates:
    """The limits of every step's analysis (see the module for each)."""

    success_rate_min: float = 0.99
    latency_p99_max_ms: float = 500.0
    min_requests: int = 100
    latency_p99_max_ratio: float | None = 1.5
    success_rate_max_drop: float | None = 0.01
    check_kinds: tuple[str, ...] = ("drift", "data_quality")
    metric_bounds: dict[str, Bounds] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any] | RampGates | None) -> RampGates:
        """Gates from ``given`` (the defaults for what it leaves out), checked."""
        if given is None:
            return cls()
        if isinstance(given, RampGates):
            return given
        values = dict(validation.mapping(given, "gates"))
        known = [spec.name for spec in fields(cls)]
        unknown = [name for name in values if name not in known]
        if unknown:
            raise InvalidInputError(f"unknown ramp gate(s) {unknown}; known: {', '.join(known)}")
        for name in ("success_rate_min", "latency_p99_max_ms", "latency_p99_max_ratio",
                     "success_rate_max_drop"):  # fmt: skip
            if name in values:
                values[name] = _limit(values[name], name, optional=name.endswith(("ratio", "drop")))
        if "min_requests" in values:
            values["min_requests"] = validation.whole_number(
                values["min_requests"], "gate min_requests", minimum=1
            )
        if "check_kinds" in values:
            kinds = validation.items(values["check_kinds"], "gate check_kinds")
            values["check_kinds"] = tuple(validation.text(k, "a check kind") for k in kinds)
        if "metric_bounds" in values:
            values["metric_bounds"] = _bounds(values["metric_bounds"])
        if values.get("success_rate_min", 0.0) > 1:
            raise InvalidInputError("gate success_rate_min is a rate in [0, 1]")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what a ramp's record holds)."""
        data = asdict(self)
        data["check_kinds"] = list(self.check_kinds)
        data["metric_bounds"] = {k: list(v) for k, v in self.metric_bounds.items()}
        return data


def _limit(value: Any, name: str, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if not is_real_number(value) or value < 0:
        raise InvalidInputError(
            f"gate {name} must be a finite number >= 0, not {validation.shown(value)}"
        )
    return float(value)


def _bounds(given: Any) -> dict[str, Bounds]:
    bounds: dict[str, Bounds] = {}
    for metric, pair in validation.mapping(given, "gate metric_bounds").items():
        name = validation.text(metric, "a bounded metric", empty=False)
        limits = validation.items(pair, f"the bounds of {name}")
        if len(limits) != 2 or all(limit is None for limit in limits):
            raise InvalidInputError(
                f"the bounds of {name} are [min, max] with at least one set, not "
                f"{validation.shown(pair)}"
            )
        low, high = (_limit(limit, f"bound of {name}", optional=True) for limit in limits)
        if low is not None and high is not None and low > high:
            raise InvalidInputError(f"the bounds of {name} have min {low} above max {high}")
        bounds[name] = (low, high)
    return bounds
