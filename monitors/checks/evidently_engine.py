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

The report is made inert before it is written, whatever the column names and values hold
(:func:`inert_report`): Evidently writes its data into a ``<script>`` as JSON with ``<`` as it
is, so a column named ``</script><script>...`` ended the script and ran its own. aimops
escapes ``<``, ``>`` and ``&`` in that data, and adds a Content-Security-Policy meta tag that
lets run only Evidently's own four scripts, by their hashes: no injected element, handler or
``javascript:`` link can run, and the page can make no request.

Example (slow: it runs Evidently):
    >>> import pandas as pd
    >>> reference = pd.DataFrame({"age": [30.5, 41.0, 25.5, 38.0, 52.5, 29.0, 44.5, 35.0]})
    >>> current = pd.DataFrame({"age": [60.5, 71.0, 65.5, 68.0, 72.5, 59.0, 64.5, 75.0]})
    >>> result = evidently_drift(reference, current)  # doctest: +SKIP
    >>> result.columns["age"].method, result.status  # doctest: +SKIP
    ('ks', 'fail')
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.errors import ConfigurationError, InvalidDataError
from aimops.monitors.checks.drift import ColumnDrift, DriftResult, drift_verdict
from aimops.monitors.inputs import frame_rows
from aimops.monitors.reports.page import write_text_atomically

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
#: The start of Evidently's data script: ``var metric_<id> = {...};`` then
#: ``var additional_graphs_metric_<id> = {...};``.
_DATA_SCRIPT = re.compile(r"<script>\s*var (metric_[0-9a-f]+) = ")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_CHARSET = '<meta charset="UTF-8">'
#: What Evidently's page may do besides running its own scripts: styles its components add
#: as they draw, its inlined font and the images its charts make.
_POLICY = (
    "default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'"
)
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


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
    return write_text_atomically(path, inert_report(snapshot.get_html_str(as_iframe=False)))


def inert_report(page: str) -> str:
    """Evidently's report ``page`` made inert, whatever its data holds: the data script's JSON
    with ``<``, ``>`` and ``&`` escaped, and a Content-Security-Policy meta tag that lets run
    only the page's own scripts (by their hashes).

    Raises :class:`~aimops.errors.ConfigurationError` for a page not laid out as Evidently
    0.7's (another Evidently version): aimops writes no report it cannot vouch for.

    Example:
        >>> page = ('<!DOCTYPE html><html><head><meta charset="UTF-8"><script>'
        ...         'var metric_1 = {"name": "</script><b>"};'
        ...         'var additional_graphs_metric_1 = {};</script></head><body>'
        ...         '<script>var global = globalThis</script><script>lib()</script>'
        ...         '<script>window.drawDashboard(metric_1)</script></body></html>')
        >>> inert = inert_report(page)
        >>> inert.count("</script>"), r'"\\u003c/script\\u003e\\u003cb\\u003e"' in inert
        (4, True)
        >>> "script-src 'sha256-" in inert
        True
    """
    page = _escaped_data(page)
    scripts = _SCRIPT.findall(page)
    drawn = len(scripts) == 4 and scripts[1].strip() == "var global = globalThis"
    if not drawn or "window.drawDashboard(" not in scripts[3] or _CHARSET not in page:
        raise ConfigurationError(_unknown_layout("its scripts are not Evidently 0.7's four"))
    policy = _POLICY.format(scripts=" ".join(_script_hash(script) for script in scripts))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    return page.replace(_CHARSET, f"{_CHARSET}\n{meta}", 1)


def _escaped_data(page: str) -> str:
    """``page`` with the JSON of its data script escaped."""
    start = _DATA_SCRIPT.search(page)
    if start is None:
        raise ConfigurationError(_unknown_layout("it has no data script"))
    name = start.group(1)
    widgets, middle = _escaped_json(page, start.end(), rf"\s*;\s*var additional_graphs_{name} = ")
    graphs, end = _escaped_json(page, middle, r"\s*;\s*</script>")
    script = (
        f"<script>\nvar {name} = {widgets};\nvar additional_graphs_{name} = {graphs};\n</script>"
    )
    return page[: start.start()] + script + page[end:]


def _escaped_json(page: str, position: int, follows: str) -> tuple[str, int]:
    """The JSON text at ``position`` of ``page``, escaped, and where the text ``follows``
    (a pattern) that must come after it ends. The text is found by decoding it: a
    ``</script>`` inside it is a string's content, not the script's end; and ``<``, ``>`` and
    ``&`` occur in JSON only inside strings, where their escapes mean the same."""
    try:
        _, end = json.JSONDecoder().raw_decode(page, position)
    except ValueError as exc:
        raise ConfigurationError(_unknown_layout(f"its data is not JSON: {exc}")) from None
    after = re.compile(follows).match(page, end)
    if after is None:
        raise ConfigurationError(_unknown_layout("its data script is laid out otherwise"))
    text = "".join(_JSON_ESCAPES.get(char, char) for char in page[position:end])
    return text, after.end()


def _script_hash(script: str) -> str:
    """The CSP source of an inline script whose text is exactly ``script``."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _unknown_layout(why: str) -> str:
    from importlib.metadata import version

    return (
        f"cannot make Evidently {version('evidently')}'s HTML report inert ({why}); aimops "
        "knows the report of Evidently 0.7"
    )
