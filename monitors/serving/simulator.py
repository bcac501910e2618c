"""A SIMULATOR of a model-serving fleet's day of traffic, for examples and tests; not a server.

aimops watches serving fleets but cannot run one here, so :func:`simulate_serving_day` writes
the request log such a fleet would leave behind, from a real model and real feature rows, with
switches that inject the faults the checks must catch:

- Requests: ``requests`` rows drawn from ``features`` with replacement (seeded). ``drift``
  (``{column: k}``) shifts each named numeric column by ``k`` of its standard deviation in
  ``features`` before scoring: covariate drift that :func:`~aimops.monitors.check_drift` sees.
- Scores: ``model.predict_proba(rows)[:, 1]``, P(class 1), for every successful request;
  failed requests have no score (NaN).
- Timestamps (UTC) over ``day`` with a diurnal rate: the chance of a request in a minute is
  ``1 + 0.7 * cos(2 pi (hour - 14) / 24)``, so traffic peaks at 14:00 and is lowest at 02:00
  (about 6x less). Rows are in time order; ``request_id`` is ``sim-<YYYYMMDD>-<n>``.
- Latencies: log-normal with median :data:`MEDIAN_LATENCY_MS` (40 ms) and 99th percentile
  :data:`P99_LATENCY_MS` (150 ms). ``latency_regression_ms`` is added to a random
  ``latency_regression_share`` (25%) of the requests, as when one slice of the fleet slows
  down; the log's p99 then rises by about ``latency_regression_ms``.
- Statuses: 200, or with probability ``error_rate`` an error, 500 or 503 with equal chance.

Everything random comes from one ``numpy`` generator seeded with ``seed``: the same arguments
give the same log. The result is a :class:`ServingDay`: the request log (the columns
:func:`~aimops.monitors.check_health` reads, ``score`` and the served features) and a feature
snapshot for :func:`~aimops.monitors.check_feature_consistency`.

Example:
    >>> import datetime
    >>> import pandas as pd
    >>> class Half:  # any object with predict_proba will do; usually a scikit-learn model
    ...     def predict_proba(self, rows):
    ...         return [[0.5, 0.5]] * len(rows)
    >>> features = pd.DataFrame({"age": [31.0, 45.0, 52.0, 28.0]})
    >>> day = simulate_serving_day(
    ...     Half(), features, model_version="v1", day=datetime.date(2024, 5, 1), requests=300
    ... )
    >>> from aimops.monitors import check_health
    >>> len(day.requests), check_health(day.requests).status
    (300, 'pass')
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import pathlib
import secrets
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.inputs import is_real_number
from aimops.monitors.serving.logs import FEATURES_FILE, REQUESTS_FILE

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: Median latency of a healthy request.
MEDIAN_LATENCY_MS = 40.0
#: 99th percentile latency of a healthy request.
P99_LATENCY_MS = 150.0
#: The standard normal's 99th percentile, which ties the log-normal's sigma to the p99.
_Z99 = 2.3263478740408408
#: The most requests one simulated day holds (a day of a busy fleet; more is a mistake).
MAX_REQUESTS = 10_000_000
#: The error statuses a failed request gets, with equal chance.
ERROR_STATUSES = (500, 503)
#: The request log's own columns; the served features follow them.
LOG_COLUMNS = ("request_id", "timestamp", "model_version", "latency_ms", "status", "score")
_MINUTES_PER_DAY = 24 * 60
_PEAK_HOUR = 14.0
_DIURNAL_AMPLITUDE = 0.7


class ProbabilisticModel(Protocol):
    """A classifier with scikit-learn's ``predict_proba`` (column 1 is P(class 1))."""

    def predict_proba(self, rows: Any, /) -> Any: ...


@dataclass(frozen=True)
class ServingDay:
    """One simulated day: the request log and the feature snapshot the fleet served.

    ``requests`` has :data:`LOG_COLUMNS` and then the served feature columns (drift applied,
    the entity key too when given). ``feature_snapshot`` holds the served feature values: one
    row per request, or with an entity key one row per entity (its last served values), as a
    feature store's online table would.
    """

    requests: pd.DataFrame
    feature_snapshot: pd.DataFrame

    def __post_init__(self) -> None:
        import pandas as pd

        for name in ("requests", "feature_snapshot"):
            if not isinstance(getattr(self, name), pd.DataFrame):
                raise InvalidInputError(
                    f"a serving day's {name} is a pandas DataFrame, not "
                    f"{type(getattr(self, name)).__name__}"
                )

    def write(self, folder: str | os.PathLike[str]) -> pathlib.Path:
        """Write ``requests.parquet`` and ``features.parquet`` into ``folder`` (created).

        Each file is written to a temporary name and renamed over the target, so a reader
        sees a whole file or none. Returns the folder.
        """
        target = _folder(folder)
        with _in_folder(target):
            target.mkdir(parents=True, exist_ok=True)
            _write_parquet(self.feature_snapshot, target / FEATURES_FILE)
            _write_parquet(self.requests, target / REQUESTS_FILE)
        return target

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> ServingDay:
        """Read a day written by :meth:`write` back from ``folder``."""
        import pandas as pd

        source = _folder(folder)
        with _in_folder(source):
            missing = [n for n in (REQUESTS_FILE, FEATURES_FILE) if not (source / n).is_file()]
            if missing:
                raise InvalidDataError(f"{source} is not a serving day folder: it lacks {missing}")
            requests = pd.read_parquet(source / REQUESTS_FILE)
            return cls(requests, pd.read_parquet(source / FEATURES_FILE))


def simulate_serving_day(
    model: ProbabilisticModel,
    features: pd.DataFrame,
    *,
    model_version: str,
    day: datetime.date,
    requests: int = 2000,
    seed: int = 0,
    latency_regression_ms: float = 0.0,
    latency_regression_share: float = 0.25,
    error_rate: float = 0.002,
    drift: Mapping[str, float] | None = None,
    entity_key: str | None = None,
) -> ServingDay:
    """Simulate ``requests`` requests to ``model`` over ``day``, with faults if asked.

    ``features`` are the rows to serve (the model's inputs, plus ``entity_key`` if given, which
    the model does not see). Raises :class:`~aimops.errors.InvalidDataError` for arguments that
    cannot be simulated. See the module docstring for what is drawn how, and an example.
    """
    drift = dict(validation.optional_mapping(drift, "drift") or {})
    _check_arguments(features, requests, latency_regression_ms, latency_regression_share)
    _check_rate(error_rate)
    _check_columns(features, drift, entity_key)
    _check_identity(model, model_version, day, seed)
    rng = np.random.default_rng(seed)
    served = features.iloc[rng.integers(0, len(features), size=requests)].reset_index(drop=True)
    served = _drifted(served, features, drift)
    seconds = np.sort(_diurnal_seconds(rng, requests))
    latencies, statuses, failed = _outcomes(
        rng, requests, latency_regression_ms, latency_regression_share, error_rate
    )
    inputs = served.drop(columns=[entity_key]) if entity_key else served
    scores = _positive_probabilities(model, inputs)
    log = _request_log(day, model_version, seconds, latencies, statuses, scores, failed)
    import pandas as pd

    log = pd.concat([log, served], axis=1)
    snapshot = served
    if entity_key:
        snapshot = served.drop_duplicates(subset=entity_key, keep="last")
    return ServingDay(log, snapshot.reset_index(drop=True))


def _check_arguments(features: Any, requests: int, regression_ms: float, share: float) -> None:
    import pandas as pd

    if not isinstance(features, pd.DataFrame) or features.empty:
        raise InvalidDataError("features must be a non-empty pandas DataFrame")
    if (
        isinstance(requests, bool)
        or not isinstance(requests, int)
        or not 1 <= requests <= MAX_REQUESTS
    ):
        raise InvalidDataError(
            f"requests must be a whole number from 1 to {MAX_REQUESTS:,}, not {requests!r}"
        )
    if not is_real_number(regression_ms) or regression_ms < 0:
        raise InvalidDataError(f"latency_regression_ms must be >= 0, not {regression_ms!r}")
    if not is_real_number(share) or not 0 < share <= 1:
        raise InvalidDataError(f"latency_regression_share must be in (0, 1], not {share!r}")


def _check_identity(model: Any, model_version: Any, day: Any, seed: Any) -> None:
    if not callable(getattr(model, "predict_proba", None)):
        raise InvalidInputError(
            f"model must have predict_proba (a scikit-learn classifier), not {type(model).__name__}"
        )
    validation.text(model_version, "model_version", empty=False)
    validation.day(day, "day")
    validation.whole_number(seed, "seed", minimum=0)


def _positive_probabilities(model: ProbabilisticModel, rows: pd.DataFrame) -> FloatArray:
    """Column 1 of ``model.predict_proba(rows)``: one probability in [0, 1] per row."""
    try:
        given = np.asarray(model.predict_proba(rows), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"model.predict_proba gave what is not numbers: {exc}") from exc
    if given.ndim != 2 or given.shape[0] != len(rows) or given.shape[1] < 2:
        raise InvalidDataError(
            f"model.predict_proba must give a ({len(rows)}, 2) matrix of class probabilities "
            f"for {len(rows)} rows, not an array of shape {given.shape}"
        )
    scores: FloatArray = given[:, 1]
    if not (np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0):
        raise InvalidDataError(
            "model.predict_proba must give probabilities in [0, 1] (finite) in column 1"
        )
    return scores


def _folder(folder: Any) -> pathlib.Path:
    if not isinstance(folder, str | os.PathLike):
        raise InvalidInputError(f"a folder is a path, not {type(folder).__name__} {folder!r:.60}")
    return pathlib.Path(validation.text(os.fspath(folder), "a folder", empty=False, nul=False))


@contextlib.contextmanager
def _in_folder(folder: pathlib.Path) -> Iterator[None]:
    """Turn what the file system refuses of ``folder`` (a name too long, no permission)
    into InvalidInputError naming it."""
    try:
        yield
    except OSError as exc:
        raise InvalidInputError(
            f"cannot use {str(folder)[:120]!r} for a serving day: {exc.strerror or exc}"
        ) from exc


def _check_rate(error_rate: float) -> None:
    if not is_real_number(error_rate) or not 0 <= error_rate <= 1:
        raise InvalidDataError(f"error_rate must be in [0, 1], not {error_rate!r}")


def _check_columns(
    features: pd.DataFrame, drift: Mapping[str, float], entity_key: str | None
) -> None:
    from pandas.api import types

    clashing = [name for name in LOG_COLUMNS if name in features.columns]
    if clashing:
        raise InvalidDataError(f"features has column(s) {clashing} that the request log uses")
    if entity_key is not None and (
        not isinstance(entity_key, Hashable) or entity_key not in features.columns
    ):
        raise InvalidDataError(f"entity_key {entity_key!r} is not a column of features")
    for name, shift in drift.items():
        if name not in features.columns or name == entity_key:
            raise InvalidDataError(f"drift names {name!r}, which is not a feature column")
        if not types.is_numeric_dtype(features[name]) or types.is_bool_dtype(features[name]):
            raise InvalidDataError(f"drift needs a numeric column; {name!r} is not one")
        if not is_real_number(shift):
            raise InvalidDataError(f"drift for {name!r} must be a finite number, not {shift!r}")


def _drifted(
    served: pd.DataFrame, features: pd.DataFrame, drift: Mapping[str, float]
) -> pd.DataFrame:
    """``served`` with each drifted column shifted by its share of the column's deviation."""
    if not drift:
        return served
    served = served.copy()
    for name, shift in drift.items():
        deviation = float(features[name].std())
        served[name] = served[name].astype(np.float64) + shift * (
            deviation if math.isfinite(deviation) else 0.0
        )
    return served


def _diurnal_seconds(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """Seconds since midnight, more of them in the day than at night (peak at 14:00)."""
    hours = np.arange(_MINUTES_PER_DAY) / 60.0
    rate = 1 + _DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (hours - _PEAK_HOUR) / 24)
    minutes = rng.choice(_MINUTES_PER_DAY, size=count, p=rate / rate.sum())
    seconds: npt.NDArray[np.float64] = (minutes + rng.random(count)) * 60.0
    return seconds


def _latencies(
    rng: np.random.Generator, count: int, regression_ms: float, share: float
) -> npt.NDArray[np.float64]:
    """Log-normal latencies (median 40 ms, p99 150 ms), slower by ``regression_ms`` on a share."""
    sigma = math.log(P99_LATENCY_MS / MEDIAN_LATENCY_MS) / _Z99
    latencies = rng.lognormal(math.log(MEDIAN_LATENCY_MS), sigma, size=count)
    slowed = rng.random(count) < share
    result: npt.NDArray[np.float64] = latencies + np.where(slowed, regression_ms, 0.0)
    return result


def _outcomes(
    rng: np.random.Generator, count: int, regression_ms: float, share: float, error_rate: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Each request's latency, status and whether it failed (see the module docstring)."""
    latencies = _latencies(rng, count, regression_ms, share)
    failed = rng.random(count) < error_rate
    statuses = np.where(failed, rng.choice(ERROR_STATUSES, size=count), 200)
    return latencies, statuses, failed


def _request_log(
    day: datetime.date,
    model_version: str,
    seconds: npt.NDArray[np.float64],
    latencies: npt.NDArray[np.float64],
    statuses: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    failed: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    import pandas as pd

    midnight = pd.Timestamp(day.year, day.month, day.day, tz="UTC")
    timestamps = (midnight + pd.to_timedelta(seconds, unit="s")).floor("ms")
    request_ids = [f"sim-{day:%Y%m%d}-{n:06d}" for n in range(len(seconds))]
    return _log_frame(request_ids, timestamps, model_version, latencies, statuses, scores, failed)


def _log_frame(
    request_ids: Any,
    timestamps: Any,
    model_version: str,
    latencies: npt.NDArray[np.float64],
    statuses: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    failed: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """The request log's own columns (:data:`LOG_COLUMNS`): latencies to the microsecond,
    no score for a failed request."""
    import pandas as pd

    return pd.DataFrame(
        {
            "request_id": request_ids,
            "timestamp": timestamps,
            "model_version": model_version,
            "latency_ms": np.round(latencies, 3),
            "status": statuses.astype(np.int64),
            "score": np.where(failed, np.nan, scores),
        }
    )


def _write_parquet(frame: pd.DataFrame, target: pathlib.Path) -> None:
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        frame.to_parquet(partial, index=False)
        os.replace(partial, target)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, ValueError | TypeError) or type(exc).__module__.startswith("pyarrow"):
            raise InvalidDataError(f"{target.name} cannot hold this frame: {exc}") from exc
        raise
