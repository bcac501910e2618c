"""Scoring through the MLflow registry: every way of naming a model, nothing global changed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidDataError, NotFoundError
from aimops.monitors.sources import model_scores, without_airflow_shim_warnings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, pd.DataFrame, object]:
    """A real MLflow (SQLite) holding one registered scikit-learn model, aliased champion."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("scoring", artifact_location=(folder / "a").as_uri())
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((80, 3)), columns=["a", "b", "c"])
    model = LogisticRegression().fit(table, (table["a"] > 0.5).astype(int))
    with pytest.MonkeyPatch.context() as patch:  # MLflow's fluent API, for this block only
        patch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
        patch.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        with mlflow.start_run(experiment_id=experiment), without_airflow_shim_warnings():
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        version = mlflow.register_model(info.model_uri, "churn").version
    client.set_registered_model_alias("churn", "champion", version)
    return uri, info.model_uri, table, model


@pytest.mark.parametrize("form", ["version", "alias", "latest", "logged model"])
def test_every_way_of_naming_the_model_scores_the_same(
    registry: tuple[str, str, pd.DataFrame, object], form: str
) -> None:
    uri, logged, table, model = registry
    model_uri = {
        "version": "models:/churn/1",
        "alias": "models:/churn@champion",
        "latest": "models:/churn/latest",
        "logged model": logged,
    }[form]
    import mlflow

    global_uri = mlflow.get_tracking_uri()
    scores = model_scores(model_uri, table, tracking_uri=uri, registry_uri=uri)
    np.testing.assert_allclose(scores, model.predict_proba(table)[:, 1])  # type: ignore[attr-defined]
    assert mlflow.get_tracking_uri() == global_uri  # nothing process-wide was changed
    assert os.environ.get("MLFLOW_TRACKING_URI") is None


def test_unknown_models_and_unfit_tables_are_named(
    registry: tuple[str, str, pd.DataFrame, object], tmp_path: Path
) -> None:
    uri, _, table, _ = registry
    with pytest.raises(NotFoundError, match="cannot load models:/nope/1 from MLflow"):
        model_scores("models:/nope/1", table, tracking_uri=uri, registry_uri=uri)
    with pytest.raises(InvalidDataError, match="models:/churn/1 cannot score the table"):
        model_scores("models:/churn/1", table[["a", "b"]], tracking_uri=uri, registry_uri=uri)


def test_a_sensitive_column_is_never_given_to_the_model(
    registry: tuple[str, str, pd.DataFrame, object], tmp_path: Path
) -> None:
    import aimops
    from aimops.monitors import load_evaluation
    from aimops.monitors.evaluation.jobs import MlflowLocation, evaluate_model

    uri, _, table, model = registry
    labelled = table.assign(
        label=(table["a"] > 0.5).astype(int), region=np.where(table["b"] > 0.5, "n", "s")
    )
    store = aimops.connect(f"sqlite:///{tmp_path / 'aim.db'}")
    outcome = evaluate_model(
        store,
        model_version="churn/1",  # not recorded yet: the registry scored it, so it is now
        dataset=labelled,
        dataset_name="holdout",
        analyzers=["binary", "fairness"],
        analyzer_options={"sensitive_column": "region"},
        report_dir=None,
        mlflow=MlflowLocation(uri, uri),
    )
    expected = model.predict_proba(table)[:, 1]  # type: ignore[attr-defined]
    from sklearn.metrics import roc_auc_score

    assert outcome.result.metrics["auroc"] == pytest.approx(
        roc_auc_score(labelled["label"], expected), abs=1e-12
    )
    assert load_evaluation(store, outcome.urn)["model_version"] == "urn:aim:modelVersion:churn/1"
    assert store.get_entity("urn:aim:modelVersion:churn/1") is not None


@pytest.fixture(scope="module")
def retention(registry: tuple[str, str, pd.DataFrame, object]) -> str:
    """A second registered model, "retention", with two versions of the same logged model."""
    import mlflow

    uri, logged, _, _ = registry
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
        patch.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        versions = [mlflow.register_model(logged, "retention").version for _ in range(2)]
    assert [str(version) for version in versions] == ["1", "2"]
    return uri


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("churn/1", "churn/1"),
        ("models:/churn/1", "churn/1"),
        ("churn@champion", "churn/1"),
        ("models:/churn@champion", "churn/1"),
        ("retention/latest", "retention/2"),
        ("models:/retention/latest/", "retention/2"),
        ("retention/1", "retention/1"),
    ],
)
def test_a_registered_version_is_named_as_the_registry_resolves_it(
    retention: str, reference: str, expected: str
) -> None:
    import mlflow

    from aimops.monitors.sources import registered_version

    global_uri = mlflow.get_tracking_uri()
    assert registered_version(reference, tracking_uri=retention, registry_uri=retention) == expected
    assert mlflow.get_tracking_uri() == global_uri
    assert os.environ.get("MLFLOW_TRACKING_URI") is None


def test_a_version_the_registry_does_not_have_is_not_found(retention: str) -> None:
    from aimops.errors import InvalidInputError
    from aimops.monitors.sources import registered_version

    uri = retention
    for reference in ("nope/1", "churn/7", "churn@nobody", "models:/nope@champion"):
        with pytest.raises(NotFoundError) as raised:
            registered_version(reference, tracking_uri=uri, registry_uri=uri)
        assert str(raised.value).startswith(
            f"the MLflow registry at {uri} has no model version {reference!r}: "
        )
    with pytest.raises(
        NotFoundError, match=r"^model 'nope' has no version in the MLflow registry$"
    ):
        registered_version("nope/latest", tracking_uri=uri, registry_uri=uri)
    for reference in ("churn", "models:/churn", "/1"):
        with pytest.raises(InvalidInputError, match=r"is not name/version or name@alias$"):
            registered_version(reference, tracking_uri=uri, registry_uri=uri)


def test_load_model_gives_the_registered_object_whose_files_go_with_it(
    registry: tuple[str, str, pd.DataFrame, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc
    import tempfile

    from aimops.monitors.sources import load_model

    uri, _, table, model = registry
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where it downloads to
    loaded = load_model("models:/churn@champion", tracking_uri=uri, registry_uri=uri)
    assert type(loaded) is type(model)  # the scikit-learn object, not a pyfunc wrapper
    np.testing.assert_array_equal(loaded.predict_proba(table), model.predict_proba(table))  # type: ignore[attr-defined]
    (folder,) = tmp_path.iterdir()  # the model's files live as long as the model
    del loaded
    gc.collect()
    assert not folder.exists()
    with pytest.raises(NotFoundError, match=r"^cannot load models:/churn/9 from MLflow at "):
        load_model("models:/churn/9", tracking_uri=uri, registry_uri=uri)
    assert list(tmp_path.iterdir()) == []


def test_loading_a_registered_model_in_an_airflow_task_does_not_flood_its_log(
    registry: tuple[str, str, pd.DataFrame, object],
) -> None:
    """skops' first import looks scipy's ufuncs up in every loaded module; in a process that
    loaded Airflow (a task) each lookup in a deprecated-module shim used to warn: ~1,160 lines.
    A fresh process, because skops.io does that once per process."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, warnings\n"
        "import airflow.sdk, airflow.utils, airflow.models  # what a task process has loaded\n"
        "from aimops.monitors.sources import load_model\n"
        "assert 'skops.io' not in sys.modules\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    load_model('models:/churn@champion', tracking_uri=sys.argv[1],"
        " registry_uri=sys.argv[1])\n"
        "assert 'skops.io' in sys.modules\n"
        "print(json.dumps([f'{type(w.message).__name__}: {w.message}' for w in caught]))\n"
    )
    uri = registry[0]
    done = subprocess.run([sys.executable, "-c", code, uri], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    caught = json.loads(done.stdout.strip().splitlines()[-1])
    assert [line for line in caught if line.startswith("DeprecatedImportWarning")] == []
