"""Gates: bounds per metric and "no worse than the baseline by more than X"."""

from __future__ import annotations

import pytest

from aimops.errors import GateFailedError, InvalidInputError
from aimops.monitors.evaluation.gates import Gate, check_gates, evaluate_gates, gates_from


def test_minimum_and_maximum_bounds_name_metric_value_and_bound() -> None:
    metrics = {"auroc": 0.81, "log_loss": 0.52}
    with pytest.raises(GateFailedError) as failure:
        check_gates(metrics, [Gate("auroc", minimum=0.85), Gate("log_loss", maximum=0.6)])
    assert str(failure.value) == (
        "evaluation failed 1 gate(s): auroc = 0.81 is below the minimum 0.85"
    )


def test_baseline_regression_respects_the_direction_of_each_metric() -> None:
    gates = gates_from(max_regression={"auroc": 0.01, "brier": 0.005})
    baseline = {"auroc": 0.90, "brier": 0.100}
    fine = evaluate_gates({"auroc": 0.895, "brier": 0.104}, gates, baseline_metrics=baseline)
    assert all(outcome.passed for outcome in fine)
    worse = evaluate_gates(
        {"auroc": 0.95, "brier": 0.110}, gates, baseline_metrics=baseline, baseline="churn/2"
    )
    assert [outcome.passed for outcome in worse] == [True, False]
    assert worse[1].message == (
        "brier = 0.11 is worse than churn/2 (0.1) by 0.01, more than the 0.005 allowed"
    )


def test_a_missing_metric_fails_its_gate() -> None:
    (outcome,) = evaluate_gates({"auroc": 0.9}, [Gate("f1", minimum=0.5)])
    assert not outcome.passed and outcome.message == "f1 is missing"


def test_gates_need_a_bound_and_a_baseline_when_they_compare() -> None:
    with pytest.raises(InvalidInputError, match="has no bound"):
        Gate("auroc")
    with pytest.raises(InvalidInputError, match="no baseline was given"):
        evaluate_gates({"auroc": 0.9}, [Gate("auroc", max_regression=0.01)])
    with pytest.raises(InvalidInputError, match="must not be negative"):
        Gate("auroc", max_regression=-0.1)


def test_a_baseline_gate_on_a_metric_without_direction_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'ppr' has no better direction"):
        Gate("ppr", max_regression=0.01)
    assert Gate("ppr", maximum=0.4).direction() is None
    assert Gate("ppr", max_regression=0.01, higher_is_better=False).direction() is False


@pytest.mark.parametrize("bound", ["minimum", "maximum", "max_regression"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.9", True])
def test_a_bound_that_is_not_a_finite_number_is_refused_at_once(bound: str, value: object) -> None:
    from aimops.errors import InvalidInputError
    from aimops.monitors.evaluation.gates import Gate

    with pytest.raises(InvalidInputError, match=f"{bound} must be a finite number"):
        Gate("auroc", **{bound: value})  # type: ignore[arg-type]
