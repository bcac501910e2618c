"""``train_model``: an Airflow 3 training pipeline that aimops captures on its own.

load_data → validate_data → train → register_model, on scikit-learn's bundled breast-cancer
data set (binary classification, offline). The ``aimops`` tag opts the DAG into capture and
``aimops:project=churn-demo`` names its AIM project; the tasks only return aimops references
(``dataset_ref``, ``artifact_ref``, ``model_version_ref``), which give each step its
produced/consumed lineage edges. MLflow keeps the params, metrics, the model and its registry
entry (SQLite under ``$AIMOPS_HOME/mlflow`` unless ``MLFLOW_TRACKING_URI`` is set).

Heavy imports (scikit-learn, pandas, numpy, mlflow, aimops) stay inside the task functions so
that parsing this file stays fast.

Run it: ``airflow dags test train_model`` (``make demo`` does it in a fresh Airflow home).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task

DAG_ID = "train_model"
MODEL_NAME = "breast_cancer_classifier"
EXPERIMENT = "train_model"
ALIAS = "candidate"
SEED = 42
TEST_SIZE = 0.25
TARGET = "target"
N_FEATURES = 30
MIN_ROWS = 50  # per split
MIN_TEST_AUROC = 0.90  # the quality gate register_model applies
POSITIVE_RATE_BOUNDS = (0.2, 0.8)  # class balance every split must stay within
MAX_SPLIT_RATE_GAP = 0.05  # stratified splits keep their positive rates this close
TEST_SHARE_BOUNDS = (0.15, 0.35)

# The raw table as an Airflow asset (a stable name; the files are per run). aimops records an
# outlet as the data set of the same name, so it is named like the splits' references. The
# splits and the model are announced by the references the tasks return instead: an outlet
# for them would make a second, differently named data set.
RAW = Asset(name="breast_cancer_raw", uri="aimops-demo://breast_cancer/raw")

DOC_MD = f"""
# Train the breast-cancer classifier

A training pipeline whose grid reads as its progress: one column per run, one row per stage,
top to bottom.

1. **load_data**: loads scikit-learn's breast-cancer table and splits it (stratified,
   seed {SEED}). Done: train and test CSV files written.
2. **validate_data**: checks columns, missing values, class balance and split sizes.
   Done: the data is fit to train on.
3. **train**: fits `StandardScaler → LogisticRegression` and logs it to MLflow.
   Done: AUROC / AUPR / accuracy on the test split.
4. **register_model**: gates on test AUROC ≥ {MIN_TEST_AUROC}, registers `{MODEL_NAME}`.
   Done: a new version with the alias `@{ALIAS}`.

A red **validate_data** is a data problem; a red **register_model** usually means the model
missed the quality gate (the task log says by how much). Each task retries once.

Captured by **aimops** (tag `aimops`, project `churn-demo`): `aimops runs list`, then
`aimops lineage` from the training data set down to the model version.
"""


def _run_id() -> str:
    return str(get_current_context()["run_id"])


def _data_dir(run_id: str) -> Path:
    """``$AIMOPS_HOME/demo-data/<run id made safe for a path>``."""
    from aimops.settings import aimops_home

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "run"
    return aimops_home() / "demo-data" / safe


def _read_split(ref: dict[str, Any]) -> Any:
    """The pandas table a data set reference's ``file://`` URI points at."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    import pandas as pd

    return pd.read_csv(url2pathname(urlsplit(ref["uri"]).path))


def _check_split(name: str, table: Any, recorded_columns: list[str]) -> list[str]:
    """What is wrong with one split (empty when nothing is)."""
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


def _use_mlflow() -> None:
    """Point MLflow at ``$MLFLOW_TRACKING_URI``, else a SQLite store under ``$AIMOPS_HOME``.

    Makes the experiment :data:`EXPERIMENT` active; with the local default it is created with
    its artifacts under ``$AIMOPS_HOME/mlflow/artifacts``.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from aimops.settings import aimops_home

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    artifact_location = None
    if not tracking_uri:
        home = aimops_home() / "mlflow"
        (home / "artifacts").mkdir(parents=True, exist_ok=True)
        tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
        artifact_location = (home / "artifacts").as_uri()
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location)
    mlflow.set_experiment(EXPERIMENT)


@task(outlets=[RAW], multiple_outputs=False)
def load_data() -> dict[str, Any]:
    """
    ### 1 · Load the data

    Loads scikit-learn's bundled **breast-cancer** table (569 rows, 30 numeric features,
    `target` 1 = benign), writes it and a stratified train/test split (25 % test) as CSV
    under `$AIMOPS_HOME/demo-data/<run id>/`.

    **Returns** `{"train": dataset_ref, "test": dataset_ref}`: the aimops references of the
    two splits (data sets `breast_cancer_train` and `breast_cancer_test`).
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from aimops import dataset_ref

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    train, test = train_test_split(
        frame, test_size=TEST_SIZE, stratify=frame[TARGET], random_state=SEED
    )
    out = _data_dir(_run_id())
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "breast_cancer_raw.csv", index=False)
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
    print(f"wrote {len(frame)} rows to {out}: train {len(train)}, test {len(test)}")
    return refs


@task(multiple_outputs=False)
def validate_data(splits: dict[str, Any]) -> dict[str, Any]:
    """
    ### 2 · Validate the data

    Reads both splits back and checks: 30 feature columns plus `target`, as recorded; no
    missing values; a binary target; each split's positive rate within 20-80 %; the two
    splits' positive rates within 5 points (stratified); the test split 15-35 % of the rows;
    at least 50 rows per split. A failure fails the task with every failed check listed.

    **Returns** the same `{"train", "test"}` references it validated, plus `checks`.
    """
    tables = {name: _read_split(splits[name]) for name in ("train", "test")}
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


@task(multiple_outputs=False)
def train(validated: dict[str, Any]) -> dict[str, Any]:
    """
    ### 3 · Train and evaluate

    Fits `StandardScaler → LogisticRegression` on the train split, scores the test split and
    logs params, metrics (`test_auroc`, `test_aupr`, `test_accuracy`) and the model (skops)
    to the MLflow experiment `train_model`.

    **Returns** `{"mlflow_run_id", "model_uri", "params", "metrics", "model"}`; `model` is the
    aimops `artifact_ref` of the logged model (one artifact per Airflow run).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from aimops import artifact_ref
    from aimops.monitors.sources import without_airflow_shim_warnings

    train_table, test_table = _read_split(validated["train"]), _read_split(validated["test"])
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

    run_id = _run_id()
    with mlflow.start_run(run_name=f"{DAG_ID}:{run_id}") as mlflow_run:
        mlflow.set_tags(
            {
                "airflow.dag_id": DAG_ID,
                "airflow.run_id": run_id,
                "airflow.task_id": "train",
                "data.train": validated["train"]["uri"],
                "data.test": validated["test"]["uri"],
            }
        )
        mlflow.log_params({**params, "model": "StandardScaler+LogisticRegression"})
        mlflow.log_metrics(metrics)
        with without_airflow_shim_warnings():  # skops' first import floods the log otherwise
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
            key=[DAG_ID, run_id, "model"],
        ),
    }


@task(multiple_outputs=False)
def register_model(trained: dict[str, Any]) -> dict[str, Any]:
    """
    ### 4 · Register the model

    Refuses a model whose test AUROC is below the quality gate (0.90); else registers it as
    a new version of `breast_cancer_classifier` in the MLflow Model Registry, tags the
    version with its metrics and Airflow run, and points the alias `@candidate` at it.

    **Returns** the aimops `model_version_ref` of the new version
    (`uri = models:/breast_cancer_classifier/<version>`).
    """
    auroc = trained["metrics"]["test_auroc"]
    if auroc < MIN_TEST_AUROC:
        raise ValueError(
            f"test AUROC {auroc:.4f} is below the gate {MIN_TEST_AUROC}: not registering"
        )
    _use_mlflow()
    import mlflow

    from aimops import model_version_ref

    client = mlflow.MlflowClient()
    version = mlflow.register_model(trained["model_uri"], MODEL_NAME)
    tags = {
        **{name: f"{value:.6f}" for name, value in trained["metrics"].items()},
        "airflow.dag_id": DAG_ID,
        "airflow.run_id": _run_id(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)
    client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version)
    print(f"registered {MODEL_NAME} version {version.version} as @{ALIAS}")
    return model_version_ref(
        MODEL_NAME,
        version.version,
        uri=f"models:/{MODEL_NAME}/{version.version}",
        framework="sklearn",
        mlflow_run_id=trained["mlflow_run_id"],
        description=f"test AUROC {auroc:.4f}",
    )


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["aimops", "aimops:project=churn-demo"],
    doc_md=DOC_MD,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
)
def train_model() -> None:
    register_model(train(validate_data(load_data())))


train_model()
