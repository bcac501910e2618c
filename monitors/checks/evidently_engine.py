"""Drift computed by Evidently 0.7.23 itself, and its HTML report.

:func:`evidently_drift` runs ``Report([DataDriftPreset(drift_share=...)],
include_tests=True).run(current, reference)`` and converts what it reports into the same
:class:`~aimops.monitors.checks.drift.DriftResult` that
:func:`~aimops.monitors.checks.drift.check_drift` returns: each column's kind, method, threshold
and score from Evidently's ``ValueDrift`` metrics, its flag from Evidently's per-column tests. The
share of drifted columns, the dataset verdict and the status follow ``check_drift``'s rules (the
flags are counted; Evidently's own ``DriftedColumnsCount`` can count one fewer when a column holds
±inf and no NaN, see :mod:`aimops.monitors.checks.drift`). :func:`save_evidently_report` only
writes the HTML report.

Differences from ``check_drift``: the column kinds are Evidently's (it may call strings with
many distinct values text and use its text method on them; such columns are reported as
categorical, with Evidently's method name); there is no ``min_rows``, so the status is never
``inconclusive``. Evidently is imported on first call (it takes seconds to import).

The HTML report is one self-contained file (~4 MB): Evidently inlines its scripts and styles
(no ``<script src>`` or ``<link href>``; the only URLs are inside the inlined libraries).
Both HTML writes go to a temporary file beside the target, then move into place.

Example (slow: it runs Evidently):
    >>> import pandas as pd
    >>> reference = pd.DataFrame({"age": [30.5, 41.0, 25.5, 38.0, 52.5, 29.0, 44.5, 35.0]})
    >>> current = pd.DataFrame({"age": [60.5, 71.0, 65.5, 68.0, 72.5, 59.0, 64.5, 75.0]})
    >>> result = evidently_drift(reference, current)  # doctest: +SKIP
    >>> result.columns["age"].method, result.status  # doctest: +SKIP
    ('ks', 'fail')
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidDataError
from aimops.monitors.checks.drift import ColumnDrift, DriftResult, drift_verdict
from aimops.monitors.inputs import frame_rows

if TYPE_CHECKING:
    import pandas as pd

#: Evidently's display names of the methods aimops also computes, by aimops' names for them.
EVIDENTLY_METHOD_NAMES = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numerical_columns: Sequence[Hashable] | None = None,
    categorical_columns: Sequence[Hashable] | None = None,
    drift_share: float = 0.5,
    html_path: str | os.PathLike[str] | None = None,
) -> DriftResult:
    """Drift of ``current`` against ``reference`` as Evidently computes it.

    With neither column list, Evidently infers the columns and their kinds; with either, only
    the listed columns are checked, with the kinds given. ``html_path``, when given, receives
    Evidently's HTML report. See the module docstring for how the result is built.
    """
    n_reference, n_current = frame_rows(reference, "reference"), frame_rows(current, "current")
    snapshot, kinds = _run_report(
        reference, current, numerical_columns, categorical_columns, drift_share
    )
    if html_path is not None:
        _save_html_atomically(snapshot, Path(html_path))
    columns = _columns(snapshot.dict(), kinds)
    if not columns:
        raise InvalidDataError("Evidently found no columns to check for drift")
    return drift_verdict(columns, drift_share, n_reference, n_current)


def save_evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    numerical_columns: Sequence[Hashable] | None = None,
    categorical_columns: Sequence[Hashable] | None = None,
    drift_share: float = 0.5,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Path:
    """Write Evidently's data drift HTML report for ``current`` against ``reference`` to
    ``path`` (atomically); returns the path. ``drift_share`` and the per-column ``methods``
    and ``thresholds`` (aimops' method names are Evidently's) are Evidently's settings too, so
    the report judges the data as the check did."""
    frame_rows(reference, "reference")
    frame_rows(current, "current")
    snapshot, _ = _run_report(
        reference, current, numerical_columns, categorical_columns, drift_share, methods,
        thresholds,
    )  # fmt: skip
    return _save_html_atomically(snapshot, Path(path))


def _run_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[Hashable] | None,
    categorical: Sequence[Hashable] | None,
    drift_share: float,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> tuple[Any, dict[str, str]]:
    """Evidently's snapshot, and each column's kind as Evidently saw it."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = None
    if numerical is not None or categorical is not None:
        definition = DataDefinition(
            numerical_columns=[str(name) for name in numerical or []],
            categorical_columns=[str(name) for name in categorical or []],
        )
    current_data = Dataset.from_pandas(current, data_definition=definition)
    reference_data = Dataset.from_pandas(reference, data_definition=definition)
    seen = current_data.data_definition
    kinds = dict.fromkeys(seen.get_numerical_columns(), "numerical")
    kinds.update(dict.fromkeys(seen.get_categorical_columns(), "categorical"))
    preset = DataDriftPreset(
        drift_share=drift_share,
        per_column_method=dict(methods) if methods else None,
        per_column_threshold=dict(thresholds) if thresholds else None,
    )
    report = Report([preset], include_tests=True)
    try:
        with warnings.catch_warnings():
            # Its scipy calls warn on ±inf and on values unseen in the reference.
            warnings.simplefilter("ignore", RuntimeWarning)
            snapshot = report.run(current_data, reference_data)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidDataError(f"Evidently could not compare the frames: {exc}") from exc
    return snapshot, kinds


def _columns(document: dict[str, Any], kinds: dict[str, str]) -> dict[str, ColumnDrift]:
    found: dict[str, dict[str, Any]] = {}
    for metric in document["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            found[config["column"]] = {
                "kind": "numerical"
                if kinds.get(config["column"]) == "numerical"
                else "categorical",
                "method": EVIDENTLY_METHOD_NAMES.get(config["method"], config["method"]),
                "threshold": float(config["threshold"]),
                "score": float(metric["value"]),
            }
    for test in document["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            status = getattr(test["status"], "value", test["status"])
            found[params["column"]]["drifted"] = status == "FAIL"
    return {name: ColumnDrift(**column) for name, column in found.items()}


def _save_html_atomically(snapshot: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".html")
    os.close(handle)
    try:
        snapshot.save_html(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
