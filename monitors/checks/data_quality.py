"""Data quality checks run by Great Expectations 1.x on a DataFrame, a CSV or a Parquet file.

A suite is a list of plain entries (or a YAML/JSON document holding them under
``expectations:``), each naming what it expects, the column, its bounds or values, and its
``severity``. Every entry becomes one GX expectation:

- ``not_null``: ExpectColumnValuesToNotBeNull
- ``between`` with ``min`` and/or ``max``: ExpectColumnValuesToBeBetween
- ``in_set`` with ``values`` (a non-empty list): ExpectColumnValuesToBeInSet
- ``unique``: ExpectColumnValuesToBeUnique
- ``row_count_between`` with ``min`` and/or ``max`` (no ``column``): ExpectTableRowCountToBeBetween
- ``mean_between``, ``stdev_between``, ``median_between`` with ``min`` and/or ``max``:
  ExpectColumnMeanToBeBetween, ExpectColumnStdevToBeBetween, ExpectColumnMedianToBeBetween

Bounds are inclusive. ``severity`` is ``"error"`` (the default) or ``"warn"``: a failed
expectation fails the whole check unless it was lowered to ``warn``. (The GX Airflow provider
once let validation failures pass a task silently; here a failure is never quiet.)

``status`` is ``"fail"`` when an ``error`` expectation failed, else ``"warn"`` when a ``warn``
one did, else ``"inconclusive"`` when one could not be evaluated, else ``"pass"``. Each
expectation keeps GX's detail: the observed value, the unexpected count and percentage, and up
to five unexpected examples.

An expectation is not evaluated (``inconclusive``, its ``error`` saying why) when GX cannot
evaluate it (say, the mean of a text column; GX's message is kept), and when there is nothing
to evaluate, where GX would pass it for want of a counterexample: every expectation on a
column of a table without rows, and every one on the values of a column with fewer present
values than :data:`VALUES_NEEDED` (a column all missing has none; a standard deviation needs
two); ``not_null`` still fails a column all missing, and ``row_count_between`` judges an empty
table. A mean, standard deviation or median that is undefined (the column holds ``inf`` and
``-inf``, or ``inf`` for a standard deviation) is not evaluated either; one that is infinite
is judged against its bounds.

Bad input raises before GX runs, and nothing is recorded: an unknown ``expect``, an unknown or
missing key, or a repeated entry is an :class:`~aimops.errors.InvalidInputError` naming the
entry's index; columns missing from the table, and columns the suite names that the table
names twice, are an :class:`~aimops.errors.InvalidDataError` naming them.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": [1, 2, 3], "age": [34, 51, 130]})
    >>> result = check_data_quality(frame, [
    ...     {"expect": "unique", "column": "id"},
    ...     {"expect": "between", "column": "age", "min": 0, "max": 120, "severity": "warn"},
    ... ])
    >>> result.status, result.metrics["failed_warn"]
    ('warn', 1.0)
    >>> outcome = result.expectations[1]
    >>> outcome.description, outcome.unexpected_count, outcome.unexpected_examples
    ('age between 0 and 120', 1, [130])
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError, NotFoundError
from aimops.monitors.checks import wording
from aimops.monitors.checks.base import CheckStatus, RecordableCheck, worst_status
from aimops.monitors.checks.registry import CheckKind, CheckPage, register_check_kind
from aimops.monitors.inputs import unique_columns
from aimops.monitors.reports import blocks
from aimops.monitors.sources import read_table

Severity = Literal["error", "warn"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn")
#: How many unexpected values each expectation keeps as examples.
EXAMPLES = 5
SUITE_SUFFIXES = (".yaml", ".yml", ".json")
_COMMON_KEYS = frozenset({"expect", "column", "severity"})
_BOUNDS = {"min": "min_value", "max": "max_value"}
#: The fewest present (not missing) values an expectation on a column's values needs: GX
#: passes a check of no values at all, and a sample standard deviation needs two.
VALUES_NEEDED = {
    "between": 1,
    "in_set": 1,
    "unique": 1,
    "mean_between": 1,
    "median_between": 1,
    "stdev_between": 2,
}
#: The expectations on a statistic of a column, and the statistic's name.
STATISTICS = {
    "mean_between": "mean",
    "stdev_between": "standard deviation",
    "median_between": "median",
}


@dataclass(frozen=True)
class _Kind:
    """How one aimops ``expect`` maps onto a GX expectation class."""

    gx_class: str
    on_column: bool
    keys: Mapping[str, str]  # aimops key -> GX keyword argument
    subject: str  # the description's subject; {column} is filled in


_KINDS: dict[str, _Kind] = {
    "not_null": _Kind("ExpectColumnValuesToNotBeNull", True, {}, "{column}"),
    "between": _Kind("ExpectColumnValuesToBeBetween", True, _BOUNDS, "{column}"),
    "in_set": _Kind("ExpectColumnValuesToBeInSet", True, {"values": "value_set"}, "{column}"),
    "unique": _Kind("ExpectColumnValuesToBeUnique", True, {}, "{column}"),
    "row_count_between": _Kind("ExpectTableRowCountToBeBetween", False, _BOUNDS, "row count"),
    "mean_between": _Kind("ExpectColumnMeanToBeBetween", True, _BOUNDS, "mean of {column}"),
    "stdev_between": _Kind("ExpectColumnStdevToBeBetween", True, _BOUNDS, "stdev of {column}"),
    "median_between": _Kind("ExpectColumnMedianToBeBetween", True, _BOUNDS, "median of {column}"),
}


@dataclass(frozen=True)
class _Entry:
    """One validated suite entry."""

    index: int
    expect: str
    column: str | None
    severity: Severity
    options: dict[str, Any]  # the entry's own keys (min, max, values)

    @property
    def description(self) -> str:
        kind = _KINDS[self.expect]
        subject = kind.subject.format(column=self.column)
        if self.expect == "not_null":
            return f"{subject} is not null"
        if self.expect == "unique":
            return f"{subject} is unique"
        if self.expect == "in_set":
            return f"{subject} in {self.options['values']!r}"
        low, high = self.options.get("min"), self.options.get("max")
        if low is not None and high is not None:
            return f"{subject} between {low} and {high}"
        return f"{subject} at least {low}" if high is None else f"{subject} at most {high}"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation as GX judged it, with its aimops description and severity.

    ``error`` says why the expectation was not evaluated: GX's message when it could not, or
    aimops' when there was nothing to evaluate (``success`` is then False but the outcome is
    ``inconclusive``, not a failure). Values are JSON-compatible.
    """

    index: int
    expect: str
    column: str | None
    severity: Severity
    description: str
    gx_type: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_percent: float | None
    unexpected_examples: list[Any]
    error: str | None

    @property
    def status(self) -> CheckStatus:
        """``pass``, ``inconclusive`` (not evaluated), or ``fail``/``warn`` by severity."""
        if self.error is not None:
            return "inconclusive"
        if self.success:
            return "pass"
        return "fail" if self.severity == "error" else "warn"

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-compatible data, its ``status`` included."""
        return {**self.__dict__, "status": self.status}


@dataclass(frozen=True)
class DataQualityResult(RecordableCheck):
    """A suite's verdict on a table: every expectation's outcome, in suite order.

    ``metrics`` holds ``expectations``, ``failed`` (evaluated and not met), ``failed_error``,
    ``failed_warn``, ``not_evaluated`` and ``success_percent`` (met / all, in percent).
    """

    kind: ClassVar[str] = "data_quality"
    name: str | None
    status: CheckStatus
    n_rows: int
    expectations: tuple[ExpectationOutcome, ...]
    metrics: dict[str, float]

    def __post_init__(self) -> None:
        super().__post_init__()
        validation.optional_text(self.name, "a data quality check's name")

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """The expectations that were evaluated and not met, of either severity."""
        return [outcome for outcome in self.expectations if outcome.status in ("fail", "warn")]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "n_rows": self.n_rows,
            "metrics": dict(self.metrics),
            "expectations": [outcome.to_dict() for outcome in self.expectations],
        }


def check_data_quality(
    data: Any, suite: Sequence[Mapping[str, Any]] | str | Path, *, name: str | None = None
) -> DataQualityResult:
    """Validate ``data`` against ``suite`` with Great Expectations.

    ``data`` is a pandas DataFrame or a CSV/Parquet path (anything
    :func:`aimops.monitors.sources.read_table` reads). ``suite`` is a list of entries, a
    ``Path`` or ``str`` naming a ``.yaml``/``.yml``/``.json`` file, or YAML text; a document
    holds the list under ``expectations:``. ``name`` labels the result. See the module
    docstring for the entries and an example.
    """
    validation.optional_text(name, "name")
    entries = _entries(_suite_list(suite))
    frame = read_table(data)
    _check_frame(frame, entries)
    nothing_to_evaluate = {entry.index: _nothing_to_evaluate(entry, frame) for entry in entries}
    evaluated = [entry for entry in entries if nothing_to_evaluate[entry.index] is None]
    results = _run_gx_on_text_it_can_read(frame, evaluated) if evaluated else {}
    outcomes = tuple(
        _outcome(entry, results[entry.index])
        if entry.index in results
        else _not_evaluated(entry, str(nothing_to_evaluate[entry.index]))
        for entry in entries
    )
    return DataQualityResult(
        name=name,
        status=worst_status(outcome.status for outcome in outcomes),
        n_rows=len(frame),
        expectations=outcomes,
        metrics=_metrics(outcomes),
    )


def _suite_list(suite: Any) -> Any:
    """The list of entries a suite argument holds (still unchecked)."""
    if isinstance(suite, Path) or (
        isinstance(suite, str) and "\n" not in suite and suite.lower().endswith(SUITE_SUFFIXES)
    ):
        path = validation.file_path(suite, "the suite's path")
        with validation.usable_path(path, "the suite's path"):
            if not path.is_file():
                raise NotFoundError(f"suite file {path} does not exist")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"suite file {path} is not UTF-8 text: {exc}") from exc
        return _document_list(text, str(path))
    if isinstance(suite, str):
        return _document_list(suite, "the suite text")
    return suite


def _document_list(text: str, origin: str) -> Any:
    import yaml  # JSON is YAML too

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{origin} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(document, Mapping) or "expectations" not in document:
        raise InvalidInputError(f"{origin} must be a mapping with an 'expectations:' list")
    extra = sorted(map(str, set(document) - {"expectations"}))
    if extra:
        raise InvalidInputError(f"{origin} has unknown keys: {', '.join(extra)}")
    return document["expectations"]


def _entries(raw: Any) -> list[_Entry]:
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise InvalidInputError(
            "a suite is a list of expectations like {'expect': 'not_null', ...}"
        )
    if not raw:
        raise InvalidInputError("the suite has no expectations")
    entries: list[_Entry] = []
    for index, item in enumerate(raw):
        entry = _entry(index, item)
        for earlier in entries:
            if (earlier.expect, earlier.column, earlier.options) == (
                entry.expect,
                entry.column,
                entry.options,
            ):
                raise InvalidInputError(f"suite entry {index} repeats entry {earlier.index}")
        entries.append(entry)
    return entries


def _entry(index: int, item: Any) -> _Entry:
    where = f"suite entry {index}"
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"{where} is a {type(item).__name__}, not a mapping")
    expect = item.get("expect")
    if expect not in _KINDS:
        known = ", ".join(_KINDS)
        raise InvalidInputError(f"{where}: unknown expect {expect!r}; known: {known}")
    kind = _KINDS[expect]
    allowed = (_COMMON_KEYS if kind.on_column else _COMMON_KEYS - {"column"}) | set(kind.keys)
    unknown = sorted(map(str, set(item) - allowed))
    if unknown:
        raise InvalidInputError(f"{where} ({expect}): unknown keys {', '.join(unknown)}")
    column = item.get("column")
    if kind.on_column and (not isinstance(column, str) or not column):
        raise InvalidInputError(f"{where} ({expect}): 'column' must name a column")
    severity = item.get("severity", "error")
    if severity not in SEVERITIES:
        raise InvalidInputError(f"{where}: severity must be 'error' or 'warn', not {severity!r}")
    options = {key: item[key] for key in kind.keys if key in item}
    _check_options(where, expect, options)
    return _Entry(index, expect, column, severity, options)


def _check_options(where: str, expect: str, options: dict[str, Any]) -> None:
    if expect == "in_set":
        values = options.get("values")
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | set):
            raise InvalidInputError(f"{where} (in_set): 'values' must be a list of values")
        if not values:
            raise InvalidInputError(f"{where} (in_set): 'values' is empty")
        options["values"] = list(values)
    elif _KINDS[expect].keys is _BOUNDS:
        if not options:
            raise InvalidInputError(f"{where} ({expect}): give 'min', 'max' or both")
        for key, bound in options.items():
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise InvalidInputError(f"{where} ({expect}): {key!r} must be a number")
            if not math.isfinite(bound):
                raise InvalidInputError(f"{where} ({expect}): {key!r} must be finite")
        if len(options) == 2 and options["min"] > options["max"]:
            raise InvalidInputError(f"{where} ({expect}): 'min' is above 'max'")


def _check_frame(frame: Any, entries: list[_Entry]) -> None:
    wanted = [entry.column for entry in entries if entry.column is not None]
    missing = list(dict.fromkeys(name for name in wanted if name not in frame.columns))
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise InvalidDataError(
            f"columns not in the table: {', '.join(missing)}; the table has: {shown}"
        )
    unique_columns(frame, "the table", wanted)


def _nothing_to_evaluate(entry: _Entry, frame: Any) -> str | None:
    """Why ``entry`` has nothing to evaluate in ``frame`` (GX would pass it vacuously), or
    None when it has."""
    if entry.column is None:
        return None  # the row count: an empty table is judged too
    if not len(frame):
        return "the table has no rows"
    needed = VALUES_NEEDED.get(entry.expect)
    if needed is None:
        return None  # not_null: judges the missing values themselves
    present = int(frame[entry.column].notna().sum())
    if present >= needed:
        return None
    if not present:
        return f"{entry.column} has no values: all {len(frame)} are missing"
    values = "value" if present == 1 else "values"
    return f"{entry.column} has only {present} {values}; {entry.description} needs {needed}"


def _run_gx_on_text_it_can_read(frame: Any, entries: list[_Entry]) -> dict[int, Any]:
    """:func:`_run_gx`, refusing a table whose text GX cannot read: it hashes every value as
    UTF-8, which a lone surrogate (what a bad decode leaves behind) is not. The columns are
    searched only then, so a readable table costs nothing more."""
    try:
        return _run_gx(frame, entries)
    except UnicodeEncodeError as exc:
        for name in frame.columns:
            for row, value in enumerate(frame[name]):
                position = validation.unstorable_position(value) if isinstance(value, str) else None
                if position is not None:
                    raise InvalidDataError(
                        f"column {validation.shown(name)} holds text UTF-8 cannot encode (a lone "
                        f"surrogate at position {position} of row {row}): Great Expectations "
                        "cannot read it; decode the data again, or drop those values"
                    ) from exc
        raise InvalidDataError(
            f"Great Expectations cannot read the table: its text holds what UTF-8 cannot "
            f"encode ({exc.reason})"
        ) from exc


def _run_gx(frame: Any, entries: list[_Entry]) -> dict[int, Any]:
    """GX's result for each entry, by entry index, from a fresh ephemeral context."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch = (
        context.data_sources.add_pandas("aimops")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("whole table")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="aimops data quality"))
    for entry in entries:
        suite.add_expectation(_gx_expectation(entry))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="aimops data quality", data=batch, suite=suite)
    )
    with warnings.catch_warnings():
        # numpy's notes on sums of ±inf: the outcome says what came of them
        warnings.simplefilter("ignore", RuntimeWarning)
        outcome = validation.run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        )
    # GX reorders results (by domain); each carries its entry's index back in its meta.
    results: list[Any] = list(outcome.results)
    return {result.expectation_config.meta["aimops_index"]: result for result in results}


def _gx_expectation(entry: _Entry) -> Any:
    import great_expectations.expectations as gxe

    kind = _KINDS[entry.expect]
    arguments = {kind.keys[key]: value for key, value in entry.options.items()}
    if entry.column is not None:
        arguments["column"] = entry.column
    try:
        return getattr(gxe, kind.gx_class)(**arguments, meta={"aimops_index": entry.index})
    except ValueError as exc:  # pydantic's validation error
        raise InvalidInputError(f"suite entry {entry.index} ({entry.expect}): {exc}") from exc


def _outcome(entry: _Entry, result: Any) -> ExpectationOutcome:
    detail = dict(result.result or {})
    count = detail.get("unexpected_count")
    percent = _json_safe(detail.get("unexpected_percent"))
    error = _error_message(result.exception_info)
    if error is None and not result.success and _undefined(entry, detail.get("observed_value")):
        error = f"the {STATISTICS[entry.expect]} of {entry.column} is undefined for its values"
    return ExpectationOutcome(
        index=entry.index,
        expect=entry.expect,
        column=entry.column,
        severity=entry.severity,
        description=entry.description,
        gx_type=str(result.expectation_config.type),
        success=bool(result.success),
        observed_value=_json_safe(detail.get("observed_value")),
        unexpected_count=None if count is None else int(count),
        unexpected_percent=percent if isinstance(percent, float | int) else None,
        unexpected_examples=_json_safe(detail.get("partial_unexpected_list") or [])[:EXAMPLES],
        error=error,
    )


def _undefined(entry: _Entry, observed: Any) -> bool:
    """Whether GX found no value of the statistic ``entry`` bounds (a NaN: ``inf - inf``)."""
    if entry.expect not in STATISTICS:
        return False
    try:
        return observed is None or math.isnan(float(observed))
    except (TypeError, ValueError):
        return False


def _not_evaluated(entry: _Entry, why: str) -> ExpectationOutcome:
    """The outcome of an expectation with nothing to evaluate."""
    gx_class = _KINDS[entry.expect].gx_class
    return ExpectationOutcome(
        index=entry.index,
        expect=entry.expect,
        column=entry.column,
        severity=entry.severity,
        description=entry.description,
        gx_type=re.sub(r"(?<!^)(?=[A-Z])", "_", gx_class).lower(),  # GX's name for the type
        success=False,
        observed_value=None,
        unexpected_count=None,
        unexpected_percent=None,
        unexpected_examples=[],
        error=why,
    )


def _error_message(info: Any) -> str | None:
    """GX's message when evaluating raised: ``exception_info`` is either one record or a
    mapping of metric ids to records."""
    records = [info] if isinstance(info, Mapping) and "raised_exception" in info else []
    if isinstance(info, Mapping) and not records:
        records = [record for record in info.values() if isinstance(record, Mapping)]
    messages = [str(r.get("exception_message")) for r in records if r.get("raised_exception")]
    return "; ".join(messages) if messages else None


def _json_safe(value: Any) -> Any:
    """``value`` as JSON-compatible data: numpy scalars unwrapped, NaN and ±inf as None."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _metrics(outcomes: tuple[ExpectationOutcome, ...]) -> dict[str, float]:
    statuses = [outcome.status for outcome in outcomes]
    return {
        "expectations": float(len(outcomes)),
        "failed": float(statuses.count("fail") + statuses.count("warn")),
        "failed_error": float(statuses.count("fail")),
        "failed_warn": float(statuses.count("warn")),
        "not_evaluated": float(statuses.count("inconclusive")),
        "success_percent": 100.0 * statuses.count("pass") / len(outcomes),
    }


# -- the kind: what failed in words, what its page shows -----------------------------------


def _describe(document: Mapping[str, Any]) -> str:
    """``data quality: 1 of 4 expectations not met: age between 0 and 120 [warn]: ...``"""
    failed = [e for e in document["expectations"] if e["status"] in ("fail", "warn")]
    parts = []
    for found in failed:
        detail = f"{found['description']} [{found['severity']}]"
        if found.get("unexpected_count"):
            examples = ", ".join(repr(value) for value in found["unexpected_examples"][:3])
            detail += f": {found['unexpected_count']} unexpected"
            detail += f" (e.g. {examples})" if examples else ""
        elif found.get("observed_value") is not None:
            detail += f": observed {wording.short(found['observed_value'])}"
        parts.append(detail)
    total = len(document["expectations"])
    head = f"data quality: {len(failed)} of {total} expectations not met"
    line = f"{head}: {wording.listed(parts, '; ')}" if parts else f"{head} ({document['status']})"
    undecided = {
        found["description"]: found.get("error")
        for found in document["expectations"]
        if found["status"] == "inconclusive"
    }
    return line + wording.no_verdict(undecided)


#: How many unexpected values an expectation's row shows.
EXAMPLES_SHOWN = 5


def _page_sections(document: Mapping[str, Any]) -> list[str]:
    """Every expectation: what it checks, how it came out, the unexpected values."""
    rows: list[blocks.Row] = []
    for outcome in document["expectations"]:
        count, percent = (
            blocks.get(outcome, "unexpected_count"),
            blocks.get(outcome, "unexpected_percent"),
        )
        unexpected = None if count is None else blocks.format_value(count)
        if unexpected is not None and isinstance(percent, int | float):
            unexpected += f" ({blocks.format_value(percent)}%)"
        examples = blocks.get(outcome, "unexpected_examples")
        shown = examples[:EXAMPLES_SHOWN] if isinstance(examples, list) else examples
        status = blocks.get(outcome, "status")
        cells = [
            blocks.get(outcome, "description") or blocks.get(outcome, "expect"),
            blocks.get(outcome, "gx_type") or blocks.get(outcome, "expect"),
            blocks.get(outcome, "column"),
            blocks.get(outcome, "severity"),
            blocks.Markup(blocks.badge(status)),
            blocks.get(outcome, "observed_value"),
            unexpected,
            blocks.examples(shown),
            blocks.get(outcome, "error"),
        ]
        rows.append((blocks.status_class(status), cells))
    headers = ("Expectation", "Type", "Column", "Severity", "Status", "Observed",
               "Unexpected (share)", "Unexpected examples", "Error")  # fmt: skip
    summary = blocks.key_values([("Rows checked", document.get("n_rows"))])
    return [blocks.section("Expectations", summary + blocks.table(headers, rows))]


KIND = register_check_kind(
    CheckKind(
        name="data_quality",
        title="Data quality",
        result=DataQualityResult,
        describe=_describe,
        page=CheckPage(
            rows="expectations",
            rows_type=list,
            sections=_page_sections,
            shown=frozenset({"n_rows"}),
        ),
        metrics=(
            "expectations",
            "failed",
            "failed_error",
            "failed_warn",
            "not_evaluated",
            "success_percent",
        ),
    )
)
