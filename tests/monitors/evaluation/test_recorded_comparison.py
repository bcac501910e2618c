"""Comparing recorded evaluations: a recorded paired comparison is used only for its own rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.monitors.evaluation.jobs import Columns, compare_models, evaluate_model
from aimops.monitors.evaluation.recorded_comparison import compare_recorded


def test_a_recorded_comparison_of_other_numbers_is_not_passed_off_as_this_one(
    tmp_path: Path,
) -> None:
    store = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    for version in ("1", "2"):
        aimops.record_model_version(store, "m", version)
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    good = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.15, 300), 0, 1)
    noise = rng.uniform(0, 1, 300)
    table = pd.DataFrame({"label": y, "good": good, "noise": noise})
    common = {"predictions": table, "dataset_name": "holdout", "report_dir": None}
    compare_models(
        store, model_versions=["m/1", "m/2"], score_columns={"m/1": "good", "m/2": "noise"},
        n_bootstrap=60, key="cmp", **common,
    )  # fmt: skip
    # The same versions on the same data set, but now m/1 scores noise and m/2 well.
    new1 = evaluate_model(store, model_version="m/1", columns=Columns(score="noise"), **common)
    new2 = evaluate_model(store, model_version="m/2", columns=Columns(score="good"), **common)
    found = compare_recorded(store, [new1.urn, new2.urn])
    assert found["method"].startswith("recorded metrics")
    assert found["winners"]["auroc"] == "m/2"
    auroc = next(delta for delta in found["deltas"] if delta["metric"] == "auroc")
    assert auroc["delta"] == pytest.approx(
        new2.result.metrics["auroc"] - new1.result.metrics["auroc"]
    )
    # The comparison's own per-version evaluations do pair with it.
    paired = compare_recorded(store, ["urn:aim:evaluation:cmp/m/1", "urn:aim:evaluation:cmp/m/2"])
    assert paired["urn"] == "urn:aim:evaluation:cmp" and paired["winners"]["auroc"] == "m/1"


def test_metrics_the_recorded_comparison_lacks_are_compared_from_the_evaluations(
    tmp_path: Path,
) -> None:
    store = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    for version in ("1", "2"):
        aimops.record_model_version(store, "m", version)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    table = pd.DataFrame(
        {"label": y, "a": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 200), 0, 1)}
    ).assign(b=lambda frame: np.clip(frame["a"] * 0.8, 0, 1))
    common = {"predictions": table, "dataset_name": "holdout", "report_dir": None}
    compare_models(
        store, model_versions=["m/1", "m/2"], score_columns={"m/1": "a", "m/2": "b"},
        metrics=["auroc"], n_bootstrap=60, key="cmp", **common,
    )  # fmt: skip
    versions = ["urn:aim:evaluation:cmp/m/1", "urn:aim:evaluation:cmp/m/2"]
    paired = compare_recorded(store, versions, metrics=["auroc"])
    assert paired["urn"] == "urn:aim:evaluation:cmp"
    both = compare_recorded(store, versions, metrics=["auroc", "accuracy"])
    assert {delta["metric"] for delta in both["deltas"]} == {"auroc", "accuracy"}
    assert both["method"].startswith("recorded metrics")
