"""Multiclass classification: accuracy, log loss, one-vs-rest AUROC, averaged F1, confusion.

``y_score`` is an (n, k) matrix of class probabilities whose columns follow ``labels`` (or the
sorted classes of ``y_true``). The predicted class of a row is its most probable column (the
first one on a tie). Each class is also scored one-vs-rest, as a binary problem, with
:class:`~aimops.monitors.evaluation.binary.RankedScores`; the averages are those of scikit-learn:
macro is the plain mean over classes, weighted is the mean weighted by each class's support,
and micro pools every (row, class) cell into one binary problem. Results equal scikit-learn's
to 1e-9.

Example:
    >>> result = evaluate_multiclass(
    ...     ["cat", "dog", "owl", "cat"],
    ...     [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.4, 0.5, 0.1]],
    ... )
    >>> result.metrics["accuracy"], result.metrics["auroc_macro"]
    (0.75, 1.0)
    >>> result.confusion.matrix[0]
    (1.0, 1.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aimops.errors import InvalidDataError
from aimops.monitors.evaluation.binary import (
    ConfusionMatrix,
    RankedScores,
    areas,
    clipped_log_likelihood,
)
from aimops.monitors.evaluation.result import EvaluationResult, rounded
from aimops.monitors.inputs import (
    EXAMPLES,
    FloatArray,
    as_1d,
    categories,
    class_names,
    probability_matrix,
    same_length,
    sample_weights,
)

IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class ClassMetrics:
    """One class against the rest: precision, recall and F1 of the argmax, support, AUROC."""

    name: str
    precision: float
    recall: float
    f1: float
    support: float
    auroc: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.name,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "auroc": self.auroc,
        }


@dataclass(frozen=True, kw_only=True)
class MulticlassEvaluation(EvaluationResult):
    """A multiclass evaluation: metrics, the k x k confusion matrix and per-class metrics."""

    kind = "multiclass"
    classes: tuple[str, ...]
    confusion: ConfusionMatrix
    per_class: tuple[ClassMetrics, ...]

    def details(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "confusion": self.confusion.to_dict(),
            "per_class": [metrics.to_dict() for metrics in self.per_class],
        }


def evaluate_multiclass(
    y_true: Any,
    y_score: Any,
    *,
    sample_weight: Any = None,
    labels: Any = None,
    label: str | None = None,
) -> MulticlassEvaluation:
    """Evaluate class probabilities ``y_score`` (n rows, one column per class) against ``y_true``.

    ``labels`` names the columns in order; without it they are the sorted classes of
    ``y_true`` (ints or strings). Every class must occur in ``y_true``. ``metrics`` holds
    ``accuracy``, ``log_loss``, ``auroc_macro``, ``auroc_weighted``, ``auroc_micro`` and
    ``precision``, ``recall``, ``f1`` each with ``_macro``, ``_micro`` and ``_weighted``;
    support is the (weighted) number of rows of a class. Bad input raises InvalidDataError.
    """
    classes, codes = _class_codes(y_true, labels)
    scores = probability_matrix(y_score)
    names = class_names(classes.tolist())
    if scores.shape[1] != len(names):
        raise InvalidDataError(
            f"y_score has {scores.shape[1]} column(s) but there are {len(names)} classes "
            f"{names[: EXAMPLES * 2]}: give one column per class, in the order of labels "
            "(or of the sorted classes of y_true)"
        )
    same_length(y_true=codes, y_score=scores)
    weights = sample_weights(sample_weight, len(codes))
    counts = _confusion_counts(codes, scores.argmax(axis=1), weights, len(names))
    _require_weight_per_class(counts.sum(axis=1), names)
    aurocs = _one_vs_rest_aurocs(codes, scores, weights)
    per_class, averages = _precision_recall_f1(counts)
    support = counts.sum(axis=1)
    metrics = {
        "accuracy": float(np.trace(counts) / counts.sum()),
        "log_loss": _log_loss(codes, scores, weights),
        "auroc_macro": float(aurocs.mean()),
        "auroc_weighted": float(np.average(aurocs, weights=support)),
        "auroc_micro": _auroc_micro(codes, scores, weights),
        **averages,
    }
    return MulticlassEvaluation(
        metrics=rounded(metrics),
        n=len(codes),
        weighted=weights is not None,
        label=label,
        classes=tuple(names),
        confusion=ConfusionMatrix(
            labels=tuple(names), matrix=tuple(tuple(row) for row in counts.tolist())
        ),
        per_class=tuple(
            ClassMetrics(
                name=name,
                precision=float(per_class["precision"][index]),
                recall=float(per_class["recall"][index]),
                f1=float(per_class["f1"][index]),
                support=float(support[index]),
                auroc=float(aurocs[index]),
            )
            for index, name in enumerate(names)
        ),
    )


def _class_codes(y_true: Any, labels: Any) -> tuple[npt.NDArray[Any], IntArray]:
    """The classes in column order and each row's class as a column index."""
    present, codes = categories(y_true, "y_true")
    classes, codes = (present, codes) if labels is None else _in_label_order(present, codes, labels)
    if len(classes) < 2:
        raise InvalidDataError(
            f"y_true holds a single class: all {len(codes)} label(s) are "
            f"{class_names(present.tolist())[0]!r}; a multiclass evaluation needs at least two"
        )
    return classes, codes


def _in_label_order(
    present: npt.NDArray[Any], codes: IntArray, labels: Any
) -> tuple[npt.NDArray[Any], IntArray]:
    """``labels`` as the classes, and the rows' classes as positions in it."""
    classes = _ordered_labels(labels)
    column = {value: index for index, value in enumerate(classes.tolist())}
    unknown = [value for value in present.tolist() if value not in column]
    if unknown:
        raise InvalidDataError(
            f"y_true holds {len(unknown)} class(es) that are not in labels, "
            f"e.g. {unknown[:EXAMPLES]}"
        )
    seen = set(present.tolist())
    absent = [value for value in column if value not in seen]
    if absent:
        raise InvalidDataError(
            f"{len(absent)} class(es) of labels never occur in y_true, e.g. "
            f"{class_names(absent[:EXAMPLES])}: one-vs-rest AUROC and recall need every class"
        )
    return classes, np.array([column[value] for value in present.tolist()])[codes]


def _ordered_labels(labels: Any) -> npt.NDArray[Any]:
    """``labels`` in the order given, each class once."""
    ordered = as_1d(labels, "labels")
    distinct, codes = categories(ordered, "labels")
    repeated = distinct[np.bincount(codes) > 1]
    if repeated.size:
        raise InvalidDataError(
            f"labels must name each class once; {repeated.size} class(es) are repeated, "
            f"e.g. {class_names(repeated[:EXAMPLES].tolist())}"
        )
    return ordered


def _confusion_counts(
    actual: IntArray, predicted: IntArray, weights: FloatArray | None, k: int
) -> FloatArray:
    """(k, k) weight of the rows of each actual class (row) predicted as each class (column)."""
    cells = np.bincount(actual * k + predicted, weights=weights, minlength=k * k)
    return cells.astype(np.float64).reshape(k, k)


def _require_weight_per_class(support: FloatArray, names: list[str]) -> None:
    empty = [name for name, weight in zip(names, support, strict=True) if weight <= 0]
    if empty:
        raise InvalidDataError(
            f"sample_weight gives {len(empty)} class(es) no weight, e.g. {empty[:EXAMPLES]}: "
            "every class needs some for its one-vs-rest AUROC"
        )


def _one_vs_rest_aurocs(
    codes: IntArray, scores: FloatArray, weights: FloatArray | None
) -> FloatArray:
    columns = np.ascontiguousarray(scores.T)  # each class's scores contiguous, for sorting
    return np.array(
        [
            _auroc((codes == index).astype(np.float64), column, weights)
            for index, column in enumerate(columns)
        ]
    )


def _auroc_micro(codes: IntArray, scores: FloatArray, weights: FloatArray | None) -> float:
    """AUROC of every (row, class) cell pooled, as sklearn's ``average="micro"``."""
    rows, k = scores.shape
    one_hot = np.zeros((rows, k))
    one_hot[np.arange(rows), codes] = 1.0
    pooled_weights = None if weights is None else np.repeat(weights, k)
    return _auroc(one_hot.reshape(-1), scores.reshape(-1), pooled_weights)


def _auroc(labels: FloatArray, scores: FloatArray, weights: FloatArray | None) -> float:
    """Area under the ROC curve of one binary problem, as
    :func:`~aimops.monitors.evaluation.binary.areas`."""
    ranked = RankedScores(labels, scores, weights)
    auroc, _ = areas(ranked.tps, ranked.fps)
    return auroc


def _precision_recall_f1(
    counts: FloatArray,
) -> tuple[dict[str, FloatArray], dict[str, float]]:
    """Per-class precision, recall and F1 (0 where undefined) and their three averages."""
    hits = np.diag(counts)
    predicted, actual = counts.sum(axis=0), counts.sum(axis=1)
    per_class = {
        "precision": _divide(hits, predicted),
        "recall": _divide(hits, actual),
        "f1": _divide(2.0 * hits, predicted + actual),
    }
    pooled = {
        "precision": hits.sum() / predicted.sum(),
        "recall": hits.sum() / actual.sum(),
        "f1": 2.0 * hits.sum() / (predicted.sum() + actual.sum()),
    }
    averages: dict[str, float] = {}
    for name, values in per_class.items():
        averages[f"{name}_macro"] = float(values.mean())
        averages[f"{name}_micro"] = float(pooled[name])
        averages[f"{name}_weighted"] = float(np.average(values, weights=actual))
    return per_class, averages


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _log_loss(codes: IntArray, scores: FloatArray, weights: FloatArray | None) -> float:
    """Mean negative log-probability of the true class, clipped as sklearn clips it."""
    true_class = scores[np.arange(len(codes)), codes]
    return float(-np.average(clipped_log_likelihood(true_class), weights=weights))
