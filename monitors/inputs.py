"""Checking what an evaluation is given: lengths, label sets, finite scores, weights.

Every check raises :class:`~aimops.errors.InvalidDataError` saying which input is wrong, how
many values are wrong and a few examples, before anything is computed or recorded.

Example:
    >>> binary_labels([0, 1, 1]).tolist()
    [0.0, 1.0, 1.0]
    >>> binary_labels([0, 2])
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidDataError: y_true must hold two classes (0/1 or False/True) for a \
binary evaluation; 1 value(s) are neither, e.g. [2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError

FloatArray = npt.NDArray[np.float64]
EXAMPLES = 3
#: How far a row of class probabilities may sum from 1.
ROW_SUM_TOLERANCE = 1e-6


def _examples(values: npt.NDArray[Any]) -> list[Any]:
    return [value.item() if hasattr(value, "item") else value for value in values[:EXAMPLES]]


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def as_1d(values: Any, name: str) -> npt.NDArray[Any]:
    """``values`` as a one-dimensional array; anything else (a matrix, a scalar, rows of
    different lengths) is refused."""
    array = as_array(values, name)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise InvalidDataError(
            f"{name} must be one-dimensional, got an array of shape {array.shape}"
        )
    if array.size == 0:
        raise InvalidDataError(f"{name} is empty: there is nothing to evaluate")
    return array


def as_array(values: Any, name: str) -> npt.NDArray[Any]:
    """``values`` as a numpy array, or InvalidDataError when numpy cannot make one of them
    (rows of different lengths, say)."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(f"{name} cannot be read as an array: {exc}") from None


def finite_numbers(values: Any, name: str) -> FloatArray:
    """``values`` as float64; text, NaN and infinities are refused with a count and examples,
    and so are complex numbers, dates and durations, which float64 would silently mangle."""
    array = as_1d(values, name)
    if array.dtype.kind in "cmM":
        raise InvalidDataError(
            f"{name} must hold real numbers, not {array.dtype} values, e.g. {_examples(array)}"
        )
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            not_numbers = [value for value in array.tolist() if not _is_number(value)]
            raise InvalidDataError(
                f"{name} must hold numbers; {len(not_numbers)} of {array.size} value(s) are not, "
                f"e.g. {not_numbers[:EXAMPLES]}"
            ) from None
    numbers = np.asarray(array, dtype=np.float64)
    if numbers.dtype.kind == "f" and not np.isfinite(numbers.sum()):  # NaN and inf spread
        finite = np.isfinite(numbers)
        if not finite.all():
            bad = numbers[~finite]
            raise InvalidDataError(
                f"{name} must be finite; {bad.size} of {numbers.size} value(s) are NaN or "
                f"infinite, e.g. {_examples(bad)}"
            )
    return numbers


def same_length(**arrays: npt.NDArray[Any] | None) -> int:
    """The common length of the given arrays; differing lengths are named in the error."""
    lengths = {name: len(array) for name, array in arrays.items() if array is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise InvalidDataError(f"inputs differ in length: {described} value(s)")
    return next(iter(lengths.values()))


def binary_labels(y_true: Any, name: str = "y_true") -> FloatArray:
    """Labels of a binary evaluation as 0.0/1.0; other values and a single class are refused."""
    array = as_1d(y_true, name)
    labels = array.astype(np.float64) if array.dtype.kind == "b" else finite_numbers(array, name)
    positives = int(np.count_nonzero(labels == 1.0))
    negatives = int(np.count_nonzero(labels == 0.0))
    if positives + negatives != labels.size:
        bad = array[(labels != 0) & (labels != 1)]  # as given: 2, not 2.0
        raise InvalidDataError(
            f"{name} must hold two classes (0/1 or False/True) for a binary evaluation; "
            f"{bad.size} value(s) are neither, e.g. {_examples(np.unique(bad))}"
        )
    if positives in (0, labels.size):
        present = "positive (1)" if positives else "negative (0)"
        raise InvalidDataError(
            f"{name} holds a single class: all {labels.size} label(s) are {present}; "
            "AUROC and AUPR need both classes"
        )
    return labels


def probabilities(y_score: Any, name: str = "y_score") -> FloatArray:
    """Scores that must be probabilities in [0, 1] (log loss, Brier, the threshold table)."""
    scores = finite_numbers(y_score, name)
    if not (scores.min() >= 0.0 and scores.max() <= 1.0):
        bad = scores[(scores < 0.0) | (scores > 1.0)]
        raise InvalidDataError(
            f"{name} must be probabilities in [0, 1]; {bad.size} of {scores.size} value(s) are "
            f"outside, e.g. {_examples(bad)}: rescale decision scores first (a sigmoid will do)"
        )
    return scores


def sample_weights(weights: Any, length: int, name: str = "sample_weight") -> FloatArray | None:
    """Non-negative finite weights of the right length, not all zero; None stays None.

    Weights so large or so small that products of their sums would overflow or vanish (the
    largest beyond 1e100 or below 1e-100, or the largest times the smallest above 0 below
    1e-280) are divided by the largest: every metric is a ratio of weights, so none changes,
    and weighted counts are then in units of the largest weight.
    """
    if weights is None:
        return None
    array = finite_numbers(weights, name)
    same_length(**{name: array, "y_true": np.empty(length)})
    negative = array < 0
    if negative.any():
        raise InvalidDataError(
            f"{name} must not be negative; {int(negative.sum())} value(s) are, "
            f"e.g. {_examples(array[negative])}"
        )
    if not array.any():
        raise InvalidDataError(f"{name} is zero everywhere: nothing would be evaluated")
    return in_weight_range(array)


#: The range of the largest weight within which weights are used as given.
WEIGHT_RANGE = (1e-100, 1e100)
#: The smallest product of the largest and the smallest non-zero weight used as given.
SMALLEST_PRODUCT = 1e-280


def in_weight_range(weights: FloatArray) -> FloatArray:
    """``weights`` (non-negative, some above 0), divided by the largest when products of
    their sums could overflow or vanish (see :func:`sample_weights`).

    Example:
        >>> in_weight_range(np.array([1e-100, 5e-300])).tolist()
        [1.0, 5e-200]
    """
    largest = float(weights.max())
    smallest = float(weights[weights > 0].min())
    in_range = WEIGHT_RANGE[0] <= largest <= WEIGHT_RANGE[1]
    if in_range and largest * smallest >= SMALLEST_PRODUCT:
        return weights
    return weights / largest


def threshold_value(threshold: float, name: str = "threshold") -> float:
    """A decision threshold in [0, 1]."""
    try:
        return validation.real_number(threshold, name, minimum=0.0, maximum=1.0)
    except InvalidInputError as exc:
        raise InvalidDataError(str(exc)) from None


def class_names(labels: Sequence[Any]) -> list[str]:
    """Class labels as display text, in the order given."""
    return [str(label.item() if hasattr(label, "item") else label) for label in labels]


def categories(values: Any, name: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """The distinct values of ``values`` (classes, groups), sorted, and each value's position.

    Missing values (None, NaN, NaT) are refused with a count and where they are, and so are
    values that cannot be sorted together (numbers mixed with text in an object array).

    Example:
        >>> distinct, codes = categories(["b", "a", "b"], "y_true")
        >>> distinct.tolist(), codes.tolist()
        (['a', 'b'], [1, 0, 1])
    """
    array = as_1d(values, name)
    missing = _missing(array)
    if missing.any():
        positions = np.flatnonzero(missing)
        raise InvalidDataError(
            f"{name} must not have missing values; {positions.size} of {array.size} value(s) "
            f"are missing (None or NaN), e.g. at positions {positions[:EXAMPLES].tolist()}"
        )
    try:
        distinct, codes = np.unique(array, return_inverse=True)
    except TypeError:
        types = sorted({type(value).__name__ for value in array.tolist()})
        raise InvalidDataError(
            f"{name} mixes values that cannot be sorted together ({', '.join(types)}): "
            "give every value the same type"
        ) from None
    return distinct, codes.reshape(-1)


def _missing(array: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if array.dtype.kind in "fc":
        return np.asarray(np.isnan(array), dtype=np.bool_)
    if array.dtype.kind in "mM":
        return np.asarray(np.isnat(array), dtype=np.bool_)
    if array.dtype.kind == "O":
        return np.fromiter((_is_missing(value) for value in array), dtype=bool, count=array.size)
    return np.zeros(array.shape, dtype=bool)


def _is_missing(value: Any) -> bool:
    """None, or a value unequal to itself (NaN, NaT), or one that cannot be compared (pd.NA)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def probability_matrix(values: Any, name: str = "y_score") -> FloatArray:
    """An (n, k) matrix of class probabilities: finite, in [0, 1], each row summing to 1.

    A row may be off by ``ROW_SUM_TOLERANCE``; more is refused with how many rows are.

    Example:
        >>> probability_matrix([[0.2, 0.8], [0.5, 0.5]]).shape
        (2, 2)
        >>> probability_matrix([[0.25, 0.5], [0.5, 0.5]])
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidDataError: y_score's rows must each sum to 1 (within 1e-06); \
1 of 2 row(s) do not, e.g. row(s) [0] sum to [0.75]
    """
    matrix = as_array(values, name)
    if matrix.ndim != 2:
        raise InvalidDataError(
            f"{name} must be an (n, k) matrix of class probabilities, one column per class; "
            f"got an array of shape {matrix.shape}"
        )
    numbers = finite_numbers(matrix.reshape(-1), name).reshape(matrix.shape)
    outside = (numbers < 0.0) | (numbers > 1.0)
    if outside.any():
        raise InvalidDataError(
            f"{name} must be probabilities in [0, 1]; {int(outside.sum())} of {numbers.size} "
            f"value(s) are outside, e.g. {_examples(numbers[outside])}: apply a softmax to "
            "decision scores first"
        )
    sums = numbers.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if off.size:
        raise InvalidDataError(
            f"{name}'s rows must each sum to 1 (within {ROW_SUM_TOLERANCE:g}); {off.size} of "
            f"{len(numbers)} row(s) do not, e.g. row(s) {off[:EXAMPLES].tolist()} sum to "
            f"{_examples(sums[off])}"
        )
    return numbers


def frame_rows(frame: Any, role: str, *, rows_needed: bool = True) -> int:
    """The number of rows of ``frame``: a pandas DataFrame with columns, each named once, and
    with rows unless ``rows_needed`` is False (a check that says it had no data to judge).

    Example:
        >>> import pandas as pd
        >>> frame_rows(pd.DataFrame({"x": []}), "current", rows_needed=False)
        0
        >>> frame_rows(pd.DataFrame([[1, 2]], columns=["x", "x"]), "current")
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidDataError: current names column(s) ['x'] more than once: \
which one is meant cannot be told
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidDataError(f"{role} must be a pandas DataFrame, not {type(frame).__name__}")
    rows, width = frame.shape
    if not width or (rows_needed and not rows):
        raise InvalidDataError(f"{role} is empty ({rows} rows, {width} columns)")
    unique_columns(frame, role)
    return int(rows)


def unique_columns(frame: Any, role: str, names: Sequence[Any] | None = None) -> None:
    """Refuse a ``frame`` that names any of ``names`` (default: any column) more than once:
    ``frame[name]`` would then be a table, not a column."""
    repeated = frame.columns[frame.columns.duplicated()]
    found = [name for name in dict.fromkeys(repeated) if names is None or name in names]
    if found:
        raise InvalidDataError(
            f"{role} names column(s) {found} more than once: which one is meant cannot be told"
        )


def require_columns(frame: Any, names: Sequence[Any], role: str) -> None:
    """Refuse a ``frame`` that lacks any of ``names``, naming them all."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InvalidDataError(f"{role} lacks column(s) {missing}")


def is_real_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (not a bool, not NaN or infinite): a
    setting such as a threshold must be one.

    Example:
        >>> is_real_number(0.1), is_real_number(True), is_real_number(float("nan"))
        (True, False, False)
    """
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def distinct_as_text(names: Sequence[Any], role: str) -> None:
    """Refuse ``names`` of which two read the same as text (the columns ``1`` and ``"1"``): a
    result that names columns as text would hold one of them.

    Example:
        >>> distinct_as_text([1, "1", "a"], "the columns")
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidDataError: the columns [1, '1'] have the same name as text: \
rename one
    """
    by_text: dict[str, list[Any]] = {}
    for name in names:
        by_text.setdefault(str(name), []).append(name)
    for same in by_text.values():
        if len(same) > 1:
            raise InvalidDataError(f"{role} {same} have the same name as text: rename one")


#: Numbers larger than this (in magnitude) are divided by a power of two before sums,
#: squares and differences that would overflow (see :func:`overflow_safe_unit`).
LARGEST_UNSCALED = 1e100


def overflow_safe_unit(*arrays: npt.NDArray[np.float64]) -> float:
    """A power of two to divide these finite numbers by, so that their squares, sums and
    differences stay finite: 1.0 unless the largest magnitude exceeds
    :data:`LARGEST_UNSCALED`. Dividing by a power of two changes no digit, so ranks, ties,
    bins and every ratio stay exactly as they were.

    Example:
        >>> overflow_safe_unit(np.array([1.0, -3.0])), overflow_safe_unit(np.array([1e308]))
        (1.0, 8.98846567431158e+307)
    """
    largest = max((float(np.max(np.abs(array))) for array in arrays if array.size), default=0.0)
    if largest <= LARGEST_UNSCALED:
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)  # the numbers end up below 2


def holds_numbers(series: Any) -> bool:
    """Whether a pandas column holds numbers (booleans are categories, not numbers); a column
    of complex numbers is refused (comparing it as real numbers would drop a part of each).

    Example:
        >>> import pandas as pd
        >>> holds_numbers(pd.Series([1.5, 2.0])), holds_numbers(pd.Series([True, False]))
        (True, False)
        >>> holds_numbers(pd.Series([1 + 2j], name="z"))
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidDataError: column 'z' holds complex numbers: give its real and \
imaginary parts (or its magnitude) as columns of their own
    """
    from pandas.api import types

    if types.is_complex_dtype(series):
        raise InvalidDataError(
            f"column {series.name!r} holds complex numbers: give its real and imaginary parts "
            "(or its magnitude) as columns of their own"
        )
    return bool(types.is_numeric_dtype(series) and not types.is_bool_dtype(series))
