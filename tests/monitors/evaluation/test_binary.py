"""Binary evaluation equals scikit-learn's, keeps curves small and refuses bad input clearly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

import aimops
from aimops.errors import InvalidDataError
from aimops.monitors import BinaryEvaluation, evaluate_binary, record_evaluation
from aimops.monitors.evaluation.binary import TABLE_THRESHOLDS, areas, clipped_log_likelihood

#: Score values that land exactly on the threshold table's thresholds (k / 100), the extremes
#: and -0.0, so that ties and ">=" at a threshold are exercised on most examples.
LEVELS = [*(np.arange(101) / 100).tolist(), -0.0, 0.125, 0.3333, 0.999, 1e-17]
WEIGHTS = [0.0, 0.5, 1.0, 2.5, 7.25]
LARGE = 1_000_000  # max_curve_points that keeps every point of the small examples


@dataclass(frozen=True)
class Case:
    """Labels as given (int, bool, int8 or float with -0.0), scores, optional weights."""

    y: np.ndarray
    scores: np.ndarray
    weights: np.ndarray | None
    threshold: float

    @property
    def y01(self) -> np.ndarray:
        """The labels as scikit-learn gets them: plain 0/1 integers."""
        return (np.asarray(self.y) == 1).astype(int)

    @property
    def scores64(self) -> np.ndarray:
        return self.scores.astype(np.float64)


@st.composite
def cases(draw: st.DrawFn, weighted: bool | None = None) -> Case:
    """Both classes present, scores from a few rounded values (many ties), maybe weights."""
    n = draw(st.integers(2, 50))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    y[:2] = draw(st.permutations([0, 1]))
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=6, unique=True))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    scores = np.array(draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)), dtype)
    weights = None
    if weighted is None:
        weighted = draw(st.booleans())
    if weighted:
        weights = draw(arrays(np.float64, n, elements=st.sampled_from(WEIGHTS)))
        assume(weights[y == 1].sum() > 0 and weights[y == 0].sum() > 0)
    kind = draw(st.sampled_from(["int", "bool", "int8", "float"]))
    labels: np.ndarray = {
        "int": y,
        "bool": y.astype(bool),
        "int8": y.astype(np.int8),
        "float": np.where(y == 1, 1.0, np.where(np.arange(n) % 2, -0.0, 0.0)),
    }[kind]
    threshold = draw(st.sampled_from(levels) | st.floats(0.0, 1.0))
    return Case(labels, scores, weights, abs(threshold))


def _is_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _is_plain_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_plain_json(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


def _assert_close(got: Any, expected: Any, where: str = "") -> None:
    """Equal documents, numbers within 1e-12."""
    if isinstance(expected, dict):
        assert list(got) == list(expected), where
        for key, value in expected.items():
            _assert_close(got[key], value, f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for index, (item, value) in enumerate(zip(got, expected, strict=True)):
            _assert_close(item, value, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-12), where
    else:
        assert got == expected, where


# -- equal to scikit-learn --------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(cases())
def test_metrics_equal_sklearn(case: Case) -> None:
    result = evaluate_binary(
        case.y, case.scores, sample_weight=case.weights, threshold=case.threshold
    )

    y, w = case.y01, case.weights
    predicted = case.scores64 >= case.threshold
    # sklearn computes log loss and Brier of float32 probabilities in float32 (and clips at
    # float32's eps): the same values as float64 are the like-for-like reference.
    expected = {
        "auroc": sk.roc_auc_score(y, case.scores, sample_weight=w),
        "aupr": sk.average_precision_score(y, case.scores, sample_weight=w),
        "log_loss": sk.log_loss(y, case.scores64, sample_weight=w),
        "brier": sk.brier_score_loss(y, case.scores64, sample_weight=w),
        "accuracy": sk.accuracy_score(y, predicted, sample_weight=w),
        "precision": sk.precision_score(y, predicted, sample_weight=w, zero_division=0),
        "recall": sk.recall_score(y, predicted, sample_weight=w, zero_division=0),
        "f1": sk.f1_score(y, predicted, sample_weight=w, zero_division=0),
    }
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-9), name
    tn, fp, fn, tp = sk.confusion_matrix(y, predicted, sample_weight=w, labels=[0, 1]).ravel()
    np.testing.assert_allclose(result.confusion.matrix, [[tn, fp], [fn, tp]], atol=1e-9)
    assert result.metrics["fpr"] == pytest.approx(fp / (fp + tn), abs=1e-9)
    assert result.metrics["ppr"] == pytest.approx((tp + fp) / (tp + fp + tn + fn), abs=1e-9)
    assert result.metrics["positives"] == pytest.approx(tp + fn, abs=1e-9)
    assert result.metrics["negatives"] == pytest.approx(tn + fp, abs=1e-9)
    assert result.confusion.threshold == case.threshold
    assert (result.n, result.weighted) == (len(y), w is not None)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_full_curves_equal_sklearn(case: Case) -> None:
    result = evaluate_binary(
        case.y, case.scores, sample_weight=case.weights, max_curve_points=LARGE
    )

    fpr, tpr, roc_thresholds = sk.roc_curve(
        case.y01, case.scores, sample_weight=case.weights, drop_intermediate=False
    )
    # The stored ROC curve starts at (0, 0) with no threshold, where sklearn's has inf.
    assert result.roc.thresholds[0] is None and roc_thresholds[0] == np.inf
    np.testing.assert_allclose(result.roc.x, fpr, atol=1e-12)
    np.testing.assert_allclose(result.roc.y, tpr, atol=1e-12)
    np.testing.assert_array_equal(result.roc.thresholds[1:], roc_thresholds[1:])
    assert result.roc.full_points == len(fpr)
    assert result.roc.trapezoid_area() == pytest.approx(result.metrics["auroc"], abs=1e-12)

    precision, recall, pr_thresholds = sk.precision_recall_curve(
        case.y01, case.scores, sample_weight=case.weights
    )
    # sklearn's PR curve runs from the lowest threshold and ends at (recall 0, precision 1);
    # the stored one starts there, with no threshold, and runs from the highest.
    assert result.pr.thresholds[0] is None
    np.testing.assert_allclose(result.pr.x, recall[::-1], atol=1e-12)
    np.testing.assert_allclose(result.pr.y, precision[::-1], atol=1e-12)
    np.testing.assert_array_equal(result.pr.thresholds[1:], pr_thresholds[::-1])
    assert result.pr.full_points == len(precision)
    assert result.pr.step_area() == pytest.approx(result.metrics["aupr"], abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(cases(weighted=True))
def test_areas_of_running_sums_equal_sklearn_with_points_of_no_weight(case: Case) -> None:
    """Running sums at every distinct score, rows of zero weight kept (as a bootstrap has)."""
    weights = case.weights
    assert weights is not None
    order = np.argsort(-case.scores64, kind="stable")
    ordered = case.scores64[order]
    ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1)
    positive = (case.y01 * weights)[order]
    tps = np.cumsum(positive)[ends]
    fps = np.cumsum(weights[order] - positive)[ends]

    auroc, aupr = areas(tps, fps)

    assert auroc == pytest.approx(
        sk.roc_auc_score(case.y01, case.scores64, sample_weight=weights), abs=1e-12
    )
    assert aupr == pytest.approx(
        sk.average_precision_score(case.y01, case.scores64, sample_weight=weights), abs=1e-12
    )


def test_log_likelihood_is_clipped_as_sklearn_clips_it() -> None:
    eps = np.finfo(np.float64).eps
    found = clipped_log_likelihood(np.array([0.0, 1e-300, 0.25, 1.0]))

    np.testing.assert_array_equal(found, np.log([eps, eps, 0.25, 1.0 - eps]))
    assert evaluate_binary([1, 0], [0.0, 1.0]).metrics["log_loss"] == pytest.approx(
        sk.log_loss([1, 0], [0.0, 1.0]), rel=1e-12
    )


@settings(max_examples=100, deadline=None)
@given(cases())
def test_every_row_of_the_threshold_table_equals_sklearn(case: Case) -> None:
    table = evaluate_binary(case.y, case.scores, sample_weight=case.weights).threshold_table

    assert table.thresholds == tuple(TABLE_THRESHOLDS.tolist())
    assert table.thresholds[:3] == (0.0, 0.01, 0.02) and table.thresholds[-1] == 0.99
    columns = {name: np.array(values) for name, values in table.columns.items()}
    matrices: dict[bytes, np.ndarray] = {}  # sklearn's, once per distinct prediction
    for row, threshold in enumerate(table.thresholds):
        predicted = case.scores64 >= threshold
        if predicted.tobytes() not in matrices:
            matrices[predicted.tobytes()] = sk.confusion_matrix(
                case.y01, predicted, sample_weight=case.weights, labels=[0, 1]
            )
        tn, fp, fn, tp = matrices[predicted.tobytes()].ravel()
        got = [columns[name][row] for name in ("tn", "fp", "fn", "tp")]
        np.testing.assert_allclose(got, [tn, fp, fn, tp], atol=1e-9, err_msg=f"at {threshold}")
    tp, fp, tn, fn = (columns[name] for name in ("tp", "fp", "tn", "fn"))
    np.testing.assert_allclose(columns["recall"], tp / (tp + fn), atol=1e-12)
    np.testing.assert_allclose(columns["fpr"], fp / (fp + tn), atol=1e-12)
    np.testing.assert_allclose(columns["f1"], 2 * tp / (2 * tp + fp + fn), atol=1e-12)
    np.testing.assert_allclose(columns["ppr"], (tp + fp) / (tp + fp + tn + fn), atol=1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)  # 0 where nothing is positive
    np.testing.assert_allclose(columns["precision"], precision, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(cases(weighted=False), st.integers(1, 12))
def test_calibration_equals_sklearn(case: Case, bins: int) -> None:
    result = evaluate_binary(case.y, case.scores, calibration_bins=bins)

    fraction, mean = calibration_curve(case.y01, case.scores, n_bins=bins)
    np.testing.assert_allclose(result.calibration.fraction_positive, fraction, atol=1e-9)
    np.testing.assert_allclose(result.calibration.mean_predicted, mean, atol=1e-9)
    bin_of = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], case.scores64)
    counts = np.bincount(bin_of, minlength=bins)
    assert result.calibration.count == tuple(float(c) for c in counts[counts > 0])


@settings(max_examples=50, deadline=None)
@given(cases(weighted=True))
def test_weighted_calibration_is_the_weighted_share(case: Case) -> None:
    result = evaluate_binary(case.y, case.scores, sample_weight=case.weights, calibration_bins=5)

    w = case.weights
    assert w is not None
    bin_of = np.searchsorted(np.linspace(0, 1, 6)[1:-1], case.scores64)
    weight = np.bincount(bin_of, weights=w, minlength=5)
    kept = weight > 0
    positive = np.bincount(bin_of, weights=w * case.y01, minlength=5)[kept] / weight[kept]
    mean = np.bincount(bin_of, weights=w * case.scores64, minlength=5)[kept] / weight[kept]
    np.testing.assert_allclose(result.calibration.count, weight[kept], atol=1e-9)
    np.testing.assert_allclose(result.calibration.fraction_positive, positive, atol=1e-9)
    np.testing.assert_allclose(result.calibration.mean_predicted, mean, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(cases(weighted=False), st.lists(st.integers(1, 3), min_size=50, max_size=50))
def test_whole_weights_equal_repeated_rows(case: Case, repeats: list[int]) -> None:
    """The argsort path (weights) and the packed-key path (none) agree with each other."""
    times = np.array(repeats[: len(case.scores)])
    weighted = evaluate_binary(
        case.y, case.scores, sample_weight=times.astype(float), max_curve_points=LARGE
    )
    repeated = evaluate_binary(
        np.repeat(case.y, times), np.repeat(case.scores, times), max_curve_points=LARGE
    )

    _assert_close(weighted.to_dict() | {"weighted": False}, repeated.to_dict() | {"n": len(times)})
    ones = evaluate_binary(case.y, case.scores, sample_weight=np.ones(len(case.scores)))
    assert ones.to_dict() | {"weighted": False} == evaluate_binary(case.y, case.scores).to_dict()


def test_zero_weights_add_no_point_to_the_curves() -> None:
    y, scores = [0, 1, 0, 1], [0.95, 0.3, 0.6, 0.9]
    result = evaluate_binary(y, scores, sample_weight=[0, 1, 1, 1])

    assert result.roc.thresholds == (None, 0.9, 0.6, 0.3)
    assert result.roc.x == (0.0, 0.0, 1.0, 1.0)
    assert result.metrics["positives"] == 2.0 and result.metrics["negatives"] == 1.0


def test_negative_zero_scores_and_labels_are_zero() -> None:
    labels = np.array([-0.0, 1.0, 0.0, 1.0, -0.0])
    scores = np.array([-0.0, 0.0, 0.5, 0.5, 0.5])
    for weights in (None, np.ones(5)):
        result = evaluate_binary(labels, scores, sample_weight=weights, max_curve_points=LARGE)

        assert result.metrics["auroc"] == pytest.approx(sk.roc_auc_score([0, 1, 0, 1, 0], scores))
        assert result.metrics["auroc"] == pytest.approx(5 / 12)
        assert result.roc.thresholds == (None, 0.5, 0.0)
        assert str(result.roc.thresholds[-1]) == "0.0"  # not -0.0 in the stored document
        assert result.threshold_table.row(0.0)["tp"] == 2.0
        assert result.threshold_table.row(0.01)["fp"] == 2.0


# -- curves kept small ---------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(3, 30))
def test_thinned_curves_keep_their_ends_and_at_most_max_points(case: Case, points: int) -> None:
    full = evaluate_binary(case.y, case.scores, sample_weight=case.weights, max_curve_points=LARGE)
    thin = evaluate_binary(case.y, case.scores, sample_weight=case.weights, max_curve_points=points)

    assert thin.metrics == full.metrics
    for kept, every in ((thin.roc, full.roc), (thin.pr, full.pr)):
        assert len(kept.x) == len(kept.y) == len(kept.thresholds) <= points
        assert kept.full_points == every.full_points == len(every.x)
        assert (kept.x[0], kept.y[0], kept.thresholds[0]) == (every.x[0], every.y[0], None)
        assert kept.x[-1] == every.x[-1]
        assert set(zip(kept.x, kept.thresholds, strict=True)) <= set(
            zip(every.x, every.thresholds, strict=True)
        )
        assert list(kept.x) == sorted(kept.x)
    # ROC points are points of the full curve; a PR point's precision is the mean over the
    # thresholds it stands for, so that the stored curve keeps the average precision exactly.
    assert set(zip(thin.roc.x, thin.roc.y, strict=True)) <= set(
        zip(full.roc.x, full.roc.y, strict=True)
    )
    assert thin.pr.step_area() == pytest.approx(full.metrics["aupr"], abs=1e-12)
    if full.roc.full_points <= points:
        assert thin.roc == full.roc and thin.pr == full.pr


def _large_scores(rows: int, decimals: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = (rng.random(rows) < 0.2).astype(int)
    scores = np.where(y == 1, rng.beta(4, 2, rows), rng.beta(2, 4, rows))
    return y, scores if decimals is None else scores.round(decimals)


@pytest.mark.parametrize("decimals", [None, 4])
@pytest.mark.parametrize("points", [20, 100, 1000])
def test_thinned_areas_stay_close_on_a_large_input(decimals: int | None, points: int) -> None:
    y, scores = _large_scores(200_000, decimals)
    result = evaluate_binary(y, scores, max_curve_points=points)

    assert result.metrics["auroc"] == pytest.approx(sk.roc_auc_score(y, scores), abs=1e-9)
    assert result.metrics["aupr"] == pytest.approx(sk.average_precision_score(y, scores), abs=1e-9)
    for curve in (result.roc, result.pr):
        assert len(curve.x) <= points
        assert curve.full_points > points
        assert curve.x[-1] == 1.0
    assert result.roc.y[-1] == 1.0
    assert abs(result.roc.trapezoid_area() - result.metrics["auroc"]) <= 2 / points
    assert result.pr.step_area() == pytest.approx(result.metrics["aupr"], abs=1e-12)


# -- the document ------------------------------------------------------------------------------


def test_document_shape() -> None:
    result = evaluate_binary([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], label="v2")

    document = result.to_dict()
    assert isinstance(result, BinaryEvaluation)
    assert list(document) == [
        "kind",
        "label",
        "n",
        "weighted",
        "metrics",
        "threshold",
        "roc",
        "pr",
        "confusion",
        "threshold_table",
        "calibration",
    ]
    assert (document["kind"], document["label"], document["n"]) == ("binary", "v2", 4)
    assert document["roc"] == {
        "fpr": [0.0, 0.0, 0.5, 0.5, 1.0],
        "tpr": [0.0, 0.5, 0.5, 1.0, 1.0],
        "thresholds": [None, 0.8, 0.4, 0.35, 0.1],
        "full_points": 5,
    }
    assert document["pr"]["recall"] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert document["pr"]["precision"] == pytest.approx([1.0, 1.0, 0.5, 2 / 3, 0.5])
    assert document["confusion"]["matrix"] == [[2.0, 0.0], [1.0, 1.0]]
    assert document["calibration"] == {
        "mean_predicted": pytest.approx([0.1, 0.375, 0.8]),
        "fraction_positive": [0.0, 0.5, 1.0],
        "count": [1.0, 2.0, 1.0],
    }
    assert _is_plain_json(document)
    json.dumps(document, allow_nan=False)


# -- bad input -------------------------------------------------------------------------------


def _refused(match: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(InvalidDataError, match=match):
        evaluate_binary(*args, **kwargs)


def test_lengths_that_differ_are_named() -> None:
    _refused(r"inputs differ in length: y_true has 3, y_score has 4 value", [0, 1, 1], [0.5] * 4)
    _refused(r"sample_weight has 2, y_true has 3", [0, 1, 1], [0.5] * 3, sample_weight=[1, 1])


def test_labels_that_are_not_binary_are_counted() -> None:
    _refused(
        r"y_true must hold two classes \(0/1 or False/True\) for a binary evaluation; "
        r"3 value\(s\) are neither, e.g. \[-1, 2\]",
        [0, 1, 2, -1, 2],
        [0.5] * 5,
    )
    _refused(
        r"y_true must hold numbers; 1 of 3 value\(s\) are not, e.g. \['yes'\]",
        ["0", "1", "yes"],
        [0.5] * 3,
    )


def test_scores_with_nan_or_infinity_are_counted() -> None:
    _refused(
        r"y_score must be finite; 2 of 4 value\(s\) are NaN or infinite, e.g. \[nan, inf\]",
        [0, 1, 0, 1],
        [0.1, np.nan, np.inf, 0.5],
    )
    _refused(r"y_true must be finite; 1 of 3", [0.0, 1.0, np.nan], [0.5] * 3)
    _refused(
        r"y_score must be probabilities in \[0, 1\]; 2 of 3 value\(s\) are outside, "
        r"e.g. \[1.5, -0.2\]: rescale decision scores",
        [0, 1, 1],
        [1.5, -0.2, 0.3],
    )


def test_a_single_class_or_nothing_is_refused() -> None:
    _refused(
        r"y_true holds a single class: all 4 label\(s\) are positive \(1\)", [1] * 4, [0.2] * 4
    )
    _refused(r"all 2 label\(s\) are negative \(0\); AUROC and AUPR need both", [False] * 2, [0, 1])
    _refused(r"y_true is empty: there is nothing to evaluate", [], [])
    _refused(r"y_score is empty", [0, 1], np.empty(0))
    _refused(r"y_score must be one-dimensional, got an array of shape \(2, 2\)", [0, 1], np.eye(2))


def test_bad_weights_and_settings_are_refused() -> None:
    y, s = [0, 1, 0, 1], [0.2, 0.8, 0.4, 0.6]
    _refused(
        r"sample_weight must not be negative; 1 value\(s\) are, e.g. \[-1.0\]",
        y,
        s,
        sample_weight=[1, -1, 1, 1],
    )
    _refused(r"sample_weight must be finite; 1 of 4", y, s, sample_weight=[1, np.nan, 1, 1])
    _refused(r"sample_weight is zero everywhere", y, s, sample_weight=[0, 0, 0, 0])
    _refused(r"sample_weight gives the positive class no weight", y, s, sample_weight=[1, 0, 1, 0])
    _refused(r"sample_weight gives the negative class no weight", y, s, sample_weight=[0, 1, 0, 1])
    _refused(r"threshold must be within \[0, 1\], got 1.5", y, s, threshold=1.5)
    _refused(r"calibration_bins must be at least 1, got 0", y, s, calibration_bins=0)
    _refused(r"max_curve_points must be at least 3 .* got 2", y, s, max_curve_points=2)


def test_bad_input_leaves_nothing_to_record() -> None:
    store = aimops.connect("sqlite://")
    with pytest.raises(InvalidDataError, match="y_score must be finite"):
        record_evaluation(store, evaluate_binary([0, 1], [np.nan, 0.5]), key="bad/1")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM aim_entities").scalar() == 0


@pytest.mark.parametrize("scale", [1e-300, 1e-120, 1e120, 1e154, 1e300])
def test_extreme_but_finite_weights_give_the_same_finite_metrics(scale: float) -> None:
    import math

    from aimops.monitors.evaluation.binary import evaluate_binary

    rng = np.random.default_rng(3)
    labels, scores = rng.integers(0, 2, 400), rng.random(400)
    weights = rng.random(400) + 0.5
    plain = evaluate_binary(labels, scores, sample_weight=weights).to_dict()["metrics"]
    scaled = evaluate_binary(labels, scores, sample_weight=weights * scale).to_dict()["metrics"]
    for name, value in plain.items():
        assert math.isfinite(scaled[name]), name
        if name not in ("positives", "negatives"):  # weighted counts: in the largest's units
            assert scaled[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
