"""The example DAGs parse cleanly, the plugin is found, and the extra links point right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import step_urn

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"


def test_every_example_dag_loads_without_import_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES), include_examples=False)
    assert bag.import_errors == {}
    assert {"train_model", "evaluate_models", "review_model"} <= set(bag.dags)
    for dag in bag.dags.values():
        assert {"aimops", "aimops:project=churn-demo"} <= set(dag.tags), dag.dag_id
        assert dag.doc_md and all(task.doc_md for task in dag.tasks), dag.dag_id  # as progress
    review = bag.dags["review_model"]
    assert [task.task_id for task in review.topological_sort()] == [
        "request_review",
        "approve_by_policy",
        "publish",
    ]


def test_airflow_does_not_parse_the_prefect_flows(airflow_db: Path) -> None:
    from airflow.utils.file import list_py_file_paths

    parsed = {Path(path).relative_to(EXAMPLES) for path in list_py_file_paths(str(EXAMPLES))}
    assert Path("train_model.py") in parsed
    assert (EXAMPLES / "flows" / "train_flow.py").exists()
    assert not [path for path in parsed if path.parts[0] == "flows"]  # .airflowignore


def test_airflow_finds_the_plugin_and_the_provider(airflow_db: Path) -> None:
    from airflow import plugins_manager
    from airflow.providers_manager import ProvidersManager

    info = {plugin["name"]: plugin for plugin in plugins_manager.get_plugin_info()}
    assert "aimops" in info and plugins_manager.get_import_errors() == {}
    links = {type(link).__name__ for link in plugins_manager.get_global_operator_extra_links()}
    assert "MlflowRunLink" in links  # and AimStepLink when AIMOPS_UI_URL was set, see below
    assert "aimops" in ProvidersManager().providers


class _Key:
    dag_id, run_id, task_id, try_number, map_index = "train", "manual__1", "fit", 1, -1


def test_the_aim_step_link_needs_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from aimops.operators.links import AimStepLink

    monkeypatch.delenv("AIMOPS_UI_URL", raising=False)
    assert AimStepLink().get_link(None, ti_key=_Key()) == ""
    monkeypatch.setenv("AIMOPS_UI_URL", "https://aim.example.com/")
    link = AimStepLink().get_link(None, ti_key=_Key())
    assert (
        link == "https://aim.example.com/steps/urn%3Aaim%3Astep%3Aairflow%2Ftrain%2Fmanual__1%2Ffit"
    )


def test_the_aim_step_link_is_listed_only_with_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow shows every listed link's name under a task's Extra Links, so a link with no
    target is not listed at all: the plugin reads AIMOPS_UI_URL when Airflow loads it."""
    from aimops.operators.plugin import AimopsPlugin

    monkeypatch.setattr(AimopsPlugin, "global_operator_extra_links", [])  # restored after
    monkeypatch.delenv("AIMOPS_UI_URL", raising=False)
    AimopsPlugin.on_load()
    assert [link.name for link in AimopsPlugin().global_operator_extra_links] == ["MLflow run"]
    monkeypatch.setenv("AIMOPS_UI_URL", "https://aim.example.com")
    AimopsPlugin.on_load()
    names = [link.name for link in AimopsPlugin().global_operator_extra_links]
    assert names == ["AIM step", "MLflow run"]


def test_the_mlflow_link_follows_the_captured_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.hooks.aim import forget_lookup_store
    from aimops.metadata.capture.events import CaptureEvent, apply_event
    from aimops.operators import links

    url = f"sqlite:///{tmp_path / 'aim.db'}"
    monkeypatch.setenv("AIMOPS_STORE_URL", url)
    monkeypatch.setenv("AIMOPS_MLFLOW_UI_URL", "http://mlflow.local:5000")
    forget_lookup_store()
    event = CaptureEvent(source="airflow")
    run = event.run(orchestrator="airflow", pipeline="train", run_id="manual__1")
    step = event.step(run, "fit")
    with AimStore.open(url) as store:
        apply_event(store, event)
        assert links.MlflowRunLink().get_link(None, ti_key=_Key()) == ""  # nothing logged yet
        store.put_aspect(step, "mlflowRun", {"run_id": "abc", "experiment_id": "4"})
    link = links.MlflowRunLink().get_link(None, ti_key=_Key())
    assert link == "http://mlflow.local:5000/#/experiments/4/runs/abc"
    assert step == step_urn("airflow", "train", "manual__1", "fit")
    forget_lookup_store()


def test_spool_status_and_replay_from_the_cli(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from aimops.metadata.capture.events import CaptureEvent
    from aimops.metadata.capture.spool import Spool

    event = CaptureEvent(source="airflow")
    event.run(orchestrator="airflow", pipeline="p", run_id="r1")
    Spool(tmp_path / "spool").append(event)
    env: dict[str, Any] = {**os.environ, "AIMOPS_HOME": str(tmp_path)}
    env.pop("AIMOPS_STORE_URL", None)
    aimops = str(Path(sys.executable).with_name("aimops"))

    def run(*args: str) -> Any:
        done = subprocess.run([aimops, *args], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert run("spool", "status", "--json")["pending"] == 1
    assert run("spool", "replay", "--json")["applied"] == 1  # into $AIMOPS_HOME/aim.db
    assert run("spool", "status", "--json")["pending"] == 0
    assert run("runs", "list", "--json")[0]["urn"] == "urn:aim:run:airflow/p/r1"
