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
values left. (Evidently's preset takes its share of drifted columns from an older metric that
keeps ±inf in a frame's column holding no NaN, scores such a column NaN and counts it as not
drifted; aimops counts the flags it reports per column, which are those of Evidently's
``ValueDrift``.)

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

Too few values (where aimops departs from Evidently, which flags whatever it is given): a
column with fewer than 5 values left in either frame is not scored; a drift that a test finds
stands from 5 values per side on, one that a distance finds from the method's own minimum
(or on fewer, when a two-sample test confirms it); "no drift" needs 30 values per side
(:mod:`aimops.monitors.checks.sample_size` says why). Otherwise the column's ``drifted`` is
None and ``inconclusive`` says why, in words: a column with no values in a frame (all
missing, or no rows at all) is such a column, not an error.

``status`` is ``"fail"`` on dataset drift, ``"warn"`` when some columns drifted but fewer than
``drift_share`` of them, else ``"inconclusive"`` when some column has no verdict, else
``"pass"``; the share counts drifted columns among all checked ones. It is also
``"inconclusive"`` when either frame has fewer than ``min_rows`` rows (default 1: every frame
with rows has enough), whatever the columns say: the scores are still there, but a gate
should not act on them.

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

from aimops import validation
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
from aimops.monitors.checks.sample_size import (
    homogeneity_p_value,
    judge,
    ks_p_value,
    too_few_to_score,
)
from aimops.monitors.inputs import (
    distinct_as_text,
    frame_rows,
    holds_numbers,
    is_real_number,
    require_columns,
)
from aimops.monitors.reports import blocks

if TYPE_CHECKING:
    import pandas as pd

DriftStatus = Literal["pass", "warn", "fail", "inconclusive"]
#: What the two frames are called in the reasons a column is inconclusive.
ROLES = ("reference", "current")
#: An integer column with at most this many distinct current values is categorical (Evidently).
INTEGER_CATEGORY_LIMIT = 10


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: its kind, the method and threshold used, the score and the flag.

    A column too thin to judge has ``drifted`` None and ``inconclusive`` saying why (and no
    ``score`` when it was not scored at all).
    """

    kind: ColumnKind
    method: str
    threshold: float
    score: float | None
    drifted: bool | None
    inconclusive: str | None = None

    def __post_init__(self) -> None:
        """Refuse fields no column's drift has; numbers are kept as plain Python ones. A score
        may be NaN (Evidently scores some columns so): ``to_dict()`` gives it as None."""
        validation.choice(self.kind, "a column's kind", ("numerical", "categorical"))
        validation.text(self.method, "a column's drift method", empty=False)
        threshold = validation.real_number(self.threshold, "a column's threshold", minimum=0)
        object.__setattr__(self, "threshold", threshold)
        if self.score is not None:
            score = validation.real_number(self.score, "a column's score", finite=False)
            object.__setattr__(self, "score", score)
        if self.drifted is not None:
            object.__setattr__(self, "drifted", validation.flag(self.drifted, "drifted"))
        validation.optional_text(self.inconclusive, "why a column has no verdict")

    def to_dict(self) -> dict[str, Any]:
        """The column's drift as JSON-compatible data (an undefined score is None)."""
        score = self.score if self.score is not None and math.isfinite(self.score) else None
        return {**self.__dict__, "score": score}


@dataclass(frozen=True)
class DriftResult(RecordableCheck):
    """Drift of every checked column and the dataset's verdict.

    ``drift_share`` is the share of drifted columns, ``drift_share_threshold`` the share at
    which the dataset counts as drifted; ``metrics`` holds ``drift_share``,
    ``drifted_columns`` and each scored column's score as ``drift.<column>``.
    ``inconclusive`` says why the whole check has no verdict (too few rows for ``min_rows``).
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
    inconclusive: str | None = None

    @property
    def drifted_columns(self) -> list[str]:
        """The names of the drifted columns, in the order they were checked."""
        return [name for name, column in self.columns.items() if column.drifted]

    @property
    def inconclusive_columns(self) -> list[str]:
        """The names of the columns without a verdict, in the order they were checked."""
        return [name for name, column in self.columns.items() if column.drifted is None]

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
            "inconclusive": self.inconclusive,
            "metrics": dict(self.metrics),
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
    validation.choice(engine, "engine", ("aimops", "evidently"))
    numerical_columns = validation.optional_hashables(numerical_columns, "numerical_columns")
    categorical_columns = validation.optional_hashables(categorical_columns, "categorical_columns")
    methods = validation.optional_mapping(methods, "methods")
    thresholds = validation.optional_mapping(thresholds, "thresholds")
    _check_shares(drift_share, min_rows)
    html_report = validation.optional_file_path(html_report, "html_report")
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
    n_reference = frame_rows(reference, "reference", rows_needed=False)
    n_current = frame_rows(current, "current", rows_needed=False)
    kinds = _column_kinds(reference, current, numerical_columns, categorical_columns)
    methods, thresholds = dict(methods or {}), dict(thresholds or {})
    _check_settings(kinds, methods, thresholds)
    columns = {
        str(name): _column_drift(
            name, kind, reference[name], current[name], methods.get(name), thresholds.get(name)
        )
        for name, kind in kinds.items()
    }
    too_few = None
    if min(n_reference, n_current) < min_rows:
        rows, role = min((n_reference, "reference"), (n_current, "current"))
        too_few = f"{role} has {rows} rows, fewer than min_rows ({min_rows})"
    return drift_verdict(columns, drift_share, n_reference, n_current, inconclusive=too_few)


def drift_verdict(
    columns: dict[str, ColumnDrift],
    drift_share: float,
    n_reference: int,
    n_current: int,
    *,
    inconclusive: str | None = None,
) -> DriftResult:
    """The result of ``columns`` judged together, whichever engine scored them: the share of
    drifted columns, dataset drift at ``drift_share``, the status (``inconclusive`` when told
    why, else fail / warn / inconclusive when a column has no verdict / pass) and the metrics
    (a column's score only when it is a number)."""
    drifted = sum(column.drifted is True for column in columns.values())
    share = drifted / len(columns)
    dataset_drift = share >= drift_share
    undecided = any(column.drifted is None for column in columns.values())
    status: DriftStatus = "pass"
    if inconclusive is not None:
        status = "inconclusive"
    elif drifted:
        status = "fail" if dataset_drift else "warn"
    elif undecided:
        status = "inconclusive"
    metrics = {"drift_share": share, "drifted_columns": float(drifted)}
    metrics.update(
        {
            f"drift.{name}": column.score
            for name, column in columns.items()
            if column.score is not None and math.isfinite(column.score)
        }
    )
    return DriftResult(
        columns, share, float(drift_share), dataset_drift, status, n_reference, n_current,
        metrics, inconclusive,
    )  # fmt: skip


def _column_kinds(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[Hashable] | None,
    categorical: Sequence[Hashable] | None,
) -> dict[Hashable, ColumnKind]:
    if numerical is None and categorical is None:
        require_columns(current, list(reference.columns), "current")
        require_columns(reference, list(current.columns), "reference")
        inferred = {
            name: _inferred_kind(current[name] if current[name].notna().any() else reference[name])
            for name in reference.columns
        }
        kinds = {name: kind for name, kind in inferred.items() if kind is not None}
        if not kinds:
            raise InvalidDataError("no numerical or categorical columns to check for drift")
        distinct_as_text(list(kinds), "columns")
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
    distinct_as_text(list(kinds), "columns")
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
) -> None:
    unknown = [name for name in [*methods, *thresholds] if name not in kinds]
    if unknown:
        raise InvalidDataError(
            f"methods or thresholds name columns that are not checked: {unknown}"
        )
    for name, method in methods.items():
        if not isinstance(method, str) or method not in DRIFT_METHODS:
            raise InvalidDataError(
                f"unknown drift method {method!r} for column {name!r}; "
                f"known: {', '.join(DRIFT_METHODS)}"
            )
        if kinds[name] not in DRIFT_METHODS[method].kinds:
            raise InvalidDataError(f"method {method!r} does not apply to {kinds[name]} {name!r}")
    for name, threshold in thresholds.items():
        if not is_real_number(threshold) or not threshold >= 0:
            raise InvalidDataError(f"threshold for column {name!r} must be a number >= 0")


def _check_shares(drift_share: Any, min_rows: Any) -> None:
    """Refuse a ``drift_share`` outside (0, 1] and a ``min_rows`` that is not a count >= 1."""
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
    counts = (values.n_ref, values.n_cur)
    unscored = too_few_to_score(counts, ROLES)
    if unscored is not None:
        return ColumnDrift(kind, method.name, threshold, None, None, unscored)
    try:
        score = method.score(values, kind)
    except TypeError as exc:  # the z-test orders the values: 1 and "a" cannot be ordered
        raise InvalidDataError(f"column {name!r} mixes values that cannot be compared") from exc
    if not math.isfinite(score):
        undefined = f"the {method.name} score of these values is undefined"
        return ColumnDrift(kind, method.name, threshold, None, None, undefined)
    drifted, why = judge(
        method.drifted(score, threshold), counts, ROLES, method.min_values_for_drift,
        lambda: _p_value(values),
    )  # fmt: skip
    return ColumnDrift(kind, method.name, threshold, score, drifted, why)


def _p_value(values: ColumnValues) -> float:
    """The two-sample test that backs a distance on few values: Kolmogorov-Smirnov for
    numbers, chi-square homogeneity of the value counts otherwise."""
    if isinstance(values, SortedNumbers):
        return ks_p_value(values.ref, values.cur)
    _, ref_counts, cur_counts = values.value_counts()
    return homogeneity_p_value(ref_counts, cur_counts)


def _column_values(
    name: Hashable, kind: ColumnKind, reference: pd.Series[Any], current: pd.Series[Any]
) -> ColumnValues:
    """The column's present values in both frames, prepared for the method choice and method:
    missing values dropped (and ``±inf`` when they are numbers), numbers sorted, others counted.
    Whether they are numbers is read from a frame that has values (a column with none in a
    frame, pandas often holds as objects)."""
    numbers = holds_numbers(reference), holds_numbers(current)
    present = bool(reference.notna().any()), bool(current.notna().any())
    if not any(present):
        return SortedNumbers(np.empty(0), np.empty(0))  # nothing to count, of any type
    if numbers[0] != numbers[1] and all(present):
        raise InvalidDataError(
            f"column {name!r} holds numbers in one frame and not the other "
            f"(reference {reference.dtype}, current {current.dtype})"
        )
    told = reference if present[0] else current
    if kind == "numerical" and not holds_numbers(told):
        role = "reference" if told is reference else "current"
        raise InvalidDataError(
            f"numerical column {name!r} holds {told.dtype} values in {role}, not numbers"
        )
    if holds_numbers(told):
        empty = np.empty(0)
        return SortedNumbers(
            _finite_numbers(reference) if present[0] else empty,
            _finite_numbers(current) if present[1] else empty,
        )
    try:
        return CountedValues(reference.to_numpy(), current.to_numpy())
    except TypeError as exc:  # pandas counts hashable values only
        raise InvalidDataError(
            f"column {name!r} holds values that cannot be counted ({exc}): "
            "give it text, numbers or booleans"
        ) from exc


def _finite_numbers(series: pd.Series[Any]) -> Values:
    """A column of numbers as float64 without missing values and ``±inf``, copied only if
    needed (pandas' nullable ``Int64``/``Float64`` columns give their missing values as NaN)."""
    if isinstance(series.dtype, np.dtype):
        return finite_numbers(series.to_numpy())
    return finite_numbers(series.to_numpy(dtype=np.float64, na_value=np.nan))


# -- the kind: what failed in words, what its page shows -----------------------------------


def _describe(document: Mapping[str, Any]) -> str:
    """``drift in 2 of 30 columns (share 0.0667 < 0.5): age (ks 0.001 <= 0.05), ...``, then
    the columns without a verdict and why: ``; no verdict on 1: plan (only 3 values in
    current; 5 needed on each side)``."""
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
    line = f"{head}: {details}" if details else f"{head}; status {document['status']}"
    undecided = {
        name: column.get("inconclusive") for name, column in columns.items()
        if column.get("drifted") is None
    }  # fmt: skip
    if document.get("inconclusive"):
        line = f"no verdict: {document['inconclusive']}; {line}"
    return line + wording.no_verdict(undecided)


def _drift_rule(method: str) -> str:
    """How a drifted score compares with its threshold: ``>=`` for a distance, ``<`` or
    ``<=`` for a p-value (Evidently's text methods are distances too)."""
    found = DRIFT_METHODS.get(method)
    return {"distance": ">=", "p<": "<", "p<=": "<="}[found.rule if found else "distance"]


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """The data set's verdict, then every column, drifted ones first, those without a
    verdict next, each with why."""
    columns = list(document["columns"].items())
    columns.sort(key=lambda item: _column_order(blocks.get(item[1], "drifted")))
    shown = ("kind", "method", "threshold", "score", "drifted")
    why = any(blocks.get(column, "inconclusive") for _, column in columns)
    rows: list[blocks.Row] = [
        (
            _row_class(column),
            [name, *(blocks.get(column, key) for key in shown)]
            + ([blocks.get(column, "inconclusive")] if why else []),
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
    if document.get("inconclusive"):
        summary.append(("No verdict", document.get("inconclusive")))
    headers: tuple[str, ...] = ("Column", "Kind", "Method", "Threshold", "Score", "Drifted")
    headers += ("Why no verdict",) if why else ()
    return [
        blocks.section("Dataset", blocks.key_values(summary)),
        blocks.section("Columns", blocks.table(headers, rows)),
    ]


def _column_order(flag: Any) -> int:
    """Drifted columns first, then those without a verdict, then the others."""
    return 0 if flag is True else 1 if flag is None else 2


def _row_class(column: Any) -> str:
    """A drifted column's row is marked as failed, one without a verdict as inconclusive."""
    flag = blocks.get(column, "drifted")
    undecided = flag is None and isinstance(column, Mapping)  # not an odd document
    return blocks.status_class("inconclusive") if undecided else blocks.flag_class(flag)


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
                    "inconclusive",
                }
            ),
        ),
        metrics=("drift_share", "drifted_columns"),
        detail_metrics="drift.",
    )
)
