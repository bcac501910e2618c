"""Automatic capture of real DAG runs (``dag.test()``), checked against golden JSON.

One realistic DAG covers most of what a user sees: an asset outlet, returned data-set,
artifact and model-version references, a flaky task that succeeds on its retry, a mapped
task, and a templated field that holds a connection's password.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn

SECRET = "s3cr3t-Pa55word"


def golden_dag() -> Any:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, Asset, get_current_context, task

    import aimops

    with DAG(
        "aimops_capture_golden",
        schedule=None,
        tags=["aimops", "aimops:project=golden"],
        doc_md="# Golden capture\nEvery kind of thing the capture records.",
    ) as dag:

        @task(outlets=[Asset(name="raw_customers", uri="file:///data/raw.csv")])
        def load() -> dict[str, Any]:
            """Load and split the customers."""
            return {
                "train": aimops.dataset_ref("customers-train", rows=80, columns=["a", "b"]),
                "test": aimops.dataset_ref("customers-test", rows=20, columns=["a", "b"]),
            }

        @task(retries=1, retry_delay=timedelta(seconds=0))
        def fit(splits: dict[str, Any]) -> dict[str, Any]:
            """Fit the model; the first try fails like a flaky network would."""
            if get_current_context()["ti"].try_number == 1:
                raise RuntimeError("feature store timed out, try again")
            return aimops.artifact_ref(
                "model.bin", uri="file:///models/model.bin", key=["golden", "model"]
            )

        @task
        def score(model: dict[str, Any], fold: int) -> float:
            return 0.5 + fold / 10

        @task
        def register(model: dict[str, Any]) -> dict[str, Any]:
            return aimops.model_version_ref("golden-churn", 1, uri="file:///models/model.bin")

        report = BashOperator(
            task_id="report",
            bash_command="echo report for {{ run_id }}",
            env={"STORE_PASSWORD": "{{ conn.golden_secret.password }}"},
        )
        model = fit(load())
        score.partial(model=model).expand(fold=[0, 1])
        register(model) >> report
    return dag


@pytest.fixture(scope="module")
def golden_run(
    run_dag: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, AimStore]]:
    """The golden DAG, run once for the module, and the store it was captured into."""
    from aimops.operators.capture import listener

    home = tmp_path_factory.mktemp("golden") / "aimops"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIMOPS_HOME", str(home))
        patch.delenv("AIMOPS_STORE_URL", raising=False)
        patch.setenv(
            "AIRFLOW_CONN_GOLDEN_SECRET",
            f'{{"conn_type": "generic", "login": "u", "password": "{SECRET}"}}',
        )
        listener.reset_sink()
        dag_run = run_dag(golden_dag())
        listener.reset_sink()
    store = AimStore.open(f"sqlite:///{home / 'aim.db'}")
    yield dag_run, store
    store.close()


def test_the_dag_run_succeeds_with_capture_on(golden_run: Any) -> None:
    dag_run, _ = golden_run
    assert dag_run.state == "success"


def test_capture_matches_the_golden_document(golden_run: Any, golden: Any) -> None:
    dag_run, store = golden_run
    run = str(run_urn("airflow", "aimops_capture_golden", dag_run.run_id))
    document = golden.normalise(golden.captured(store, run), dag_run.run_id)
    golden.check("capture_golden_dag", document)


def test_a_retry_is_a_second_attempt_of_one_step(golden_run: Any) -> None:
    dag_run, store = golden_run
    step = step_urn("airflow", "aimops_capture_golden", dag_run.run_id, "fit")
    attempts = store.get_aspect(step, "stepAttempts").value["attempts"]
    assert [(a["try_number"], a["state"], a["native_state"]) for a in attempts] == [
        (1, "failed", "up_for_retry"),
        (2, "success", "success"),
    ]
    assert "feature store timed out" in attempts[0]["error"]
    assert attempts[1].get("error") is None
    assert store.get_aspect(step, "stepInfo").value["state"] == "success"
    fits = store.search("step", where=[("stepInfo.task_id", "=", "fit")])
    assert len(fits) == 1


def test_mapped_tasks_are_one_step_per_map_index(golden_run: Any) -> None:
    dag_run, store = golden_run
    run = run_urn("airflow", "aimops_capture_golden", dag_run.run_id)
    steps = [e.urn for e in store.related(run, "partOf", incoming=True)]
    scored = sorted(s for s in steps if "/score" in s)
    assert scored == [
        str(step_urn("airflow", "aimops_capture_golden", dag_run.run_id, "score", 0)),
        str(step_urn("airflow", "aimops_capture_golden", dag_run.run_id, "score", 1)),
    ]


def test_connection_secrets_never_reach_the_store(golden_run: Any) -> None:
    dag_run, store = golden_run
    step = step_urn("airflow", "aimops_capture_golden", dag_run.run_id, "report")
    rendered = store.get_aspect(step, "stepAttempts").value["attempts"][0]["rendered_fields"]
    assert "echo report for" in rendered["bash_command"]
    assert "STORE_PASSWORD" in rendered["env"]
    everything = store.engine.connect().exec_driver_sql(
        "SELECT group_concat(value) FROM aim_aspects"
    )
    assert SECRET not in (everything.scalar() or "")


def test_lineage_runs_from_the_data_set_to_the_model_version(golden_run: Any) -> None:
    _, store = golden_run
    graph = store.lineage("urn:aim:dataset:customers-train", direction="downstream", depth=6)
    reached = {node.urn for node in graph.nodes}
    assert "urn:aim:artifact:golden/model" in reached
    assert "urn:aim:modelVersion:golden-churn/1" in reached
