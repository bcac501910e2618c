"""The evaluation jobs the operators wrap: read, score, analyze, gate, record, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import aimops
from aimops.errors import (
    GateFailedError,
    InvalidDataError,
    InvalidInputError,
    MissingEntityError,
    NotFoundError,
)
from aimops.metadata import AimStore
from aimops.monitors import load_evaluation
from aimops.monitors.evaluation.jobs import Columns, compare_models, evaluate_model

ROWS = 400


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, ROWS)
    table = pd.DataFrame(
        {
            "churned": y,
            "v1": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, ROWS), 0, 1),
            "v2": np.clip(0.35 + 0.3 * y + rng.normal(0, 0.2, ROWS), 0, 1),
            "region": rng.choice(["north", "south"], ROWS),
        }
    )
    path = tmp_path / "scored.parquet"
    table.to_parquet(path)
    table.to_csv(tmp_path / "scored.csv", index=False)
    return path


@pytest.fixture
def store(tmp_path: Path) -> AimStore:
    store = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    for version in ("1", "2"):
        aimops.record_model_version(store, "churn", version)
    return store


def test_evaluate_a_predictions_file_with_fairness_gates_and_a_report(
    store: AimStore, predictions: Path, tmp_path: Path
) -> None:
    outcome = evaluate_model(
        store,
        model_version="churn/1",
        predictions=predictions,
        columns=Columns(label="churned", score="v1"),
        analyzers=["binary", "fairness"],
        analyzer_options={"sensitive_column": "region"},
        min_metrics={"auroc": 0.8},
        key="job/1",
        report_dir=tmp_path / "reports",
    )
    table = pd.read_parquet(predictions)
    assert outcome.result.metrics["auroc"] == pytest.approx(
        roc_auc_score(table["churned"], table["v1"]), abs=1e-12
    )
    assert "fairness.max_gap_tpr" in outcome.result.metrics
    document = load_evaluation(store, outcome.urn)
    assert document["status"] == "passed" and document["gates"][0]["metric"] == "auroc"
    assert {group["group"] for group in document["fairness"]["groups"]} == {"north", "south"}
    assert document["predictions_uri"] == predictions.resolve().as_uri()
    assert outcome.report is not None and outcome.report.is_file()
    assert "churn/1" in outcome.report.read_text()


def test_a_failed_gate_is_recorded_then_raised(store: AimStore, predictions: Path) -> None:
    with pytest.raises(GateFailedError, match=r"auroc = 0\.\d+ is below the minimum 0\.99"):
        evaluate_model(
            store,
            model_version="churn/1",
            predictions=predictions.with_suffix(".csv"),
            columns=Columns(label="churned", score="v1"),
            min_metrics={"auroc": 0.99},
            key="job/gated",
            report_dir=None,
        )
    assert load_evaluation(store, "urn:aim:evaluation:job/gated")["status"] == "failed"


def test_a_baseline_gate_needs_the_baselines_recorded_evaluation(
    store: AimStore, predictions: Path
) -> None:
    common = {"predictions": predictions, "report_dir": None}
    with pytest.raises(NotFoundError, match="no recorded binary evaluation of the baseline"):
        evaluate_model(
            store, model_version="churn/2", columns=Columns("churned", "v2"),
            baseline="churn/1", max_regression={"auroc": 0.01}, **common,
        )  # fmt: skip
    evaluate_model(store, model_version="churn/1", columns=Columns("churned", "v1"), **common)
    with pytest.raises(GateFailedError, match="worse than churn/1"):
        evaluate_model(
            store, model_version="churn/2", columns=Columns("churned", "v2"),
            baseline="churn/1", max_regression={"auroc": 0.01}, **common,
        )  # fmt: skip


def test_compare_models_records_each_version_and_the_comparison(
    store: AimStore, predictions: Path
) -> None:
    outcome = compare_models(
        store,
        model_versions=["churn/1", "urn:aim:modelVersion:churn/2"],
        predictions=predictions,
        score_columns={"churn/1": "v1", "churn/2": "v2"},
        columns=Columns(label="churned"),
        n_bootstrap=100,
        key="cmp/1",
        report_dir=None,
    )
    assert sorted(outcome.evaluations) == ["churn/1", "churn/2"]
    document = load_evaluation(store, outcome.urn)
    assert document["winners"]["auroc"] == "churn/1"
    assert document["status"] == "recorded"
    assert load_evaluation(store, outcome.evaluations["churn/2"])["model_version"] == (
        "urn:aim:modelVersion:churn/2"
    )


def test_bad_inputs_are_named_and_record_nothing(store: AimStore, predictions: Path) -> None:
    before = store.count("evaluation")
    with pytest.raises(InvalidDataError, match="the label column 'label' is not in the table"):
        evaluate_model(store, predictions=predictions, report_dir=None)
    with pytest.raises(InvalidInputError, match=r"either a labelled dataset .* or a predictions"):
        evaluate_model(store, report_dir=None)
    with pytest.raises(NotFoundError, match="does not exist"):
        evaluate_model(store, predictions="/nowhere/scored.csv", report_dir=None)
    with pytest.raises(InvalidInputError, match="is not a model version"):
        evaluate_model(store, model_version="churn", predictions=predictions, report_dir=None)
    with pytest.raises(InvalidInputError, match="score_columns naming the column"):
        compare_models(
            store, model_versions=["churn/1", "churn/2"], predictions=predictions,
            columns=Columns(label="churned"), report_dir=None,
        )  # fmt: skip
    assert store.count("evaluation") == before


def test_a_comparison_with_an_unknown_version_records_nothing_at_all(
    store: AimStore, predictions: Path
) -> None:
    before = store.count("evaluation")
    with pytest.raises(MissingEntityError, match="urn:aim:modelVersion:churn/9"):
        compare_models(
            store, model_versions=["churn/1", "churn/9"], predictions=predictions,
            score_columns={"churn/1": "v1", "churn/9": "v2"}, columns=Columns(label="churned"),
            n_bootstrap=50, key="cmp/half", report_dir=None,
        )  # fmt: skip
    assert store.count("evaluation") == before


def test_baseline_gates_on_a_data_frame_need_the_data_set_named(
    store: AimStore, predictions: Path
) -> None:
    table = pd.read_parquet(predictions)
    common = {"predictions": table, "report_dir": None}
    evaluate_model(
        store, model_version="churn/1", columns=Columns("churned", "v1"),
        dataset_name="holdout-2026-11", **common,
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match="name it with dataset_name"):
        evaluate_model(
            store, model_version="churn/2", columns=Columns("churned", "v2"),
            baseline="churn/1", max_regression={"auroc": 0.5}, **common,
        )  # fmt: skip
    outcome = evaluate_model(
        store, model_version="churn/2", columns=Columns("churned", "v2"),
        baseline="churn/1", max_regression={"auroc": 0.5}, dataset_name="holdout-2026-11",
        **common,
    )  # fmt: skip
    assert outcome.gates[0].baseline == "churn/1" and outcome.passed
    assert load_evaluation(store, outcome.urn)["dataset"] == "urn:aim:dataset:holdout-2026-11"


def test_a_multiclass_predictions_table_with_one_column_per_class(tmp_path: Path) -> None:
    store = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    rng = np.random.default_rng(3)
    classes = np.array(["bronze", "gold", "silver"])
    y = rng.integers(0, 3, 300)
    raw = rng.uniform(0.1, 1, (300, 3)) + 2.0 * np.eye(3)[y]
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    table = pd.DataFrame(probabilities, columns=[f"p_{name}" for name in classes])
    table["tier"] = classes[y]
    outcome = evaluate_model(
        store,
        predictions=table,
        columns=Columns(label="tier", class_scores=tuple(table.columns[:3])),
        analyzers=["multiclass"],
        report_dir=None,
    )
    from sklearn.metrics import roc_auc_score as auc

    assert outcome.result.kind == "multiclass"
    assert outcome.result.metrics["auroc_macro"] == pytest.approx(
        auc(table["tier"], probabilities, multi_class="ovr", average="macro"), abs=1e-12
    )
    with pytest.raises(InvalidDataError, match="class score columns not in the table: p_x"):
        evaluate_model(
            store, predictions=table, columns=Columns(label="tier", class_scores=("p_x",)),
            analyzers=["multiclass"], report_dir=None,
        )  # fmt: skip
