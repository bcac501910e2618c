"""Prefect assets and MLflow runs a task logged to, as lineage in the AIM store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task
from prefect.assets import Asset, AssetProperties, materialize

from aimops.flows import tracked
from aimops.metadata.references import model_version_ref

RAW = "file://aimops-test/raw.csv"
SCORES = Asset(key="file://aimops-test/scores.csv", properties=AssetProperties(name="scores"))


@task(asset_deps=[RAW])
def read_raw() -> dict[str, int]:
    return {"rows": 3}


@materialize(SCORES)
def write_scores(raw: dict[str, int]) -> dict[str, int]:
    return {"scored": raw["rows"]}


@task
def report(scores: dict[str, int]) -> int:
    return scores["scored"]


@tracked
@flow
def asset_flow() -> int:
    return report(write_scores(read_raw()))


def test_prefect_assets_become_data_sets(aim_home: Path, store: Any, read: Any) -> None:
    assert asset_flow() == 3
    with store() as s:
        steps = read.steps(s, read.only_run(s, "asset-flow"))
        scores = s.get_aspect("urn:aim:dataset:scores", "datasetInfo").value
    raw = "urn:aim:dataset:file%3A%2F%2Faimops-test%2Fraw.csv"
    assert steps["read_raw"]["consumed"] == [raw]
    assert steps["write_scores"]["produced"] == ["urn:aim:dataset:scores"]
    assert steps["report"]["consumed"] == ["urn:aim:dataset:scores"]  # Prefect's own inference
    assert scores["uri"] == "file://aimops-test/scores.csv"


@task
def train() -> dict[str, str]:
    import mlflow

    mlflow.set_experiment("aimops-prefect-capture")
    client = mlflow.MlflowClient()
    client.create_registered_model("aimops-prefect-churn")
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 0.5})
        mlflow.log_metrics({"auroc": 0.93})
        client.create_model_version(
            "aimops-prefect-churn", source="file:///models/churn", run_id=run.info.run_id
        )
    return {"mlflow_run_id": run.info.run_id}


@task
def register(trained: dict[str, str]) -> dict[str, Any]:
    import mlflow

    version = mlflow.MlflowClient().create_model_version(
        "aimops-prefect-churn", source="file:///models/churn", run_id=trained["mlflow_run_id"]
    )
    return model_version_ref("aimops-prefect-churn", version.version)


@tracked
@flow
def mlflow_flow() -> None:
    register(train())


def test_mlflow_runs_and_registered_versions_are_linked(
    aim_home: Path, store: Any, read: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    mlflow_flow()
    with store() as s:
        run = read.only_run(s, "mlflow-flow")
        steps = read.steps(s, run)
        train_step = f"urn:aim:step:{run.split(':', 3)[3]}/train"
        link = s.get_aspect(train_step, "mlflowRun").value
        metrics = s.get_aspect(train_step, "metrics").value
        params = s.get_aspect(train_step, "params").value
        version = s.get_aspect("urn:aim:modelVersion:aimops-prefect-churn/1", "modelVersionInfo")
        register_link = s.get_aspect(f"urn:aim:step:{run.split(':', 3)[3]}/register", "mlflowRun")
    assert (metrics, params) == ({"auroc": 0.93}, {"C": "0.5"})
    assert steps["train"]["made"] == ["urn:aim:modelVersion:aimops-prefect-churn/1"]
    assert version.value["mlflow_run_id"] == link["run_id"]
    assert steps["register"]["made"] == ["urn:aim:modelVersion:aimops-prefect-churn/2"]
    assert register_link is None  # it logged to no run of its own


@tracked
@flow
def typed_flow(rows: int) -> int:
    return rows


def test_a_run_refused_for_its_parameters_is_a_failed_run(
    aim_home: Path, store: Any, read: Any
) -> None:
    state = typed_flow("many", return_state=True)  # type: ignore[arg-type]
    assert state.is_failed()
    with store() as s:
        run = read.only_run(s, "typed-flow")
        info = s.get_aspect(run, "runInfo").value
        steps = read.steps(s, run)
    assert (info["status"], info["conf"], steps) == ("failed", {"rows": "many"}, {})


@tracked
@flow
def pg_flow() -> int:
    return report(write_scores(read_raw()))


@pytest.mark.postgres
def test_capture_into_postgresql_holds_what_sqlite_holds(
    aim_home: Path,
    store: Any,
    read: Any,
    postgres_store: Any,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aimops.flows.capture.tracked import reset_capture

    pg_flow()
    with store() as s:
        on_sqlite = read.steps(s, read.only_run(s, "pg-flow"))
    monkeypatch.setenv("AIMOPS_STORE_URL", postgres_url)
    reset_capture()
    pg_flow()
    reset_capture()
    runs = [
        e.urn for e in postgres_store.search("run", limit=10_000) if ":prefect/pg-flow/" in e.urn
    ]
    on_postgres = read.steps(postgres_store, _newest(postgres_store, runs))
    assert not (aim_home / "spool" / "events.jsonl").exists()

    def plain(steps: dict[str, Any]) -> dict[str, Any]:
        return {
            name: (step["info"]["state"], [t["state"] for t in step["tries"]], step["consumed"],
                   step["produced"])
            for name, step in steps.items()
        }  # fmt: skip

    assert plain(on_postgres) == plain(on_sqlite)
    assert sorted(on_sqlite) == ["read_raw", "report", "write_scores"]


def _newest(store: Any, runs: list[str]) -> str:
    infos = store.latest_values(runs, "runInfo")
    return max(runs, key=lambda urn: infos[urn]["started_at"])
