"""A task that logs to MLflow is linked to its run; the versions it registers are its outputs.

Versions registered from the task's own run are found in MLflow; one registered from another
task's run is the task's output when it returns ``model_version_ref`` (MLflow keeps no trace
of which process registered a version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import step_urn


def mlflow_dag() -> Any:
    from airflow.sdk import DAG, task

    with DAG("aimops_mlflow", schedule=None, tags=["aimops"]) as dag:

        @task
        def train() -> dict[str, str]:
            import mlflow

            mlflow.set_experiment("aimops-capture-test")
            client = mlflow.MlflowClient()
            client.create_registered_model("aimops-churn")
            with mlflow.start_run() as run:
                mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
                mlflow.log_metrics({"auroc": 0.93, "aupr": 0.88})
                # registered from this task's own run (as log_model(registered_model_name=))
                client.create_model_version(
                    "aimops-churn", source="file:///models/churn", run_id=run.info.run_id
                )
            return {"mlflow_run_id": run.info.run_id}  # plain XCom: no aimops reference

        @task
        def register(trained: dict[str, str]) -> dict[str, Any]:
            import mlflow

            import aimops

            version = mlflow.MlflowClient().create_model_version(
                "aimops-churn", source="file:///models/churn", run_id=trained["mlflow_run_id"]
            )
            return aimops.model_version_ref("aimops-churn", version.version)

        register(train())
    return dag


def test_mlflow_runs_and_registered_versions_are_captured(
    run_dag: Any, aim_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    dag_run = run_dag(mlflow_dag())
    assert dag_run.state == "success"
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        train = step_urn("airflow", "aimops_mlflow", dag_run.run_id, "train")
        link = store.get_aspect(train, "mlflowRun").value
        assert store.get_aspect(train, "metrics").value == {"auroc": 0.93, "aupr": 0.88}
        assert store.get_aspect(train, "params").value == {"C": "0.5", "solver": "lbfgs"}
        by_train = store.related(train, "producedBy", incoming=True)
        assert [e.urn for e in by_train] == ["urn:aim:modelVersion:aimops-churn/1"]
        info = store.get_aspect(by_train[0].urn, "modelVersionInfo").value
        assert info["mlflow_run_id"] == link["run_id"]
        register = step_urn("airflow", "aimops_mlflow", dag_run.run_id, "register")
        assert store.get_aspect(register, "mlflowRun") is None  # it logged to no run
        by_register = store.related(register, "producedBy", incoming=True)
        assert [e.urn for e in by_register] == ["urn:aim:modelVersion:aimops-churn/2"]
        hits = store.search("step", where=[("metrics.auroc", ">", 0.9)])
        assert [e.urn for e in hits] == [str(train)]
