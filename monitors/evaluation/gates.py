"""Gates on evaluation metrics: a bound per metric, and "no worse than a baseline by X".

Whether a larger value is better is known for the built-in metrics (``auroc`` up, ``log_loss``
down); a gate on another metric says so with ``higher_is_better``. :func:`evaluate_gates`
judges every gate and returns the outcomes (for the record); :func:`check_gates` also raises
:class:`~aimops.errors.GateFailedError` naming each failed metric, its value and the bound.

Example:
    >>> outcomes = evaluate_gates({"auroc": 0.91, "log_loss": 0.40},
    ...                           [Gate("auroc", minimum=0.9), Gate("log_loss", maximum=0.35)])
    >>> [outcome.passed for outcome in outcomes]
    [True, False]
    >>> outcomes[1].message
    'log_loss = 0.4 is above the maximum 0.35'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aimops import validation
from aimops.errors import GateFailedError, InvalidInputError

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "fpr", "mse", "rmse", "mae", "max_error", "ece"})
#: Metrics with no better direction: a rate of positive predictions, a mean residual.
NO_DIRECTION = frozenset({"ppr", "prevalence", "positives", "negatives", "mean_residual"})


def higher_is_better(metric: str) -> bool | None:
    """Whether a larger value of ``metric`` is better: False for losses, error rates and
    fairness gaps, None for metrics with no better direction (``ppr``, ``mean_residual``)."""
    base = metric.rsplit(".", 1)[-1]
    if base in NO_DIRECTION:
        return None
    return not (base in LOWER_IS_BETTER or base.startswith(("max_gap_", "log_loss")))


def improves(metric: str, value: float, reference: float) -> bool | None:
    """Whether ``value`` is better than ``reference``; None for a tie or no direction."""
    direction = higher_is_better(metric)
    if direction is None or value == reference:
        return None
    return (value > reference) == direction


@dataclass(frozen=True)
class Gate:
    """A bound on one metric: ``minimum``, ``maximum``, and/or at most ``max_regression`` worse
    than the baseline's value (which :func:`evaluate_gates` is given)."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None
    max_regression: float | None = None
    higher_is_better: bool | None = None

    def __post_init__(self) -> None:
        validation.text(self.metric, "a gate's metric", empty=False)
        if self.higher_is_better is not None:
            validation.flag(
                self.higher_is_better, f"higher_is_better of the gate on {self.metric!r}"
            )
        for bound in ("minimum", "maximum", "max_regression"):
            value = getattr(self, bound)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(float(value))
            ):
                raise InvalidInputError(
                    f"gate on {self.metric!r}: {bound} must be a finite number, got {value!r}"
                )
        if self.minimum is None and self.maximum is None and self.max_regression is None:
            raise InvalidInputError(
                f"gate on {self.metric!r} has no bound: give minimum, maximum or max_regression"
            )
        if self.max_regression is not None and self.direction() is None:
            raise InvalidInputError(
                f"{self.metric!r} has no better direction, so 'worse than the baseline' means "
                "nothing: bound it with minimum/maximum, or say higher_is_better"
            )
        if self.max_regression is not None and self.max_regression < 0:
            raise InvalidInputError(
                f"gate on {self.metric!r}: max_regression must not be negative, "
                f"got {self.max_regression}"
            )

    def direction(self) -> bool | None:
        """True when higher is better, False when lower is, None when neither."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        return higher_is_better(self.metric)


@dataclass(frozen=True)
class GateOutcome:
    """How one bound of a gate was judged."""

    metric: str
    bound: str  # "minimum", "maximum" or "baseline"
    limit: float
    value: float | None
    passed: bool
    message: str
    baseline_value: float | None = None
    baseline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gates_from(
    minimums: Mapping[str, float] | None = None,
    maximums: Mapping[str, float] | None = None,
    max_regression: Mapping[str, float] | None = None,
) -> list[Gate]:
    """Gates from the plain mappings that operators and the CLI take."""
    names = [*(minimums or {}), *(maximums or {}), *(max_regression or {})]
    return [
        Gate(
            metric,
            minimum=(minimums or {}).get(metric),
            maximum=(maximums or {}).get(metric),
            max_regression=(max_regression or {}).get(metric),
        )
        for metric in dict.fromkeys(names)
    ]


def evaluate_gates(
    metrics: Mapping[str, float],
    gates: Iterable[Gate],
    *,
    baseline_metrics: Mapping[str, float] | None = None,
    baseline: str | None = None,
) -> list[GateOutcome]:
    """Judge every bound of every gate against ``metrics``; a missing metric fails its gate,
    and so does one that is not a finite number (NaN, infinity)."""
    validation.mapping(metrics, "metrics")
    if baseline_metrics is not None:
        validation.mapping(baseline_metrics, "baseline_metrics")
    validation.optional_text(baseline, "baseline")
    outcomes: list[GateOutcome] = []
    for gate in _gates(gates):
        value = _metric_value(metrics, gate.metric, "metrics")
        if gate.minimum is not None:
            outcomes.append(_bound(gate, value, "minimum", gate.minimum))
        if gate.maximum is not None:
            outcomes.append(_bound(gate, value, "maximum", gate.maximum))
        if gate.max_regression is not None:
            outcomes.append(_regression(gate, value, baseline_metrics, baseline))
    return outcomes


def _gates(gates: Iterable[Gate]) -> list[Gate]:
    found = list(validation.items(gates, "gates"))
    wrong = [gate for gate in found if not isinstance(gate, Gate)]
    if wrong:
        raise InvalidInputError(
            "gates must be Gate objects (Gate('auroc', minimum=0.8)), not "
            f"{validation.shown(wrong[0])}"
        )
    return found


def _metric_value(metrics: Mapping[str, Any], metric: str, where: str) -> float | None:
    """The value of ``metric`` in ``metrics``: None when it is missing or not finite; a value
    that is not a number at all is refused."""
    value = metrics.get(metric)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"{metric} in {where} must be a number, not {type(value).__name__} "
            f"{validation.shown(value)}"
        )
    number = float(value)
    return number if math.isfinite(number) else None


def _bound(gate: Gate, value: float | None, bound: str, limit: float) -> GateOutcome:
    if value is None:
        return GateOutcome(gate.metric, bound, limit, None, False, f"{gate.metric} is missing")
    passed = value >= limit if bound == "minimum" else value <= limit
    side = "below the minimum" if bound == "minimum" else "above the maximum"
    message = (
        f"{gate.metric} = {value:.6g} is within its {bound} {limit:.6g}"
        if passed
        else f"{gate.metric} = {value:.6g} is {side} {limit:.6g}"
    )
    return GateOutcome(gate.metric, bound, limit, value, passed, message)


def _regression(
    gate: Gate,
    value: float | None,
    baseline_metrics: Mapping[str, float] | None,
    baseline: str | None,
) -> GateOutcome:
    allowed = float(gate.max_regression or 0.0)
    if baseline_metrics is None:
        raise InvalidInputError(
            f"gate on {gate.metric!r} compares with a baseline, but no baseline was given"
        )
    reference = _metric_value(baseline_metrics, gate.metric, "baseline_metrics")
    name = baseline or "the baseline"
    if value is None or reference is None:
        missing = "the evaluation" if value is None else name
        return GateOutcome(
            gate.metric, "baseline", allowed, value, False,
            f"{gate.metric} is missing from {missing}", reference, baseline,
        )  # fmt: skip
    worse_by = (reference - value) if gate.direction() else (value - reference)
    passed = worse_by <= allowed + 1e-12
    message = (
        f"{gate.metric} = {value:.6g} is within {allowed:.6g} of {name} ({reference:.6g})"
        if passed
        else f"{gate.metric} = {value:.6g} is worse than {name} ({reference:.6g}) by "
        f"{worse_by:.6g}, more than the {allowed:.6g} allowed"
    )
    return GateOutcome(
        gate.metric, "baseline", allowed, value, passed, message, reference, baseline
    )


def raise_for_failures(outcomes: Sequence[GateOutcome], what: str = "evaluation") -> None:
    """Raise GateFailedError listing every failed gate; do nothing when all passed."""
    failed = [outcome.message for outcome in outcomes if not outcome.passed]
    if failed:
        raise GateFailedError(f"{what} failed {len(failed)} gate(s): " + "; ".join(failed))


def check_gates(
    metrics: Mapping[str, float],
    gates: Iterable[Gate],
    *,
    baseline_metrics: Mapping[str, float] | None = None,
    baseline: str | None = None,
) -> list[GateOutcome]:
    """:func:`evaluate_gates`, raising GateFailedError when any gate failed."""
    outcomes = evaluate_gates(metrics, gates, baseline_metrics=baseline_metrics, baseline=baseline)
    raise_for_failures(outcomes)
    return outcomes
