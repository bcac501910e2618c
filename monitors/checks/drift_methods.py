"""The per-column drift methods of Evidently 0.7.23, computed with numpy and scipy.

These are the definitions in Evidently's ``legacy/calculations/stattests`` and
``legacy/calculations/data_drift.py`` (which its ``ValueDrift`` metric and ``DataDriftPreset``
call), written out so that aimops gives the same scores and flags without importing Evidently.
``ref`` and ``cur`` are one column of the reference and current data after dropping missing
values (``NaN``, ``None``, and ``±inf`` in numbers); ``n_ref`` and ``n_cur`` are their lengths,
``k`` is the number of distinct values in ``ref`` and ``cur`` together.

The method when none is asked for (``default_method``):

- ``n_ref <= 1000``: ``z`` when ``k <= 2``; else ``chisquare`` for a categorical column and for
  a numerical one with ``k <= 5``; else ``ks``.
- ``n_ref > 1000``: ``wasserstein`` for a numerical column with ``k > 5``; else
  ``jensenshannon``.

The methods, their default thresholds and when a column has drifted:

- ``wasserstein`` (numerical; 0.1; drift when score ``>= threshold``): scipy's
  ``wasserstein_distance(ref, cur)`` divided by ``max(std(ref), 0.001)``, the population
  standard deviation (``ddof=0``) of the reference.
- ``jensenshannon`` (both kinds; 0.1; score ``>= threshold``): scipy's Jensen-Shannon
  distance (natural logarithm: at most ``sqrt(ln 2)``) between the shares of ``ref`` and
  ``cur`` in the same bins. Bins are the distinct values of ``ref`` and ``cur`` together, except
  for a numerical column whose reference has more than 20 distinct values: then numpy's
  ``"sturges"`` histogram edges over ``ref`` and ``cur`` together. Empty bins are not smoothed.
- ``ks`` (numerical; 0.05; drift when the p-value ``<= threshold``): the two-sided p-value of
  scipy's two-sample Kolmogorov-Smirnov test ``ks_2samp(ref, cur)`` (``method="auto"``).
- ``chisquare`` (categorical; 0.05; p-value ``< threshold``): a goodness-of-fit test of the
  current counts of each value against the reference counts scaled by ``n_cur / n_ref``, with
  ``k - 1`` degrees of freedom. A value seen only in ``cur`` is expected 0 times: the statistic
  is infinite and the p-value 0.
- ``z`` (categorical; 0.05; p-value ``< threshold``): the two-proportion z-test. With the
  smallest value (in sorted order) as one class and every other value as the other,
  ``p_ref`` and ``p_cur`` are the shares of the other class, ``P`` their pooled share,
  ``z = (p_ref - p_cur) / sqrt(P (1 - P) (1 / n_ref + 1 / n_cur))`` and the p-value
  ``2 (1 - Φ(|z|))``; it is 1 when both hold one and the same single value.

As in Evidently, ``chisquare`` and ``z`` are also chosen by default for numerical columns with at
most 5 distinct values, though they cannot be asked for on a numerical column; ``wasserstein``
and ``ks`` cannot be asked for on a categorical one.

Where aimops departs from Evidently, so that no score is undefined: ``chisquare`` of a column
holding one and the same single value in both frames is 1 (Evidently: NaN, not drifted), as
the z-test's is; and numbers beyond 1e100 are divided by a power of two before they are
scored (:func:`~aimops.monitors.inputs.overflow_safe_unit`), which changes no score but the
Wasserstein distance's, whose squares and sums overflowed to NaN there (scored "no drift").

How few values a flag can rest on (:mod:`aimops.monitors.checks.sample_size`): a drift that a
test (``ks``, ``chisquare``, ``z``) finds stands from 5 values per side on; a drift that a
distance finds stands from ``min_values_for_drift`` values per side on (the fewest at which
two samples of one distribution stay under the default threshold 19 times in 20, measured
with 2000 reference values: ``wasserstein`` 500 for normal data, ``jensenshannon`` 300 for
normal data binned, 100 for three categories), and on fewer only when a two-sample test
confirms it. "No drift" needs 30 values per side whatever the method.

How aimops computes them: each column's values are prepared once (:func:`column_values`) and
the method choice and the method read what they need from that. Numbers (:class:`SortedNumbers`)
are sorted, reference and current side by side in one array, and everything follows from the
two sorted runs: distinct values are where neighbours differ, counts per value and per
histogram bin are ``searchsorted`` positions, and the Wasserstein distance is scipy's formula
(the gap between the two CDFs times the gap to the next value, over the merged values), the
merge being a stable ``argsort`` of the two runs, which numpy's timsort does in linear time;
when there are few distinct values it walks those instead of every value.
Other values (:class:`CountedValues`) are counted per distinct value with pandas' ``factorize``,
one frame at a time. Scores equal scipy's and Evidently's to within rounding (1e-9 is tested).

Example:
    >>> import numpy as np
    >>> from aimops.monitors.checks.drift_columns import column_values
    >>> method = DRIFT_METHODS["z"]
    >>> values = column_values(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]))
    >>> score = method.score(values, "numerical")
    >>> round(score, 4), method.drifted(score, method.default_threshold)
    (0.1025, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from aimops.monitors.checks.drift_columns import (
    ColumnValues,
    Counts,
    Values,
)
from aimops.monitors.checks.sample_size import MIN_VALUES_TO_SCORE, ks_p_value

ColumnKind = Literal["numerical", "categorical"]

#: Above this many reference values Evidently switches from tests to distances.
SMALL_REFERENCE_ROWS = 1000
#: At most this many distinct values make a numerical column "discrete" for the choice.
FEW_VALUES = 5
#: Binary columns (at most this many distinct values) get the z-test on small data.
BINARY_VALUES = 2
#: A numerical reference with more distinct values than this is binned by Sturges' rule.
HISTOGRAM_ABOVE_VALUES = 20
#: The floor of the reference standard deviation that normalises the Wasserstein distance.
MIN_WASSERSTEIN_NORM = 0.001
#: The fewest values per side from which the Wasserstein distance's drift stands alone.
MIN_VALUES_FOR_WASSERSTEIN_DRIFT = 500
#: The fewest values per side from which the Jensen-Shannon distance's drift stands alone.
MIN_VALUES_FOR_JENSEN_SHANNON_DRIFT = 300


@dataclass(frozen=True)
class DriftMethod:
    """One drift method: how it scores a column and how the score is judged."""

    name: str
    kinds: frozenset[ColumnKind]
    default_threshold: float
    #: ``"distance"``: drift when score >= threshold; ``"p<"``/``"p<="``: a p-value below it.
    rule: Literal["distance", "p<", "p<="]
    score: Callable[[ColumnValues, ColumnKind], float]
    #: The fewest values per side from which a drift found stands without a two-sample test
    #: (see :mod:`aimops.monitors.checks.sample_size`).
    min_values_for_drift: int = MIN_VALUES_TO_SCORE

    def drifted(self, score: float, threshold: float) -> bool:
        """Whether ``score`` means drift at ``threshold``."""
        if self.rule == "distance":
            return bool(score >= threshold)
        if self.rule == "p<=":
            return bool(score <= threshold)
        return bool(score < threshold)


def default_method(kind: ColumnKind, values: ColumnValues) -> str:
    """The method Evidently picks for a column of this kind and these values."""
    distinct = values.distinct_up_to(FEW_VALUES)
    if values.n_ref <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and distinct > FEW_VALUES:
            return "ks"
        return "z" if distinct <= BINARY_VALUES else "chisquare"
    if kind == "numerical" and distinct > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def _wasserstein(values: ColumnValues, kind: ColumnKind) -> float:
    numbers = values.numbers()  # in units of numbers.unit: the floor is in the data's units
    norm = max(numbers.reference_std, MIN_WASSERSTEIN_NORM / numbers.unit)
    return numbers.wasserstein_distance() / norm


def _binned_counts(values: ColumnValues, kind: ColumnKind) -> tuple[Counts, Counts]:
    if kind == "numerical":
        numbers = values.numbers()
        if numbers.ref_distinct_count > HISTOGRAM_ABOVE_VALUES:
            return numbers.histogram(np.histogram_bin_edges(numbers.both, bins="sturges"))
    _, ref_counts, cur_counts = values.value_counts()
    return ref_counts, cur_counts


def _jensen_shannon(values: ColumnValues, kind: ColumnKind) -> float:
    from scipy.special import rel_entr

    ref_counts, cur_counts = _binned_counts(values, kind)
    ref_shares = ref_counts / values.n_ref
    cur_shares = cur_counts / values.n_cur
    ref_shares = ref_shares / ref_shares.sum()
    cur_shares = cur_shares / cur_shares.sum()
    middle = (ref_shares + cur_shares) / 2.0
    divergence = rel_entr(ref_shares, middle).sum() + rel_entr(cur_shares, middle).sum()
    return float(np.sqrt(divergence / 2.0))


def _kolmogorov_smirnov(values: ColumnValues, kind: ColumnKind) -> float:
    numbers = values.numbers()
    return ks_p_value(numbers.ref, numbers.cur)


def _chi_square(values: ColumnValues, kind: ColumnKind) -> float:
    from scipy.stats import chi2

    _, ref_counts, cur_counts = values.value_counts()
    if len(ref_counts) == 1:  # one value, the same in both: nothing can differ
        return 1.0
    expected = ref_counts * (values.n_cur / values.n_ref)
    with np.errstate(divide="ignore"):
        statistic = ((cur_counts - expected) ** 2 / expected).sum()
    return float(chi2.sf(statistic, len(expected) - 1))


def _smallest(values: Values) -> int:
    """The position of the smallest of ``values`` (a TypeError for values without an order)."""
    if values.dtype.kind in "biuf":
        return int(np.argmin(values))
    return min(range(len(values)), key=values.__getitem__)


def _z_test(values: ColumnValues, kind: ColumnKind) -> float:
    from scipy.stats import norm

    uniques, ref_counts, cur_counts = values.value_counts()
    if len(uniques) == 1:
        return 1.0
    n_ref, n_cur = values.n_ref, values.n_cur
    first = _smallest(uniques)
    ref_share = (n_ref - ref_counts[first]) / n_ref
    cur_share = (n_cur - cur_counts[first]) / n_cur
    pooled = (ref_share * n_ref + cur_share * n_cur) / (n_ref + n_cur)
    spread = np.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    return float(2 * (1 - norm.cdf(abs((ref_share - cur_share) / spread))))


_BOTH: frozenset[ColumnKind] = frozenset({"numerical", "categorical"})
_NUMERICAL: frozenset[ColumnKind] = frozenset({"numerical"})
_CATEGORICAL: frozenset[ColumnKind] = frozenset({"categorical"})

#: Evidently's methods by their registered names.
DRIFT_METHODS: dict[str, DriftMethod] = {
    method.name: method
    for method in (
        DriftMethod(
            "wasserstein",
            _NUMERICAL,
            0.1,
            "distance",
            _wasserstein,
            MIN_VALUES_FOR_WASSERSTEIN_DRIFT,
        ),
        DriftMethod(
            "jensenshannon",
            _BOTH,
            0.1,
            "distance",
            _jensen_shannon,
            MIN_VALUES_FOR_JENSEN_SHANNON_DRIFT,
        ),
        DriftMethod("ks", _NUMERICAL, 0.05, "p<=", _kolmogorov_smirnov),
        DriftMethod("chisquare", _CATEGORICAL, 0.05, "p<", _chi_square),
        DriftMethod("z", _CATEGORICAL, 0.05, "p<", _z_test),
    )
}
