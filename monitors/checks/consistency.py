"""Feature consistency (training/serving skew): the same features at training and serving time.

:func:`check_feature_consistency` compares each feature's distribution in the ``training`` and
``serving`` frames with the comparator TFDV's skew detection uses for its type:

- Numeric features (any numeric dtype but bool): the Jensen-Shannon *distance*, base 2 (so
  between 0 and 1), i.e. ``sqrt(JSD)`` with ``JSD = (KL(p||m) + KL(q||m)) / 2`` and
  ``m = (p + q) / 2`` (scipy's ``jensenshannon(p, q, base=2)``). ``p`` and ``q`` are the shares
  of training and serving values in the same buckets: the training side's deciles (quantiles
  0.1 ... 0.9, numpy's linear interpolation, duplicates merged) cut the line into at most
  10 open buckets, and each decile value is a bucket of its own (so a constant or
  near-constant training feature, whose deciles sit on one value, still tells a serving
  value that moved off it); the outer buckets are open, so serving values beyond the training
  range count in the first or last one. TFDV also bins by the training side's quantiles (its
  ``num_quantiles_histogram_buckets``, 10 by default).
- Everything else (strings, booleans, categories, objects): the L-infinity distance, the
  largest absolute difference between the two normalized value-frequency vectors (TFDV's
  ``infinity_norm`` comparator). A value seen on one side only has share 0 on the other.

A feature is skewed when its score is *greater* than its threshold (as in TFDV). TFDV sets no
default threshold (its guide's example uses 0.01 for ``infinity_norm``); aimops defaults to
:data:`DEFAULT_THRESHOLDS` (0.1 for both), overridable per feature with ``thresholds``.
Missing values (``NaN``, ``None``, and ``±inf`` in numbers) are left out of the distributions.

Too few values (where aimops departs from TFDV, which has no notion of sample size; see
:mod:`aimops.monitors.checks.sample_size`): two small samples of one distribution are far
apart by chance alone (with 100 values each, the Jensen-Shannon distance of two normal samples
passes 0.1 more often than not). So a feature with fewer than 5 values on a side is not
scored; a distance past the threshold stands from :data:`MIN_VALUES_FOR_SKEW` values per side
on (the fewest at which two samples of one distribution stay under 0.1 19 times in 20:
measured, 500 for the decile buckets of normal data, 200 for two or five categories), and on
fewer only when a two-sample test (Kolmogorov-Smirnov for numbers, chi-square homogeneity
for the rest) finds the sides different at 5%; "no skew" needs 30 values per side. Otherwise
the feature's ``skewed`` is None and ``inconclusive`` says why: a feature with no values on
a side (all missing, or no rows) is such a feature, not an error.

With ``key`` (an entity-id column in both frames, unique on each side) the rows are also joined
on the key, and each feature gets an exact-match rate: the share of joined rows whose training
and serving values are equal (numbers within a relative tolerance of 1e-9; two missing values
count as a match), as TFDV's ``DetectFeatureSkew`` counts matches. A feature whose match rate is
below ``min_match_rate`` (0.99) is skewed too, on any number of joined rows (a mismatch is a
fact, not an estimate); a match rate that meets it clears the feature from 30 joined rows on.
The result also counts the keys matched and the keys found on one side only.

``status`` is ``skew_status`` (``"fail"``, or ``"warn"`` if asked) when any feature is skewed,
else ``"inconclusive"`` when some feature has no verdict, else ``"pass"``. ``metrics`` holds
``skewed_features`` and, when there are such numbers, ``max_score`` and (with a key)
``match_rate_min``.

Example:
    >>> import pandas as pd
    >>> ages, cities = [20.0, 30.0, 40.0, 50.0] * 10, ["a", "a", "b", "b"] * 10
    >>> training = pd.DataFrame({"age": ages, "city": cities})
    >>> serving = pd.DataFrame({"age": ages, "city": ["a", "b", "b", "b"] * 10})
    >>> result = check_feature_consistency(training, serving)
    >>> result.status, result.skewed_features
    ('fail', ['city'])
    >>> result.features["city"].method, result.features["city"].score
    ('linf', 0.25)
    >>> check_feature_consistency(training[:4], serving[:4]).features["city"].inconclusive
    'only 4 values in serving; 5 needed on each side'
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from aimops import validation
from aimops.errors import InvalidDataError
from aimops.monitors.checks import wording
from aimops.monitors.checks.base import CheckStatus, RecordableCheck
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.checks.sample_size import (
    MIN_VALUES_FOR_NO_CHANGE,
    judge,
    p_value,
    too_few_to_score,
)
from aimops.monitors.inputs import (
    distinct_as_text,
    frame_rows,
    holds_numbers,
    is_real_number,
    overflow_safe_unit,
    require_columns,
)
from aimops.monitors.reports import blocks

if TYPE_CHECKING:
    import pandas as pd

SkewMethod = Literal["jensenshannon", "linf"]
#: The default skew threshold per method (a feature is skewed when its score exceeds it).
DEFAULT_THRESHOLDS: dict[SkewMethod, float] = {"jensenshannon": 0.1, "linf": 0.1}
#: The training side's quantiles that bound the numeric buckets (deciles: 10 buckets).
BUCKET_QUANTILES = np.linspace(0.1, 0.9, 9)
#: Two joined numbers match when they differ by at most this share of the serving one.
MATCH_RELATIVE_TOLERANCE = 1e-9
#: The fewest values per side from which a distance past its threshold is skew on its own.
MIN_VALUES_FOR_SKEW: dict[SkewMethod, int] = {"jensenshannon": 500, "linf": 200}
#: What the two frames are called in the reasons a feature is inconclusive.
ROLES = ("training", "serving")


@dataclass(frozen=True)
class FeatureConsistency:
    """One feature: the method, its threshold, the score, the flag and (with a key) the
    exact-match rate over the joined rows. A feature too thin to judge has ``skewed`` None
    and ``inconclusive`` saying why (and no ``score`` when it was not scored at all)."""

    method: SkewMethod
    threshold: float
    score: float | None
    skewed: bool | None
    match_rate: float | None
    inconclusive: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The feature's comparison as JSON-compatible data."""
        return asdict(self)


@dataclass(frozen=True)
class KeyJoin:
    """How the key joined the two frames."""

    key: str
    matched: int
    missing_in_serving: int
    missing_in_training: int


@dataclass(frozen=True)
class ConsistencyResult(RecordableCheck):
    """Every compared feature and the verdict; ``join`` is None without a key."""

    kind: ClassVar[str] = "feature_consistency"
    features: dict[str, FeatureConsistency]
    status: CheckStatus
    n_training: int
    n_serving: int
    join: KeyJoin | None
    metrics: dict[str, float]

    @property
    def skewed_features(self) -> list[str]:
        """The names of the skewed features, in the order they were compared."""
        return [name for name, feature in self.features.items() if feature.skewed]

    @property
    def inconclusive_features(self) -> list[str]:
        """The names of the features without a verdict, in the order they were compared."""
        return [name for name, feature in self.features.items() if feature.skewed is None]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "status": self.status,
            "n_training": self.n_training,
            "n_serving": self.n_serving,
            "join": asdict(self.join) if self.join else None,
            "metrics": dict(self.metrics),
            "features": {name: feature.to_dict() for name, feature in self.features.items()},
        }


def check_feature_consistency(
    training: pd.DataFrame,
    serving: pd.DataFrame,
    *,
    features: Sequence[Hashable] | None = None,
    key: Hashable | None = None,
    thresholds: Mapping[Hashable, float] | None = None,
    min_match_rate: float = 0.99,
    skew_status: Literal["fail", "warn"] = "fail",
) -> ConsistencyResult:
    """Compare each feature of ``training`` and ``serving`` as TFDV's skew detection does.

    ``features`` defaults to every column but ``key`` (then both frames must have the same
    columns); ``thresholds`` overrides the threshold per feature. Raises
    :class:`~aimops.errors.InvalidDataError` naming the column for frames that cannot be
    compared. See the module docstring for the definitions and an example.
    """
    n_training = frame_rows(training, "training", rows_needed=False)
    n_serving = frame_rows(serving, "serving", rows_needed=False)
    key = validation.optional_hashable(key, "key")
    features = validation.optional_hashables(features, "features")
    thresholds = dict(validation.optional_mapping(thresholds, "thresholds") or {})
    names = _feature_names(training, serving, features, key)
    _check_settings(names, thresholds, min_match_rate, skew_status)
    joined = _join_on_key(training, serving, key) if key is not None else None
    compared = {
        str(name): _compare_feature(
            name, training[name], serving[name], thresholds.get(name), joined, min_match_rate
        )
        for name in names
    }
    skewed = sum(feature.skewed is True for feature in compared.values())
    undecided = any(feature.skewed is None for feature in compared.values())
    status: CheckStatus = skew_status if skewed else "inconclusive" if undecided else "pass"
    join = joined[2] if joined is not None else None
    return ConsistencyResult(
        compared, status, n_training, n_serving, join, _metrics(compared, skewed)
    )


def _metrics(features: Mapping[str, FeatureConsistency], skewed: int) -> dict[str, float]:
    """``skewed_features``, and ``max_score`` and ``match_rate_min`` when there are scores
    and match rates to take them from."""
    metrics = {"skewed_features": float(skewed)}
    scores = [feature.score for feature in features.values() if feature.score is not None]
    rates = [f.match_rate for f in features.values() if f.match_rate is not None]
    if scores:
        metrics["max_score"] = max(scores)
    if rates:
        metrics["match_rate_min"] = min(rates)
    return metrics


def _feature_names(
    training: pd.DataFrame,
    serving: pd.DataFrame,
    features: Sequence[Hashable] | None,
    key: Hashable | None,
) -> list[Hashable]:
    if key is not None:
        require_columns(training, [key], "training")
        require_columns(serving, [key], "serving")
    if features is None:
        names = [name for name in training.columns if name != key]
        require_columns(serving, names, "serving")
        require_columns(training, [n for n in serving.columns if n != key], "training")
    else:
        names = list(features)
        if key in names:
            raise InvalidDataError(f"key column {key!r} cannot also be a feature")
        require_columns(training, names, "training")
        require_columns(serving, names, "serving")
    if not names:
        raise InvalidDataError("no features to compare")
    distinct_as_text(names, "features")
    return names


def _check_settings(
    names: list[Hashable],
    thresholds: Mapping[Hashable, float],
    min_match_rate: float,
    skew_status: str,
) -> None:
    unknown = [name for name in thresholds if name not in names]
    if unknown:
        raise InvalidDataError(f"thresholds name columns that are not compared: {unknown}")
    for name, threshold in thresholds.items():
        if not is_real_number(threshold) or not threshold >= 0:
            raise InvalidDataError(f"threshold for column {name!r} must be a number >= 0")
    if not is_real_number(min_match_rate) or not 0 <= min_match_rate <= 1:
        raise InvalidDataError(f"min_match_rate must be in [0, 1], not {min_match_rate!r}")
    if not isinstance(skew_status, str) or skew_status not in ("fail", "warn"):
        raise InvalidDataError(
            f"skew_status must be 'fail' or 'warn', not {validation.shown(skew_status)}"
        )


Joined = tuple["pd.DataFrame", "pd.DataFrame", KeyJoin]


def _join_on_key(training: pd.DataFrame, serving: pd.DataFrame, key: Hashable) -> Joined:
    """Both frames' rows for the keys they share, in the same order, and the join's counts."""
    for frame, role in ((training, "training"), (serving, "serving")):
        if frame[key].isna().any():
            raise InvalidDataError(f"key column {key!r} has missing values in {role}")
        if frame[key].duplicated().any():
            raise InvalidDataError(f"key column {key!r} has duplicate values in {role}")
    training_keys, serving_keys = set(training[key]), set(serving[key])
    shared = training_keys & serving_keys
    if not shared:
        raise InvalidDataError(f"key column {key!r} has no value in both training and serving")
    left = training[training[key].isin(shared)].set_index(key).sort_index()
    right = serving[serving[key].isin(shared)].set_index(key).sort_index()
    counts = KeyJoin(str(key), len(shared), len(training_keys - shared), len(serving_keys - shared))
    return left, right, counts


def _compare_feature(
    name: Hashable,
    training: pd.Series[Any],
    serving: pd.Series[Any],
    threshold: float | None,
    joined: Joined | None,
    min_match_rate: float,
) -> FeatureConsistency:
    numeric = _holds_numbers(name, training, serving)
    method: SkewMethod = "jensenshannon" if numeric else "linf"
    threshold = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    train_values = _present_values(training, numeric)
    serve_values = _present_values(serving, numeric)
    score, by_distribution = _distribution_skew(method, threshold, train_values, serve_values)
    match_rate = None
    skewed, why = by_distribution
    if joined is not None:
        match_rate = exact_match_rate(joined[0][name], joined[1][name], numeric)
        by_key = _key_skew(match_rate, len(joined[0]), min_match_rate)
        skewed, why = _either(by_distribution, by_key)
    return FeatureConsistency(method, threshold, score, skewed, match_rate, why)


def _holds_numbers(name: Hashable, training: pd.Series[Any], serving: pd.Series[Any]) -> bool:
    """Whether the feature holds numbers, read from a side that has values (a column without
    any, pandas often holds as objects)."""
    numbers = holds_numbers(training), holds_numbers(serving)
    present = bool(training.notna().any()), bool(serving.notna().any())
    if numbers[0] != numbers[1] and all(present):
        raise InvalidDataError(
            f"column {name!r} holds numbers on one side and not the other "
            f"(training {training.dtype}, serving {serving.dtype})"
        )
    return numbers[0] if present[0] else numbers[1]


def _present_values(series: pd.Series[Any], numeric: bool) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = series[series.notna()].to_numpy()
    if numeric:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
    return values


Verdict = tuple[bool | None, str | None]


def _distribution_skew(
    method: SkewMethod,
    threshold: float,
    training: npt.NDArray[Any],
    serving: npt.NDArray[Any],
) -> tuple[float | None, Verdict]:
    """The distance of the two distributions and the verdict on it (see the module
    docstring for how few values it may rest on)."""
    counts = (len(training), len(serving))
    unscored = too_few_to_score(counts, ROLES)
    if unscored is not None:
        return None, (None, unscored)
    if method == "jensenshannon":
        score = jensen_shannon_distance(*bucket_shares(training, serving))
    else:
        score = linf_distance(training, serving)
    verdict = judge(
        score > threshold, counts, ROLES, MIN_VALUES_FOR_SKEW[method],
        lambda: p_value(training, serving),
    )  # fmt: skip
    return score, verdict


def _key_skew(match_rate: float, rows: int, min_match_rate: float) -> Verdict:
    """Skewed when the joined rows match too rarely, however few; cleared from
    :data:`~aimops.monitors.checks.sample_size.MIN_VALUES_FOR_NO_CHANGE` rows on."""
    if match_rate < min_match_rate:
        return True, None
    if rows >= MIN_VALUES_FOR_NO_CHANGE:
        return False, None
    matched = round(match_rate * rows)
    return None, (
        f"{matched} of {rows} joined rows match, too few to rule skew out; "
        f"{MIN_VALUES_FOR_NO_CHANGE} needed"
    )


def _either(first: Verdict, second: Verdict) -> Verdict:
    """Skewed when either says so; not skewed when both say not; else inconclusive (with
    both reasons)."""
    if first[0] or second[0]:
        return True, None
    if first[0] is False and second[0] is False:
        return False, None
    return None, "; ".join(why for _, why in (first, second) if why)


def bucket_shares(
    training: npt.NDArray[np.float64], serving: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The shares of ``training`` and ``serving`` in the buckets cut by the training deciles.

    Each decile value is a bucket of its own, between the open intervals around it: a feature
    that is (nearly) constant in training has all its deciles on one value, and a serving value
    that moved off it must land in another bucket (training all 0.0, serving all 1.0 is as far
    apart as two distributions get).

    Example:
        >>> shares = bucket_shares(np.zeros(100), np.ones(100))
        >>> round(jensen_shannon_distance(*shares), 3)
        1.0
    """
    unit = overflow_safe_unit(training, serving)  # a power of two: changes no bucket
    training, serving = training / unit, serving / unit
    edges = np.unique(np.quantile(training, BUCKET_QUANTILES))
    buckets = 2 * len(edges) + 1

    def bucket(values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        below = np.searchsorted(edges, values, side="left")
        at_edge = np.searchsorted(edges, values, side="right") > below
        return 2 * below + at_edge

    train_counts = np.bincount(bucket(training), minlength=buckets)
    serve_counts = np.bincount(bucket(serving), minlength=buckets)
    return train_counts / len(training), serve_counts / len(serving)


def jensen_shannon_distance(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> float:
    """The Jensen-Shannon distance (base 2, in [0, 1]) between two share vectors."""
    from scipy.special import rel_entr

    middle = (p + q) / 2.0
    divergence = (rel_entr(p, middle).sum() + rel_entr(q, middle).sum()) / 2.0 / np.log(2.0)
    return float(np.sqrt(max(divergence, 0.0)))


def linf_distance(training: npt.NDArray[Any], serving: npt.NDArray[Any]) -> float:
    """The largest difference between the two sides' normalized value frequencies."""
    import pandas as pd

    train_shares = pd.Series(training).value_counts(normalize=True)
    serve_shares = pd.Series(serving).value_counts(normalize=True)
    both = train_shares.align(serve_shares, fill_value=0.0)
    return float((both[0] - both[1]).abs().max())


def exact_match_rate(training: pd.Series[Any], serving: pd.Series[Any], numeric: bool) -> float:
    """The share of aligned rows whose values are equal (two missing values match)."""
    both_missing = training.isna().to_numpy() & serving.isna().to_numpy()
    if numeric:
        left = training.to_numpy(dtype=np.float64, na_value=np.nan)
        right = serving.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            equal = np.isclose(left, right, rtol=MATCH_RELATIVE_TOLERANCE, atol=0.0)
    else:
        equal = (training.to_numpy() == serving.to_numpy()) & training.notna().to_numpy()
    return float(np.mean(equal | both_missing))


# -- the kind: what failed in words, what its page shows -----------------------------------


def _describe(document: Mapping[str, Any]) -> str:
    """``training/serving skew in 1 of 8 features: income (jensenshannon 0.31 > 0.1)``, then
    the features without a verdict and why: ``; no verdict on 1: city (...)``."""
    features = document["features"]
    details, undecided = [], {}
    for name, feature in features.items():
        if feature["skewed"] is None:
            undecided[name] = feature.get("inconclusive")
        if not feature["skewed"]:
            continue
        # skewed by its score, or (with a key) by its match rate alone
        above = feature["score"] is not None and feature["score"] > feature["threshold"]
        detail = f"{name} ({feature['method']} {wording.number(feature['score'])} "
        detail += f"{'>' if above else '<='} {wording.number(feature['threshold'])}"
        if feature.get("match_rate") is not None:
            detail += f", match rate {wording.number(feature['match_rate'])}"
        details.append(detail + ")")
    head = f"training/serving skew in {len(details)} of {len(features)} features"
    line = (
        f"{head}: {wording.listed(details)}" if details else f"{head}; status {document['status']}"
    )
    return line + wording.no_verdict(undecided)


#: Feature consistency's measures: the kind of feature each applies to, and its name.
_MEASURES = {
    "jensenshannon": ("numeric", "Jensen-Shannon distance"),
    "linf": ("categorical", "L-infinity distance"),
}


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """Every feature with its measure and threshold (and why it has no verdict, when one has
    none), then the rows and the key join."""
    rows: list[blocks.Row] = []
    why = any(blocks.get(feature, "inconclusive") for feature in document["features"].values())
    for name, feature in document["features"].items():
        method = blocks.get(feature, "method")
        kind, measure = _MEASURES.get(str(method), (None, method))
        cells = [name, kind, measure]
        cells += [
            blocks.get(feature, key) for key in ("score", "threshold", "match_rate", "skewed")
        ]
        if why:
            cells.append(blocks.get(feature, "inconclusive"))
        skewed = blocks.get(feature, "skewed")
        undecided = skewed is None and isinstance(feature, Mapping)  # not an odd document
        rows.append(
            (blocks.status_class("inconclusive") if undecided else blocks.flag_class(skewed), cells)
        )
    summary: list[tuple[str, Any]] = [
        ("Training rows", document.get("n_training")),
        ("Serving rows", document.get("n_serving")),
    ]
    join = document.get("join")
    if isinstance(join, Mapping):
        summary += [
            ("Join key", join.get("key")),
            ("Keys matched", join.get("matched")),
            ("Keys missing in serving", join.get("missing_in_serving")),
            ("Keys missing in training", join.get("missing_in_training")),
        ]
    headers: tuple[str, ...] = ("Feature", "Kind", "Measure", "Score", "Threshold",
                                "Match rate", "Skewed")  # fmt: skip
    headers += ("Why no verdict",) if why else ()
    return [
        blocks.section("Features", blocks.table(headers, rows)),
        blocks.section("Rows and key join", blocks.key_values(summary)),
    ]


KIND = register_check_kind(
    CheckKind(
        name="feature_consistency",
        title="Feature consistency",
        result=ConsistencyResult,
        describe=_describe,
        page=CheckPage(
            rows="features",
            rows_type=Mapping,
            sections=_page_sections,
            shown=frozenset({"n_training", "n_serving", "join"}),
        ),
        metrics=("skewed_features", "max_score", "match_rate_min"),
    )
)
