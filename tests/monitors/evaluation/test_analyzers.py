"""Analyzers come from the ``aimops.analyzers`` entry points, the built-ins included."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import aimops
from aimops.errors import UnknownAnalyzerError
from aimops.monitors import load_evaluation, record_evaluation
from aimops.monitors.evaluation.analyzers import (
    AnalysisInput,
    analyze,
    get_analyzer,
    list_analyzers,
)


def test_the_built_ins_are_registered_as_entry_points() -> None:
    assert {"binary", "multiclass", "regression", "fairness"} <= set(list_analyzers())
    with pytest.raises(UnknownAnalyzerError, match="no analyzer 'nope' is registered; known:"):
        get_analyzer("nope")


@pytest.fixture
def team_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another team's installed package that registers the analyzer ``lift``."""
    (tmp_path / "team_lift.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass
            import numpy as np
            from aimops.monitors.evaluation.result import EvaluationResult

            @dataclass(frozen=True, kw_only=True)
            class Lift(EvaluationResult):
                kind = "lift"
                top_share: float
                def details(self):
                    return {"top_share": self.top_share}

            class LiftAnalyzer:
                name = "lift"
                description = "lift of the top decile"
                def analyze(self, data):
                    y, s = np.asarray(data.y_true), np.asarray(data.y_score)
                    top = s >= np.quantile(s, 0.9)
                    lift = float(y[top].mean() / y.mean())
                    return Lift(metrics={"top_decile_lift": lift}, n=len(y), top_share=0.1)
            """
        )
    )
    info = tmp_path / "team_lift-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: team-lift\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[aimops.analyzers]\nlift = team_lift:LiftAnalyzer\n")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("team_plugin")
def test_a_contributed_analyzer_runs_beside_the_built_in_and_is_recorded() -> None:
    assert "lift" in list_analyzers()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 500), 0, 1)
    result = analyze(AnalysisInput(y, s), ["binary", "lift"])
    top = s >= np.quantile(s, 0.9)
    assert result.metrics["lift.top_decile_lift"] == pytest.approx(y[top].mean() / y.mean())
    assert result.metrics["auroc"] == result.part("binary").metrics["auroc"]
    store = aimops.connect("sqlite://")
    urn = record_evaluation(store, result, key="lift/1")
    document = load_evaluation(store, urn)
    assert document["lift"]["top_share"] == 0.1
    assert document["kind"] == "binary" and "roc" in document
