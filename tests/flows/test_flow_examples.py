"""The Prefect example flows that mirror the DAGs, run in this process as a user runs them.

One story in one AIM home, in the order of the examples' own hints: ``evaluate_flow`` trains
and judges a champion and a challenger (the module's only training), ``review_flow`` publishes
the challenger on that evidence, ``ramp_flow`` rolls it out run by run, ``monitor_flow``
simulates a slow day of its serving and checks it. Each step is a module-scoped fixture run
once; each test asserts what a user would notice: what the example printed, the records in
the AIM store, the runs' states, and the artifacts Prefect's API holds for the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimops.flows.capture.tracked import reset_capture

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples" / "flows"
MODEL = "breast_cancer_classifier"
CHAMPION, CHALLENGER = f"{MODEL}/1", f"{MODEL}/2"  # what evaluate_flow registers, in a new home
#: Settings of the machine that would send these flows elsewhere.
FOREIGN_SETTINGS = (
    "AIMOPS_STORE_URL", "AIMOPS_CAPTURE", "AIMOPS_SERVING_LOGS", "AIMOPS_ALERT_LOG",
    "AIMOPS_ALERT_WEBHOOK", "AIMOPS_ROUTER", "AIMOPS_AIRFLOW_URL", "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
)  # fmt: skip


def load(name: str) -> Any:
    """The example ``dags_examples/flows/<name>.py`` as a module (the folder is no package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(example: Any, *arguments: str) -> str:
    """``python <example> <arguments>``, in this process: what it printed."""
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(sys, "argv", [example.__file__, *arguments])
        example.main()
    return printed.getvalue()


def artifacts_of(*runs: str) -> dict[str, list[Any]]:
    """The artifacts Prefect's API holds for the flow runs of the AIM run URNs ``runs``, by
    key (newest first)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.sorting import ArtifactSort

    flow_runs = ArtifactFilterFlowRunId(any_=[run.rsplit("/", 1)[1] for run in runs])
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=flow_runs), sort=ArtifactSort.CREATED_DESC
        )
    keyed: dict[str, list[Any]] = {}
    for artifact in found:
        keyed.setdefault(str(artifact.key), []).append(artifact)
    return keyed


@pytest.fixture(scope="module")
def aim_home(tmp_path_factory: pytest.TempPathFactory, prefect_server: None) -> Iterator[Path]:
    """One AIMOPS_HOME for the whole story (it overrides the per-test home of the flows'
    conftest, whose ``store`` fixture then opens this one); MLflow's process-wide URIs, which
    the examples set, are put back afterwards."""
    import mlflow

    home = tmp_path_factory.mktemp("story") / "aimops"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIMOPS_HOME", str(home))
        for name in FOREIGN_SETTINGS:
            # set, then deleted: the variable is put back (or removed) afterwards, even when
            # an example's mlflow.set_*_uri exported it in between
            patch.setenv(name, "")
            patch.delenv(name)
        patch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
        patch.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
        reset_capture()
        yield home
        reset_capture()


@pytest.fixture
def in_story(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test that runs a flow itself runs it in the story's home (the suite's autouse fixture
    gives each test a home of its own)."""
    monkeypatch.setenv("AIMOPS_HOME", str(aim_home))
    for name in FOREIGN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return aim_home


@pytest.fixture(scope="module")
def evaluated(aim_home: Path) -> dict[str, Any]:
    """``evaluate_models_prefect`` run once: its summary."""
    summary: dict[str, Any] = load("evaluate_flow").evaluate_models_prefect()
    return summary


@pytest.fixture(scope="module")
def reviewed(evaluated: dict[str, Any]) -> str:
    """``python review_flow.py`` (the newest version: the challenger): what it printed."""
    return run_main(load("review_flow"))


@pytest.fixture(scope="module")
def ramped(reviewed: str) -> str:
    """``python ramp_flow.py --bake-seconds 0.5``: the challenger ramped, run after run, to
    the end; what it printed."""
    return run_main(load("ramp_flow"), "--bake-seconds", "0.5")


@pytest.fixture(scope="module")
def monitored(ramped: str) -> tuple[Any, dict[str, Any]]:
    """A simulated day of the challenger's serving with a latency regression, then
    ``monitor_model_prefect`` on it: its final state and summary."""
    example = load("monitor_flow")
    simulated = example.simulate_serving_prefect(latency_regression_ms=900.0, requests=1000)
    assert simulated["model_version"] == CHALLENGER
    state = example.monitor_model_prefect(evidently_report=False, return_state=True)
    return state, state.result(raise_on_failure=False)


def test_the_evaluation_flow_records_checks_evaluations_and_a_comparison(
    evaluated: dict[str, Any], store: Any, read: Any
) -> None:
    with store() as s:
        run = read.only_run(s, "evaluate_models_prefect")
        info = s.get_aspect(run, "runInfo").value
        steps = read.steps(s, run)
        judged = {
            e.urn
            for e in s.related(f"urn:aim:modelVersion:{CHALLENGER}", "evaluates", incoming=True)
        }
        statuses = {
            urn: s.get_aspect(urn, "checkInfo").value["status"]
            for urn in evaluated["checks"].values()
        }
    assert (evaluated["run"], info["status"]) == (run, "success")
    assert sorted(steps) == sorted([
        "load_data", "train_champion", "train_challenger", "check_test_data_champion",
        "evaluate_champion", "check_test_data_challenger", "evaluate_challenger",
        "compare_with_champion",
    ])  # fmt: skip
    assert evaluated["model_versions"] == {
        "champion": f"urn:aim:modelVersion:{CHAMPION}",
        "challenger": f"urn:aim:modelVersion:{CHALLENGER}",
    }
    assert evaluated["evaluations"]["challenger"] in judged
    assert set(statuses.values()) == {"pass"}
    artifacts = artifacts_of(run)
    for kind in ("data-quality", "evaluation", "comparison"):
        key = f"aimops-{kind}-breast-cancer-classifier"
        assert {key, f"{key}-table", f"{key}-link"} <= set(artifacts), sorted(artifacts)
        assert "**Verdict: pass**" in artifacts[key][0].data
    assert len(artifacts["aimops-evaluation-breast-cancer-classifier"]) == 2  # one per version


def test_the_review_flow_publishes_the_newest_version_on_its_evidence(
    reviewed: str, store: Any, read: Any
) -> None:
    from aimops.metadata.lifecycle.queries import lifecycle_state

    version = f"urn:aim:modelVersion:{CHALLENGER}"
    with store() as s:
        run = read.only_run(s, "review_model_prefect")
        status = s.get_aspect(run, "runInfo").value["status"]
        state = lifecycle_state(s, version)
    assert (status, state) == ("success", "published")
    assert f"  version    {version}" in reviewed
    for line in (
        f"{CHALLENGER}: registered -> in_review by prefect:review_model_prefect (evidence: ",
        f"{CHALLENGER}: in_review -> publishable by policy:default",
        f"{CHALLENGER}: publishable -> published by prefect:review_model_prefect",
        f"ramp_flow.py --model-version {CHALLENGER}",
    ):
        assert line in reviewed, reviewed
    lifecycle = artifacts_of(run)["aimops-lifecycle-breast-cancer-classifier"]
    assert [a.description.split(" by ")[0] for a in lifecycle] == [
        f"{CHALLENGER}: publishable → published",
        f"{CHALLENGER}: in_review → publishable",
        f"{CHALLENGER}: registered → in_review",
    ]


def test_a_review_of_a_version_not_registered_fails_saying_where_versions_come_from(
    evaluated: dict[str, Any], in_story: Path
) -> None:
    state = load("review_flow").review_model_prefect(f"{MODEL}/99", return_state=True)
    assert state.is_failed()
    assert "evaluate_flow.py registers versions" in str(state.message)


def test_the_ramp_flow_rolls_the_published_version_out_one_run_a_step(
    ramped: str, aim_home: Path, store: Any
) -> None:
    from aimops.metadata.lifecycle.deployments import read_deployment

    with store() as s:
        runs = [e.urn for e in s.search("run") if ":prefect/ramp_model_prefect/" in e.urn]
        statuses = {s.get_aspect(run, "runInfo").value["status"] for run in runs}
        deployment = read_deployment(s, MODEL, "production")
    # The first version ramped of a model is an initial rollout: one step, at 100%.
    steps = [
        line.split()[:2] for line in ramped.splitlines() if line.startswith("  ") and "step" in line
    ]
    assert steps == [["started", "ramping"], ["promoted", "complete"]], ramped
    assert (len(runs), statuses) == (2, {"success"})
    assert (deployment.champion, deployment.weights) == ("2", {"2": 100})
    traffic = json.loads((aim_home / "traffic" / MODEL / "production.json").read_text())
    assert traffic["weights"] == {"2": 100}
    assert f"{CHALLENGER} complete in production" in ramped
    ramp = artifacts_of(*runs)["aimops-ramp-breast-cancer-classifier-production"]
    assert ["status: **ramping**" in a.data for a in ramp] == [False, True], ramp
    assert "status: **complete**" in ramp[0].data


def test_the_monitoring_flow_checks_a_slow_day_fails_on_health_and_alerts(
    monitored: tuple[Any, dict[str, Any]], aim_home: Path, store: Any
) -> None:
    from aimops.monitors.checks.recording import list_checks

    state, summary = monitored
    assert state.is_failed() and state.message == f"failed checks of {CHALLENGER}: health"
    assert {name: outcome["state"] for name, outcome in summary["checks"].items()} == {
        "data_quality": "Completed", "drift": "Completed", "feature_consistency": "Completed",
        "health": "Failed",
    }  # fmt: skip
    with store() as s:
        info = s.get_aspect(summary["run"], "runInfo").value
        checks = list_checks(s, model=MODEL)
    recorded = {
        c["urn"].rsplit("/", 1)[1]: c["status"]
        for c in checks
        if summary["run"].split(":", 3)[3] in c["urn"]
    }
    assert info["status"] == "failed"
    assert recorded == {
        "data_quality": "pass",
        "drift": "pass",
        "feature_consistency": "pass",
        "health": "fail",
    }
    lines = [json.loads(line) for line in (aim_home / "alerts.log").read_text().splitlines()]
    (alert,) = [line for line in lines if line["record"] == "alert"]
    assert alert["title"] == "monitor_model_prefect.health failed"
    assert "p99 latency" in alert["message"] and "> 500 ms" in alert["message"]
    health = artifacts_of(summary["run"])["aimops-health-breast-cancer-classifier"][0]
    assert "**Verdict: fail**" in health.data and "p99 latency" in health.data


def test_monitoring_a_version_that_served_nothing_checks_nothing_and_succeeds(
    monitored: tuple[Any, dict[str, Any]], in_story: Path
) -> None:
    state = load("monitor_flow").monitor_model_prefect(f"{MODEL}/1", return_state=True)
    summary = state.result()
    assert state.is_completed()
    assert (summary["model_version"], summary["day"], summary["checks"]) == (CHAMPION, None, {})
