"""``evaluate_model`` and ``compare_models`` as Prefect tasks, run for real: what the AIM store
holds afterwards, how the task run ended (and after how many tries), and the artifacts
Prefect's server shows.

Two versions of a small model are trained and registered once for the module in a real MLflow
(SQLite) that the tests name through an ``AimopsStore`` block; most tests judge a predictions
file instead, which needs no model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)

from aimops.flows.blocks import AimopsStore
from aimops.flows.evaluation import compare_models, evaluate_model
from aimops.metadata.store import AimStore

MODEL = "tumour_classifier"
TRIES: dict[str, list[int]] = {}  # flow run id -> the tries of each failed task run


@dataclass
class Registry:
    """The module's MLflow registry, its two model versions and the labelled test rows."""

    mlflow_uri: str
    test_csv: Path
    weak: str  # name/1: two features
    strong: str  # name/2: every feature


def _table() -> Any:
    import re

    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    return frame


def _register(mlflow_uri: str, folder: Path, model: Any) -> str:
    import mlflow
    import mlflow.sklearn

    from aimops.monitors.sources import without_airflow_shim_warnings

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_registry_uri(mlflow_uri)
    name = f"exp-{len(client.search_experiments())}"
    experiment = client.create_experiment(name, artifact_location=(folder / name).as_uri())
    with mlflow.start_run(experiment_id=experiment), without_airflow_shim_warnings():
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    return f"{MODEL}/{mlflow.register_model(info.model_uri, MODEL).version}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    import mlflow
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    frame = _table()
    train, test = frame.iloc[::2], frame.iloc[1::2]
    features, labels = train.drop(columns=["target"]), train["target"]
    two = make_column_transformer(("passthrough", ["mean_texture", "mean_smoothness"]))
    weak = make_pipeline(two, StandardScaler(), LogisticRegression()).fit(features, labels)
    strong = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    strong.fit(features, labels)
    with pytest.MonkeyPatch.context() as mp:  # mlflow.set_*_uri export these: put them back
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REGISTRY_URI", uri)
        mp.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
        mp.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
        versions = [_register(uri, folder, model) for model in (weak, strong)]
        test_csv = folder / "breast_cancer_test.csv"
        test.to_csv(test_csv, index=False)
        yield Registry(uri, test_csv, *versions)


@pytest.fixture
def block(aim_home: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> AimopsStore:
    """The test's store, the module's MLflow and a reports folder, in a block."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("AIMOPS_AIRFLOW_URL", raising=False)
    return AimopsStore(mlflow_tracking_uri=registry.mlflow_uri, report_dir=str(aim_home / "r"))


def _predictions(folder: Path, name: str, n: int = 200, quality: float = 0.4) -> Path:
    """Labels and two score columns (``good``, ``bad``): ``quality`` separates the classes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(len(name))
    labels = rng.integers(0, 2, n)
    noise = rng.normal(0, 0.2, (2, n))
    good = np.clip(0.3 + quality * labels + noise[0], 0, 1)
    bad = np.clip(0.45 + 0.05 * labels + noise[1], 0, 1)
    path = folder / f"{name}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"label": labels, "score": good, "good": good, "bad": bad}).to_csv(path)
    return path


def _record_versions(aim_home: Path, *versions: str) -> None:
    import aimops

    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}", create=True) as store:
        for version in versions:
            aimops.record_model_version(store, *version.split("/"))


def _count_tries(task: Any, task_run: Any, state: Any) -> None:
    TRIES.setdefault(str(task_run.flow_run_id), []).append(task_run.run_count)


@flow
def evaluating(arguments: dict[str, Any], retries: int = 2) -> str:
    counted = evaluate_model.with_options(
        retries=retries, retry_delay_seconds=0, on_failure=[_count_tries]
    )
    return counted(**arguments)  # type: ignore[no-any-return]


@flow
def comparing(arguments: dict[str, Any]) -> str:
    return compare_models.with_options(on_failure=[_count_tries])(**arguments)  # type: ignore[no-any-return]


@flow
def refused(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each call's error, or ``ok``."""
    tasks = {"evaluate": evaluate_model, "compare": compare_models}
    found = []
    for name, arguments in calls:
        state = tasks[name].with_options(on_failure=[_count_tries])(**arguments, return_state=True)
        found.append(str(state.result(raise_on_failure=False)) if state.is_failed() else "ok")
    return found


def _run(flow_fn: Any, *args: Any) -> tuple[Any, str]:
    """The flow's final state and its run id."""
    state = flow_fn(*args, return_state=True)
    return state, str(state.state_details.flow_run_id)


def _artifacts(flow_run_id: str) -> dict[str, Any]:
    """The artifacts a flow run published, by key (one each)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {str(artifact.key): artifact for artifact in found}
    assert len(by_key) == len(found), "a key published twice in one run"
    return by_key


def _table_rows(artifact: Any) -> list[dict[str, Any]]:
    import json

    assert artifact.type == "table"
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return list(data)


def _by(rows: list[dict[str, Any]], column: str) -> dict[str, dict[str, Any]]:
    return {str(row[column]): row for row in rows}


def _evaluation(aim_home: Path, urn: str) -> dict[str, Any]:
    from aimops.monitors.evaluation.recording import load_evaluation

    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        document = load_evaluation(store, urn)
        document["evaluates"] = sorted(e.urn for e in store.related(urn, "evaluates"))
        document["produced_by"] = sorted(e.urn for e in store.related(urn, "producedBy"))
    return document


# -- evaluate_model ------------------------------------------------------------------------------


def test_a_dataset_is_scored_by_the_registered_version_gated_recorded_and_shown(
    block: AimopsStore, registry: Registry, aim_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    block.save("evaluation-tasks", overwrite=True)  # a saved block, named
    arguments = {
        "model_version": registry.strong, "dataset": str(registry.test_csv),
        "label_column": "target", "min_metrics": {"auroc": 0.9}, "store": "evaluation-tasks",
    }  # fmt: skip
    with caplog.at_level(logging.INFO):
        state, run_id = _run(evaluating, arguments)
    urn = state.result()
    key = f"prefect/evaluating/{run_id}/evaluate_model"
    assert urn == f"urn:aim:evaluation:{key}"
    recorded = _evaluation(aim_home, urn)
    assert recorded["status"] == "passed" and recorded["metrics"]["auroc"] > 0.95
    assert recorded["evaluates"] == [f"urn:aim:modelVersion:{registry.strong}"]
    assert recorded["produced_by"] == [f"urn:aim:step:{key}"]
    assert f"recorded {urn}: auroc=" in caplog.text
    assert "gate passed: auroc = " in caplog.text

    artifacts = _artifacts(run_id)
    assert set(artifacts) == {
        "aimops-evaluation-tumour-classifier",
        "aimops-evaluation-tumour-classifier-table",
        "aimops-evaluation-tumour-classifier-link",
    }
    summary = artifacts["aimops-evaluation-tumour-classifier"].data
    assert f"### Evaluation of {registry.strong} on breast_cancer_test" in summary
    assert "**Verdict: pass**" in summary and "| auroc | 0.9" in summary
    assert "What failed" not in summary
    rows = _by(_table_rows(artifacts["aimops-evaluation-tumour-classifier-table"]), "metric")
    assert rows["auroc"]["gate"] == "≥ 0.9" and rows["auroc"]["passed"] is True
    assert rows["brier"]["gate"] is None and rows["brier"]["passed"] is None
    assert list(rows)[:2] == ["auroc", "aupr"]  # the headline metrics first
    link = artifacts["aimops-evaluation-tumour-classifier-link"]
    (report,) = (aim_home / "r").glob("evaluation-*.html")  # the block's reports folder
    assert link.data == f"[evaluation report]({report.as_uri()})"  # Prefect: a markdown link


def test_a_failed_gate_is_recorded_and_published_then_fails_at_once(
    block: AimopsStore, aim_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", "https://airflow.example.com/")
    predictions = _predictions(aim_home, "holdout", quality=0.1)
    _record_versions(aim_home, "churn/3")
    arguments = {
        "model_version": "churn/3", "predictions": str(predictions),
        "min_metrics": {"auroc": 0.99}, "max_metrics": {"brier": 0.5}, "store": block,
    }  # fmt: skip
    state, run_id = _run(evaluating, arguments)
    assert state.is_failed() and TRIES[run_id] == [1]  # permanent: no retry
    assert "failed 1 gate(s): auroc = " in str(state.result(raise_on_failure=False))
    urn = f"urn:aim:evaluation:prefect/evaluating/{run_id}/evaluate_model"
    recorded = _evaluation(aim_home, urn)
    assert recorded["status"] == "failed"  # the evidence is kept
    assert [gate["passed"] for gate in recorded["gates"]] == [False, True]

    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-evaluation-churn"].data
    assert "### Evaluation of churn/3 on holdout" in summary
    assert "**Verdict: fail**" in summary
    assert "What failed:\n\n- auroc = " in summary and "is below the minimum 0.99" in summary
    rows = _by(_table_rows(artifacts["aimops-evaluation-churn-table"]), "metric")
    assert (rows["auroc"]["gate"], rows["auroc"]["passed"]) == ("≥ 0.99", False)
    assert (rows["brier"]["gate"], rows["brier"]["passed"]) == ("≤ 0.5", True)
    page = f"https://airflow.example.com/aimops/evaluations/{urn}"
    assert page in artifacts["aimops-evaluation-churn-link"].data  # Airflow's page


def test_runs_of_every_version_accumulate_under_the_models_key(
    block: AimopsStore, aim_home: Path
) -> None:
    predictions = _predictions(aim_home, "holdout")
    _record_versions(aim_home, "churn/1", "churn/2")
    first = {
        "model_version": "churn/1", "predictions": str(predictions), "score_column": "bad",
        "dataset_name": "churn_holdout", "store": block,
    }  # fmt: skip
    urn_1 = evaluating(first)
    second = {
        **first, "model_version": "churn/2", "score_column": "good", "baseline": "churn/1",
        "max_regression": {"auroc": 0.0},
    }  # fmt: skip
    state, run_id = _run(evaluating, second)
    urn_2 = state.result()
    assert urn_1 != urn_2  # each run its own evaluation (its own key)
    assert _evaluation(aim_home, urn_2)["gates"][0]["baseline"] == "churn/1"
    rows = _by(_table_rows(_artifacts(run_id)["aimops-evaluation-churn-table"]), "metric")
    assert rows["auroc"]["gate"] == "at most 0 worse than churn/1"
    assert rows["auroc"]["passed"] is True
    with get_client(sync_client=True) as client:
        history = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["aimops-evaluation-churn"]),
                flow_run_id=ArtifactFilterFlowRunId(
                    any_=[urn.split("/")[2] for urn in (urn_1, urn_2)]
                ),
            )
        )
    titles = sorted(str(artifact.data).splitlines()[0] for artifact in history)
    assert titles == [
        "### Evaluation of churn/1 on churn_holdout",
        "### Evaluation of churn/2 on churn_holdout",
    ]


def test_a_model_version_not_recorded_yet_is_retried(block: AimopsStore, aim_home: Path) -> None:
    predictions = _predictions(aim_home, "holdout")
    arguments = {"model_version": "churn/9", "predictions": str(predictions), "store": block}
    state, run_id = _run(evaluating, arguments, 1)
    assert state.is_failed() and TRIES[run_id] == [2]  # the first try and its retry
    assert "model version urn:aim:modelVersion:churn/9 is not in the store" in str(
        state.result(raise_on_failure=False)
    )


def test_without_a_model_the_flow_names_the_history(block: AimopsStore, aim_home: Path) -> None:
    predictions = _predictions(aim_home, "scored")
    state, run_id = _run(evaluating, {"predictions": f"file://{predictions}", "store": block})
    assert state.is_completed()
    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-evaluation-scored"].data  # the predictions file's name
    assert "### Evaluation of the predictions on scored" in summary
    assert "No gates: recorded, nothing was judged." in summary


def test_a_multiclass_model_is_judged_on_one_score_column_per_class(
    block: AimopsStore, aim_home: Path
) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 300)
    scores = rng.dirichlet([1, 1, 1], 300)
    scores[np.arange(300), labels] += 0.5
    scores /= scores.sum(axis=1, keepdims=True)
    path = aim_home / "classes.csv"
    aim_home.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"label": labels, **{f"p{k}": scores[:, k] for k in range(3)}}).to_csv(path)
    arguments = {
        "predictions": str(path), "analyzers": ["multiclass"],
        "class_score_columns": ["p0", "p1", "p2"], "min_metrics": {"accuracy": "0.5"},
        "dataset_name": "plans", "store": block,
    }  # fmt: skip
    state, run_id = _run(evaluating, arguments)
    recorded = _evaluation(aim_home, state.result())
    assert recorded["kind"] == "multiclass" and recorded["status"] == "passed"
    artifacts = _artifacts(run_id)
    rows = _by(_table_rows(artifacts["aimops-evaluation-plans-table"]), "metric")
    assert list(rows)[:2] == ["log_loss", "accuracy"]  # the headline metrics it has, first
    assert rows["accuracy"]["gate"] == "≥ 0.5" and rows["auroc_macro"]["value"] > 0.7


def test_bad_arguments_fail_at_once_naming_the_parameter(
    block: AimopsStore, aim_home: Path
) -> None:
    predictions = str(_predictions(aim_home, "holdout"))
    calls = [
        ("evaluate", {"store": block}),
        ("evaluate", {"dataset": predictions, "predictions": predictions, "store": block}),
        ("evaluate", {"predictions": predictions, "threshold": "high", "store": block}),
        ("evaluate", {"predictions": predictions, "min_metrics": {"auroc": "x"}, "store": block}),
        ("compare", {"model_versions": ["churn/1"], "predictions": predictions, "store": block}),
        ("evaluate", {"predictions": predictions, "store": "postgresql://u:pw@db/aim"}),
    ]
    state, run_id = _run(refused, calls)
    assert state.result() == [
        "evaluate_model takes one of dataset= and predictions=: neither given",
        "evaluate_model takes one of dataset= and predictions=: both given",
        "threshold must be a number, got 'high'",
        "min_metrics['auroc'] must be a number, got 'x'",
        "compare_models: compare at least two model versions",
        "store= takes an AimopsStore block or the name of a saved one, not a URL (it would "
        'show in Prefect\'s UI): AimopsStore(store_url=...).save("name")',
    ]
    assert TRIES[run_id] == [1] * 6  # none retried
    assert not (aim_home / "aim.db").exists()  # nothing recorded: the store was not opened
    assert _artifacts(run_id) == {}


# -- compare_models ------------------------------------------------------------------------------


def test_versions_scored_by_mlflow_are_compared_with_winners(
    block: AimopsStore, registry: Registry, aim_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arguments = {
        "model_versions": [registry.weak, registry.strong], "dataset": str(registry.test_csv),
        "label_column": "target", "n_bootstrap": 200, "max_regression": {"auroc": 0.5},
        "store": block,
    }  # fmt: skip
    with caplog.at_level(logging.INFO):
        state, run_id = _run(comparing, arguments)
    urn = state.result()
    key = f"prefect/comparing/{run_id}/compare_models"
    assert urn == f"urn:aim:evaluation:{key}"
    recorded = _evaluation(aim_home, urn)
    assert recorded["kind"] == "comparison" and recorded["status"] == "passed"
    assert recorded["winners"]["auroc"] == registry.strong
    for version in (registry.weak, registry.strong):  # each version's own evaluation
        own = _evaluation(aim_home, f"urn:aim:evaluation:{key}/{version}")
        assert own["evaluates"] == [f"urn:aim:modelVersion:{version}"]
        assert f"evaluation of {version}: urn:aim:evaluation:{key}/{version}" in caplog.text
    assert f"auroc: {registry.strong} wins" in caplog.text

    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-comparison-tumour-classifier"].data
    assert f"### Comparison of {registry.weak}, {registry.strong} on breast_cancer_test" in summary
    assert "**Verdict: pass**" in summary and f"auroc: {registry.strong}" in summary
    rows = _by(_table_rows(artifacts["aimops-comparison-tumour-classifier-table"]), "model_version")
    assert set(rows) == {registry.weak, registry.strong}
    assert rows[registry.weak]["role"] == "baseline" and rows[registry.weak]["gates"] is None
    assert rows[registry.strong]["role"] == "challenger"
    assert rows[registry.strong]["gates"] == "pass"
    assert "auroc" in rows[registry.strong]["wins"]
    assert rows[registry.strong]["auroc"] > rows[registry.weak]["auroc"]
    assert "aimops-comparison-tumour-classifier-link" in artifacts


def test_a_challenger_worse_than_the_baseline_fails_after_it_is_shown(
    block: AimopsStore, aim_home: Path
) -> None:
    predictions = _predictions(aim_home, "holdout")
    _record_versions(aim_home, "churn/1", "churn/2")
    arguments = {
        "model_versions": ["churn/1", "churn/2"], "predictions": str(predictions),
        "score_columns": {"churn/1": "good", "churn/2": "bad"}, "n_bootstrap": 100,
        "max_regression": {"auroc": 0.01}, "dataset_name": "churn_holdout", "store": block,
    }  # fmt: skip
    state, run_id = _run(comparing, arguments)
    assert state.is_failed() and TRIES[run_id] == [1]
    message = str(state.result(raise_on_failure=False))
    assert "failed 1 gate(s): churn/2: auroc = " in message and "worse than churn/1" in message
    urn = f"urn:aim:evaluation:prefect/comparing/{run_id}/compare_models"
    assert _evaluation(aim_home, urn)["status"] == "failed"

    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-comparison-churn"].data
    assert "**Verdict: fail**" in summary and "- churn/2: auroc = " in summary
    rows = _by(_table_rows(artifacts["aimops-comparison-churn-table"]), "model_version")
    assert rows["churn/2"]["gates"] == "fail" and "auroc" in rows["churn/1"]["wins"]
