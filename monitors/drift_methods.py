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

Example:
    >>> import numpy as np
    >>> method = DRIFT_METHODS["z"]
    >>> score = method.score(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]), "numerical")
    >>> round(score, 4), method.drifted(score, method.default_threshold)
    (0.1025, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

ColumnKind = Literal["numerical", "categorical"]
Values = npt.NDArray[Any]

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


@dataclass(frozen=True)
class DriftMethod:
    """One drift method: how it scores a column and how the score is judged."""

    name: str
    kinds: frozenset[ColumnKind]
    default_threshold: float
    #: ``"distance"``: drift when score >= threshold; ``"p<"``/``"p<="``: a p-value below it.
    rule: Literal["distance", "p<", "p<="]
    score: Callable[[Values, Values, ColumnKind], float]

    def drifted(self, score: float, threshold: float) -> bool:
        """Whether ``score`` means drift at ``threshold``."""
        if self.rule == "distance":
            return bool(score >= threshold)
        if self.rule == "p<=":
            return bool(score <= threshold)
        return bool(score < threshold)


def default_method(kind: ColumnKind, ref: Values, cur: Values) -> str:
    """The method Evidently picks for a column of this kind and these values."""
    distinct = distinct_count(np.concatenate([ref, cur]))
    if len(ref) <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and distinct > FEW_VALUES:
            return "ks"
        return "z" if distinct <= BINARY_VALUES else "chisquare"
    if kind == "numerical" and distinct > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def distinct_count(values: Values) -> int:
    """How many distinct values there are in ``values`` (pandas' ``nunique``)."""
    import pandas as pd

    return len(pd.unique(values))


def _value_counts(ref: Values, cur: Values) -> tuple[Values, Values, Values]:
    """The distinct values of both, and how often each occurs in ``ref`` and in ``cur``."""
    import pandas as pd

    codes, uniques = pd.factorize(np.concatenate([ref, cur]))
    ref_counts = np.bincount(codes[: len(ref)], minlength=len(uniques))
    cur_counts = np.bincount(codes[len(ref) :], minlength=len(uniques))
    return np.asarray(uniques), ref_counts, cur_counts


def _wasserstein(ref: Values, cur: Values, kind: ColumnKind) -> float:
    from scipy.stats import wasserstein_distance

    norm = max(float(np.std(ref)), MIN_WASSERSTEIN_NORM)
    return float(wasserstein_distance(ref, cur)) / norm


def _binned_shares(ref: Values, cur: Values, kind: ColumnKind) -> tuple[Values, Values]:
    if kind == "numerical" and distinct_count(ref) > HISTOGRAM_ABOVE_VALUES:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_counts = np.histogram(ref, edges)[0]
        cur_counts = np.histogram(cur, edges)[0]
    else:
        _, ref_counts, cur_counts = _value_counts(ref, cur)
    return ref_counts / len(ref), cur_counts / len(cur)


def _jensen_shannon(ref: Values, cur: Values, kind: ColumnKind) -> float:
    from scipy.special import rel_entr

    ref_shares, cur_shares = _binned_shares(ref, cur, kind)
    ref_shares = ref_shares / ref_shares.sum()
    cur_shares = cur_shares / cur_shares.sum()
    middle = (ref_shares + cur_shares) / 2.0
    divergence = rel_entr(ref_shares, middle).sum() + rel_entr(cur_shares, middle).sum()
    return float(np.sqrt(divergence / 2.0))


def _kolmogorov_smirnov(ref: Values, cur: Values, kind: ColumnKind) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(ref, cur).pvalue)


def _chi_square(ref: Values, cur: Values, kind: ColumnKind) -> float:
    from scipy.stats import chi2

    _, ref_counts, cur_counts = _value_counts(ref, cur)
    expected = ref_counts * (len(cur) / len(ref))
    with np.errstate(divide="ignore"):
        statistic = ((cur_counts - expected) ** 2 / expected).sum()
    return float(chi2.sf(statistic, len(expected) - 1))


def _z_test(ref: Values, cur: Values, kind: ColumnKind) -> float:
    from scipy.stats import norm

    uniques, ref_counts, cur_counts = _value_counts(ref, cur)
    if len(uniques) == 1:
        return 1.0
    first = min(range(len(uniques)), key=lambda index: uniques[index])
    ref_share = (len(ref) - ref_counts[first]) / len(ref)
    cur_share = (len(cur) - cur_counts[first]) / len(cur)
    pooled = (ref_share * len(ref) + cur_share * len(cur)) / (len(ref) + len(cur))
    spread = np.sqrt(pooled * (1 - pooled) * (1.0 / len(ref) + 1.0 / len(cur)))
    return float(2 * (1 - norm.cdf(abs((ref_share - cur_share) / spread))))


_BOTH: frozenset[ColumnKind] = frozenset({"numerical", "categorical"})
_NUMERICAL: frozenset[ColumnKind] = frozenset({"numerical"})
_CATEGORICAL: frozenset[ColumnKind] = frozenset({"categorical"})

#: Evidently's methods by their registered names.
DRIFT_METHODS: dict[str, DriftMethod] = {
    method.name: method
    for method in (
        DriftMethod("wasserstein", _NUMERICAL, 0.1, "distance", _wasserstein),
        DriftMethod("jensenshannon", _BOTH, 0.1, "distance", _jensen_shannon),
        DriftMethod("ks", _NUMERICAL, 0.05, "p<=", _kolmogorov_smirnov),
        DriftMethod("chisquare", _CATEGORICAL, 0.05, "p<", _chi_square),
        DriftMethod("z", _CATEGORICAL, 0.05, "p<", _z_test),
    )
}
