"""Self-contained interactive HTML reports of evaluations, comparisons and fairness slices.

A report is one HTML file that works offline: the documents (``to_dict()`` of results) are
embedded as JSON, and a small hand-written script (``assets/report.js``) draws the
overlaid ROC and PR curves (wheel zoom, drag pan, double-click reset), the confusion matrices
with a threshold slider, and the metrics, fairness, comparison, multiclass and regression
tables. A Content-Security-Policy allows only the report's own script and styles, so the page
makes no request at all. User strings reach the page only as JSON data (``<``, ``>`` and ``&``
escaped) and are inserted as text, never as markup, with controls, bidirectional overrides and
lone surrogates shown as their escapes. A comparison that is ``inconclusive`` (too few rows)
shows why in place of its winners.

Example:
    >>> from aimops.monitors import evaluate_binary
    >>> page = render_report([evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], label="v1")])
    >>> page.startswith("<!DOCTYPE html>"), "aimops-data" in page
    (True, True)
"""

from __future__ import annotations

import html
import json
import math
import pathlib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from aimops import __version__, validation
from aimops.errors import InvalidInputError
from aimops.monitors.reports.page import html_page, text_html, write_text_atomically

DEFAULT_TITLE = "aimops evaluation report"

#: Keys each kind of document must have (besides ``kind``) for the report to draw it.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "binary": ("metrics", "threshold", "roc", "pr", "threshold_table"),
    "multiclass": ("metrics", "classes", "confusion", "per_class"),
    "regression": ("metrics", "residual_quantiles"),
    "fairness": ("attribute", "groups"),
    "comparison": ("deltas", "evaluations"),
}
_NESTED_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "binary": {
        "roc": ("fpr", "tpr"),
        "pr": ("recall", "precision"),
        "threshold_table": ("threshold", "tp", "fp", "tn", "fn", "precision", "recall", "fpr"),
    },
    "multiclass": {"confusion": ("labels", "matrix")},
}
_SECTION_HEIGHTS = {"comparison": 260, "fairness": 240, "multiclass": 520, "regression": 360}
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_BODY = """<header><h1>{title}</h1><p class="subtitle">aimops {version}</p></header>
<main id="aimops-report"><noscript>This report needs JavaScript to draw.</noscript></main>
<svg id="aimops-svg-namespace" hidden></svg>
<script type="application/json" id="aimops-data">{data}</script>"""


def render_report(items: Any, *, title: str | None = None) -> str:
    """The report of ``items`` (results or their ``to_dict()`` documents) as one HTML page.

    Binary evaluations, including those inside comparisons, are drawn overlaid; bad
    documents raise InvalidInputError naming the item and what is wrong.

    Example:
        >>> from aimops.monitors import evaluate_binary
        >>> old = evaluate_binary([0, 1, 1, 0], [0.3, 0.7, 0.4, 0.5], label="v1")
        >>> new = evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], label="v2")
        >>> "<title>Churn &lt;v2&gt;</title>" in render_report([old, new], title="Churn <v2>")
        True
    """
    documents = report_documents(items)
    heading = validation.optional_text(title, "title", storable=False) or DEFAULT_TITLE
    body = _BODY.format(
        title=text_html(heading),
        version=html.escape(__version__),
        data=embedded_json({"title": heading, "items": documents}),
    )
    return html_page(
        title=heading, body=body, css=_asset("report.css"), scripts=[_asset("report.js")]
    )


def write_report(items: Any, path: str | pathlib.Path, *, title: str | None = None) -> pathlib.Path:
    """Write the report of ``items`` to ``path`` (UTF-8, folders made) and return the path.

    The page is written to a temporary file beside ``path``, then moved over it in one step:
    a reader (a web server, a browser reloading) sees the old report or the new one, never
    half of one, and a failed write leaves the old report as it was.

    Example:
        >>> import tempfile
        >>> from aimops.monitors import evaluate_binary
        >>> result = evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], label="v1")
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "report.html"
        >>> write_report([result], target).stat().st_size > 0
        True
    """
    return write_text_atomically(path, render_report(items, title=title))


def notebook_html(docs: list[dict[str, Any]]) -> str:
    """The report of ``docs`` inside a sandboxed ``<iframe srcdoc>``, for Jupyter's rich display.

    The iframe keeps the report's script and styles apart from the notebook's.

    Example:
        >>> from aimops.monitors import evaluate_binary
        >>> result = evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], label="v1")
        >>> notebook_html([result.to_dict()]).startswith("<iframe")
        True
    """
    documents = report_documents(docs)
    page = render_report(documents, title=_notebook_title(documents))
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts"'
        f' title="{text_html(_notebook_title(documents))}"'
        f' style="width: 100%; height: {_notebook_height(documents)}px; border: 0;'
        ' resize: vertical; overflow: auto;"></iframe>'
    )


def report_documents(items: Any) -> list[dict[str, Any]]:
    """``items`` (one or many results or documents) as validated, JSON-safe documents.

    Example:
        >>> report_documents({"kind": "regression", "metrics": {"r2": float("nan")},
        ...                   "residual_quantiles": {"0.5": 0.1}})[0]["metrics"]
        {'r2': None}
    """
    if isinstance(items, Mapping) or hasattr(items, "to_dict"):
        items = [items]
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        raise InvalidInputError(f"a report needs results or documents, got {type(items).__name__}")
    documents = [_document(item, f"item {index}") for index, item in enumerate(items)]
    if not documents:
        raise InvalidInputError("a report needs at least one result or document")
    return documents


def embedded_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element of an HTML page: ``<``, ``>``
    and ``&`` escaped (no ``</script>`` or ``<!--`` can appear), line separators and lone
    surrogates too.

    Example:
        >>> print(embedded_json({"label": "</script>&"}))
        {"label":"\\u003c/script\\u003e\\u0026"}
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return "".join(_JSON_ESCAPES.get(char) or _surrogate_escape(char) for char in text)


def _surrogate_escape(char: str) -> str:
    """A lone surrogate (which UTF-8 cannot hold) as its JSON escape; any other character as
    it is."""
    return f"\\u{ord(char):04x}" if "\ud800" <= char <= "\udfff" else char


def _document(item: Any, where: str) -> dict[str, Any]:
    raw = item.to_dict() if hasattr(item, "to_dict") else item
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"{where}: expected a result or a document (dict), got {type(item).__name__}"
        )
    document: dict[str, Any] = _plain(raw, where)
    _validate(document, where)
    return document


def _validate(document: dict[str, Any], where: str) -> None:
    kind = document.get("kind")
    if not isinstance(kind, str) or kind not in REQUIRED_KEYS:
        known = ", ".join(sorted(REQUIRED_KEYS))
        raise InvalidInputError(
            f"{where}: unknown kind {validation.shown(kind)} (expected one of: {known})"
        )
    _require(document, REQUIRED_KEYS[kind], f"{where} ({kind})")
    for part, keys in _NESTED_KEYS.get(kind, {}).items():
        _require(document[part], keys, f"{where} ({kind}) {part}")
    if kind == "binary" and document.get("fairness") is not None:
        _validate(document["fairness"], f"{where} fairness")
    if kind == "comparison":
        if not isinstance(document["evaluations"], list):
            raise InvalidInputError(f"{where} (comparison): 'evaluations' must be a list")
        for index, evaluation in enumerate(document["evaluations"]):
            if not isinstance(evaluation, dict):
                raise InvalidInputError(f"{where} evaluation {index}: expected a document")
            _validate(evaluation, f"{where} evaluation {index}")


def _require(part: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(part, dict):
        raise InvalidInputError(f"{where}: expected an object, got {type(part).__name__}")
    missing = [key for key in keys if part.get(key) is None]
    if missing:
        raise InvalidInputError(f"{where}: missing {', '.join(repr(key) for key in missing)}")


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data: non-finite floats become None, numpy values plain ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item, where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, where) for item in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist(), where)
    raise InvalidInputError(f"{where}: a {type(value).__name__} cannot be put into a report")


@cache
def _asset(name: str) -> str:
    text = resources.files("aimops.monitors.reports").joinpath("assets", name).read_text("utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise AssertionError(f"report asset {name} must not close its own element")
    return text


def _notebook_title(documents: list[dict[str, Any]]) -> str:
    labels = [str(doc["label"]) for doc in documents if doc.get("label")]
    return f"{DEFAULT_TITLE}: {', '.join(labels)}" if labels else DEFAULT_TITLE


def _notebook_height(documents: list[dict[str, Any]]) -> int:
    """A frame height that shows most of the report; the frame scrolls for the rest."""
    kinds = [doc["kind"] for doc in _flattened(documents)]
    binaries = kinds.count("binary")
    height = 120 + (1100 + 200 * (binaries - 1) if binaries else 0)
    height += sum(_SECTION_HEIGHTS.get(kind, 0) for kind in kinds)
    return min(height, 1600)


def _flattened(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents with the evaluations inside comparisons and binary fairness slices."""
    found: list[dict[str, Any]] = []
    for document in documents:
        found.append(document)
        if document.get("fairness"):
            found.append(document["fairness"])
        found.extend(_flattened(document.get("evaluations") or []))
    return found
