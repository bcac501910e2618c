"""A comparison of recorded evaluations on too few rows names no winner and says why, in the
document the CLI prints and the report page shows, whichever way it was compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.metadata.store import AimStore
from aimops.monitors import evaluate_binary
from aimops.monitors.evaluation.jobs import compare_models
from aimops.monitors.evaluation.recorded_comparison import compare_recorded


@pytest.fixture
def store(tmp_path: Path) -> AimStore:
    found = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    for version in ("1", "2"):
        aimops.record_model_version(found, "churn", version)
    return found


def test_a_paired_comparison_s_reason_comes_along_even_for_metrics_it_lacks(
    store: AimStore,
) -> None:
    table = pd.DataFrame(
        {"label": [0, 1, 0, 1, 0, 0, 1, 0], "v1": np.linspace(0.1, 0.8, 8), "v2": [0.5] * 8}
    )
    compare_models(
        store, model_versions=["churn/1", "churn/2"], predictions=table,
        score_columns={"churn/1": "v1", "churn/2": "v2"}, metrics=["auroc"], n_bootstrap=60,
        key="cmp", report_dir=None, dataset_name="holdout",
    )  # fmt: skip
    versions = ["urn:aim:evaluation:cmp/churn/1", "urn:aim:evaluation:cmp/churn/2"]

    paired = compare_recorded(store, versions)
    wider = compare_recorded(store, versions, metrics=["auroc", "accuracy"])

    assert paired["inconclusive"].startswith("inconclusive: 3 positive and 5 negative rows")
    assert wider["method"].startswith("recorded metrics")  # the pairing lacks accuracy
    assert wider["inconclusive"] == paired["inconclusive"]
    assert wider["winners"] == {"auroc": None, "accuracy": None}


def test_unpaired_evaluations_on_too_few_rows_name_no_winner(store: AimStore) -> None:
    few = evaluate_binary([0, 1, 1, 0, 1], [0.2, 0.9, 0.6, 0.4, 0.7], label="few")
    many = evaluate_binary([0, 1] * 10, [0.3, 0.7] * 10, label="many")
    weighted = evaluate_binary(
        [0, 1, 1, 0, 1], [0.2, 0.9, 0.6, 0.4, 0.7], sample_weight=[1.0] * 5, label="weighted"
    )
    urns = {
        result.label: result.record(store, key=str(result.label))
        for result in (few, many, weighted)
    }

    found = compare_recorded(store, [urns["many"], urns["few"]])
    enough = compare_recorded(store, [urns["many"], urns["many"]])
    of_weights = compare_recorded(store, [urns["many"], urns["weighted"]])

    assert found["inconclusive"] == (
        "inconclusive: 'few' was evaluated on 3 positive and 2 negative rows; winners need at "
        "least 10 of each"
    )
    assert set(found["winners"].values()) == {None}
    assert found["deltas"]  # the values and their differences are still shown
    assert enough["inconclusive"] is None and enough["winners"]["auroc"] is not None
    # A weighted evaluation counts weights, not rows: nothing to say about its rows.
    assert of_weights["inconclusive"] is None
