"""Model versions with the evidence a review asks for, recorded the way users record it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.metadata import AimStore
from aimops.metadata.recording import record_model_version
from aimops.metadata.urns import Urn

QUALITY_SUITE = [{"expect": "not_null", "column": "label"}]
FAILING_SUITE = [{"expect": "between", "column": "score", "min": 5, "max": 6}]


def scored_rows(rows: int = 300, seed: int = 0, strength: float = 0.3) -> pd.DataFrame:
    """Labels and two models' scores: ``score`` (this version) and ``other``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    return pd.DataFrame(
        {
            "label": labels,
            "score": np.clip(labels * strength + rng.random(rows) * 0.5, 0, 1),
            "other": np.clip(labels * 0.25 + rng.random(rows) * 0.5, 0, 1),
        }
    )


class Evidence:
    """Records evaluations, comparisons and checks on model versions of ``churn``."""

    def __init__(self, store: AimStore) -> None:
        self.store = store
        self.rows = scored_rows()

    def version(self, number: int, model: str = "churn") -> Urn:
        return record_model_version(self.store, model, number)

    def evaluation(self, version: Urn, *, gated: bool = True, passing: bool = True) -> str:
        from aimops.errors import GateFailedError
        from aimops.monitors.evaluation.jobs import evaluate_model

        gates = {"auroc": 0.8 if passing else 0.999} if gated else None
        try:
            outcome = evaluate_model(
                self.store, model_version=version, predictions=self.rows, min_metrics=gates,
                report_dir=None, dataset_name="test", key=f"eval/{version.key}/{gated}{passing}",
            )  # fmt: skip
        except GateFailedError:
            assert not passing
            return self._newest_evaluation(version)
        return str(outcome.urn)

    def _newest_evaluation(self, version: Urn) -> str:
        infos = self.store.latest_values(
            [e.urn for e in self.store.related(version, "evaluates", incoming=True)],
            "evaluationInfo",
        )
        return max(infos, key=lambda urn: infos[urn]["evaluated_at"])

    def quality(self, version: Urn, *, passing: bool = True, key: str | None = None) -> str:
        from aimops.monitors.checks.jobs import run_data_quality

        suite = QUALITY_SUITE if passing else FAILING_SUITE
        outcome = run_data_quality(
            self.store, self.rows, suite, model_version=version, report_dir=None,
            key=key or f"quality/{version.key}/{passing}",
        )  # fmt: skip
        return str(outcome.urn)

    def drift_failure(self, version: Urn) -> str:
        from aimops.monitors.checks.drift import check_drift
        from aimops.monitors.checks.recording import record_check

        reference = pd.DataFrame({"x": np.linspace(0, 1, 200)})
        current = pd.DataFrame({"x": np.linspace(5, 6, 200)})
        result = check_drift(reference, current)
        assert result.status == "fail"
        return str(record_check(self.store, result, target=version, key=f"drift/{version.key}"))

    def comparison(
        self, challenger: Urn, champion: Urn, *, passing: bool = True, rows: int | None = None
    ) -> str:
        from aimops.errors import GateFailedError
        from aimops.monitors.evaluation.jobs import compare_models

        table = self.rows if rows is None else scored_rows(rows, seed=3)
        names = {"/".join(champion.segments): "other", "/".join(challenger.segments): "score"}
        try:
            outcome = compare_models(
                self.store, model_versions=[champion, challenger], predictions=table,
                score_columns=names, max_regression={"auroc": 0.5 if passing else -0.0},
                min_metrics=None if passing else {"auroc": 0.9999}, n_bootstrap=50,
                report_dir=None, dataset_name="test" if rows is None else "small",
                key=f"compare/{challenger.key}/{passing}/{rows}",
            )  # fmt: skip
        except GateFailedError:
            assert not passing
            return f"urn:aim:evaluation:compare/{challenger.key}/{passing}/{rows}"
        return str(outcome.urn)

    def reviewable(self, number: int) -> Urn:
        """A version with a passing gated evaluation and a passing data-quality check."""
        version = self.version(number)
        self.evaluation(version)
        self.quality(version)
        return version


@pytest.fixture
def evidence(store: AimStore) -> Evidence:
    return Evidence(store)


@pytest.fixture
def drive(store: AimStore) -> Callable[..., Any]:
    """Move a reviewable version to ``state`` by the allowed path (ana requests, bob approves)."""
    from aimops.metadata.lifecycle import transition

    paths = {
        "registered": [],
        "in_review": ["request_review"],
        "publishable": ["request_review", "approve"],
        "published": ["request_review", "approve", "publish"],
        "deprecated": ["deprecate"],
    }

    def move(version: Urn, state: str) -> None:
        for action in paths[state]:
            actor = "bob" if action == "approve" else "ana"
            transition(store, version, action, actor=actor, reason="test", mlflow=False)

    return move
