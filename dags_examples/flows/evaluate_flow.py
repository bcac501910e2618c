"""``evaluate_models_prefect``: train two models, evaluate and compare them, gate on the champion.

The Airflow DAG ``evaluate_models`` as a Prefect 3 flow, with the aimops Prefect tasks in
place of the operators: load_data → train_champion, train_challenger → for each of them
check_test_data_<role> (:func:`~aimops.flows.checks.data_quality_check`) and
evaluate_<role> (:func:`~aimops.flows.evaluation.evaluate_model`) → compare_with_champion
(:func:`~aimops.flows.evaluation.compare_models`), on scikit-learn's bundled breast-cancer data
set (binary classification, offline). Same split, same models, same suite, same gates:

- the champion (``StandardScaler → LogisticRegression``) and the challenger
  (``RandomForestClassifier``) are registered as two new versions of
  ``breast_cancer_classifier``, the model the training flow registers;
- each version's held-out rows pass a Great Expectations suite (a data-quality check), each
  evaluation gates AUROC ≥ 0.90 and the recall gap between large and small tumours ≤ 0.15,
  and the challenger may trail the champion's AUROC by at most 0.02.

Every record goes to the AIM store (evaluations and the comparison with their HTML reports
under ``$AIMOPS_HOME/reports``), and each task publishes Prefect artifacts under stable keys
(``aimops-evaluation-breast-cancer-classifier``, ...): the verdict, a table, a link to the
report. ``@tracked`` captures the run (project ``churn-demo``). The challenger now has the
evidence a review asks for: ``review_flow.py`` reviews it next.

A failed gate fails its task (not retried: it would fail again) after the record is written,
and with it the flow run.

MLflow is ``MLFLOW_TRACKING_URI`` when set, else SQLite under ``$AIMOPS_HOME/mlflow``; the
``store`` parameter names a saved ``AimopsStore`` block instead of the environment. Heavy
imports (scikit-learn, pandas, mlflow) stay inside the functions.

Run it: ``python dags_examples/flows/evaluate_flow.py`` (no training run needed first: it
trains its own two models). With no ``PREFECT_API_URL`` Prefect starts a temporary local
server.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.runtime import flow_run

from aimops.flows import tracked
from aimops.flows.artifacts import artifact_key
from aimops.flows.checks import data_quality_check
from aimops.flows.evaluation import compare_models, evaluate_model

FLOW_NAME = "evaluate_models_prefect"
PROJECT = "churn-demo"
MODEL_NAME = "breast_cancer_classifier"
EXPERIMENT = "evaluate_models_prefect"
SEED = 42
TEST_SIZE = 0.25
TARGET = "target"
GROUP = "tumour_size"  # "large" / "small": mean radius above / below the training median
MIN_AUROC = 0.90
MAX_TPR_GAP = 0.15  # fairness gate: recall on large and small tumours at most this far apart
MAX_AUROC_REGRESSION = 0.02  # the challenger may trail the champion by at most this much
ROLES = ("champion", "challenger")
RETRIES = {"retries": 1, "retry_delay_seconds": 5}

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


def _data_dir() -> Path:
    """``$AIMOPS_HOME/demo-data/evaluate_models_prefect/<flow run id>``."""
    from aimops.settings import aimops_home

    return aimops_home() / "demo-data" / FLOW_NAME / str(flow_run.id)


def _use_mlflow(store: str | None) -> None:
    """Point MLflow where the aimops tasks load models from (the ``store`` block's MLflow, else
    ``$MLFLOW_TRACKING_URI``, else SQLite under ``$AIMOPS_HOME/mlflow``) and make the experiment
    :data:`EXPERIMENT` active (a SQLite store keeps its artifacts in a folder beside it)."""
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from aimops.flows.blocks import resolve_store

    location = resolve_store(store).model_location()
    mlflow.set_tracking_uri(location.tracking_uri)
    mlflow.set_registry_uri(location.registry_uri)
    artifacts = None
    if location.tracking_uri.startswith("sqlite:///"):
        folder = Path(location.tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = folder.as_uri()
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)


def _registered_before(role: str) -> Any:
    """The version this flow run already registered for ``role`` (a retry reuses it)."""
    import mlflow

    found = mlflow.MlflowClient().search_model_versions(
        f"name = '{MODEL_NAME}' and tags.`prefect.flow_run_id` = '{flow_run.id}' "
        f"and tags.`aimops.role` = '{role}'"
    )
    return found[0] if found else None


def _train_and_register(
    role: str,
    model: Any,
    train_ref: dict[str, Any],
    store: str | None,
    trusted_types: list[str] | None = None,
) -> dict[str, Any]:
    """Fit ``model`` on the train split, log it to MLflow, register it; its version's ref.

    ``trusted_types`` are the classes beyond plain estimators that MLflow's skops format may
    load back (a tree ensemble's ``Tree``).
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from aimops import model_version_ref
    from aimops.monitors.sources import read_table

    _use_mlflow(store)
    version = _registered_before(role)
    if version is None:
        table = read_table(train_ref)
        features = table.drop(columns=[TARGET, GROUP])
        model.fit(features, table[TARGET])
        with mlflow.start_run(run_name=f"{FLOW_NAME}:{role}:{flow_run.name}"):
            mlflow.log_params({"role": role, "model": type(model).__name__, "seed": SEED})
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict_proba(features)[:, 1]),
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
                skops_trusted_types=trusted_types,
            )
        tags = {"prefect.flow_name": FLOW_NAME, "prefect.flow_run_id": str(flow_run.id)}
        version = mlflow.register_model(
            info.model_uri, MODEL_NAME, tags={**tags, "aimops.role": role}
        )
        print(f"registered {MODEL_NAME} version {version.version} as the {role}")
    else:
        print(f"this flow run registered {MODEL_NAME} version {version.version} already: reused")
    return model_version_ref(
        MODEL_NAME,
        version.version,
        uri=f"models:/{MODEL_NAME}/{version.version}",
        framework="sklearn",
        mlflow_run_id=version.run_id,
        description=f"{role} of {FLOW_NAME}",
    )


@task(**RETRIES)
def load_data() -> dict[str, Any]:
    """Load scikit-learn's breast-cancer table, add ``tumour_size`` (``large`` when the mean
    radius is above the training split's median, else ``small``: the fairness analyzer compares
    the two groups, the models never see it) and write a stratified train/test split (25 %
    test, seed 42) as CSV under ``$AIMOPS_HOME/demo-data/evaluate_models_prefect/<run id>/``.

    Returns ``{"train": dataset_ref, "test": dataset_ref}``.
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
    out = _data_dir()
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


@task(**RETRIES)
def train_champion(train: dict[str, Any], store: str | None = None) -> dict[str, Any]:
    """Fit ``StandardScaler → LogisticRegression`` on the train split, log it to MLflow
    (experiment ``evaluate_models_prefect``) and register it as a version of
    ``breast_cancer_classifier`` tagged ``aimops.role = champion``; its ``model_version_ref``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))])
    return _train_and_register("champion", model, train, store)


@task(**RETRIES)
def train_challenger(train: dict[str, Any], store: str | None = None) -> dict[str, Any]:
    """Fit a ``RandomForestClassifier`` (100 trees, seed 42) on the train split, log and
    register it like the champion, tagged ``aimops.role = challenger``."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)
    return _train_and_register("challenger", model, train, store, ["sklearn.tree._tree.Tree"])


def judge(
    role: str, version: dict[str, Any], test: dict[str, Any], store: str | None
) -> dict[str, str]:
    """Check the held-out rows for ``role``'s version, then evaluate it against the gates:
    ``{"check": <URN>, "evaluation": <URN>}``. The tasks are named as the DAG's tasks are."""
    check = data_quality_check.with_options(name=f"check_test_data_{role}")(
        test, TEST_DATA_SUITE, name="held-out rows", model_version=version, store=store
    )
    evaluation = evaluate_model.with_options(name=f"evaluate_{role}")(
        model_version=version, dataset=test, store=store, **EVALUATION_GATES
    )
    return {"check": check, "evaluation": evaluation}


@tracked(project=PROJECT)
@flow(name=FLOW_NAME, log_prints=True)
def evaluate_models_prefect(store: str | None = None) -> dict[str, Any]:
    """Train a champion and a challenger, check, evaluate and compare them (captured by aimops).

    ``store``: the name of a saved ``AimopsStore`` block; None: the environment.
    """
    from aimops.metadata.urns import run_urn

    splits = load_data()
    versions = {
        "champion": train_champion(splits["train"], store),
        "challenger": train_challenger(splits["train"], store),
    }
    judged = {role: judge(role, versions[role], splits["test"], store) for role in ROLES}
    comparison = compare_models.with_options(name="compare_with_champion")(
        [versions["champion"], versions["challenger"]],
        splits["test"],
        label_column=TARGET,
        ignore_columns=[GROUP],
        baseline=versions["champion"],
        max_regression={"auroc": MAX_AUROC_REGRESSION},
        n_bootstrap=500,
        store=store,
    )
    return {
        "run": str(run_urn("prefect", FLOW_NAME, str(flow_run.id))),
        "model_versions": {role: versions[role]["urn"] for role in ROLES},
        "checks": {role: judged[role]["check"] for role in ROLES},
        "evaluations": {role: judged[role]["evaluation"] for role in ROLES},
        "comparison": comparison,
    }


def artifact_keys() -> list[str]:
    """The keys under which this flow's tasks publish their artifacts (each key's history, in
    Prefect's UI under Artifacts, holds every run's)."""
    return [artifact_key(kind, MODEL_NAME) for kind in ("data-quality", "evaluation", "comparison")]


def main() -> None:
    outcome = evaluate_models_prefect()
    lines = [f"\n{FLOW_NAME} finished; captured by aimops (project {PROJECT}):"]
    lines.append(f"  run          {outcome['run']}")
    for role in ROLES:
        lines.append(f"  {role:<12} {outcome['model_versions'][role]}")
        lines.append(f"    check      {outcome['checks'][role]} (pass)")
        lines.append(f"    evaluation {outcome['evaluations'][role]} (gates passed)")
    lines.append(f"  comparison   {outcome['comparison']} (gates passed)")
    lines.append(f"  artifacts    {', '.join(artifact_keys())} (+ -table, -link)")
    challenger = outcome["model_versions"]["challenger"].removeprefix("urn:aim:modelVersion:")
    lines.append(f"  next: python dags_examples/flows/review_flow.py {challenger}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
