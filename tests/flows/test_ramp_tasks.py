"""The ramp tasks in real Prefect flows (the session's test server), on a real SQLite store and
the ``file`` router: each flow run does what is due and returns, as a scheduled deployment's
runs would, so a healthy challenger becomes champion over a few runs; a slow one is rolled back
and fails its run; a starved ramp pauses until a person acts; a de-ramp gives the traffic back.

Traffic comes from the serving simulator: ``before_analysis`` writes each step's window of
requests (:func:`aimops.monitors.serving.windows.simulate_serving_window`) from a model defined
here, where the analysis reads it. Bake times are 0.2 s: a flow run takes longer than that.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.client.schemas.sorting import ArtifactSort

from aimops.errors import RampAbortedError, RampRolledBackError
from aimops.flows.ramps import deramp_model, ramp_model
from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn

RAMP = "urn:aim:ramp:churn/production/1"
RAMP_KEY = "aimops-ramp-churn-production"
#: What each before_analysis call was given, in order.
SEEN: list[dict[str, Any]] = []


class Coin:
    """A model with predict_proba that scores every row 0.5 (the gates judge latency and
    errors, not scores)."""

    def predict_proba(self, rows: Any) -> list[list[float]]:
        return [[0.5, 0.5]] * len(rows)


def _window(info: dict[str, Any], requests: int = 2000, **challenger: Any) -> None:
    """Serve the window's requests by the ramp's weights; no random errors, and the faults
    given to the challenger only."""
    import pandas as pd

    from aimops.monitors.serving.windows import simulate_serving_window

    SEEN.append(info)
    serving = [version for version, weight in info["weights"].items() if weight > 0]
    simulate_serving_window(
        dict.fromkeys(serving, Coin()),
        pd.DataFrame({"age": [30.0, 41.0, 52.0, 63.0]}),
        model=info["model"], weights=info["weights"], requests=requests, seed=len(SEEN),
        start=datetime.datetime.fromisoformat(info["window_start"]),
        end=datetime.datetime.fromisoformat(info["window_end"]),
        faults={v: {"error_rate": 0.0, **(challenger if v == info["challenger"] else {})}
                for v in serving},
    )  # fmt: skip


TRAFFIC = {
    "healthy": _window,
    "slow": lambda info: _window(info, latency_regression_ms=900.0),
    "scarce": lambda info: _window(info, requests=50),
}


@pytest.fixture
def ramp_env(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """churn/1 the champion (100%), churn/2 published; the file router, serving logs and alert
    log under the fresh AIMOPS_HOME; no MLflow, no webhook, no Airflow address."""
    from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
    from aimops.metadata.recording import record_model_version

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AIMOPS_ALERT_WEBHOOK",
                 "AIMOPS_ROUTER", "AIMOPS_TRAFFIC_DIR", "AIMOPS_SERVING_LOGS",
                 "AIMOPS_AIRFLOW_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIMOPS_ALERT_LOG", str(aim_home / "alerts.log"))
    SEEN.clear()
    with _store(aim_home) as store:
        for number in (1, 2):
            record_model_version(store, "churn", number)
            store.put_aspect(f"urn:aim:modelVersion:churn/{number}", "lifecycle", {
                "state": "published", "transition": "publish", "previous": "publishable",
                "actor": "ana", "at": datetime.datetime.now(datetime.UTC)})  # fmt: skip
        change_traffic(store, read_deployment(store, "churn"), {"1": 100}, champion="1",
                       change="set", actor="ana", mlflow=False)  # fmt: skip
    yield aim_home


def _store(home: Path) -> AimStore:
    return AimStore.open(f"sqlite:///{home / 'aim.db'}")


def _served(home: Path) -> dict[str, Any]:
    """What the file router wrote for churn in production: what a serving layer reads."""
    document = json.loads((home / "traffic" / "churn" / "production.json").read_text())
    return {"weights": document["weights"], "champion": document["champion"]}


def _ramps(home: Path) -> list[str]:
    from aimops.metadata.lifecycle.ramps import ramps_of

    with _store(home) as store:
        return [ramp.urn for ramp in ramps_of(store, "churn", "production")]


def _tries(state: Any) -> list[tuple[str, int]]:
    """The task runs of the flow run ended in ``state``: (state name, tries)."""
    runs_of = TaskRunFilter(
        flow_run_id=TaskRunFilterFlowRunId(any_=[state.state_details.flow_run_id])
    )
    with get_client(sync_client=True) as client:
        return [(str(run.state_name), run.run_count) for run in client.read_task_runs(
            task_run_filter=runs_of)]  # fmt: skip


def _published(key: str, states: list[Any]) -> list[Any]:
    """The artifacts under ``key`` that the flow runs ended in ``states`` made, oldest first."""
    made_by = ArtifactFilterFlowRunId(any_=[s.state_details.flow_run_id for s in states])
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=made_by),
            sort=ArtifactSort.CREATED_DESC,
        )
    return list(reversed(found))


# -- the flows --------------------------------------------------------------------------------


@flow
def ramp_churn(
    traffic: str = "healthy",
    bake_time: float = 0.2,
    gates: dict[str, Any] | None = None,
    progress_deadline: float | None = None,
    fail_on_rollback: bool = True,
) -> dict[str, Any]:
    return ramp_model(
        "churn/2", schedule=[50, 100], bake_time=bake_time, gates=gates,
        progress_deadline=progress_deadline, before_analysis=TRAFFIC[traffic],
        fail_on_rollback=fail_on_rollback, reason="weekly retrain",
    )  # fmt: skip


@flow
def ramp_retried(home: str) -> dict[str, Any]:
    """An earlier try of the ramp task started the ramp (then its worker died); its bake time
    is over, yet the retry only reports it: one action per task run."""
    from prefect.runtime import flow_run

    from aimops.monitors.ramps.engine import start_ramp

    origin = {
        "kind": "prefect",
        "run": str(run_urn("prefect", flow_run.flow_name, flow_run.id)),
        "task": str(step_urn("prefect", flow_run.flow_name, flow_run.id, "ramp_model")),
    }
    with _store(Path(home)) as store:
        start_ramp(store, "churn/2", schedule=[50, 100], bake_time=0, origin=origin,
                   actor="prefect:ramp-retried", mlflow=False)  # fmt: skip
    return ramp_model("churn/2", schedule=[50, 100], bake_time=0, before_analysis=_window)


@flow
def deramps() -> dict[str, Any]:
    done = deramp_model("churn/2", reason="p99 up", actor="ana")
    deramp_model("churn/1", environment="production", return_state=True)  # the only one left
    return done


@flow
def wrong_arguments() -> None:
    ramp_model("churn/2", bake_time=-1, return_state=True)
    ramp_model("churn/2", before_analysis="simulate", return_state=True)
    ramp_model("churn/2", schedule=[50, 10, 100], return_state=True)


# -- the tests --------------------------------------------------------------------------------


def test_each_run_does_what_is_due_until_the_challenger_is_champion(
    ramp_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    states, took, served = [], [], []
    with caplog.at_level(logging.INFO):
        for _ in range(4):  # as a deployment's scheduled runs would
            began = time.monotonic()
            states.append(ramp_churn(return_state=True))
            took.append(time.monotonic() - began)
            served.append(_served(ramp_env))
    started, advanced, promoted, after = (state.result() for state in states)
    assert [done["did"] for done in (started, advanced, promoted, after)] == [
        "started", "advanced", "promoted", "status"]  # fmt: skip
    assert [done["status"] for done in (started, advanced, promoted, after)] == [
        "ramping", "ramping", "complete", "complete"]  # fmt: skip
    assert served == [  # what the file router wrote after each run
        {"weights": {"1": 50, "2": 50}, "champion": "1"},
        {"weights": {"2": 100}, "champion": "1"},
        {"weights": {"2": 100}, "champion": "2"},
        {"weights": {"2": 100}, "champion": "2"},
    ]
    assert started["waiting_seconds"] == 0.2 and started["analysis"] is None
    assert _ramps(ramp_env) == [RAMP]  # the run after the end started nothing
    assert [info["weights"] for info in SEEN] == [{"1": 50, "2": 50}, {"2": 100}]
    assert (promoted["analysis"]["weight"], promoted["analysis"]["decision"]) == (100, "promote")
    ramp = promoted["ramp"]
    assert (ramp["actor"], ramp["reason"], promoted["urn"]) == (
        "prefect:ramp-churn", "weekly retrain", "urn:aim:modelVersion:churn/2")  # fmt: skip
    first_run = states[0].state_details.flow_run_id
    assert ramp["origin"]["run"] == str(run_urn("prefect", "ramp-churn", str(first_run)))
    assert Path(promoted["page"]).is_file()
    assert max(took) < 15  # no run sat through a bake
    assert "churn/2 advanced: step 1 of 2 (50%) passed: 50% -> 100%" in caplog.text
    assert "  gate latency_p99: pass (" in caplog.text
    assert "churn/2 is the champion of churn/production: weights {'2': 100}" in caplog.text


def test_the_ramp_s_artifacts_show_its_steps_and_gates(ramp_env: Path) -> None:
    states = [ramp_churn(return_state=True) for _ in range(3)]
    markdowns = _published(RAMP_KEY, states)
    assert len(markdowns) == 3  # one per run, under one key
    last = markdowns[-1].data.splitlines()
    assert last[0] == "### Ramp of churn/2 in production"
    assert "- status: **complete**; this run: promoted" in last
    assert "- weights: churn/2 100%; champion 2" in last
    assert any(line.startswith("**Last analysis** (step 2, 100%): pass → promote") for line in last)
    assert any(line.startswith("- gate success_rate: pass (") for line in last)
    assert "- status: **ramping**; this run: started" in markdowns[0].data.splitlines()
    tables = [json.loads(artifact.data) for artifact in _published(RAMP_KEY + "-table", states)]
    assert [(row["step"], row["weight"], row["decision"]) for row in tables[0]] == [
        (1, 50, "baking")]  # fmt: skip
    rows = tables[-1]
    assert [(r["analysis"], r["step"], r["weight"], r["verdict"], r["decision"]) for r in rows] == [
        (1, 1, 50, "pass", "advance"), (2, 2, 100, "pass", "promote")]  # fmt: skip
    assert rows[0]["requests"] == 2000 and "latency_p99 pass" in rows[0]["gates"]
    (link, *_) = _published(RAMP_KEY + "-link", states)
    assert link.data.startswith("[the page of churn/2](file://") and ".html)" in link.data


def test_a_bake_does_not_keep_the_run_waiting(ramp_env: Path) -> None:
    ramp_churn(bake_time=600)
    began = time.monotonic()
    done = ramp_churn(bake_time=600)
    assert time.monotonic() - began < 15
    assert (done["did"], done["status"], done["analysis"]) == ("status", "ramping", None)
    assert 590 < done["waiting_seconds"] <= 600  # what is left of the bake
    assert SEEN == []  # nothing analysed
    assert _served(ramp_env) == {"weights": {"1": 50, "2": 50}, "champion": "1"}


def test_a_slow_challenger_is_rolled_back_and_fails_its_run(ramp_env: Path) -> None:
    ramp_churn("slow")
    state = ramp_churn("slow", return_state=True)
    assert state.is_failed() and _tries(state) == [("Failed", 1)]  # not retried
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RampRolledBackError)
    assert str(error).startswith(
        "the ramp of churn/2 in production was rolled back: failed gate(s) latency_p99 ("
    )
    assert str(error).endswith(f"the champion churn/1 was restored to 100% ({RAMP})")
    assert _served(ramp_env) == {"weights": {"1": 100}, "champion": "1"}
    (alert,) = [json.loads(line) for line in (ramp_env / "alerts.log").read_text().splitlines()]
    assert alert["title"] == "ramp of churn/2 rolled back"
    (view,) = _published(RAMP_KEY, [state])  # published before the run failed
    assert "- status: **rolled_back**; this run: rolled_back" in view.data.splitlines()
    assert any(line.startswith("- gate latency_p99: fail (") for line in view.data.splitlines())
    # Later runs report the rollback; the version is not put back into traffic.
    again = ramp_churn("slow", return_state=True)
    assert isinstance(again.result(raise_on_failure=False), RampRolledBackError)
    kept = ramp_churn("slow", fail_on_rollback=False)
    assert (kept["did"], kept["status"]) == ("status", "rolled_back")
    assert _ramps(ramp_env) == [RAMP] and len(SEEN) == 1


def test_a_starved_ramp_pauses_until_a_person_aborts_it(
    ramp_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aimops.monitors.ramps.engine import abort_ramp

    starved = {"traffic": "scarce", "gates": {"min_requests": 500}, "progress_deadline": 0}
    ramp_churn(**starved)
    with caplog.at_level(logging.WARNING):
        paused = ramp_churn(**starved)
        still = ramp_churn(**starved)
    assert (paused["did"], paused["status"]) == ("paused", "paused")
    assert paused["analysis"]["verdict"] == "inconclusive"
    assert (still["did"], still["status"]) == ("status", "paused") and len(SEEN) == 1
    warnings = [m for m in caplog.messages if m.startswith(f"{RAMP} is paused: ")]
    assert len(warnings) == 2
    assert warnings[0].endswith(f"A person resumes it (aimops resume {RAMP}) or aborts it "
                                f"(aimops abort {RAMP})")  # fmt: skip
    with _store(ramp_env) as store:
        abort_ramp(store, RAMP, actor="ana", reason="no traffic", mlflow=False)
    state = ramp_churn(**starved, return_state=True)
    assert _tries(state) == [("Failed", 1)]
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RampAbortedError)
    assert str(error) == (
        "the ramp of churn/2 in production was aborted by ana: no traffic; churn/1 serves 100% "
        f"({RAMP})"
    )
    assert _served(ramp_env) == {"weights": {"1": 100}, "champion": "1"}


def test_a_retry_of_the_run_that_started_the_ramp_only_reports_it(ramp_env: Path) -> None:
    done = ramp_retried(str(ramp_env))
    assert (done["did"], done["status"], done["ramp"]["urn"]) == ("status", "ramping", RAMP)
    assert done["ramp"]["analyses"] == [] and SEEN == []
    assert _ramps(ramp_env) == [RAMP]


def test_a_deramp_gives_the_traffic_back_and_refuses_the_only_version(
    ramp_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment

    with _store(ramp_env) as store:
        change_traffic(store, read_deployment(store, "churn"), {"1": 90, "2": 10},
                       champion="1", change="set", actor="ana", mlflow=False)  # fmt: skip
    with caplog.at_level(logging.ERROR):
        state = deramps(return_state=True)
    done = state.result()
    (found,) = done["deployments"]
    assert (found["removed_weight"], found["weights"], found["champion"]) == (10, {"1": 100}, "1")
    assert _served(ramp_env) == {"weights": {"1": 100}, "champion": "1"}
    assert sorted(_tries(state)) == [("Completed", 1), ("Failed", 1)]  # the refusal: one try
    assert any(
        message.startswith("cannot de-ramp churn/1 (urn:aim:modelVersion:churn/1): it is the "
                           "only version serving churn/production")
        for message in caplog.messages
    )  # fmt: skip
    (markdown,) = _published("aimops-deramp-churn", [state])
    line = "- churn/2 de-ramped by ana in production: 10% -> 0%; weights {'1': 100}, champion 1"
    assert markdown.data.splitlines() == ["### churn/2 de-ramped", "", line]
    (table,) = _published("aimops-deramp-churn-table", [state])
    assert json.loads(table.data)[0]["removed_weight"] == 10


def test_wrong_arguments_fail_at_once_naming_the_task(
    ramp_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        state = wrong_arguments(return_state=True)
    assert _tries(state) == [("Failed", 1)] * 3
    errors = [m for m in caplog.messages if m.endswith("(permanent: not retried)")]
    assert any(m.startswith("ramp_model: bake_time must be within [0, inf]") for m in errors)
    assert any(m.startswith("ramp_model: before_analysis must be a function") for m in errors)
    assert any("a ramp's schedule must increase step by step" in m for m in errors)
    assert _ramps(ramp_env) == []


def test_the_module_s_examples_run() -> None:
    import doctest

    import aimops.flows.ramps

    assert doctest.testmod(aimops.flows.ramps).failed == 0
