"""One pipeline, run by Airflow and by Prefect: the AIM store holds the same shapes of both.

The same tasks (load → fit, whose first try fails → register, and score over two folds) are
an Airflow DAG run with ``dag.test()`` and a ``@tracked`` Prefect flow. The records differ in
what names the orchestrator (URNs, native state words, run ids, times) and must agree in the
rest: which entities exist and of which types, which aspects each holds and their fields,
every step's state and its tries' states, and every lineage edge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn

FOLDS = [0, 1]


def airflow_pipeline() -> Any:
    from airflow.sdk import DAG, task

    import aimops

    with DAG("parity", schedule=None, tags=["aimops", "aimops:project=parity"]) as dag:

        @task
        def load() -> dict[str, Any]:
            return aimops.dataset_ref("parity-train", rows=80)

        @task(retries=1, retry_delay=0)
        def fit(data: dict[str, Any]) -> dict[str, Any]:
            from airflow.sdk import get_current_context

            if get_current_context()["ti"].try_number == 1:
                raise TimeoutError("feature store timed out")
            return aimops.artifact_ref("model.bin", key=["parity", "model"])

        @task
        def register(model: dict[str, Any]) -> dict[str, Any]:
            return aimops.model_version_ref("parity-churn", 1)

        @task
        def score(model: dict[str, Any], fold: int) -> int:
            return fold

        model = fit(load())
        register(model)
        score.partial(model=model).expand(fold=FOLDS)
    return dag


TRIES: dict[str, int] = {}


def prefect_pipeline() -> Any:
    from prefect import flow, task, unmapped

    import aimops
    from aimops.flows import tracked

    @task
    def load() -> dict[str, Any]:
        return aimops.dataset_ref("parity-train", rows=80)

    @task(retries=1)
    def fit(data: dict[str, Any]) -> dict[str, Any]:
        TRIES["fit"] = TRIES.get("fit", 0) + 1
        if TRIES["fit"] == 1:
            raise TimeoutError("feature store timed out")
        return aimops.artifact_ref("model.bin", key=["parity", "model"])

    @task
    def register(model: dict[str, Any]) -> dict[str, Any]:
        return aimops.model_version_ref("parity-churn", 1)

    @task
    def score(model: dict[str, Any], fold: int) -> int:
        return fold

    @tracked(project="parity")
    @flow(name="parity")
    def parity() -> None:
        model = fit(load())
        register(model)
        score.map(unmapped(model), FOLDS).result()

    return parity


def shape(store: AimStore, orchestrator: str) -> dict[str, Any]:
    """What the store holds of the one run of ``orchestrator``, orchestrator names taken out."""
    (run,) = [e.urn for e in store.search("run") if f":{orchestrator}/" in e.urn]
    run_segments = run.split(":", 3)[3]  # <orchestrator>/parity/<run id>

    def plain(urn: str) -> str:
        return urn.replace(run_segments, "<run>").replace(f":{orchestrator}/", ":<orchestrator>/")

    entities: dict[str, Any] = {}
    edges: set[tuple[str, str, str]] = set()
    for kind in ("project", "pipeline", "run", "step", "dataset", "artifact", "modelVersion"):
        for entity in store.search(kind):
            aspects = store.get_aspects(entity.urn)
            entities[plain(entity.urn)] = {
                name: sorted(aspect.value) for name, aspect in sorted(aspects.items())
            }
            for relation in ("partOf", "consumed", "produced", "producedBy"):
                for other in store.related(entity.urn, relation):
                    edges.add((plain(entity.urn), relation, plain(other.urn)))
    steps = {}
    for entity in store.related(run, "partOf", incoming=True):
        info = store.get_aspect(entity.urn, "stepInfo").value
        tries = store.get_aspect(entity.urn, "stepAttempts").value["attempts"]
        steps[plain(entity.urn)] = {
            "state": info["state"],
            "map_index": info["map_index"],
            "tries": [(t["try_number"], t["state"], sorted(t)) for t in tries],
            "errors": [t["error"] for t in tries],
        }
    run_info = store.get_aspect(run, "runInfo").value
    return {
        "entities": entities,
        "edges": sorted(edges),
        "steps": steps,
        "run": (run_info["status"], sorted(run_info), Urn.parse(run).type),
    }


def test_airflow_and_prefect_captures_have_the_same_shapes(
    run_dag: Any, aim_home: Path, prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.flows.capture.tracked import reset_capture

    airflow_home, prefect_home = aim_home / "airflow", aim_home / "prefect"
    monkeypatch.setenv("AIMOPS_HOME", str(airflow_home))
    assert run_dag(airflow_pipeline()).state == "success"
    monkeypatch.setenv("AIMOPS_HOME", str(prefect_home))
    reset_capture()
    TRIES.clear()
    prefect_pipeline()()
    reset_capture()
    with AimStore.open(f"sqlite:///{airflow_home / 'aim.db'}") as store:
        by_airflow = shape(store, "airflow")
    with AimStore.open(f"sqlite:///{prefect_home / 'aim.db'}") as store:
        by_prefect = shape(store, "prefect")
    assert by_prefect["run"] == by_airflow["run"]
    assert by_prefect["steps"] == by_airflow["steps"]
    assert by_prefect["edges"] == by_airflow["edges"]
    assert by_prefect["entities"] == by_airflow["entities"]
    assert sorted(by_prefect["steps"]) == [
        "urn:aim:step:<run>/fit",
        "urn:aim:step:<run>/load",
        "urn:aim:step:<run>/register",
        "urn:aim:step:<run>/score/0",
        "urn:aim:step:<run>/score/1",
    ]
    assert by_prefect["steps"]["urn:aim:step:<run>/fit"]["errors"] == [
        "TimeoutError: feature store timed out",
        None,
    ]
