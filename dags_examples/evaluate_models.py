"""``evaluate_models``: train two models, evaluate and compare them, gate on the champion.

load_data → train_champion, train_challenger → evaluate_champion, evaluate_challenger,
compare_with_champion, on scikit-learn's bundled breast-cancer data set (binary
classification, offline). Both models are registered as versions of one MLflow model; the
aimops operators score the test split through the registry, record evaluations and the
comparison in the AIM store and write interactive reports (``$AIMOPS_HOME/reports``, and the
"AIM report" link of each evaluating task).

The tag ``aimops`` opts the DAG into capture (the model versions the training tasks return
become AIM entities) and ``aimops:project=churn-demo`` names its AIM project. MLflow is the
``mlflow_default`` connection or ``MLFLOW_TRACKING_URI`` when set, else SQLite under
``$AIMOPS_HOME/mlflow`` — where the operators look for the models too.

Heavy imports (scikit-learn, pandas, mlflow) stay inside the task functions so that parsing
this file stays fast.

Run it: ``airflow dags test evaluate_models``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, get_current_context, task

from aimops.operators.evaluation import CompareModelsOperator, EvaluateModelOperator
from aimops.operators.monitoring import DataQualityOperator

DAG_ID = "evaluate_models"
MODEL_NAME = "breast_cancer_classifier"
EXPERIMENT = "evaluate_models"
SEED = 42
TEST_SIZE = 0.25
TARGET = "target"
GROUP = "tumour_size"  # "large" / "small": mean radius above / below the training median
MIN_AUROC = 0.90
MAX_TPR_GAP = 0.15  # fairness gate: recall on large and small tumours at most this far apart
MAX_AUROC_REGRESSION = 0.02  # the challenger may trail the champion by at most this much
ROLES = ("champion", "challenger")

DOC_MD = f"""
# Evaluate and compare two breast-cancer classifiers

Trains a **champion** (`StandardScaler → LogisticRegression`) and a **challenger**
(`RandomForestClassifier`), registers both as versions of `{MODEL_NAME}`, then judges them
on the same held-out rows.

1. **load_data**: loads scikit-learn's breast-cancer table, adds `{GROUP}` (large / small
   tumours) and splits it (stratified, seed {SEED}). Done: train and test CSV files.
2. **train_champion**, **train_challenger**: fit, log to MLflow, register.
   Done: a model version each.
3. **check_test_data_champion**, **check_test_data_challenger**: the held-out rows pass a
   Great Expectations suite, recorded as a data-quality check on each version (the evidence a
   review asks for, beside the gated evaluation and the comparison).
   **evaluate_champion**, **evaluate_challenger**: AUROC ≥ {MIN_AUROC}; recall on large and
   small tumours within {MAX_TPR_GAP} of each other. Done: an evaluation and its report each.
4. **compare_with_champion**: both versions on the same rows with paired confidence
   intervals; the challenger may trail the champion's AUROC by at most
   {MAX_AUROC_REGRESSION}. Done: the comparison, its winners and report.

A red evaluating task means a gate failed: its log names the metric, the value and the bound,
and its **AIM report** link shows why. Such a task is not retried (it would fail again).

Captured by **aimops** (tag `aimops`, project `churn-demo`): `aimops lineage` from the test
data set shows the evaluations that used it.
"""

#: What the held-out rows must look like before anything is judged on them (Great Expectations):
#: recorded as a data-quality check on each version, part of the evidence a review asks for.
TEST_DATA_SUITE: list[dict[str, Any]] = [
    {"expect": "row_count_between", "min": 100},
    {"expect": "not_null", "column": TARGET},
    {"expect": "in_set", "column": TARGET, "values": [0, 1]},
    {"expect": "in_set", "column": GROUP, "values": ["large", "small"]},
    {"expect": "between", "column": "mean_radius", "min": 0, "max": 50},
]

#: The gates of each evaluation: what a version must reach on its own.
EVALUATION_GATES: dict[str, Any] = {
    "label_column": TARGET,
    "ignore_columns": [GROUP],
    "analyzers": ["binary", "fairness"],
    "analyzer_options": {"sensitive_column": GROUP},
    "min_metrics": {"auroc": MIN_AUROC},
    "max_metrics": {"fairness.max_gap_tpr": MAX_TPR_GAP},
}


def _run_id() -> str:
    return str(get_current_context()["run_id"])


def _data_dir(run_id: str) -> Path:
    """``$AIMOPS_HOME/demo-data/evaluate_models/<run id made safe for a path>``."""
    from aimops.settings import aimops_home

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "run"
    return aimops_home() / "demo-data" / DAG_ID / safe


def _use_mlflow() -> None:
    """Point MLflow where the operators will look: the ``mlflow_default`` connection or
    ``MLFLOW_TRACKING_URI``, else SQLite under ``$AIMOPS_HOME/mlflow``; make the experiment
    :data:`EXPERIMENT` active (a SQLite store keeps its artifacts in a folder beside it)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from aimops.hooks.mlflow import MlflowHook
    from aimops.settings import local_mlflow_uri

    hook = MlflowHook()
    if hook.configured_tracking_uri():
        hook.configure()
    else:
        mlflow.set_tracking_uri(local_mlflow_uri())
        mlflow.set_registry_uri(local_mlflow_uri())
    uri, artifacts = mlflow.get_tracking_uri(), None
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = folder.as_uri()
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)


def _registered_before(role: str) -> Any:
    """The version this Airflow run already registered for ``role`` (a re-run reuses it)."""
    import mlflow

    found = mlflow.MlflowClient().search_model_versions(
        f"name = '{MODEL_NAME}' and tags.`airflow.dag_id` = '{DAG_ID}' "
        f"and tags.`airflow.run_id` = '{_run_id()}' and tags.`aimops.role` = '{role}'"
    )
    return found[0] if found else None


def _train_and_register(
    role: str, model: Any, train_ref: dict[str, Any], trusted_types: list[str] | None = None
) -> dict[str, Any]:
    """Fit ``model`` on the train split, log it to MLflow, register it; its version's ref.

    ``trusted_types`` are the classes beyond plain estimators that MLflow's skops format may
    load back (a tree ensemble's ``Tree``).
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from aimops import model_version_ref
    from aimops.monitors.sources import read_table, without_airflow_shim_warnings

    _use_mlflow()
    version = _registered_before(role)
    if version is None:
        table = read_table(train_ref)
        features = table.drop(columns=[TARGET, GROUP])
        model.fit(features, table[TARGET])
        with mlflow.start_run(run_name=f"{DAG_ID}:{role}:{_run_id()}"):
            mlflow.log_params({"role": role, "model": type(model).__name__, "seed": SEED})
            with without_airflow_shim_warnings():  # skops' first import floods the log
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=infer_signature(features, model.predict_proba(features)[:, 1]),
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(
                        include_skops=True
                    ),
                    skops_trusted_types=trusted_types,
                )
        tags = {"airflow.dag_id": DAG_ID, "airflow.run_id": _run_id(), "aimops.role": role}
        version = mlflow.register_model(info.model_uri, MODEL_NAME, tags=tags)
        print(f"registered {MODEL_NAME} version {version.version} as the {role}")
    else:
        print(f"this run registered {MODEL_NAME} version {version.version} already: reused")
    return model_version_ref(
        MODEL_NAME,
        version.version,
        uri=f"models:/{MODEL_NAME}/{version.version}",
        framework="sklearn",
        mlflow_run_id=version.run_id,
        description=f"{role} of {DAG_ID}",
    )


@task(multiple_outputs=True)
def load_data() -> dict[str, Any]:
    """
    ### 1 · Load the data

    Loads scikit-learn's bundled **breast-cancer** table (569 rows, 30 numeric features,
    `target` 1 = benign), adds `tumour_size` (`large` when the mean radius is above the
    training split's median, else `small`; the fairness analyzer compares the two groups,
    the models never see it) and writes a stratified train/test split (25 % test) as CSV
    under `$AIMOPS_HOME/demo-data/evaluate_models/<run id>/`.

    **Returns** `train` and `test`: the aimops `dataset_ref` of each split.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from aimops import dataset_ref

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    train, test = train_test_split(
        frame, test_size=TEST_SIZE, stratify=frame[TARGET], random_state=SEED
    )
    median = float(train["mean_radius"].median())
    out = _data_dir(_run_id())
    out.mkdir(parents=True, exist_ok=True)
    refs = {}
    for split, table in (("train", train), ("test", test)):
        sizes = ["large" if radius > median else "small" for radius in table["mean_radius"]]
        sized = table.assign(**{GROUP: sizes})
        path = out / f"breast_cancer_{split}.csv"
        sized.to_csv(path, index=False)
        refs[split] = dataset_ref(
            f"breast_cancer_sized_{split}",
            uri=path.as_uri(),
            rows=len(sized),
            columns=list(sized.columns),
            format="csv",
            description=f"breast-cancer {split} split (stratified, seed {SEED}) with {GROUP}",
        )
    print(f"wrote train ({len(train)} rows) and test ({len(test)} rows) to {out}")
    return refs


@task
def train_champion(train: dict[str, Any]) -> dict[str, Any]:
    """
    ### 2 · Train the champion

    Fits `StandardScaler → LogisticRegression` on the train split, logs it to MLflow
    (experiment `evaluate_models`) and registers it as a version of
    `breast_cancer_classifier`, tagged `aimops.role = champion`. A re-run of the same Airflow
    run reuses the version it registered.

    **Returns** the aimops `model_version_ref` of that version.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))])
    return _train_and_register("champion", model, train)


@task
def train_challenger(train: dict[str, Any]) -> dict[str, Any]:
    """
    ### 2 · Train the challenger

    Fits a `RandomForestClassifier` (100 trees, seed 42) on the train split, logs and
    registers it like the champion, tagged `aimops.role = challenger`.

    **Returns** the aimops `model_version_ref` of that version.
    """
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)
    return _train_and_register("challenger", model, train, ["sklearn.tree._tree.Tree"])


CHECK_DOC = """
### 3 · Check the test data for the {role}

Validates the held-out rows with Great Expectations before they judge the {role}: at least 100
rows, a 0/1 `target` without gaps, known tumour sizes, plausible mean radii. Recorded as a
data-quality check on the {role}'s version: a review of the version asks for one that passed.

**Returns** the check URN; **AIM check** opens its page.
"""

EVALUATE_DOC = f"""
### 3 · Evaluate the {{role}}

Scores the test split with the registered {{role}} and records the evaluation in the AIM store:
ROC and PR curves, the confusion matrix at 0.5, the threshold table, and recall / false
positives on large and small tumours. Gates: AUROC ≥ {MIN_AUROC}, recall gap between the
tumour sizes ≤ {MAX_TPR_GAP}.

**Returns** the evaluation URN; **AIM report** opens its report.
"""

COMPARE_DOC = f"""
### 4 · Compare with the champion

Scores the test split with both versions and records the comparison: each metric's
difference with a 95 % paired interval (DeLong for AUROC, bootstrap for the rest) and the
winner, if any. Gate: the challenger's AUROC at most {MAX_AUROC_REGRESSION} below the
champion's.

**Returns** the comparison URN; **AIM report** opens its report.
"""


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["aimops", "aimops:project=churn-demo"],
    doc_md=DOC_MD,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
)
def evaluate_models() -> None:
    splits = load_data()
    versions = {"champion": train_champion(splits["train"])}
    versions["challenger"] = train_challenger(splits["train"])
    for role in ROLES:
        DataQualityOperator(
            task_id=f"check_test_data_{role}",
            doc_md=CHECK_DOC.format(role=role),
            data=splits["test"],
            suite=TEST_DATA_SUITE,
            name="held-out rows",
            model_version=versions[role],
        )
        EvaluateModelOperator(
            task_id=f"evaluate_{role}",
            doc_md=EVALUATE_DOC.format(role=role),
            model_version=versions[role],
            dataset=splits["test"],
            **EVALUATION_GATES,
        )
    CompareModelsOperator(
        task_id="compare_with_champion",
        doc_md=COMPARE_DOC,
        model_versions=[versions["champion"], versions["challenger"]],
        dataset=splits["test"],
        label_column=TARGET,
        ignore_columns=[GROUP],
        baseline=versions["champion"],
        max_regression={"auroc": MAX_AUROC_REGRESSION},
        n_bootstrap=500,
    )


evaluate_models()
