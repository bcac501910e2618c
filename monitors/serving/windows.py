"""A SIMULATOR of a serving fleet's traffic in a window of time, split across the versions of a
model by traffic weights as a router splits it; for examples and tests (a ramp's steps), not a
server.

:func:`simulate_serving_window` writes the request logs such a fleet would leave behind from
``start`` to ``end``, one window folder per version
(:func:`~aimops.monitors.serving.logs.window_folder`), which
:func:`~aimops.monitors.serving.logs.read_window` reads back:

- Routing: ``weights`` are a router's traffic weights, ``{version: percent}``, whole percents
  summing to 100; each of the ``requests`` goes to a version drawn with those chances, so a
  version's share follows its weight within sampling error. A version of weight 0 gets
  nothing, and no folder.
- Timestamps (UTC): uniform over the window's whole milliseconds, ``start`` included and
  ``end`` not. ``request_id`` is ``sim-<start>-<n>``, ``n`` counting the window's requests
  in time order across the versions, so ids are unique in the window.
- Everything else as :func:`~aimops.monitors.serving.simulator.simulate_serving_day` does it,
  version by version with its own model: served rows drawn from ``features``, scores from
  ``predict_proba``, log-normal latencies (median 40 ms, p99 150 ms), statuses 200 or, with
  probability ``error_rate`` (0.2%), 500 or 503. ``faults`` injects that simulator's faults
  into some versions: ``{"4": {"latency_regression_ms": 900, "error_rate": 0.05,
  "drift": {"age": 2.0}, "latency_regression_share": 0.25}}``; the other versions stay
  healthy.

Everything random comes from one ``numpy`` generator seeded with ``seed``: the same arguments
give the same logs, whatever order ``weights`` lists the versions in. Every argument is
checked before anything is simulated or written. Simulating the same window again replaces
its folders; a window that overlaps another one of a version (or a day with a whole log)
adds requests, which the reader then counts twice: simulate a ramp's steps one after the
other.

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> import pandas as pd
    >>> from aimops.monitors.serving.logs import read_window
    >>> class Half:  # any object with predict_proba will do; usually a scikit-learn model
    ...     def predict_proba(self, rows):
    ...         return [[0.5, 0.5]] * len(rows)
    >>> root = tempfile.mkdtemp()
    >>> start = datetime(2026, 11, 26, 10, tzinfo=UTC)
    >>> end = datetime(2026, 11, 26, 10, 10, tzinfo=UTC)
    >>> served = simulate_serving_window(
    ...     {"3": Half(), "4": Half()}, pd.DataFrame({"age": [31.0, 45.0, 52.0]}),
    ...     model="churn", weights={"3": 80, "4": 20}, start=start, end=end, root=root,
    ...     faults={"4": {"latency_regression_ms": 900}},
    ... )
    >>> log = read_window("churn", ["3", "4"], start, end, root=root)
    >>> log["model_version"].value_counts().to_dict()
    {'churn/3': 1599, 'churn/4': 401}
    >>> from aimops.monitors import check_health
    >>> {name: v.status for name, v in check_health(log).versions.items()}
    {'churn/3': 'pass', 'churn/4': 'fail'}
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.serving.logs import _micros, _utc, window_folder
from aimops.monitors.serving.simulator import (
    ProbabilisticModel,
    ServingDay,
    _check_arguments,
    _check_columns,
    _check_rate,
    _drifted,
    _log_frame,
    _outcomes,
    _positive_probabilities,
)

if TYPE_CHECKING:
    import pandas as pd

#: The faults a version can be given, and what it has without them (as simulate_serving_day).
FAULTS: dict[str, Any] = {
    "latency_regression_ms": 0.0,
    "latency_regression_share": 0.25,
    "error_rate": 0.002,
    "drift": {},
}
_WEIGHT_RULE = "weights are whole percents from 0 to 100"
#: The nanoseconds since 1970 a pandas timestamp can hold.
_PANDAS_NANOS = (-(2**63) + 1, 2**63 - 1)


def simulate_serving_window(
    models: Mapping[str, ProbabilisticModel],
    features: pd.DataFrame,
    *,
    model: str,
    weights: Mapping[str, int],
    start: datetime,
    end: datetime,
    requests: int = 2000,
    seed: int = 0,
    faults: Mapping[str, Mapping[str, Any]] | None = None,
    root: str | os.PathLike[str] | None = None,
    write: bool = True,
) -> dict[str, ServingDay]:
    """Simulate ``requests`` requests to ``model`` from ``start`` to ``end``, split across
    its versions by ``weights``; write each version's log into its window folder under
    ``root`` (unless ``write`` is False) and return ``{version: ServingDay}`` for the versions
    with a weight.

    ``models`` maps each version with a weight to its model (an object with
    ``predict_proba``); ``features`` are the rows to serve. ``start`` and ``end`` are
    timezone-aware, at most a day apart. Raises :class:`~aimops.errors.InvalidInputError`
    (:class:`~aimops.errors.InvalidDataError` for what cannot be simulated) naming the
    argument, before anything is written. See the module docstring for what is drawn how.

    Example:
        >>> from datetime import UTC, datetime
        >>> import pandas as pd
        >>> class Half:
        ...     def predict_proba(self, rows):
        ...         return [[0.5, 0.5]] * len(rows)
        >>> served = simulate_serving_window(
        ...     {"3": Half()}, pd.DataFrame({"age": [31.0, 45.0]}), model="churn",
        ...     weights={"3": 100, "4": 0}, start=datetime(2026, 11, 26, 10, tzinfo=UTC),
        ...     end=datetime(2026, 11, 26, 10, 10, tzinfo=UTC), requests=300, write=False,
        ... )
        >>> {version: len(day.requests) for version, day in served.items()}
        {'3': 300}
    """
    shares = _weights(weights)
    fleet = _fleet(models, shares)
    _check_arguments(features, requests, 0.0, 1.0)
    _check_columns(features, {}, None)
    plans = _faults(faults, weights, features)
    seed = validation.whole_number(seed, "seed", minimum=0)
    write = validation.flag(write, "write")
    name = validation.text(model, "model", empty=False, nul=False)
    folders = {
        version: window_folder(f"{name}/{version}", start, end, root=root) for version in shares
    }
    first, stop = _milliseconds(start, end)
    rng = np.random.default_rng(seed)
    moments = np.sort(rng.integers(first, stop, size=requests))
    ordered = sorted(shares)  # the draws do not depend on the order weights are given in
    chances = np.array([shares[version] for version in ordered], dtype=np.float64) / 100
    routed = rng.choice(len(ordered), size=requests, p=chances)
    stamp = f"sim-{_utc(start, 'start'):%Y%m%dT%H%M%S.%f}"
    request_ids = np.array([f"{stamp}-{n:06d}" for n in range(requests)], dtype=object)
    import pandas as pd

    timestamps = pd.to_datetime(moments, unit="ms", utc=True)
    served = {}
    for code, version in enumerate(ordered):
        rows = np.flatnonzero(routed == code)
        served[version] = _serve(
            fleet[version], features, rng, plans.get(version, {}),
            (request_ids[rows], timestamps[rows], f"{name}/{version}"),
        )  # fmt: skip
    if write:
        for version in shares:
            served[version].write(folders[version])
    return {version: served[version] for version in shares}


def _serve(
    model: ProbabilisticModel,
    features: pd.DataFrame,
    rng: np.random.Generator,
    faults: Mapping[str, Any],
    requests: tuple[Any, Any, str],
) -> ServingDay:
    """One version's requests (ids, timestamps, its ``name/version``) served as
    simulate_serving_day serves them."""
    import pandas as pd

    request_ids, timestamps, label = requests
    plan = {**FAULTS, **faults}
    count = len(request_ids)
    served = features.iloc[rng.integers(0, len(features), size=count)].reset_index(drop=True)
    served = _drifted(served, features, plan["drift"])
    latencies, statuses, failed = _outcomes(
        rng, count, plan["latency_regression_ms"], plan["latency_regression_share"],
        plan["error_rate"],
    )  # fmt: skip
    try:
        scores = _positive_probabilities(model, served) if count else np.zeros(0)
    except InvalidDataError as exc:
        raise InvalidDataError(f"the model of {label}: {exc}") from exc
    log = _log_frame(request_ids, timestamps, label, latencies, statuses, scores, failed)
    return ServingDay(pd.concat([log, served], axis=1), served)


def _weights(weights: Any) -> dict[str, int]:
    """``{version: percent}`` of the versions with a weight, in the order given."""
    if not isinstance(weights, Mapping):
        raise InvalidInputError(
            "weights must be a mapping of version to percent ({'3': 95, '4': 5}), not "
            f"{type(weights).__name__} {validation.shown(weights)}"
        )
    checked: dict[str, int] = {}
    for key, value in weights.items():
        version = _version(key, "a version in weights")
        if version in checked:
            raise InvalidInputError(f"version {version} is given twice in weights")
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            shown = f"{validation.shown(value)} ({type(value).__name__})"
            raise InvalidInputError(f"weight of version {version} is {shown}: {_WEIGHT_RULE}")
        if not 0 <= value <= 100:
            raise InvalidInputError(f"weight of version {version} is {value}: {_WEIGHT_RULE}")
        checked[version] = operator.index(value)
    total = sum(checked.values())
    if total != 100:
        shown = validation.shown(dict(checked))
        raise InvalidInputError(f"weights must sum to 100, not {total}: {shown}")
    return {version: percent for version, percent in checked.items() if percent}


def _version(value: Any, what: str) -> str:
    """A version's name: text or a whole number (``3`` is ``"3"``), one folder's name."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be text or a whole number, not bool {value!r}")
    version = validation.text(validation.key_segment(value, what), what, nul=False)
    if version != version.strip() or "/" in version or version in (".", ".."):
        raise InvalidInputError(f"{what} is one name such as '3', not {version!r}")
    return version


def _fleet(models: Any, shares: Mapping[str, int]) -> dict[str, ProbabilisticModel]:
    """The model of each version with a weight."""
    given = {
        _version(key, "a version in models"): value
        for key, value in validation.mapping(models, "models").items()
    }
    for version, percent in shares.items():
        if version not in given:
            raise InvalidInputError(
                f"version {version} has weight {percent} but no model in models "
                f"(which has {sorted(given)})"
            )
        if not callable(getattr(given[version], "predict_proba", None)):
            raise InvalidInputError(
                f"the model of version {version} must have predict_proba (a scikit-learn "
                f"classifier), not {type(given[version]).__name__}"
            )
    return {version: given[version] for version in shares}


def _faults(faults: Any, weights: Mapping[Any, Any], features: Any) -> dict[str, dict[str, Any]]:
    """``{version: {fault: value}}``, each checked as simulate_serving_day checks it."""
    routed = {_version(key, "a version in weights") for key in weights}
    plans = {}
    for key, value in (validation.optional_mapping(faults, "faults") or {}).items():
        version = _version(key, "a version in faults")
        if version not in routed:
            raise InvalidInputError(
                f"faults name version {version}, which weights do not have ({sorted(routed)})"
            )
        plan = dict(validation.mapping(value, f"the faults of version {version}"))
        unknown = [name for name in plan if name not in FAULTS]
        if unknown:
            raise InvalidInputError(
                f"unknown fault(s) {validation.shown(unknown)} for version {version}; known: "
                f"{', '.join(FAULTS)}"
            )
        plan["drift"] = dict(
            validation.optional_mapping(plan.get("drift"), f"the drift of version {version}") or {}
        )
        settings = {**FAULTS, **plan}
        try:
            _check_arguments(
                features, 1, settings["latency_regression_ms"], settings["latency_regression_share"]
            )
            _check_rate(settings["error_rate"])
            _check_columns(features, settings["drift"], None)
        except InvalidDataError as exc:
            raise InvalidDataError(f"faults of version {version}: {exc}") from exc
        plans[version] = plan
    return plans


def _milliseconds(start: datetime, end: datetime) -> tuple[int, int]:
    """The window's first whole millisecond since 1970 and the one after its last."""
    low = _micros(_utc(start, "start")) * 1000 + getattr(start, "nanosecond", 0)
    high = _micros(_utc(end, "end")) * 1000 + getattr(end, "nanosecond", 0)
    if not _PANDAS_NANOS[0] <= low < high <= _PANDAS_NANOS[1]:
        raise InvalidInputError(
            f"a simulated window lies within the times pandas holds (1677 to 2262), not "
            f"{start} to {end}"
        )
    first, stop = -(-low // 1_000_000), -(-high // 1_000_000)
    if first >= stop:
        raise InvalidInputError(
            f"the window from {start} to {end} holds no whole millisecond for a request"
        )
    return first, stop
