"""The monitoring checks as Prefect tasks, run for real: the check the AIM store holds, how the
task run ended (and after how many tries), and the artifacts Prefect's server shows.

The model version ``churn/3`` is recorded in each test's fresh store with its reference data
registered (``aimops.monitors.register_reference``), as a training pipeline would leave it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)

from aimops.flows.blocks import AimopsStore
from aimops.flows.checks import (
    data_quality_check,
    drift_check,
    feature_consistency_check,
    health_check,
)
from aimops.metadata.store import AimStore

VERSION = "churn/3"
DASHBOARD = "https://grafana.example.com/d/serving?var-model={model}&from={start_ms}&to={end_ms}&flow={flow_name}"
TASKS = {
    "data_quality": data_quality_check,
    "drift": drift_check,
    "feature_consistency": feature_consistency_check,
    "health": health_check,
}
TRIES: dict[str, list[int]] = {}  # flow run id -> the tries of each failed task run


def _count_tries(task: Any, task_run: Any, state: Any) -> None:
    TRIES.setdefault(str(task_run.flow_run_id), []).append(task_run.run_count)


@flow
def checking(kind: str, arguments: dict[str, Any], retries: int = 2) -> str:
    counted = TASKS[kind].with_options(
        retries=retries, retry_delay_seconds=0, on_failure=[_count_tries]
    )
    return counted(**arguments)  # type: ignore[no-any-return]


@flow
def checking_each(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each call's check URN, or its error."""
    found = []
    for kind, arguments in calls:
        task = TASKS[kind].with_options(on_failure=[_count_tries])
        state = task(**arguments, return_state=True)
        found.append(str(state.result(raise_on_failure=False)))
    return found


def _frame(n: int = 400, shift: float = 0.0, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(n),
        "age": rng.normal(40 + 15 * shift, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "plan": rng.choice(["basic", "plus", "pro"], n),
    })  # fmt: skip


@pytest.fixture
def block(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> AimopsStore:
    """The test's store with ``churn/3`` and its reference data; reports in the test's home."""
    import aimops
    from aimops.monitors import register_reference

    monkeypatch.delenv("AIMOPS_AIRFLOW_URL", raising=False)
    monkeypatch.delenv("AIMOPS_DASHBOARD_URL_TEMPLATE", raising=False)
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}", create=True) as store:
        aimops.record_model_version(store, *VERSION.split("/"))
        register_reference(store, f"urn:aim:modelVersion:{VERSION}", _frame(seed=1))
    return AimopsStore(report_dir=str(aim_home / "reports"))


def _table(aim_home: Path, name: str, frame: Any) -> str:
    path = aim_home / f"{name}.parquet"
    frame.to_parquet(path)
    return str(path)


def _run(*args: Any) -> tuple[Any, str]:
    state = checking(*args, return_state=True)
    return state, str(state.state_details.flow_run_id)


def _artifacts(flow_run_id: str) -> dict[str, Any]:
    """What a flow run published, by key: a table's rows, else the text."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {
        str(artifact.key): json.loads(str(artifact.data))
        if artifact.type == "table"
        else artifact.data
        for artifact in found
    }


def _check(aim_home: Path, urn: str) -> dict[str, Any]:
    """The check's info, its result document and what it checks, as recorded."""
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        info = store.get_aspect(urn, "checkInfo")
        assert info is not None, f"{urn} was not recorded"
        result = store.get_aspect(urn, "checkResult")
        checks = sorted(entity.urn for entity in store.related(urn, "checks"))
        made_by = sorted(entity.urn for entity in store.related(urn, "producedBy"))
    return {**info.value, "document": result.value["document"], "checks": checks, "by": made_by}


def _urn(flow_run_id: str, task: str) -> str:
    return f"urn:aim:check:prefect/checking/{flow_run_id}/{task}"


# -- drift -------------------------------------------------------------------------------------


def test_drift_against_the_registered_reference_passes_and_is_shown(
    block: AimopsStore, aim_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    current = _table(aim_home, "requests", _frame(seed=2))
    arguments = {"current": current, "model_version": VERSION, "store": block}
    with caplog.at_level(logging.INFO):
        state, run_id = _run("drift", arguments)
    urn = _urn(run_id, "drift_check")
    assert state.result() == urn
    recorded = _check(aim_home, urn)
    assert recorded["status"] == "pass" and recorded["kind"] == "drift"
    assert f"urn:aim:modelVersion:{VERSION}" in recorded["checks"]
    assert recorded["by"] == [f"urn:aim:step:prefect/checking/{run_id}/drift_check"]
    assert f"drift check {urn}: pass (drift_share=0" in caplog.text

    artifacts = _artifacts(run_id)
    assert set(artifacts) == {
        "aimops-drift-churn",
        "aimops-drift-churn-table",
        "aimops-drift-churn-link",
    }
    summary = artifacts["aimops-drift-churn"]
    assert summary.startswith(f"### Data drift of {VERSION} on requests")
    assert "**Verdict: pass**" in summary and "| drift_share | 0 |" in summary
    assert "What failed" not in summary
    rows = {row["column"]: row for row in artifacts["aimops-drift-churn-table"]}
    assert set(rows) == {"customer_id", "age", "income", "plan"}
    assert rows["age"]["drifted"] is False and rows["age"]["method"] and rows["age"]["threshold"]
    (page,) = (aim_home / "reports").glob("check-*.html")
    assert artifacts["aimops-drift-churn-link"] == f"[check page]({page.as_uri()})"


def test_a_drifted_check_is_recorded_and_shown_then_fails_at_once(
    block: AimopsStore, aim_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", "https://airflow.example.com")
    current = _table(aim_home, "requests", _frame(shift=1.5, seed=2))
    arguments = {"current": current, "model_version": VERSION, "columns": ["age", "income"]}
    state, run_id = _run("drift", {**arguments, "drift_share": 0.5, "store": block})
    assert state.is_failed() and TRIES[run_id] == [1]  # a failed check: no retry
    urn = _urn(run_id, "drift_check")
    message = str(state.result(raise_on_failure=False))
    assert message.startswith("drift in 1 of 2 columns (share 0.5 >= 0.5): age (")
    assert message.endswith(f"[{urn}]")
    assert _check(aim_home, urn)["status"] == "fail"  # recorded first

    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-drift-churn"]
    assert "**Verdict: fail**" in summary
    assert "What failed:\n\n- drift in 1 of 2 columns" in summary
    rows = {row["column"]: row for row in artifacts["aimops-drift-churn-table"]}
    assert (rows["age"]["drifted"], rows["income"]["drifted"]) == (True, False)
    page = f"https://airflow.example.com/aimops/checks/{urn}"
    assert artifacts["aimops-drift-churn-link"] == f"[check page]({page})"


def test_reference_data_not_registered_yet_is_retried(block: AimopsStore, aim_home: Path) -> None:
    import aimops

    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        aimops.record_model_version(store, "churn", "4")
    current = _table(aim_home, "requests", _frame())
    state, run_id = _run(
        "drift", {"current": current, "model_version": "churn/4", "store": block}, 1
    )
    assert state.is_failed() and TRIES[run_id] == [2]  # the first try and its retry
    assert "no reference data is registered for model version urn:aim:modelVersion:churn/4" in str(
        state.result(raise_on_failure=False)
    )


def test_checks_of_every_run_accumulate_under_the_models_key(
    block: AimopsStore, aim_home: Path
) -> None:
    runs = []
    for seed in (2, 3):
        current = _table(aim_home, f"day{seed}", _frame(seed=seed))
        runs.append(_run("drift", {"current": current, "model_version": VERSION, "store": block}))
    urns = [state.result() for state, _ in runs]
    assert len(set(urns)) == 2 and all(_check(aim_home, urn)["status"] == "pass" for urn in urns)
    with get_client(sync_client=True) as client:
        history = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["aimops-drift-churn"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id for _, run_id in runs]),
            )
        )
    assert sorted(str(artifact.data).splitlines()[0] for artifact in history) == [
        f"### Data drift of {VERSION} on day2",
        f"### Data drift of {VERSION} on day3",
    ]


# -- data quality, feature consistency ---------------------------------------------------------

SUITE = [
    {"expect": "not_null", "column": "age"},
    {"expect": "between", "column": "age", "min": 18, "max": 60, "severity": "warn"},
    {"expect": "in_set", "column": "plan", "values": ["basic", "plus", "pro"]},
]


def test_a_warning_passes_unless_fail_on_names_it(block: AimopsStore, aim_home: Path) -> None:
    data = _table(aim_home, "features", _frame())
    given = {
        "data": data,
        "suite": SUITE,
        "model_version": VERSION,
        "name": "features",
        "store": block,
    }
    state = checking_each(
        [("data_quality", given), ("data_quality", {**given, "fail_on": ["fail", "warn"]})],
        return_state=True,
    )
    run_id = str(state.state_details.flow_run_id)
    warned, failed = state.result()
    assert warned == f"urn:aim:check:prefect/checking-each/{run_id}/data_quality_check"
    assert failed.startswith(  # the second call failed on it
        "data quality: 1 of 3 expectations not met: age between 18 and 60 [warn]: "
    )
    assert failed.endswith(f"[{warned}/1]")
    assert TRIES[run_id] == [1]
    assert _check(aim_home, warned)["status"] == _check(aim_home, f"{warned}/1")["status"] == "warn"

    artifacts = _artifacts(run_id)  # both calls publish under the model's key
    summary = artifacts["aimops-data-quality-churn"]
    assert summary.startswith(f"### Data quality of {VERSION} on features")
    assert "**Verdict: warn**" in summary and "What failed:\n\n- data quality: 1 of 3" in summary
    rows = {row["expectation"]: row for row in artifacts["aimops-data-quality-churn-table"]}
    assert len(rows) == 3
    between = next(row for row in rows.values() if row["severity"] == "warn")
    assert (between["column"], between["status"]) == ("age", "warn") and between["unexpected"] > 0


def test_served_features_match_the_training_ones(block: AimopsStore, aim_home: Path) -> None:
    training = _frame(seed=1)
    serving = _table(aim_home, "online_snapshot", training)
    arguments = {
        "serving": serving, "model_version": VERSION, "entity_key": "customer_id",
        "features": ["age", "plan"], "store": block,
    }  # fmt: skip
    state, run_id = _run("feature_consistency", arguments)
    urn = state.result()
    assert _check(aim_home, urn)["status"] == "pass"
    artifacts = _artifacts(run_id)
    assert (
        "### Feature consistency of churn/3 on online_snapshot"
        in artifacts["aimops-feature-consistency-churn"]
    )
    rows = {row["feature"]: row for row in artifacts["aimops-feature-consistency-churn-table"]}
    assert set(rows) == {"age", "plan"}
    assert rows["age"]["skewed"] is False and rows["age"]["match_rate"] == 1.0


# -- health ------------------------------------------------------------------------------------


def _requests(aim_home: Path, n: int, slow_ms: float = 0.0) -> str:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(n)
    log = pd.DataFrame({
        "timestamp": pd.date_range("2026-03-01T06:00:00Z", periods=n, freq="s"),
        "model_version": VERSION,
        "latency_ms": rng.gamma(4, 10, n) + slow_ms,
        "status": 200,
    })  # fmt: skip
    return _table(aim_home, f"requests_{n}", log)


def test_a_slow_service_fails_its_latency_objective_and_links_the_dashboard(
    block: AimopsStore, aim_home: Path
) -> None:
    arguments = {
        "requests": _requests(aim_home, 300, slow_ms=900.0), "model_version": VERSION,
        "objectives": {"latency_p99_max_ms": "800"}, "dashboard_url_template": DASHBOARD,
        "store": block,
    }  # fmt: skip
    state, run_id = _run("health", arguments)
    assert state.is_failed() and TRIES[run_id] == [1]
    message = str(state.result(raise_on_failure=False))
    assert message.startswith(f"service health: {VERSION}: p99 latency ") and "> 800 ms" in message
    assert _check(aim_home, _urn(run_id, "health_check"))["status"] == "fail"

    artifacts = _artifacts(run_id)
    summary = artifacts["aimops-health-churn"]
    dashboard = (
        "https://grafana.example.com/d/serving?var-model=churn&from=1772344800000"
        "&to=1772345099000&flow=checking"
    )
    assert f"Dashboard: [{dashboard}]({dashboard})" in summary
    assert "**Verdict: fail**" in summary and "| requests | 300 |" in summary
    rows = {row["metric"]: row for row in artifacts["aimops-health-churn-table"]}
    assert (rows["latency_p99_ms"]["objective"], rows["latency_p99_ms"]["met"]) == ("≤ 800", False)
    assert (rows["success_rate"]["objective"], rows["success_rate"]["met"]) == ("≥ 0.99", True)
    assert (rows["requests"]["value"], rows["requests"]["objective"]) == (300, None)


def test_too_few_requests_are_inconclusive_not_a_failure(
    block: AimopsStore, aim_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_DASHBOARD_URL_TEMPLATE", "https://grafana.example.com/{nope}")
    arguments = {"requests": _requests(aim_home, 20), "model_version": VERSION, "store": block}
    state, run_id = _run("health", arguments)
    assert state.is_completed()  # inconclusive is not in fail_on; a wrong template costs the link
    assert _check(aim_home, state.result())["status"] == "inconclusive"
    summary = _artifacts(run_id)["aimops-health-churn"]
    assert "**Verdict: inconclusive**" in summary and "20 requests, fewer than 100" in summary
    assert "Dashboard" not in summary


# -- bad input ---------------------------------------------------------------------------------


def test_bad_arguments_fail_at_once_naming_the_parameter(
    block: AimopsStore, aim_home: Path
) -> None:
    data = _table(aim_home, "features", _frame())
    calls = [
        (
            "drift",
            {"current": data, "model_version": VERSION, "fail_on": ["broken"], "store": block},
        ),
        ("drift", {"current": data, "store": block}),
        ("feature_consistency", {"serving": data, "store": block}),
        ("feature_consistency", {"serving": data, "training": data, "skew_status": "maybe"}),
        (
            "drift",
            {"current": data, "model_version": VERSION, "columns": ["tenure"], "store": block},
        ),
        ("data_quality", {"data": data, "suite": [{"expect": "no_such_thing"}], "store": block}),
    ]
    state = checking_each(calls, return_state=True)
    run_id = str(state.state_details.flow_run_id)
    errors = state.result()
    assert errors[:5] == [
        "fail_on takes pass, warn, fail, inconclusive, not broken",
        "drift_check: give model_version or reference",
        "feature_consistency_check: give model_version or training",
        "skew_status is 'fail' or 'warn', not 'maybe'",
        "the reference data lacks column(s) ['tenure']",
    ]
    assert "no_such_thing" in errors[5]
    assert TRIES[run_id] == [1] * 6  # none retried
    assert _artifacts(run_id) == {}
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        assert store.search("check") == []  # nothing recorded


@pytest.mark.slow  # Evidently's import: about 5 s
def test_evidently_s_report_is_saved_beside_the_check_page(
    block: AimopsStore, aim_home: Path
) -> None:
    current = _table(aim_home, "requests", _frame(seed=2))
    arguments = {
        "current": current, "model_version": VERSION, "columns": ["age", "plan"],
        "evidently_report": "true", "store": block,
    }  # fmt: skip
    state, run_id = _run("drift", arguments)
    assert state.is_completed()
    (evidently,) = (aim_home / "reports").glob("check-*-evidently.html")
    summary = _artifacts(run_id)["aimops-drift-churn"]
    assert f"Evidently report file: `{evidently}`" in summary
