"""Multiclass evaluation equals scikit-learn's metrics and refuses bad input clearly."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sk

from aimops.errors import InvalidDataError
from aimops.monitors import MulticlassEvaluation, evaluate_multiclass

NAMES = ("ant", "bee", "cat", "dog", "eel")
SCORES = [[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]]
TRUTH = ["a", "b", "c", "b"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[Any]]:
    """Labels with every class present, probability rows with many ties, optional weights."""
    k = draw(st.integers(2, 5))
    n = draw(st.integers(k, 40))
    extra = draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    codes = np.array(draw(st.permutations(list(range(k)) + extra)))
    counts = draw(arrays(np.int64, (n, k), elements=st.integers(0, 3)))
    counts[counts.sum(axis=1) == 0, 0] = 1
    scores = counts / counts.sum(axis=1, keepdims=True)
    weights = draw(
        st.none() | arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.25]))
    )
    if weights is not None:
        assume(all(weights[codes == c].sum() > 0 for c in range(k)))
    classes: list[Any] = list(NAMES[:k]) if draw(st.booleans()) else list(range(10, 10 + k))
    return np.array(classes)[codes], scores, weights, classes


def _is_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _is_plain_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_plain_json(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


def _sklearn_metrics(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None, classes: list[Any]
) -> dict[str, float]:
    predicted = np.array(classes)[scores.argmax(axis=1)]
    one_hot = (y[:, None] == np.array(classes)[None, :]).astype(int)
    expected = {
        "accuracy": sk.accuracy_score(y, predicted, sample_weight=weights),
        "log_loss": sk.log_loss(y, y_proba=scores, labels=classes, sample_weight=weights),
        "auroc_micro": sk.roc_auc_score(one_hot, scores, average="micro", sample_weight=weights),
    }
    for average in ("macro", "weighted"):
        # sklearn takes two classes as a binary problem; one-vs-rest on the indicator matrix
        # is the same computation for any number of classes.
        expected[f"auroc_{average}"] = sk.roc_auc_score(
            one_hot, scores, average=average, sample_weight=weights
        )
    if len(classes) > 2:
        ovr = sk.roc_auc_score(y, scores, multi_class="ovr", labels=classes, sample_weight=weights)
        assert expected["auroc_macro"] == pytest.approx(ovr, abs=1e-12)
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = sk.precision_recall_fscore_support(
            y, predicted, labels=classes, average=average, sample_weight=weights, zero_division=0
        )
        expected |= {
            f"precision_{average}": precision,
            f"recall_{average}": recall,
            f"f1_{average}": f1,
        }
    return expected


@settings(max_examples=60, deadline=None)
@given(cases())
def test_metrics_equal_sklearn(case: tuple[np.ndarray, np.ndarray, Any, list[Any]]) -> None:
    y, scores, weights, classes = case
    result = evaluate_multiclass(y, scores, sample_weight=weights)

    expected = _sklearn_metrics(y, scores, weights, classes)
    assert set(result.metrics) == set(expected)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert result.classes == tuple(str(c) for c in classes)
    assert result.weighted is (weights is not None)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_confusion_and_per_class_equal_sklearn(
    case: tuple[np.ndarray, np.ndarray, Any, list[Any]],
) -> None:
    y, scores, weights, classes = case
    result = evaluate_multiclass(y, scores, sample_weight=weights)

    predicted = np.array(classes)[scores.argmax(axis=1)]
    matrix = sk.confusion_matrix(y, predicted, labels=classes, sample_weight=weights)
    np.testing.assert_allclose(result.confusion.matrix, matrix, atol=1e-9)
    assert result.confusion.labels == result.classes
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y, predicted, labels=classes, sample_weight=weights, zero_division=0
    )
    for index, (metrics, value) in enumerate(zip(result.per_class, classes, strict=True)):
        auroc = sk.roc_auc_score(y == value, scores[:, index], sample_weight=weights)
        assert metrics.name == str(value)
        assert metrics.precision == pytest.approx(precision[index], abs=1e-9)
        assert metrics.recall == pytest.approx(recall[index], abs=1e-9)
        assert metrics.f1 == pytest.approx(f1[index], abs=1e-9)
        assert metrics.support == pytest.approx(support[index], abs=1e-9)
        assert metrics.auroc == pytest.approx(auroc, abs=1e-9)
    document = result.to_dict()
    assert _is_plain_json(document)
    json.dumps(document, allow_nan=False)


def test_document_shape() -> None:
    result = evaluate_multiclass(TRUTH, SCORES, label="v2")

    document = result.to_dict()
    assert isinstance(result, MulticlassEvaluation)
    assert list(document) == [
        "kind",
        "label",
        "n",
        "weighted",
        "metrics",
        "classes",
        "confusion",
        "per_class",
    ]
    assert (document["kind"], document["label"], document["n"]) == ("multiclass", "v2", 4)
    assert document["classes"] == ["a", "b", "c"]
    assert document["confusion"] == {
        "labels": ["a", "b", "c"],
        "matrix": [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        "threshold": None,
        "actual": [1.0, 2.0, 1.0],
        "predicted": [2.0, 1.0, 1.0],
    }
    assert document["per_class"][1] == {
        "class": "b",
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2.0,
        "auroc": 0.625,
    }


def test_labels_set_the_column_order() -> None:
    order = [2, 0, 1]
    reordered = evaluate_multiclass(TRUTH, np.array(SCORES)[:, order], labels=["c", "a", "b"])
    natural = evaluate_multiclass(TRUTH, SCORES)

    assert reordered.classes == ("c", "a", "b")
    assert reordered.metrics == pytest.approx(natural.metrics, abs=1e-12)
    assert [m.name for m in reordered.per_class] == ["c", "a", "b"]
    assert reordered.per_class[0] == natural.per_class[2]
    assert reordered.confusion.matrix[0] == (1.0, 0.0, 0.0)  # actual c, predicted c


def test_integer_classes_and_rows_within_the_tolerance() -> None:
    scores = np.array(SCORES) + np.array([5e-7, 0.0, 0.0])
    result = evaluate_multiclass([3, 7, 9, 7], scores)

    assert result.classes == ("3", "7", "9")
    assert result.metrics["accuracy"] == 0.75


def test_certain_wrong_and_right_answers_are_clipped_as_sklearn_clips_them() -> None:
    # The first row gives its true class (a) probability 0, the second its (b) 1.
    scores = [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]]
    result = evaluate_multiclass(TRUTH, scores)

    eps = np.finfo(np.float64).eps
    expected = -np.mean(np.log([eps, 1.0 - eps, 0.6, 0.5]))
    assert result.metrics["log_loss"] == pytest.approx(expected, rel=1e-12)
    assert result.metrics["log_loss"] == pytest.approx(sk.log_loss(TRUTH, scores), rel=1e-12)


def _refused(match: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(InvalidDataError, match=match):
        evaluate_multiclass(*args, **kwargs)


def test_lengths_that_differ_are_named() -> None:
    _refused(r"y_true has 3, y_score has 4 value", TRUTH[:3], SCORES)


def test_scores_with_nan_or_infinity_are_counted() -> None:
    scores = np.array(SCORES)
    scores[1, 0], scores[2, 2] = np.nan, np.inf
    _refused(r"y_score must be finite; 2 of 12 value\(s\) are NaN or infinite", TRUTH, scores)


def test_scores_that_are_not_probabilities_are_counted() -> None:
    scores = np.array(SCORES)
    scores[0] = [1.5, -0.3, -0.2]
    _refused(
        r"y_score must be probabilities in \[0, 1\]; 3 of 12 value\(s\) are outside", TRUTH, scores
    )
    _refused(
        r"rows must each sum to 1 \(within 1e-06\); 2 of 4 row\(s\) do not, e.g. row\(s\) \[1, 3\]",
        TRUTH,
        np.array(SCORES) * [[1.0], [0.9], [1.0], [1.1]],
    )


def test_scores_of_the_wrong_shape_are_refused() -> None:
    _refused(r"y_score must be an \(n, k\) matrix .* shape \(4,\)", TRUTH, [0.1, 0.2, 0.3, 0.4])
    _refused(
        r"y_score has 2 column\(s\) but there are 3 classes \['a', 'b', 'c'\]",
        TRUTH,
        [[0.5, 0.5]] * 4,
    )


def test_a_single_class_or_nothing_is_refused() -> None:
    _refused(
        r"y_true holds 1 class\(es\) that are not in labels, e.g. \['b'\]",
        ["a", "b"],
        [[1.0]] * 2,
        labels=["a"],
    )
    _refused(
        r"y_true holds a single class: all 2 label\(s\) are '7'", [7, 7], [[1.0]] * 2, labels=[7]
    )
    _refused(r"y_true holds a single class: all 3 label\(s\) are 'a'", ["a"] * 3, [[1.0]] * 3)
    _refused(r"y_true is empty", [], np.empty((0, 3)))
    _refused(r"y_score is empty", TRUTH, np.empty((4, 0)))


def test_labels_and_classes_that_do_not_match_are_named() -> None:
    four = [[0.25] * 4] * 4
    _refused(
        r"1 class\(es\) of labels never occur in y_true, e.g. \['d'\]",
        TRUTH,
        four,
        labels=["a", "b", "c", "d"],
    )
    _refused(
        r"y_true holds 1 class\(es\) that are not in labels, e.g. \['c'\]",
        TRUTH,
        [[0.5, 0.5]] * 4,
        labels=["a", "b"],
    )
    _refused(
        r"labels must name each class once; 1 class\(es\) are repeated, e.g. \['a'\]",
        TRUTH,
        four,
        labels=["a", "b", "c", "a"],
    )


def test_missing_or_mixed_classes_are_refused() -> None:
    _refused(
        r"y_true must not have missing values; 2 of 4 value\(s\) are missing .* positions \[1, 3\]",
        ["a", None, "c", float("nan")],
        SCORES,
    )
    mixed = np.array(["a", 1, "c", "b"], dtype=object)
    _refused(r"y_true mixes values that cannot be sorted together \(int, str\)", mixed, SCORES)


def test_bad_weights_are_refused() -> None:
    _refused(r"sample_weight has 3, y_true has 4", TRUTH, SCORES, sample_weight=[1, 1, 1])
    _refused(
        r"sample_weight must not be negative; 1 value", TRUTH, SCORES, sample_weight=[1, -1, 1, 1]
    )
    _refused(
        r"sample_weight gives 1 class\(es\) no weight, e.g. \['c'\]",
        TRUTH,
        SCORES,
        sample_weight=[1, 1, 0, 1],
    )
