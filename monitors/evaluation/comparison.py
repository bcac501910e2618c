"""Comparing two or more model versions on the same labelled rows.

Every version is scored on the same rows, so the comparison is paired: for each metric and
each version against the baseline, the difference comes with a confidence interval and a
p-value, from DeLong's method for AUROC (unweighted data) and a paired bootstrap for the rest
(the same resampled rows for every version). A version *wins* a metric when it is the best
and its advantage over every other version has an interval that excludes zero; otherwise
nobody wins that metric (``None``).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> good = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.15, 400), 0, 1)
    >>> weak = np.clip(0.45 + 0.1 * y + rng.normal(0, 0.2, 400), 0, 1)
    >>> result = compare(y, {"v1": weak, "v2": good}, n_bootstrap=200)
    >>> result.winners["auroc"]
    'v2'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.evaluation.binary import areas, clipped_log_likelihood, evaluate_binary
from aimops.monitors.evaluation.gates import higher_is_better, improves
from aimops.monitors.evaluation.result import EvaluationResult
from aimops.monitors.inputs import (
    FloatArray,
    binary_labels,
    probabilities,
    same_length,
    sample_weights,
    threshold_value,
)

DEFAULT_METRICS = ("auroc", "aupr", "log_loss", "brier")
BOOTSTRAP_METRICS = frozenset(
    {"auroc", "aupr", "log_loss", "brier", "accuracy", "precision", "recall", "f1", "fpr", "ppr"}
)
AT_THRESHOLD = frozenset({"accuracy", "precision", "recall", "f1", "fpr", "ppr"})
METHODS = ("auto", "delong", "bootstrap")


@dataclass(frozen=True)
class Delta:
    """One metric of one version against the baseline: the difference and its interval."""

    metric: str
    version: str
    baseline: str
    value: float
    baseline_value: float
    delta: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str
    winner: str | None
    better: bool | None = None  # the version's value beats the baseline's (None: a tie, or
    # a metric with no better direction)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Comparison(EvaluationResult):
    """Versions side by side: each one's evaluation, deltas against the baseline, winners."""

    kind = "comparison"
    labels: tuple[str, ...]
    baseline: str
    method: str
    confidence: float
    deltas: tuple[Delta, ...]
    winners: dict[str, str | None]
    evaluations: tuple[EvaluationResult, ...]
    #: Why no interval, p-value or winner was computed (too few rows of a class), or None.
    inconclusive: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "inconclusive": self.inconclusive,
            "labels": list(self.labels),
            "baseline": self.baseline,
            "method": self.method,
            "confidence": self.confidence,
            "deltas": [delta.to_dict() for delta in self.deltas],
            "winners": dict(self.winners),
            "evaluations": [evaluation.to_dict() for evaluation in self.evaluations],
        }

    def delta(self, metric: str, version: str | None = None) -> Delta:
        """The delta of ``metric`` for ``version`` (default: the first non-baseline one)."""
        wanted = version or next(label for label in self.labels if label != self.baseline)
        for found in self.deltas:
            if found.metric == metric and found.version == wanted:
                return found
        raise InvalidInputError(f"no delta of {metric!r} for {wanted!r} in this comparison")


def compare(
    y_true: Any,
    scores: Mapping[str, Any] | Sequence[Any],
    *,
    baseline: str | None = None,
    sample_weight: Any = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    threshold: float = 0.5,
    confidence: float = 0.95,
    method: str = "auto",
    n_bootstrap: int = 1000,
    seed: int = 0,
    label: str | None = None,
) -> Comparison:
    """Compare the probability scores of two or more versions on the same labelled rows.

    ``scores`` maps a version's name to its scores (a list is named ``model 1``, ...). The
    baseline is the first version unless named. ``method``: ``auto`` (DeLong for AUROC when
    unweighted, bootstrap otherwise), ``delong`` (AUROC only) or ``bootstrap``. The bootstrap
    costs ``n_bootstrap`` passes over the rows per version.
    """
    named = _named_scores(scores)
    metrics = validation.texts(metrics, "metrics")
    validation.optional_text(label, "label")
    labels = binary_labels(y_true)
    arrays = {name: probabilities(values, f"scores of {name!r}") for name, values in named.items()}
    same_length(y_true=labels, **{f"scores of {name!r}": array for name, array in arrays.items()})
    weights = sample_weights(sample_weight, len(labels))
    cut = threshold_value(threshold)
    chosen = _check_options(
        named, baseline, metrics, confidence, method, n_bootstrap, seed, weights
    )
    evaluations = tuple(
        evaluate_binary(labels, array, sample_weight=weights, threshold=cut, label=name)
        for name, array in arrays.items()
    )
    values = {ev.label or "": ev.metrics for ev in evaluations}
    delong_for = _delong_metrics(labels, weights, method, metrics)
    wanted = frozenset(metrics) - delong_for
    intervals = _Intervals(labels, arrays, weights, cut, confidence, n_bootstrap, seed, wanted)
    intervals.inconclusive = too_few_rows(labels, weights)
    reference = chosen or next(iter(arrays))
    deltas, winners = [], {}
    for metric in metrics:
        use_delong = metric in delong_for
        for name in arrays:
            if name != reference:
                deltas.append(intervals.delta(metric, name, reference, values, use_delong))
        winners[metric] = _winner(metric, list(arrays), values, intervals, use_delong)
    challenger = next(name for name in arrays if name != reference)
    return Comparison(
        metrics={f"delta_{d.metric}": d.delta for d in deltas if d.version == challenger},
        n=len(labels),
        weighted=weights is not None,
        label=label or " vs ".join(arrays),
        labels=tuple(arrays),
        baseline=reference,
        method=method,
        confidence=confidence,
        deltas=tuple(deltas),
        winners=winners,
        evaluations=evaluations,
        inconclusive=intervals.inconclusive,
    )


#: The fewest rows of each class (with weight) a comparison needs for intervals and winners.
MIN_ROWS_PER_CLASS = 10


def too_few_rows(labels: Any, weights: Any) -> str | None:
    """Why the rows are too few to compare on (None when they are enough).

    Example:
        >>> print(too_few_rows(np.array([0, 1]), None))
        inconclusive: 1 positive and 1 negative row; intervals and winners need at least 10 of each
        >>> too_few_rows(np.array([0, 1] * 10), None) is None
        True
    """
    counted = labels if weights is None else labels[weights > 0]
    positives = int(np.count_nonzero(counted == 1))
    negatives = int(counted.size - positives)
    if min(positives, negatives) >= MIN_ROWS_PER_CLASS:
        return None
    return (
        f"inconclusive: {positives} positive and {negatives} negative row"
        f"{'s' if negatives != 1 else ''}; intervals and winners need at least "
        f"{MIN_ROWS_PER_CLASS} of each"
    )


def _named_scores(scores: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    if isinstance(scores, Mapping):
        named = {validation.text(str(name), "a version's name"): v for name, v in scores.items()}
    else:
        given = validation.items(scores, "scores (a mapping of version names to scores)")
        named = {f"model {position + 1}": values for position, values in enumerate(given)}
    if len(named) < 2:
        raise InvalidInputError(f"a comparison needs at least two versions, got {len(named)}")
    return named


def _check_options(
    named: Mapping[str, Any],
    baseline: str | None,
    metrics: Sequence[str],
    confidence: float,
    method: str,
    n_bootstrap: int,
    seed: int,
    weights: FloatArray | None,
) -> str | None:
    validation.optional_text(baseline, "baseline")
    if baseline is not None and baseline not in named:
        raise InvalidInputError(
            f"baseline {baseline!r} is not one of the compared versions: {', '.join(named)}"
        )
    unknown = [metric for metric in metrics if metric not in BOOTSTRAP_METRICS]
    if unknown or not metrics:
        known = ", ".join(sorted(BOOTSTRAP_METRICS))
        raise InvalidInputError(f"cannot compare metrics {unknown or '(none)'}; known: {known}")
    if not 0.5 <= validation.real_number(confidence, "confidence") < 1.0:
        raise InvalidInputError(f"confidence must be in [0.5, 1), got {confidence}")
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "delong" and (weights is not None or set(metrics) != {"auroc"}):
        raise InvalidInputError(
            "method 'delong' compares unweighted AUROC only; use 'auto' or 'bootstrap'"
        )
    if validation.whole_number(n_bootstrap, "n_bootstrap") < 50 and (method != "delong"):
        raise InvalidInputError(f"n_bootstrap must be at least 50, got {n_bootstrap}")
    validation.whole_number(seed, "seed", minimum=0)
    return baseline


def _delong_metrics(
    labels: FloatArray, weights: FloatArray | None, method: str, metrics: Sequence[str]
) -> frozenset[str]:
    """The metrics DeLong's method serves: unweighted AUROC with two or more rows of each
    class (its variance needs them); the bootstrap serves the rest."""
    if method == "bootstrap" or "auroc" not in metrics or weights is not None:
        return frozenset()
    smaller_class = int(min(np.count_nonzero(labels == 1.0), np.count_nonzero(labels == 0.0)))
    if smaller_class < 2:
        if method == "delong":
            raise InvalidDataError(
                f"DeLong's method needs at least two rows of each class; the smaller class has "
                f"{smaller_class}: use method='bootstrap'"
            )
        return frozenset()
    return frozenset({"auroc"})


class _Intervals:
    """Paired statistics, computed once and shared by every pair of versions."""

    def __init__(
        self,
        labels: FloatArray,
        scores: Mapping[str, FloatArray],
        weights: FloatArray | None,
        threshold: float,
        confidence: float,
        n_bootstrap: int,
        seed: int,
        wanted: frozenset[str],
    ) -> None:
        self.labels, self.scores, self.weights = labels, scores, weights
        self.wanted = wanted
        self.threshold, self.confidence = threshold, confidence
        self.n_bootstrap, self.seed = n_bootstrap, seed
        self._replicates: dict[str, dict[str, FloatArray]] | None = None
        self.inconclusive: str | None = None
        self._delong: tuple[FloatArray, FloatArray] | None = None

    def delta(
        self,
        metric: str,
        version: str,
        baseline: str,
        values: Mapping[str, Mapping[str, float]],
        use_delong: bool,
    ) -> Delta:
        value, reference = values[version][metric], values[baseline][metric]
        low: float | None
        high: float | None
        p_value: float | None
        if self.inconclusive is not None:  # too few rows: no interval means anything
            low = high = p_value = None
        else:
            low, high, p_value = (
                self._delong_interval(version, baseline)
                if use_delong
                else self._bootstrap_interval(metric, version, baseline)
            )
        winner = None
        direction = higher_is_better(metric)
        if direction is not None and low is not None and high is not None and (low > 0 or high < 0):
            winner = version if (low > 0) == direction else baseline
        return Delta(
            metric=metric,
            version=version,
            baseline=baseline,
            value=value,
            baseline_value=reference,
            delta=value - reference,
            ci_low=low,
            ci_high=high,
            p_value=p_value,
            method="delong" if use_delong else "bootstrap",
            winner=winner,
            better=improves(metric, value, reference),
        )

    # -- DeLong ------------------------------------------------------------------------------

    def _delong_interval(self, version: str, baseline: str) -> tuple[float, float, float]:
        from scipy.stats import norm

        aucs, covariance = self._delong_moments()
        names = list(self.scores)
        a, b = names.index(baseline), names.index(version)
        difference = float(aucs[b] - aucs[a])
        variance = float(covariance[a, a] + covariance[b, b] - 2 * covariance[a, b])
        if variance <= 1e-15:
            return difference, difference, (1.0 if difference == 0 else 0.0)
        spread = float(np.sqrt(variance))
        z_crit = float(norm.ppf(0.5 + self.confidence / 2))
        p_value = float(2 * norm.sf(abs(difference) / spread))
        return difference - z_crit * spread, difference + z_crit * spread, p_value

    def _delong_moments(self) -> tuple[FloatArray, FloatArray]:
        """AUROCs and their covariance (DeLong, DeLong and Clarke-Pearson 1988; midranks as in
        Sun and Xu 2014), for every version at once."""
        if self._delong is None:
            from scipy.stats import rankdata

            positive = self.labels == 1.0
            m, n = int(positive.sum()), int((~positive).sum())
            aucs, v10, v01 = [], [], []
            for array in self.scores.values():
                pos, neg = array[positive], array[~positive]
                combined = rankdata(np.concatenate([pos, neg]))
                pos_ranks, neg_ranks = combined[:m], combined[m:]
                aucs.append((pos_ranks.sum() - m * (m + 1) / 2) / (m * n))
                v10.append((pos_ranks - rankdata(pos)) / n)
                v01.append(1.0 - (neg_ranks - rankdata(neg)) / m)
            s10 = np.atleast_2d(np.cov(np.array(v10)))
            s01 = np.atleast_2d(np.cov(np.array(v01)))
            self._delong = (np.array(aucs), s10 / m + s01 / n)
        return self._delong

    # -- paired bootstrap --------------------------------------------------------------------

    def _bootstrap_interval(
        self, metric: str, version: str, baseline: str
    ) -> tuple[float | None, float | None, float | None]:
        replicates = self._bootstrap()
        differences = replicates[version][metric] - replicates[baseline][metric]
        differences = differences[np.isfinite(differences)]
        if differences.size < 10:
            return None, None, None
        alpha = 1.0 - self.confidence
        low, high = np.quantile(differences, [alpha / 2, 1 - alpha / 2])
        # Two-sided, with the +1 correction: a bootstrap p-value is never exactly zero.
        count = differences.size
        below = (int(np.count_nonzero(differences <= 0)) + 1) / (count + 1)
        above = (int(np.count_nonzero(differences >= 0)) + 1) / (count + 1)
        return float(low), float(high), min(1.0, 2 * min(below, above))

    def _bootstrap(self) -> dict[str, dict[str, FloatArray]]:
        if self._replicates is None:
            rng = np.random.default_rng(self.seed)
            rows = len(self.labels)
            prepared = {
                name: _Prepared(self.labels, array, self.threshold)
                for name, array in self.scores.items()
            }
            collected: dict[str, dict[str, list[float]]] = {
                name: {metric: [] for metric in self.wanted} for name in self.scores
            }
            for _ in range(self.n_bootstrap):
                counts = np.bincount(rng.integers(0, rows, rows), minlength=rows)
                weight = counts if self.weights is None else counts * self.weights
                for name in self.scores:
                    found = _weighted_metrics(self.labels, weight, prepared[name], self.wanted)
                    for metric, value in found.items():
                        collected[name][metric].append(value)
            self._replicates = {
                name: {metric: np.array(values) for metric, values in by_metric.items()}
                for name, by_metric in collected.items()
            }
        return self._replicates


class _Prepared:
    """What a replicate needs of one version, computed once: the descending order of its
    scores, where its ties end, each row's loss terms and whether it is called positive."""

    def __init__(self, labels: FloatArray, scores: FloatArray, threshold: float) -> None:
        self.order = np.argsort(-scores, kind="stable")
        ordered = scores[self.order]
        self.ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1)
        self.log_loss_terms = -clipped_log_likelihood(np.where(labels == 1.0, scores, 1.0 - scores))
        self.squared_errors = (labels - scores) ** 2
        self.called = (scores >= threshold).astype(np.float64)


def _weighted_metrics(
    labels: FloatArray, weight: Any, ranking: _Prepared, wanted: frozenset[str]
) -> dict[str, float]:
    """The ``wanted`` metrics of one version with rows weighted by ``weight``."""
    positive_weight = labels * weight
    negative_weight = weight - positive_weight
    positives, negatives = float(positive_weight.sum()), float(negative_weight.sum())
    if positives <= 0 or negatives <= 0:
        return dict.fromkeys(wanted, float("nan"))
    total = positives + negatives
    found: dict[str, float] = {}
    if wanted & {"auroc", "aupr"}:
        tps = np.cumsum(positive_weight[ranking.order])[ranking.ends]
        fps = np.cumsum(negative_weight[ranking.order])[ranking.ends]
        found["auroc"], found["aupr"] = areas(tps, fps)
    if "log_loss" in wanted:
        found["log_loss"] = float(np.dot(ranking.log_loss_terms, weight) / total)
    if "brier" in wanted:
        found["brier"] = float(np.dot(ranking.squared_errors, weight) / total)
    if wanted & AT_THRESHOLD:
        tp = float(np.dot(positive_weight, ranking.called))
        fp = float(np.dot(negative_weight, ranking.called))
        fn = positives - tp
        found.update(
            accuracy=(tp + negatives - fp) / total,
            precision=tp / (tp + fp) if tp + fp > 0 else 0.0,
            recall=tp / positives,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0,
            fpr=fp / negatives,
            ppr=(tp + fp) / total,
        )
    return {metric: found[metric] for metric in wanted}


def _winner(
    metric: str,
    names: list[str],
    values: Mapping[str, Mapping[str, float]],
    intervals: _Intervals,
    use_delong: bool,
) -> str | None:
    """The best version of ``metric``, if it is clearly better than every other one."""
    direction = higher_is_better(metric)
    if direction is None:  # a predicted-positive rate: different, never better
        return None
    sign = 1.0 if direction else -1.0
    best = max(names, key=lambda name: sign * values[name][metric])
    for other in names:
        if other != best:
            found = intervals.delta(metric, best, other, values, use_delong)
            if found.winner != best:
                return None
    return best
