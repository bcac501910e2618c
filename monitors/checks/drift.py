"""Data drift between reference and current data, as Evidently 0.7.23's ``DataDriftPreset``.

:func:`check_drift` scores every column with Evidently's method for it (chosen by the column's
kind, the reference size and the number of distinct values;
:mod:`aimops.monitors.checks.drift_methods` writes each definition out), flags the column as
drifted by the method's rule, and calls the whole dataset drifted when the share of drifted columns
reaches ``drift_share`` (0.5): ``drifted columns / checked columns >= drift_share``. The scores and
flags are Evidently's for the same data and settings (a test compares them to 1e-9); Evidently
itself is not imported.

Missing values (``NaN``, ``None``, and ``±inf`` in numbers) are dropped from each column before
anything else, as Evidently does; the reference size that chooses the method is the number of
values left. A column with no values left in either frame is an error, not a silent skip.
(Evidently's preset takes its share of drifted columns from an older metric that keeps ±inf in
a frame's column holding no NaN, scores such a column NaN and counts it as not drifted; aimops
counts the flags it reports per column, which are those of Evidently's ``ValueDrift``.)

Which columns, of which kind:

- With neither ``numerical_columns`` nor ``categorical_columns``, every column is checked (both
  frames must have the same ones) and its kind is inferred from the current frame as Evidently
  does: floats are numerical; integers are numerical with more than 10 distinct values and
  categorical otherwise; booleans, strings, objects and categories are categorical. Date and
  time columns are left out, as in Evidently. Unlike Evidently, string columns with many
  distinct values are categorical (Evidently calls them text and has text-drift methods,
  which aimops does not offer), and pandas' nullable ``Int64``/``Float64`` columns are
  numbers (Evidently leaves them out).
- With either list given, exactly the listed columns are checked, with the kinds given.

``status`` is ``"fail"`` on dataset drift, ``"warn"`` when some columns drifted but fewer than
``drift_share`` of them, ``"pass"`` when none did, and ``"inconclusive"`` when either frame has
fewer than ``min_rows`` rows (Evidently has no such notion; the default of 1 never triggers it,
since empty frames are errors): the scores are still there, but a gate should not act on them.

Example:
    >>> import pandas as pd
    >>> reference = pd.DataFrame({"age": [30.5, 41.0, 25.5, 38.0, 52.5, 29.0, 44.5, 35.0]})
    >>> current = pd.DataFrame({"age": [60.5, 71.0, 65.5, 68.0, 72.5, 59.0, 64.5, 75.0]})
    >>> result = check_drift(reference, current)
    >>> column = result.columns["age"]
    >>> column.method, column.threshold, column.drifted, round(column.score, 5)
    ('ks', 0.05, True, 0.00016)
    >>> result.status, result.drift_share, result.dataset_drift
    ('fail', 1.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.checks import wording
from aimops.monitors.checks.base import RecordableCheck
from aimops.monitors.checks.drift_columns import (
    ColumnValues,
    CountedValues,
    SortedNumbers,
    Values,
    finite_numbers,
)
from aimops.monitors.checks.drift_methods import DRIFT_METHODS, ColumnKind, default_method
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.inputs import frame_rows, holds_numbers, is_real_number, require_columns
from aimops.monitors.reports import blocks

if TYPE_CHECKING:
    import pandas as pd

DriftStatus = Literal["pass", "warn", "fail", "inconclusive"]
#: An integer column with at most this many distinct current values is categorical (Evidently).
INTEGER_CATEGORY_LIMIT = 10


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: its kind, the method and threshold used, the score and the flag."""

    kind: ColumnKind
    method: str
    threshold: float
    score: float
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        """The column's drift as JSON-compatible data (an undefined score is None)."""
        score = self.score if math.isfinite(self.score) else None
        return {**self.__dict__, "score": score}


@dataclass(frozen=True)
class DriftResult(RecordableCheck):
    """Drift of every checked column and the dataset's verdict.

    ``drift_share`` is the share of drifted columns, ``drift_share_threshold`` the share at
    which the dataset counts as drifted; ``metrics`` holds ``drift_share``,
    ``drifted_columns`` and each column's score as ``drift.<column>``.
    """

    kind: ClassVar[str] = "drift"
    columns: dict[str, ColumnDrift]
    drift_share: float
    drift_share_threshold: float
    dataset_drift: bool
    status: DriftStatus
    n_reference: int
    n_current: int
    metrics: dict[str, float]

    @property
    def drifted_columns(self) -> list[str]:
        """The names of the drifted columns, in the order they were checked."""
        return [name for name, column in self.columns.items() if column.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "status": self.status,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "metrics": {k: v if math.isfinite(v) else None for k, v in self.metrics.items()},
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numerical_columns: Sequence[Hashable] | None = None,
    categorical_columns: Sequence[Hashable] | None = None,
    methods: Mapping[Hashable, str] | None = None,
    thresholds: Mapping[Hashable, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 1,
    engine: Literal["aimops", "evidently"] = "aimops",
    html_report: str | Path | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column, as Evidently's preset does.

    ``methods`` and ``thresholds`` override, per column, the method (``wasserstein``,
    ``jensenshannon``, ``ks``, ``chisquare``, ``z``) and its default threshold. Raises
    :class:`~aimops.errors.InvalidDataError` naming the column for frames that cannot be
    compared. See the module docstring for an example.

    ``engine="evidently"`` runs Evidently's own ``DataDriftPreset`` instead (same result
    shape; far slower, and without ``methods``/``thresholds``/``min_rows``); ``html_report``
    saves Evidently's HTML report of the same data there, whichever engine scored it.
    """
    if engine not in ("aimops", "evidently"):
        raise InvalidInputError(f"engine is 'aimops' or 'evidently', not {engine!r}")
    if engine == "evidently":
        if methods or thresholds or min_rows != 1:
            raise InvalidInputError(
                "the evidently engine takes Evidently's own methods and thresholds: "
                "methods, thresholds and min_rows are for the aimops engine"
            )
        from aimops.monitors.checks.evidently_engine import evidently_drift

        return evidently_drift(
            reference, current, numerical_columns=numerical_columns,
            categorical_columns=categorical_columns, drift_share=drift_share,
            html_path=html_report,
        )  # fmt: skip
    result = _aimops_drift(
        reference, current, numerical_columns, categorical_columns, methods, thresholds,
        drift_share, min_rows,
    )  # fmt: skip
    if html_report is not None:
        from aimops.monitors.checks.evidently_engine import save_evidently_report

        save_evidently_report(
            reference, current, html_report, numerical_columns=numerical_columns,
            categorical_columns=categorical_columns,
        )  # fmt: skip
    return result


def _aimops_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical_columns: Sequence[Hashable] | None,
    categorical_columns: Sequence[Hashable] | None,
    methods: Mapping[Hashable, str] | None,
    thresholds: Mapping[Hashable, float] | None,
    drift_share: float,
    min_rows: int,
) -> DriftResult:
    n_reference, n_current = frame_rows(reference, "reference"), frame_rows(current, "current")
    kinds = _column_kinds(reference, current, numerical_columns, categorical_columns)
    methods, thresholds = dict(methods or {}), dict(thresholds or {})
    _check_settings(kinds, methods, thresholds, drift_share, min_rows)
    columns = {
        str(name): _column_drift(
            name, kind, reference[name], current[name], methods.get(name), thresholds.get(name)
        )
        for name, kind in kinds.items()
    }
    too_few = min(n_reference, n_current) < min_rows
    return drift_verdict(columns, drift_share, n_reference, n_current, inconclusive=too_few)


def drift_verdict(
    columns: dict[str, ColumnDrift],
    drift_share: float,
    n_reference: int,
    n_current: int,
    *,
    inconclusive: bool = False,
) -> DriftResult:
    """The result of ``columns`` judged together, whichever engine scored them: the share of
    drifted columns, dataset drift at ``drift_share``, the status (``inconclusive`` when told,
    else fail / warn / pass) and the metrics."""
    drifted = sum(column.drifted for column in columns.values())
    share = drifted / len(columns)
    dataset_drift = share >= drift_share
    status: DriftStatus = (
        "inconclusive"
        if inconclusive
        else "fail"
        if dataset_drift
        else "warn"
        if drifted
        else "pass"
    )
    metrics = {"drift_share": share, "drifted_columns": float(drifted)}
    metrics.update({f"drift.{name}": column.score for name, column in columns.items()})
    return DriftResult(
        columns, share, float(drift_share), dataset_drift, status, n_reference, n_current, metrics
    )


def _column_kinds(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[Hashable] | None,
    categorical: Sequence[Hashable] | None,
) -> dict[Hashable, ColumnKind]:
    if numerical is None and categorical is None:
        require_columns(current, list(reference.columns), "current")
        require_columns(reference, list(current.columns), "reference")
        inferred = {name: _inferred_kind(current[name]) for name in reference.columns}
        kinds = {name: kind for name, kind in inferred.items() if kind is not None}
        if not kinds:
            raise InvalidDataError("no numerical or categorical columns to check for drift")
        return kinds
    kinds = dict.fromkeys(numerical or [], "numerical")
    both = [name for name in categorical or [] if name in kinds]
    if both:
        raise InvalidDataError(f"columns {both} are listed as both numerical and categorical")
    kinds.update(dict.fromkeys(categorical or [], "categorical"))
    if not kinds:
        raise InvalidDataError("numerical_columns and categorical_columns are both empty")
    require_columns(reference, list(kinds), "reference")
    require_columns(current, list(kinds), "current")
    return kinds


def _inferred_kind(series: pd.Series[Any]) -> ColumnKind | None:
    from pandas.api import types

    if types.is_bool_dtype(series):
        return "categorical"
    if types.is_integer_dtype(series):
        return "categorical" if series.nunique() <= INTEGER_CATEGORY_LIMIT else "numerical"
    if types.is_numeric_dtype(series):
        return "numerical"
    if types.is_datetime64_any_dtype(series) or types.is_timedelta64_dtype(series):
        return None
    return "categorical"


def _check_settings(
    kinds: Mapping[Hashable, ColumnKind],
    methods: Mapping[Hashable, str],
    thresholds: Mapping[Hashable, float],
    drift_share: float,
    min_rows: int,
) -> None:
    unknown = [name for name in [*methods, *thresholds] if name not in kinds]
    if unknown:
        raise InvalidDataError(
            f"methods or thresholds name columns that are not checked: {unknown}"
        )
    for name, method in methods.items():
        if method not in DRIFT_METHODS:
            raise InvalidDataError(
                f"unknown drift method {method!r} for column {name!r}; "
                f"known: {', '.join(DRIFT_METHODS)}"
            )
        if kinds[name] not in DRIFT_METHODS[method].kinds:
            raise InvalidDataError(f"method {method!r} does not apply to {kinds[name]} {name!r}")
    for name, threshold in thresholds.items():
        if not is_real_number(threshold) or not threshold >= 0:
            raise InvalidDataError(f"threshold for column {name!r} must be a number >= 0")
    if not is_real_number(drift_share) or not 0 < drift_share <= 1:
        raise InvalidDataError(f"drift_share must be in (0, 1], not {drift_share!r}")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise InvalidDataError(f"min_rows must be a whole number >= 1, not {min_rows!r}")


def _column_drift(
    name: Hashable,
    kind: ColumnKind,
    reference: pd.Series[Any],
    current: pd.Series[Any],
    method_name: str | None,
    threshold: float | None,
) -> ColumnDrift:
    values = _column_values(name, kind, reference, current)
    method = DRIFT_METHODS[method_name or default_method(kind, values)]
    threshold = method.default_threshold if threshold is None else float(threshold)
    try:
        score = method.score(values, kind)
    except TypeError as exc:  # the z-test orders the values: 1 and "a" cannot be ordered
        raise InvalidDataError(f"column {name!r} mixes values that cannot be compared") from exc
    return ColumnDrift(kind, method.name, threshold, score, method.drifted(score, threshold))


def _column_values(
    name: Hashable, kind: ColumnKind, reference: pd.Series[Any], current: pd.Series[Any]
) -> ColumnValues:
    """The column's present values in both frames, prepared for the method choice and method:
    missing values dropped (and ``±inf`` when they are numbers), numbers sorted, others counted.
    """
    numbers = holds_numbers(reference)
    if numbers != holds_numbers(current):
        raise InvalidDataError(
            f"column {name!r} holds numbers in one frame and not the other "
            f"(reference {reference.dtype}, current {current.dtype})"
        )
    if kind == "numerical" and not numbers:
        raise InvalidDataError(
            f"numerical column {name!r} holds {reference.dtype} values in reference, not numbers"
        )
    values: ColumnValues
    if numbers:
        values = SortedNumbers(_finite_numbers(reference), _finite_numbers(current))
    else:
        values = CountedValues(reference.to_numpy(), current.to_numpy())
    for role, count in (("reference", values.n_ref), ("current", values.n_cur)):
        if not count:
            raise InvalidDataError(f"column {name!r} has no values in {role}: all are missing")
    return values


def _finite_numbers(series: pd.Series[Any]) -> Values:
    """A column of numbers as float64 without missing values and ``±inf``, copied only if
    needed (pandas' nullable ``Int64``/``Float64`` columns give their missing values as NaN)."""
    if isinstance(series.dtype, np.dtype):
        return finite_numbers(series.to_numpy())
    return finite_numbers(series.to_numpy(dtype=np.float64, na_value=np.nan))


# -- the kind: what failed in words, what its page shows -----------------------------------


def _describe(document: Mapping[str, Any]) -> str:
    """``drift in 2 of 30 columns (share 0.0667 < 0.5): age (ks 0.001 <= 0.05), ...``"""
    columns = document["columns"]
    drifted = {name: column for name, column in columns.items() if column["drifted"]}
    details = wording.listed(
        f"{name} ({column['method']} {wording.number(column['score'])} "
        f"{_drift_rule(column['method'])} {wording.number(column['threshold'])})"
        for name, column in drifted.items()
    )
    noun = "column" if len(columns) == 1 else "columns"
    share = document["drift_share"]
    comparison = ">=" if share >= document["drift_share_threshold"] else "<"
    limit = wording.number(document["drift_share_threshold"])
    head = (
        f"drift in {len(drifted)} of {len(columns)} {noun} "
        f"(share {wording.number(share)} {comparison} {limit})"
    )
    return f"{head}: {details}" if details else f"{head}; status {document['status']}"


def _drift_rule(method: str) -> str:
    """How a drifted score compares with its threshold: ``>=`` for a distance, ``<`` or
    ``<=`` for a p-value (Evidently's text methods are distances too)."""
    found = DRIFT_METHODS.get(method)
    return {"distance": ">=", "p<": "<", "p<=": "<="}[found.rule if found else "distance"]


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """The data set's verdict, then every column, drifted ones first."""
    columns = list(document["columns"].items())
    columns.sort(key=lambda item: blocks.get(item[1], "drifted") is not True)  # drifted first
    shown = ("kind", "method", "threshold", "score", "drifted")
    rows: list[blocks.Row] = [
        (
            blocks.flag_class(blocks.get(column, "drifted")),
            [name, *(blocks.get(column, key) for key in shown)],
        )
        for name, column in columns
    ]
    drifted = sum(blocks.get(column, "drifted") is True for _, column in columns)
    summary = [
        ("Drifted columns", f"{drifted} of {len(columns)}"),
        ("Drift share", document.get("drift_share")),
        ("Share threshold", document.get("drift_share_threshold")),
        ("Dataset drift", document.get("dataset_drift")),
        ("Reference rows", document.get("n_reference")),
        ("Current rows", document.get("n_current")),
    ]
    headers = ("Column", "Kind", "Method", "Threshold", "Score", "Drifted")
    return [
        blocks.section("Dataset", blocks.key_values(summary)),
        blocks.section("Columns", blocks.table(headers, rows)),
    ]


KIND = register_check_kind(
    CheckKind(
        name="drift",
        title="Data drift",
        result=DriftResult,
        describe=_describe,
        page=CheckPage(
            rows="columns",
            rows_type=Mapping,
            sections=_page_sections,
            shown=frozenset(
                {
                    "drift_share",
                    "drift_share_threshold",
                    "dataset_drift",
                    "n_reference",
                    "n_current",
                }
            ),
        ),
        metrics=("drift_share", "drifted_columns"),
        detail_metrics="drift.",
    )
)
