"""``train_model_prefect``: the training pipeline as a Prefect 3 flow that aimops captures.

load_data → validate_data → train → register_model → evaluate, on scikit-learn's bundled
breast-cancer data set (binary classification, offline), as the Airflow DAG ``train_model``
does it: same split, same checks, same model, same quality gate. ``@tracked`` above ``@flow``
captures each run into the AIM store (pipeline ``urn:aim:pipeline:prefect/train_model_prefect``,
project ``churn-demo``); the tasks are plain ``@task`` s that return aimops references
(``dataset_ref``, ``artifact_ref``, ``model_version_ref``), which give each step its
produced/consumed lineage edges, and the MLflow run ``train`` logs to is linked to its step.

``register_model`` registers a new version of ``breast_cancer_classifier``, the model the DAGs
register too; it leaves the alias ``@candidate`` (which the serving and monitoring examples
follow) where ``train_model`` put it. ``evaluate`` is aimops' own Prefect task
(``aimops.flows.evaluate_model``): it scores the test split with that registered version,
records the evaluation against it, gated on AUROC, and publishes its artifacts in Prefect's UI
(``aimops-evaluation-breast-cancer-classifier``, ``-table``, ``-link``). MLflow is
``MLFLOW_TRACKING_URI`` when set, else SQLite
under ``$AIMOPS_HOME/mlflow``.

Heavy imports (scikit-learn, pandas, mlflow, the store) stay inside the task functions.

Run it: ``python dags_examples/flows/train_flow.py``. With no ``PREFECT_API_URL`` Prefect
starts a temporary local server (its database under ``$PREFECT_HOME``); ``AIMOPS_HOME``
decides the store. ``make demo`` runs it with a fresh ``PREFECT_HOME``. Airflow does not parse
this folder (``dags_examples/.airflowignore``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.runtime import flow_run, task_run

from aimops.flows import evaluate_model, tracked

FLOW_NAME = "train_model_prefect"
PROJECT = "churn-demo"
MODEL_NAME = "breast_cancer_classifier"
EXPERIMENT = "train_model_prefect"
SEED = 42
TEST_SIZE = 0.25
TARGET = "target"
N_FEATURES = 30
MIN_ROWS = 50  # per split
MIN_TEST_AUROC = 0.90  # the quality gate register_model and evaluate apply
POSITIVE_RATE_BOUNDS = (0.2, 0.8)  # class balance every split must stay within
MAX_SPLIT_RATE_GAP = 0.05  # stratified splits keep their positive rates this close
TEST_SHARE_BOUNDS = (0.15, 0.35)
RETRIES = {"retries": 1, "retry_delay_seconds": 5}


def _data_dir() -> Path:
    """``$AIMOPS_HOME/demo-data/train_model_prefect/<flow run id>``."""
    from aimops.settings import aimops_home

    return aimops_home() / "demo-data" / FLOW_NAME / str(flow_run.id)


def _check_split(name: str, table: Any, recorded_columns: list[str]) -> list[str]:
    """What is wrong with one split (empty when nothing is), as ``train_model`` checks it."""
    columns = list(table.columns)
    if columns != recorded_columns or len(columns) != N_FEATURES + 1:
        missing = sorted(set(recorded_columns) - set(columns))
        extra = sorted(set(columns) - set(recorded_columns))
        return [
            f"{name}: expected the {N_FEATURES} features + {TARGET!r} load_data recorded; "
            f"{len(columns)} columns, missing {missing}, unexpected {extra}"
        ]
    failures = []
    missing = int(table.isna().sum().sum())
    if missing:
        failures.append(f"{name}: {missing} missing values")
    if not set(table[TARGET].unique()) <= {0, 1}:
        failures.append(f"{name}: target is not binary 0/1")
    rate = float(table[TARGET].mean())
    low, high = POSITIVE_RATE_BOUNDS
    if not low <= rate <= high:
        failures.append(f"{name}: positive rate {rate:.2f} outside [{low}, {high}]")
    if len(table) < MIN_ROWS:
        failures.append(f"{name}: only {len(table)} rows, expected at least {MIN_ROWS}")
    return failures


def _use_mlflow() -> str:
    """Point MLflow at ``$MLFLOW_TRACKING_URI``, else SQLite under ``$AIMOPS_HOME/mlflow``;
    make the experiment :data:`EXPERIMENT` active (a SQLite store keeps its artifacts in a
    folder beside it). Returns the tracking URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from aimops.settings import local_mlflow_uri

    uri, artifacts = local_mlflow_uri(), None
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = folder.as_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    return uri


def _origin() -> dict[str, str]:
    """The tags that say which flow run (and task run) made an MLflow run or version."""
    return {
        "prefect.flow_name": FLOW_NAME,
        "prefect.flow_run_id": str(flow_run.id),
        "prefect.task_name": str(task_run.task_name),
    }


@task(**RETRIES)
def load_data() -> dict[str, Any]:
    """Load scikit-learn's breast-cancer table and write a stratified train/test split.

    569 rows, 30 numeric features, ``target`` 1 = benign; 25 % test, seed 42, as CSV under
    ``$AIMOPS_HOME/demo-data/train_model_prefect/<flow run id>/``. Returns
    ``{"train": dataset_ref, "test": dataset_ref}`` (data sets ``breast_cancer_train`` and
    ``breast_cancer_test``, the same rows ``train_model`` splits off).
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from aimops import dataset_ref

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    train, test = train_test_split(
        frame, test_size=TEST_SIZE, stratify=frame[TARGET], random_state=SEED
    )
    out = _data_dir()
    out.mkdir(parents=True, exist_ok=True)
    refs = {}
    for split, table in (("train", train), ("test", test)):
        path = out / f"breast_cancer_{split}.csv"
        table.to_csv(path, index=False)
        refs[split] = dataset_ref(
            f"breast_cancer_{split}",
            uri=path.as_uri(),
            rows=len(table),
            columns=list(table.columns),
            format="csv",
            description=f"breast-cancer {split} split (stratified, seed {SEED})",
        )
    print(f"wrote train ({len(train)} rows) and test ({len(test)} rows) to {out}")
    return refs


@task(**RETRIES)
def validate_data(splits: dict[str, Any]) -> dict[str, Any]:
    """Check both splits: the recorded columns, no missing values, a binary target, class
    balance (20-80 % positive, train and test within 5 points), the test share (15-35 %) and
    at least 50 rows each. A failure fails the task with every failed check listed.

    Returns the same ``{"train", "test"}`` references, plus ``checks``.
    """
    from aimops.monitors.sources import read_table

    tables = {name: read_table(splits[name]) for name in ("train", "test")}
    failures: list[str] = []
    for name, table in tables.items():
        failures += _check_split(name, table, splits[name]["columns"])
    rates = {n: float(t[TARGET].mean()) for n, t in tables.items() if TARGET in t.columns}
    if len(rates) == 2 and abs(rates["train"] - rates["test"]) > MAX_SPLIT_RATE_GAP:
        failures.append(
            f"positive rates differ: train {rates['train']:.3f}, test {rates['test']:.3f}"
        )
    test_share = len(tables["test"]) / max(1, sum(len(t) for t in tables.values()))
    low, high = TEST_SHARE_BOUNDS
    if not low <= test_share <= high:
        failures.append(f"the test split is {test_share:.0%} of the rows, expected {low}-{high}")
    if failures:
        raise ValueError("data validation failed:\n  - " + "\n  - ".join(failures))
    checks = {
        "rows": {name: len(t) for name, t in tables.items()},
        "positive_rate": {name: round(rate, 4) for name, rate in rates.items()},
        "test_share": round(test_share, 4),
    }
    print(f"data validation passed: {checks}")
    return {"train": splits["train"], "test": splits["test"], "checks": checks}


@task(**RETRIES)
def train(validated: dict[str, Any]) -> dict[str, Any]:
    """Fit ``StandardScaler → LogisticRegression`` on the train split, score the test split and
    log params, metrics (``test_auroc``, ``test_aupr``, ``test_accuracy``) and the model (skops)
    to the MLflow experiment ``train_model_prefect``.

    Returns ``{"mlflow_run_id", "model_uri", "params", "metrics", "model"}``; ``model`` is the
    aimops ``artifact_ref`` of the logged model (one artifact per flow run).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from aimops import artifact_ref
    from aimops.monitors.sources import read_table

    train_table, test_table = read_table(validated["train"]), read_table(validated["test"])
    x_train, y_train = train_table.drop(columns=[TARGET]), train_table[TARGET]
    x_test, y_test = test_table.drop(columns=[TARGET]), test_table[TARGET]
    params = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs", "random_state": SEED}
    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(**params))]).fit(
        x_train, y_train
    )
    scores = model.predict_proba(x_test)[:, 1]
    metrics = {
        "test_auroc": float(roc_auc_score(y_test, scores)),
        "test_aupr": float(average_precision_score(y_test, scores)),
        "test_accuracy": float(accuracy_score(y_test, model.predict(x_test))),
    }

    _use_mlflow()
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    with mlflow.start_run(run_name=f"{FLOW_NAME}:{flow_run.name}") as mlflow_run:
        mlflow.set_tags(
            {
                **_origin(),
                "data.train": validated["train"]["uri"],
                "data.test": validated["test"]["uri"],
            }
        )
        mlflow.log_params({**params, "model": "StandardScaler+LogisticRegression"})
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_test, scores),
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
        )
    artifact_uri = mlflow.get_logged_model(info.model_id).artifact_location
    print(f"MLflow run {mlflow_run.info.run_id}: {metrics}; model {info.model_uri}")
    return {
        "mlflow_run_id": mlflow_run.info.run_id,
        "model_uri": info.model_uri,
        "params": params,
        "metrics": metrics,
        "model": artifact_ref(
            "breast_cancer-classifier.skops",
            uri=artifact_uri,
            kind="model",
            key=["prefect", FLOW_NAME, str(flow_run.id), "model"],
        ),
    }


@task(**RETRIES)
def register_model(trained: dict[str, Any]) -> dict[str, Any]:
    """Refuse a model whose test AUROC is below the quality gate (0.90); else register it as
    a new version of ``breast_cancer_classifier`` in the MLflow Model Registry, tagged with its
    metrics and flow run. Aliases stay as they are: ``@candidate`` is ``train_model``'s.

    Returns the aimops ``model_version_ref`` of the new version
    (``uri = models:/breast_cancer_classifier/<version>``).
    """
    auroc = trained["metrics"]["test_auroc"]
    if auroc < MIN_TEST_AUROC:
        raise ValueError(
            f"test AUROC {auroc:.4f} is below the gate {MIN_TEST_AUROC}: not registering"
        )
    _use_mlflow()
    import mlflow

    from aimops import model_version_ref

    tags = {
        **{name: f"{value:.6f}" for name, value in trained["metrics"].items()},
        **_origin(),
    }
    version = mlflow.register_model(trained["model_uri"], MODEL_NAME, tags=tags)
    print(f"registered {MODEL_NAME} version {version.version}")
    return model_version_ref(
        MODEL_NAME,
        version.version,
        uri=f"models:/{MODEL_NAME}/{version.version}",
        framework="sklearn",
        mlflow_run_id=trained["mlflow_run_id"],
        description=f"{FLOW_NAME}: test AUROC {auroc:.4f}",
    )


#: aimops' own evaluation task (``aimops.flows.evaluate_model``) as this flow's ``evaluate`` step:
#: it scores the test split with the registered version through MLflow, records the evaluation
#: against it (keyed by this task run) and publishes its artifacts in Prefect's UI.
evaluate = evaluate_model.with_options(name="evaluate")


@tracked(project=PROJECT)
@flow(name=FLOW_NAME, log_prints=True)
def train_model_prefect() -> dict[str, Any]:
    """Train, register and evaluate the breast-cancer classifier (captured by aimops)."""
    from aimops.metadata.urns import run_urn

    validated = validate_data(load_data())
    version = register_model(train(validated))
    evaluation = evaluate(
        version,
        validated["test"],
        label_column=TARGET,
        min_metrics={"auroc": MIN_TEST_AUROC},  # a failed gate fails the task, not retried
    )
    return {
        "run": str(run_urn("prefect", FLOW_NAME, str(flow_run.id))),
        "model_version": version["urn"],
        "model_uri": version["uri"],
        "evaluation": evaluation,
    }


def evaluation_metrics(evaluation: str) -> dict[str, float]:
    """The headline metrics of the recorded evaluation."""
    import aimops

    with aimops.connect() as store:
        recorded = store.get_aspect(evaluation, "metrics")
    found = recorded.value if recorded is not None else {}
    return {
        name: found[name] for name in ("auroc", "aupr", "accuracy", "log_loss") if name in found
    }


def main() -> None:
    outcome = train_model_prefect()
    shown = evaluation_metrics(outcome["evaluation"])
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in shown.items())
    print(
        f"\n{FLOW_NAME} finished; captured by aimops (project {PROJECT}):\n"
        f"  run            {outcome['run']}\n"
        f"  model version  {outcome['model_version']} ({outcome['model_uri']})\n"
        f"  evaluation     {outcome['evaluation']}\n"
        f"                 {metrics}\n"
        f"  artifacts      aimops-evaluation-breast-cancer-classifier (-table, -link)\n"
        f"  next: aimops runs show {outcome['run']}"
    )


if __name__ == "__main__":
    main()
