"""The Evidently engine: Evidently's own numbers in aimops' DriftResult, and its HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidInputError
from aimops.monitors.checks.drift import check_drift

pytest.importorskip("evidently")

from aimops.monitors.checks.evidently_engine import evidently_drift, save_evidently_report


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Numbers, few-valued integers, booleans and strings; ``shift`` drifts two columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.lognormal(10 + shift / 2, 0.5, rows),
            "age": rng.normal(40 + 5 * shift, 10, rows).round(1),
            "visits": rng.poisson(3, rows),
            "flag": rng.random(rows) < 0.3,
            "segment": rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]),
        }
    )


def test_evidently_engine_agrees_with_check_drift_and_writes_its_report(tmp_path: Path) -> None:
    reference, current = _frame(400, 1), _frame(300, 2, shift=0.6)
    html = tmp_path / "reports/drift.html"

    theirs = evidently_drift(reference, current, html_path=html)

    ours = check_drift(reference, current)
    assert list(theirs.columns) == list(ours.columns)
    for name, column in ours.columns.items():
        other = theirs.columns[name]
        assert (other.kind, other.method, other.threshold) == (
            column.kind,
            column.method,
            column.threshold,
        ), name
        assert other.score == pytest.approx(column.score, abs=1e-9, rel=1e-9), name
        assert other.drifted is column.drifted, name
    assert 0 < len(theirs.drifted_columns) < len(theirs.columns)  # a mix of flags
    assert (theirs.status, theirs.drift_share, theirs.dataset_drift) == (
        ours.status,
        ours.drift_share,
        ours.dataset_drift,
    )
    assert theirs.metrics == pytest.approx(ours.metrics, abs=1e-9)
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html") or "<html" in text[:500].lower()
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=", text)  # all inlined
    assert not list(html.parent.glob(".*.html"))  # no temporary file left behind


def test_listed_columns_and_the_report_alone(tmp_path: Path) -> None:
    reference, current = _frame(200, 3), _frame(200, 4, shift=1.0)

    result = evidently_drift(
        reference, current, numerical_columns=["visits"], categorical_columns=["segment"]
    )
    path = save_evidently_report(reference, current, tmp_path / "report.html")

    assert {name: column.kind for name, column in result.columns.items()} == {
        "visits": "numerical",
        "segment": "categorical",
    }
    assert path.stat().st_size > 0


def test_check_drift_takes_the_engine_and_saves_evidentlys_report(tmp_path: Path) -> None:
    reference, current = _frame(300, 1), _frame(300, 2, shift=1.0)
    ours = check_drift(reference, current, html_report=tmp_path / "drift.html")
    theirs = check_drift(reference, current, engine="evidently")
    assert (tmp_path / "drift.html").stat().st_size > 100_000
    assert {n: c.drifted for n, c in ours.columns.items()} == {
        n: c.drifted for n, c in theirs.columns.items()
    }
    assert ours.status == theirs.status
    with pytest.raises(InvalidInputError, match="engine is 'aimops' or 'evidently'"):
        check_drift(reference, current, engine="spark")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="methods, thresholds and min_rows are for"):
        check_drift(reference, current, engine="evidently", methods={"age": "ks"})
