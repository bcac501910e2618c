"""One column of the reference and current data, prepared once for every drift method.

:func:`column_values` makes, from a column's present values in the reference (``ref``) and
current (``cur``) frame, either :class:`SortedNumbers` (numbers: each side sorted once, then
distinct counts, value counts, histogram counts, the reference's standard deviation and the
Wasserstein distance are all read off the two sorted runs) or :class:`CountedValues` (other
values: factorized per frame, then their distinct values matched). The method choice and the
methods in :mod:`aimops.monitors.checks.drift_methods` read what they need from it, so no column is
sorted, factorized or copied twice.

Example:
    >>> import numpy as np
    >>> values = column_values(np.array([3.0, 1.0, 2.0]), np.array([2.0, 2.0, 5.0]))
    >>> values.distinct_up_to(10), round(values.wasserstein_distance(), 4)
    (4, 1.0)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from aimops.errors import InvalidDataError
from aimops.monitors.inputs import overflow_safe_unit

Values = npt.NDArray[Any]
Counts = npt.NDArray[np.intp]
Floats = npt.NDArray[np.float64]

#: The Wasserstein distance walks the distinct values instead of merging every value when the
#: values outnumber the distinct values (counted per frame) at least this many times.
VALUES_PER_DISTINCT_TO_WALK = 8
#: The Wasserstein distance of two merged runs is summed this many values at a time.
MERGE_BLOCK = 1 << 15


class ColumnValues(ABC):
    """One column's present values in the reference (``ref``) and current (``cur``) frame.

    Prepared once per column; what the method choice and the methods derive from the values
    (distinct values, counts) is computed when first asked for and kept.
    """

    n_ref: int
    n_cur: int

    @abstractmethod
    def distinct_up_to(self, limit: int) -> int:
        """The number of distinct values in both together, or ``limit + 1`` if it is larger."""

    @abstractmethod
    def value_counts(self) -> tuple[Values, Counts, Counts]:
        """The distinct values of both together and how often each is in ``ref`` and ``cur``."""

    def numbers(self) -> SortedNumbers:
        """These values as numbers; an error when they are not."""
        raise InvalidDataError("this method needs numbers, and the column does not hold them")


class SortedNumbers(ColumnValues):
    """Finite numbers: ``ref`` and ``cur`` each sorted, side by side in ``both``, in units of
    ``unit``: a power of two, 1.0 unless the numbers are so large that their squares and sums
    would overflow (:func:`~aimops.monitors.inputs.overflow_safe_unit`)."""

    def __init__(self, ref: Values, cur: Values) -> None:
        """``ref`` and ``cur``: finite numbers in any order (copied; the arrays are not changed)."""
        self.n_ref, self.n_cur = len(ref), len(cur)
        self.unit = overflow_safe_unit(ref, cur)
        self.both: Floats = np.empty(self.n_ref + self.n_cur, dtype=np.float64)
        self.ref: Floats = self.both[: self.n_ref]
        self.cur: Floats = self.both[self.n_ref :]
        for part, values in ((self.ref, ref), (self.cur, cur)):
            part[...] = values
            part.sort()
        if self.unit != 1.0:
            self.both /= self.unit  # exact: a power of two

    def numbers(self) -> SortedNumbers:
        """These numbers."""
        return self

    @cached_property
    def ref_distinct_count(self) -> int:
        """How many distinct values ``ref`` holds."""
        return count_distinct_sorted(self.ref)

    @cached_property
    def cur_distinct_count(self) -> int:
        """How many distinct values ``cur`` holds."""
        return count_distinct_sorted(self.cur)

    def distinct_up_to(self, limit: int) -> int:
        """The number of distinct values in both together, or ``limit + 1`` if it is larger."""
        if max(self.ref_distinct_count, self.cur_distinct_count) > limit:
            return limit + 1
        return min(len(self._distinct_values), limit + 1)

    @cached_property
    def _distinct_values(self) -> Floats:
        return np.union1d(distinct_sorted(self.ref), distinct_sorted(self.cur))

    def value_counts(self) -> tuple[Values, Counts, Counts]:
        """The distinct values of both together, in ascending order, and their counts."""
        return self._value_counts

    @cached_property
    def _value_counts(self) -> tuple[Values, Counts, Counts]:
        values = self._distinct_values
        ref_counts = np.diff(np.searchsorted(self.ref, values, "right"), prepend=0)
        cur_counts = np.diff(np.searchsorted(self.cur, values, "right"), prepend=0)
        return values, ref_counts, cur_counts

    @cached_property
    def reference_std(self) -> float:
        """The population standard deviation (``ddof=0``) of ``ref``."""
        return float(np.std(self.ref))

    def wasserstein_distance(self) -> float:
        """``scipy.stats.wasserstein_distance(ref, cur)``."""
        distinct = self.ref_distinct_count + self.cur_distinct_count
        if distinct * VALUES_PER_DISTINCT_TO_WALK <= len(self.both):
            return wasserstein_over_distinct(self.ref, self.cur)
        return wasserstein_by_merge(self.both, self.n_ref)

    def histogram(self, edges: Floats) -> tuple[Counts, Counts]:
        """``np.histogram(ref, edges)[0]`` and the same for ``cur``."""
        return histogram_sorted(self.ref, edges), histogram_sorted(self.cur, edges)


class CountedValues(ColumnValues):
    """Values that are not numbers (strings, booleans, categories, objects), counted per value.

    Missing values (``None``, ``NaN``, ``pd.NA``, ``NaT``) are left out of the counts. The
    distinct values are in order of first appearance, ``ref`` first, as ``pd.factorize`` of
    both together would give them.
    """

    def __init__(self, ref: Values, cur: Values) -> None:
        """``ref`` and ``cur``: one-dimensional arrays, missing values included."""
        import pandas as pd

        ref_codes, ref_values = pd.factorize(ref)
        cur_codes, cur_values = pd.factorize(cur)
        codes, values = pd.factorize(np.concatenate([ref_values, cur_values]))
        self.values: Values = np.asarray(values)
        split = len(ref_values)
        self.ref_counts = _counts_by_code(ref_codes, codes[:split], len(values))
        self.cur_counts = _counts_by_code(cur_codes, codes[split:], len(values))
        self.n_ref, self.n_cur = int(self.ref_counts.sum()), int(self.cur_counts.sum())

    def distinct_up_to(self, limit: int) -> int:
        """The number of distinct values in both together, or ``limit + 1`` if it is larger."""
        return min(len(self.values), limit + 1)

    def value_counts(self) -> tuple[Values, Counts, Counts]:
        """The distinct values of both together and how often each is in ``ref`` and ``cur``."""
        return self.values, self.ref_counts, self.cur_counts


def _counts_by_code(codes: Counts, recode: Counts, size: int) -> Counts:
    """How often each of ``size`` values occurs, given one frame's factorize codes (-1 for a
    missing value) and where each of that frame's values is among the ``size``."""
    counts = np.zeros(size, dtype=np.intp)
    counts[recode] = np.bincount(codes + 1, minlength=len(recode) + 1)[1:]
    return counts


def finite_numbers(values: Values) -> Floats:
    """``values`` as float64 without ``NaN`` and ``±inf`` (not copied when there are none)."""
    numbers = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(numbers)
    return numbers if finite.all() else numbers[finite]


def column_values(ref: Values, cur: Values) -> ColumnValues:
    """One column's values of both frames, prepared: numbers (not booleans) are sorted, other
    values counted; missing values (and ``±inf`` in numbers) are dropped."""
    ref, cur = np.asarray(ref), np.asarray(cur)
    if ref.dtype.kind in "iuf" and cur.dtype.kind in "iuf":
        return SortedNumbers(finite_numbers(ref), finite_numbers(cur))
    return CountedValues(ref, cur)


def count_distinct_sorted(values: Values) -> int:
    """How many distinct values the sorted ``values`` hold (``0.0`` and ``-0.0`` are one)."""
    if not len(values):
        return 0
    return 1 + int(np.count_nonzero(values[1:] != values[:-1]))


def distinct_sorted(values: Values) -> Values:
    """The distinct values of the sorted ``values``, in order."""
    if not len(values):
        return values
    starts = np.empty(len(values), dtype=bool)
    starts[0] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return values[starts]


def wasserstein_by_merge(both: Floats, n_ref: int) -> float:
    """scipy's ``wasserstein_distance`` of ``both[:n_ref]`` and ``both[n_ref:]``, each sorted.

    scipy's terms: for each merged value but the last, the gap between the two empirical CDFs
    there times the distance to the next merged value. The CDF of a frame at a merged value is
    the share of that frame's values at or before it in the merge (where ties make that differ
    from the share at or below the value, the distance to the next value is 0, and so is the
    term). The merge is a stable ``argsort``, in which numpy's timsort merges the two sorted
    runs; the terms are then made and summed :data:`MERGE_BLOCK` at a time, which keeps the
    work in the CPU's cache. The sum is numpy's (pairwise), not the BLAS dot product scipy
    uses, so it can differ from scipy's in the last digits, and does not depend on BLAS threads.
    """
    total, n_cur = len(both), len(both) - n_ref
    order = np.argsort(both, kind="stable")
    distance = 0.0
    cur_before = 0
    for start in range(0, total - 1, MERGE_BLOCK):
        block = order[start : start + MERGE_BLOCK + 1]
        gaps = np.diff(both[block])
        cur_seen = np.cumsum(block[:-1] >= n_ref, dtype=np.intp)
        cur_seen += cur_before
        cur_before = int(cur_seen[-1])
        ref_seen = np.arange(start + 1.0, start + 1.0 + len(gaps)) - cur_seen
        cdf_gaps = np.abs(ref_seen / n_ref - cur_seen / n_cur)
        distance += float(np.multiply(cdf_gaps, gaps, out=cdf_gaps).sum())
    return distance


def wasserstein_over_distinct(ref: Floats, cur: Floats) -> float:
    """scipy's ``wasserstein_distance(ref, cur)`` of sorted values, over their distinct values.

    The terms of :func:`wasserstein_by_merge` whose distance to the next value is not 0, one
    per distinct value: cheaper when many values repeat.
    """
    values = np.union1d(distinct_sorted(ref), distinct_sorted(cur))
    ref_cdf = np.searchsorted(ref, values[:-1], "right") / len(ref)
    cur_cdf = np.searchsorted(cur, values[:-1], "right") / len(cur)
    return float((np.abs(ref_cdf - cur_cdf) * np.diff(values)).sum())


def histogram_sorted(values: Floats, edges: Floats) -> Counts:
    """``np.histogram(values, edges)[0]`` of sorted ``values`` (the last bin holds its right
    edge), counted as numpy counts, by the positions of the edges among the values."""
    below = np.searchsorted(values, edges[:-1], "left")
    through_last = np.searchsorted(values, edges[-1:], "right")
    return np.diff(np.concatenate([below, through_last]))
