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

With ``key`` (an entity-id column in both frames, unique on each side) the rows are also joined
on the key, and each feature gets an exact-match rate: the share of joined rows whose training
and serving values are equal (numbers within a relative tolerance of 1e-9; two missing values
count as a match), as TFDV's ``DetectFeatureSkew`` counts matches. A feature whose match rate is
below ``min_match_rate`` (0.99) is skewed too. The result also counts the keys matched and the
keys found on one side only.

``status`` is ``skew_status`` (``"fail"``, or ``"warn"`` if asked) when any feature is skewed,
``"pass"`` otherwise. ``metrics`` holds ``skewed_features``, ``max_score`` and, with a key,
``match_rate_min``.

Example:
    >>> import pandas as pd
    >>> training = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "city": ["a", "a", "b", "b"]})
    >>> serving = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "city": ["a", "b", "b", "b"]})
    >>> result = check_feature_consistency(training, serving)
    >>> result.status, result.skewed_features
    ('fail', ['city'])
    >>> result.features["city"].method, result.features["city"].score
    ('linf', 0.25)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from aimops.errors import InvalidDataError
from aimops.monitors.checks import wording
from aimops.monitors.checks.base import CheckStatus, RecordableCheck
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.inputs import frame_rows, holds_numbers, is_real_number, require_columns
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


@dataclass(frozen=True)
class FeatureConsistency:
    """One feature: the method, its threshold, the score, the flag and (with a key) the
    exact-match rate over the joined rows."""

    method: SkewMethod
    threshold: float
    score: float
    skewed: bool
    match_rate: float | None

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
    n_training, n_serving = frame_rows(training, "training"), frame_rows(serving, "serving")
    names = _feature_names(training, serving, features, key)
    thresholds = dict(thresholds or {})
    _check_settings(names, thresholds, min_match_rate, skew_status)
    joined = _join_on_key(training, serving, key) if key is not None else None
    compared = {
        str(name): _compare_feature(
            name, training[name], serving[name], thresholds.get(name), joined, min_match_rate
        )
        for name in names
    }
    skewed = sum(feature.skewed for feature in compared.values())
    metrics = {
        "skewed_features": float(skewed),
        "max_score": max(feature.score for feature in compared.values()),
    }
    join = None
    if joined is not None:
        join = joined[2]
        metrics["match_rate_min"] = min(f.match_rate or 0.0 for f in compared.values())
    status: CheckStatus = skew_status if skewed else "pass"
    return ConsistencyResult(compared, status, n_training, n_serving, join, metrics)


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
    if skew_status not in ("fail", "warn"):
        raise InvalidDataError(f"skew_status must be 'fail' or 'warn', not {skew_status!r}")


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
    numeric = holds_numbers(training)
    if numeric != holds_numbers(serving):
        raise InvalidDataError(
            f"column {name!r} holds numbers on one side and not the other "
            f"(training {training.dtype}, serving {serving.dtype})"
        )
    method: SkewMethod = "jensenshannon" if numeric else "linf"
    train_values = _present_values(name, training, numeric, "training")
    serve_values = _present_values(name, serving, numeric, "serving")
    if numeric:
        score = jensen_shannon_distance(*bucket_shares(train_values, serve_values))
    else:
        score = linf_distance(train_values, serve_values)
    threshold = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    skewed = score > threshold
    match_rate = None
    if joined is not None:
        match_rate = exact_match_rate(joined[0][name], joined[1][name], numeric)
        skewed = skewed or match_rate < min_match_rate
    return FeatureConsistency(method, threshold, score, skewed, match_rate)


def _present_values(
    name: Hashable, series: pd.Series[Any], numeric: bool, role: str
) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = series[series.notna()].to_numpy()
    if numeric:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
    if not len(values):
        raise InvalidDataError(f"column {name!r} has no values in {role}: all are missing")
    return values


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
    """``training/serving skew in 1 of 8 features: income (jensenshannon 0.31 > 0.1)``"""
    features = document["features"]
    details = []
    for name, feature in features.items():
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
    return (
        f"{head}: {wording.listed(details)}" if details else f"{head}; status {document['status']}"
    )


#: Feature consistency's measures: the kind of feature each applies to, and its name.
_MEASURES = {
    "jensenshannon": ("numeric", "Jensen-Shannon distance"),
    "linf": ("categorical", "L-infinity distance"),
}


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """Every feature with its measure and threshold, then the rows and the key join."""
    rows: list[blocks.Row] = []
    for name, feature in document["features"].items():
        method = blocks.get(feature, "method")
        kind, measure = _MEASURES.get(str(method), (None, method))
        cells = [name, kind, measure]
        cells += [
            blocks.get(feature, key) for key in ("score", "threshold", "match_rate", "skewed")
        ]
        rows.append((blocks.flag_class(blocks.get(feature, "skewed")), cells))
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
    headers = ("Feature", "Kind", "Measure", "Score", "Threshold", "Match rate", "Skewed")
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
