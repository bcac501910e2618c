"""How many values make a verdict: when a column's drift or skew flag means what it says.

Drift (:mod:`~aimops.monitors.checks.drift`) and feature consistency
(:mod:`~aimops.monitors.checks.consistency`) compare one column of two samples, ``reference``
and ``current`` (or ``training`` and ``serving``), after dropping missing values. Few values
make either answer unreliable, in a way that depends on the method:

- A statistical *test* (drift's ``ks``, ``chisquare``, ``z``) keeps its false alarms at its
  threshold at any size (the Kolmogorov-Smirnov p-value is exact on small samples), so a
  change it finds stands; but with few values it misses most changes, so "no change" says
  little.
- A *distance* (drift's ``wasserstein`` and ``jensenshannon``, consistency's Jensen-Shannon
  and L-infinity distances) has no notion of sample size: two small samples of one
  distribution are far apart by chance alone. Each method declares the fewest values per side
  at which two samples of one distribution stay under its default threshold 19 times in 20
  (measured; the numbers are with the methods); with fewer, a distance past the threshold
  stands only when a two-sample test also finds the samples different (:func:`p_value`).

So each column gets one of three answers (:func:`judge`):

- no values to speak of (fewer than :data:`MIN_VALUES_TO_SCORE` on a side, all missing
  included): not scored, ``inconclusive``;
- changed: by the method's rule, with the method's own minimum or a significant two-sample
  test behind it;
- unchanged: by the method's rule, with at least :data:`MIN_VALUES_FOR_NO_CHANGE` values on
  each side (the rule of thumb under which the normal approximations of the tests hold; the
  Kolmogorov-Smirnov test then finds a shift of one standard deviation nine times in ten);
  with fewer, ``inconclusive``.

Anything else is ``inconclusive``, and the column says why, in words a person can act on.

Example:
    >>> import numpy as np
    >>> zeros, ones = np.zeros(40), np.ones(40)
    >>> judge(True, (40, 40), ("training", "serving"), 500, lambda: p_value(zeros, ones))
    (True, None)
    >>> judge(False, (8, 40), ("reference", "current"), 5, lambda: 1.0)[1]
    'no change found, but 8 values in reference are too few to rule one out; 30 needed'
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

#: With fewer values than this on either side, a column is not scored at all: one or two
#: values say nothing of a distribution (two values each made chi-square report p = 0).
MIN_VALUES_TO_SCORE = 5
#: With fewer values than this on either side, "no drift" or "no skew" is inconclusive: a
#: test that small misses most changes, and a distance that small is mostly noise.
MIN_VALUES_FOR_NO_CHANGE = 30
#: A two-sample test that confirms a distance on few values must give a p-value below this.
SIGNIFICANCE = 0.05

Roles = tuple[str, str]
Verdict = tuple[bool | None, str | None]


def too_few_to_score(counts: tuple[int, int], roles: Roles) -> str | None:
    """Why a column with ``counts`` values on each side is not scored, or None when it is.

    Example:
        >>> too_few_to_score((0, 40), ("reference", "current"))
        'no values in reference: all are missing'
        >>> too_few_to_score((40, 2), ("reference", "current"))
        'only 2 values in current; 5 needed on each side'
    """
    for count, role in zip(counts, roles, strict=True):
        if not count:
            return f"no values in {role}: all are missing"
    count, role = _fewest(counts, roles)
    if count < MIN_VALUES_TO_SCORE:
        values = "value" if count == 1 else "values"
        return f"only {count} {values} in {role}; {MIN_VALUES_TO_SCORE} needed on each side"
    return None


def judge(
    changed: bool,
    counts: tuple[int, int],
    roles: Roles,
    min_values_for_change: int,
    p_value_of_samples: Callable[[], float],
) -> Verdict:
    """The flag a scored column gets, and why it gets none (``(None, reason)``).

    ``changed`` is the method's own answer, ``min_values_for_change`` the fewest values per
    side at which that answer stands alone (for a test, :data:`MIN_VALUES_TO_SCORE`), and
    ``p_value_of_samples`` gives the two-sample test that must back a change on fewer values.
    """
    count, role = _fewest(counts, roles)
    if not changed:
        if count >= MIN_VALUES_FOR_NO_CHANGE:
            return False, None
        return None, (
            f"no change found, but {count} values in {role} are too few to rule one out; "
            f"{MIN_VALUES_FOR_NO_CHANGE} needed"
        )
    if count >= min_values_for_change:
        return True, None
    p_value = p_value_of_samples()
    if p_value < SIGNIFICANCE:
        return True, None
    return None, (
        f"past the threshold, but {count} values in {role} are fewer than the "
        f"{min_values_for_change} it needs alone, and a two-sample test finds no difference "
        f"(p = {p_value:.3g})"
    )


def p_value(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> float:
    """The two-sided p-value that two samples come from one distribution: the
    Kolmogorov-Smirnov test for numbers, the chi-square test of homogeneity otherwise."""
    if reference.dtype.kind in "iuf" and current.dtype.kind in "iuf":
        return ks_p_value(reference, current)
    import pandas as pd

    counts = pd.Series(reference).value_counts(), pd.Series(current).value_counts()
    ref_counts, cur_counts = counts[0].align(counts[1], fill_value=0)
    return homogeneity_p_value(ref_counts.to_numpy(), cur_counts.to_numpy())


def ks_p_value(reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]) -> float:
    """scipy's two-sample Kolmogorov-Smirnov p-value (``method="auto"``: exact on small
    samples). Its notice that the exact computation fell back to the asymptotic one, which
    happens with many ties, is not a problem with the data, so it is not passed on."""
    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
        return float(ks_2samp(reference, current).pvalue)


def homogeneity_p_value(
    reference_counts: npt.NDArray[Any], current_counts: npt.NDArray[Any]
) -> float:
    """The chi-square test of homogeneity of two samples given as counts per value (aligned);
    1.0 when only one value occurs (there is nothing to differ in)."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table).pvalue)


def _fewest(counts: tuple[int, int], roles: Roles) -> tuple[int, str]:
    """The smaller count and its role (the second side's on a tie)."""
    return (counts[0], roles[0]) if counts[0] < counts[1] else (counts[1], roles[1])
