"""Binary evaluation: the parts of the result a user reads that the sklearn comparisons do not
pin down (the confusion matrix's labels and sums, the table's thresholds, the smallest settings
allowed). Found by ``make mutation`` (scripts/mutation.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors import evaluate_binary
from aimops.monitors.evaluation.binary import TABLE_THRESHOLDS, ConfusionMatrix

LABELS = [0, 0, 0, 1, 1]
SCORES = [0.1, 0.6, 0.3, 0.7, 0.2]


def test_the_confusion_matrix_names_its_classes_and_sums_them() -> None:
    confusion = evaluate_binary(LABELS, SCORES, threshold=0.5).confusion
    assert confusion.labels == ("0", "1")
    assert confusion.matrix == ((2.0, 1.0), (1.0, 1.0))  # rows: actual 0, 1; columns: predicted
    assert confusion.actual == (3.0, 2.0)
    assert confusion.predicted == (3.0, 2.0)
    assert confusion.to_dict() == {
        "labels": ["0", "1"],
        "matrix": [[2.0, 1.0], [1.0, 1.0]],
        "threshold": 0.5,
        "actual": [3.0, 2.0],
        "predicted": [3.0, 2.0],
    }


def test_actual_and_predicted_are_rows_and_columns() -> None:
    confusion = ConfusionMatrix(labels=("a", "b"), matrix=((1.0, 2.0), (3.0, 4.0)))
    assert confusion.actual == (3.0, 7.0)
    assert confusion.predicted == (4.0, 6.0)


def test_the_threshold_table_has_a_row_per_hundredth() -> None:
    result = evaluate_binary(LABELS, SCORES)
    table = result.threshold_table
    assert len(TABLE_THRESHOLDS) == 100
    assert table.thresholds[:3] == (0.0, 0.01, 0.02)
    assert table.thresholds[-1] == 0.99
    row = table.row(0.5)
    assert row["threshold"] == 0.5
    assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (1.0, 1.0, 2.0, 1.0)
    assert table.row(0.304)["threshold"] == 0.3  # the nearest of the table's thresholds
    assert table.row(2.0)["threshold"] == 0.99
    document = table.to_dict()
    assert list(document) == ["threshold", *table.columns]
    assert document["threshold"][50] == 0.5 and document["tp"][50] == 1.0


def test_the_smallest_settings_allowed_work() -> None:
    result = evaluate_binary(LABELS, SCORES, calibration_bins=1, max_curve_points=3)
    assert result.calibration.count == (5.0,)
    assert result.calibration.fraction_positive == (0.4,)
    assert len(result.roc.x) <= 3 and len(result.pr.x) <= 3


def test_the_default_calibration_has_ten_bins() -> None:
    scores = np.arange(20) / 20 + 0.025  # two scores in each tenth
    labels = np.arange(20) % 2
    calibration = evaluate_binary(labels, scores).calibration
    assert calibration.count == (2.0,) * 10
    assert calibration.mean_predicted[0] == pytest.approx(0.05)


def test_metrics_at_the_threshold_count_a_score_equal_to_it_as_positive() -> None:
    result = evaluate_binary([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9], threshold=0.5)
    assert result.metrics["precision"] == pytest.approx(2 / 3)
    assert result.metrics["recall"] == 1.0
    assert result.metrics["fpr"] == 0.5
    assert result.metrics["ppr"] == 0.75
    assert result.metrics["accuracy"] == 0.75
    assert result.metrics["f1"] == pytest.approx(0.8)
    assert (result.metrics["positives"], result.metrics["negatives"]) == (2.0, 2.0)
    assert result.metrics["prevalence"] == 0.5


def test_thresholds_above_every_score_predict_nothing_positive() -> None:
    # the highest score is a positive's and a negative's
    result = evaluate_binary([0, 1, 0, 1], [0.45, 0.45, 0.2, 0.4], threshold=0.9)
    row = result.threshold_table.row(0.95)
    assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (0.0, 0.0, 2.0, 2.0)
    assert (row["precision"], row["recall"], row["ppr"]) == (0.0, 0.0, 0.0)
    assert result.confusion.matrix == ((2.0, 0.0), (2.0, 0.0))


def test_losses_of_a_small_example() -> None:
    labels, scores = np.array(LABELS), np.array(SCORES)
    result = evaluate_binary(labels, scores)
    assert result.metrics["brier"] == pytest.approx(np.mean((labels - scores) ** 2))
    expected_log_loss = -np.mean(labels * np.log(scores) + (1 - labels) * np.log(1 - scores))
    assert result.metrics["log_loss"] == pytest.approx(expected_log_loss)


def test_the_class_without_weight_is_named() -> None:
    with pytest.raises(InvalidDataError, match="gives the negative class no weight"):
        evaluate_binary([0, 1, 0, 1], [0.2, 0.8, 0.4, 0.6], sample_weight=[0, 0.5, 0, 0.5])
    with pytest.raises(InvalidDataError, match="gives the positive class no weight"):
        evaluate_binary([0, 1, 0, 1], [0.2, 0.8, 0.4, 0.6], sample_weight=[0.5, 0, 0.5, 0])


def test_weighted_negative_zero_scores_are_zero_in_the_curves() -> None:
    result = evaluate_binary([0, 1, 0, 1], [-0.0, 0.5, 0.25, -0.0], sample_weight=[1, 2, 1, 1])
    lowest = result.roc.thresholds[-1]
    assert lowest == 0.0 and math.copysign(1.0, lowest) == 1.0


def test_results_are_immutable() -> None:
    result = evaluate_binary(LABELS, SCORES)
    for part, name in [
        (result.confusion, "threshold"),
        (result.threshold_table, "thresholds"),
        (result.calibration, "count"),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, name, None)


def test_calibration_takes_up_to_ten_thousand_bins() -> None:
    assert len(evaluate_binary(LABELS, SCORES, calibration_bins=10_000).calibration.count) == 5
    with pytest.raises(InvalidInputError, match=r"calibration_bins must be .*10000, got 10001"):
        evaluate_binary(LABELS, SCORES, calibration_bins=10_001)


@pytest.mark.parametrize("name", ["calibration_bins", "max_curve_points"])
def test_a_setting_that_is_not_a_whole_number_is_named(name: str) -> None:
    with pytest.raises(InvalidInputError, match=f"{name} must be a whole number"):
        evaluate_binary(LABELS, SCORES, **{name: "10"})
