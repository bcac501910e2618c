"""Ramps end to end on the core: steps, promotion, rollback, holds, pauses, and refusals."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from aimops.errors import ConfigurationError, InvalidInputError, TransitionRefusedError
from aimops.metadata.lifecycle import lifecycle_state
from aimops.metadata.lifecycle.deployments import read_deployment, weight_history
from aimops.monitors.ramps.engine import (
    abort_ramp,
    advance_ramp,
    ramp_status,
    resume_ramp,
    start_ramp,
)

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
BAKE = 600.0


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def champion_first(world: Any) -> None:
    """churn/1 rolled out as champion (an initial rollout)."""
    world.publish(1, 2)
    start_ramp(world.store, "churn/1", bake_time=BAKE, now=T0, **world.options())
    done = advance_ramp(world.store, "churn/1", now=at(10),
                        requests=world.served({"1": 500}), **world.options())  # fmt: skip
    assert (done.did, done.deployment["champion"]) == ("promoted", "1")


def run_ramp(world: Any, schedule: list[int], **faults: Any) -> list[Any]:
    """Ramp churn/2 through ``schedule``, one analysis per bake, traffic split by weight."""
    reports = [start_ramp(world.store, "churn/2", schedule=schedule, bake_time=BAKE,
                          now=at(20), **world.options())]  # fmt: skip
    minute = 20
    while not reports[-1].done and len(reports) < 20:
        weights = reports[-1].deployment["weights"]
        served = world.served(
            {v: max(150, 10 * w) for v, w in weights.items()}, start=at(minute), **faults
        )
        minute += 10
        reports.append(advance_ramp(world.store, "churn/2", requests=served, now=at(minute),
                                    **world.options()))  # fmt: skip
    return reports


def test_a_healthy_challenger_is_ramped_step_by_step_and_made_champion(world: Any) -> None:
    champion_first(world)
    reports = run_ramp(world, [1, 5, 25, 50, 100])
    assert [r.did for r in reports] == ["started", "advanced", "advanced", "advanced",
                                        "advanced", "promoted"]  # fmt: skip
    assert [r.deployment["weights"].get("2", 0) for r in reports] == [1, 5, 25, 50, 100, 100]
    assert world.traffic()["weights"] == {"2": 100}
    assert world.traffic()["champion"] == "2"
    final = reports[-1].ramp
    assert final["status"] == "complete" and "2 is the champion" in final["note"]
    assert [a["verdict"] for a in final["analyses"]] == ["pass"] * 5
    deployment = read_deployment(world.store, "churn")
    assert (deployment.champion, deployment.ramp, deployment.serving) == ("2", None, ("2",))
    assert lifecycle_state(world.store, "churn/1") == "published"  # not asked to deprecate
    served_by = {e.urn for e in world.store.related(deployment.urn, "serves")}
    assert served_by == {"urn:aim:modelVersion:churn/2"}  # churn/1 stopped serving
    points = world.store.get_points(deployment.urn, "weight.2")
    assert [p.value for p in points] == [1, 5, 25, 50, 100]


def test_a_latency_regression_is_rolled_back_with_an_alert(world: Any) -> None:
    champion_first(world)
    reports = run_ramp(world, [1, 5, 25, 50, 100], latency_ms={"2": 900.0})
    last = reports[-1]
    assert last.did == "rolled_back" and last.status == "rolled_back"
    assert world.traffic()["weights"] == {"1": 100} and world.traffic()["champion"] == "1"
    failed = [g["name"] for g in last.analysis["gates"] if g["status"] == "fail"]
    assert "latency_p99" in failed and "latency_p99_vs_champion" in failed
    alert = json.loads((world.home / "alerts.log").read_text().splitlines()[-1])
    assert alert["title"] == "ramp of churn/2 rolled back"
    assert "churn/1 serves 100% again" in alert["message"] and "latency_p99" in alert["message"]
    assert read_deployment(world.store, "churn").ramp is None


def test_failure_limit_holds_the_weight_before_rolling_back(world: Any) -> None:
    champion_first(world)
    start_ramp(world.store, "churn/2", schedule=[10, 100], bake_time=BAKE, failure_limit=2,
               now=at(20), **world.options())  # fmt: skip
    slow = world.served({"1": 900, "2": 300}, start=at(20), latency_ms={"2": 900.0})
    held = advance_ramp(world.store, "churn/2", requests=slow, now=at(30), **world.options())
    assert (held.did, held.ramp["failures"], held.deployment["weights"]) == (
        "held",
        1,
        {"1": 90, "2": 10},
    )
    slow = world.served({"1": 900, "2": 300}, start=at(30), latency_ms={"2": 900.0})
    early = advance_ramp(world.store, "churn/2", requests=slow, now=at(35), **world.options())
    assert early.did == "waiting" and early.waiting_seconds == pytest.approx(300)
    gone = advance_ramp(world.store, "churn/2", requests=slow, now=at(40), **world.options())
    assert gone.did == "rolled_back" and world.traffic()["weights"] == {"1": 100}


def test_too_few_requests_holds_then_pauses_until_a_person_resumes(world: Any) -> None:
    champion_first(world)
    start_ramp(world.store, "churn/2", schedule=[10, 100], bake_time=BAKE,
               progress_deadline=1500, now=at(20), **world.options())  # fmt: skip
    few = world.served({"1": 500, "2": 20}, start=at(20))
    held = advance_ramp(world.store, "churn/2", requests=few, now=at(30), **world.options())
    assert held.did == "held" and held.analysis["verdict"] == "inconclusive"
    assert "fewer than 100" in held.ramp["note"]
    paused = advance_ramp(world.store, "churn/2", requests=few, now=at(46), **world.options())
    assert paused.did == "paused" and paused.status == "paused"
    assert world.traffic()["weights"] == {"1": 90, "2": 10}  # a pause keeps the weight
    nothing = advance_ramp(world.store, "churn/2", requests=few, now=at(90), **world.options())
    assert nothing.did == "nothing due" and nothing.status == "paused"
    resumed = resume_ramp(world.store, "churn/2", actor="ben", reason="traffic is back",
                          now=at(91), **world.options())  # fmt: skip
    assert resumed.status == "ramping" and resumed.ramp["note"] == (
        "resumed by ben: traffic is back"
    )
    enough = world.served({"1": 900, "2": 300}, start=at(91))
    assert advance_ramp(world.store, "churn/2", requests=enough, now=at(101),
                        **world.options()).did == "advanced"  # fmt: skip


def test_abort_restores_the_champion_and_ends_the_ramp(world: Any) -> None:
    champion_first(world)
    started = start_ramp(world.store, "churn/2", schedule=[25, 100], bake_time=BAKE,
                         now=at(20), **world.options())  # fmt: skip
    done = abort_ramp(world.store, started.ramp["urn"], actor="ben", reason="bad day",
                      **world.options())  # fmt: skip
    assert (done.status, done.ramp["note"]) == ("aborted", "aborted by ben: bad day")
    assert world.traffic()["weights"] == {"1": 100}
    with pytest.raises(TransitionRefusedError, match="aborted already"):
        abort_ramp(world.store, started.ramp["urn"], **world.options())
    with pytest.raises(TransitionRefusedError, match="only a paused ramp resumes"):
        resume_ramp(world.store, "churn/2", **world.options())
    assert ramp_status(world.store, "churn/2").status == "aborted"
    changes = [change["change"] for change in weight_history(world.store, "churn")]
    assert changes == ["ramp_started", "promoted", "ramp_started", "aborted"]


def test_one_ramp_at_a_time_and_only_published_versions(world: Any) -> None:
    champion_first(world)
    world.publish(3)
    first = start_ramp(world.store, "churn/2", bake_time=BAKE, now=at(20), **world.options())
    with pytest.raises(TransitionRefusedError, match=first.ramp["urn"]):
        start_ramp(world.store, "churn/3", bake_time=BAKE, **world.options())
    world.store.put_aspect("urn:aim:modelVersion:churn/3", "lifecycle", {
        "state": "deprecated", "transition": "deprecate", "previous": "published",
        "actor": "ana", "at": T0})  # fmt: skip
    abort_ramp(world.store, "churn/2", **world.options())
    before = read_deployment(world.store, "churn")
    with pytest.raises(TransitionRefusedError, match="which is deprecated: a ramp needs"):
        start_ramp(world.store, "churn/3", **world.options())
    with pytest.raises(TransitionRefusedError, match="champion of churn/production already"):
        start_ramp(world.store, "churn/1", **world.options())
    assert read_deployment(world.store, "churn") == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": [5, 1, 100]}, "must increase step by step"),
        ({"schedule": [1, 50]}, "exactly 100 percent"),
        ({"schedule": [-1, 100]}, "from above 0"),
        ({"schedule": [1.5, 100]}, "whole percents"),
        ({"bake_time": -1}, "bake_time"),
        ({"failure_limit": 0}, "failure_limit"),
        ({"gates": {"p99": 1}}, "unknown ramp gate"),
        ({"gates": {"metric_bounds": {"auroc": [0.9, 0.1]}}}, "above max"),
    ],
)
def test_bad_ramp_arguments_are_named_and_change_nothing(
    world: Any, options: dict[str, Any], message: str
) -> None:
    champion_first(world)
    before = read_deployment(world.store, "churn")
    with pytest.raises(InvalidInputError, match=message):
        start_ramp(world.store, "churn/2", **world.options(**options))
    assert read_deployment(world.store, "churn") == before
    assert world.traffic()["revision"] == before.revision


def test_an_unwritable_traffic_folder_fails_before_anything_changes(world: Any) -> None:
    from aimops.metadata.lifecycle.routers import FileRouter

    champion_first(world)
    blocker = world.home / "a-file"
    blocker.write_text("not a folder")
    before = read_deployment(world.store, "churn")
    with pytest.raises(ConfigurationError, match="a-file"):
        start_ramp(world.store, "churn/2", router=FileRouter(blocker / "traffic"), mlflow=False)
    assert read_deployment(world.store, "churn") == before
    assert ramp_status(world.store, "churn/1").status == "complete"  # no second ramp recorded


def test_checks_and_bounded_metrics_recorded_in_the_window_are_gates(world: Any) -> None:
    from aimops.monitors.checks.health import check_health
    from aimops.monitors.checks.recording import record_check

    champion_first(world)
    start_ramp(world.store, "churn/2", schedule=[10, 100], bake_time=0, now=at(20),
               gates={"metric_bounds": {"auroc": [0.8, None]}}, **world.options())  # fmt: skip
    version = "urn:aim:modelVersion:churn/2"
    world.store.put_points(version, "auroc", [(at(25), 0.72)])
    failing = world.served({"2": 10}, start=at(20), errors={"2": 1.0})
    record_check(world.store, check_health(failing, min_requests=1), target=version, key="h")
    served = world.served({"1": 900, "2": 300}, start=at(20))
    done = advance_ramp(world.store, "churn/2", requests=served, **world.options())
    gates = {g["name"]: g for g in done.analysis["gates"]}
    assert gates["metric:auroc"]["status"] == "fail" and gates["metric:auroc"]["value"] == 0.72
    assert gates["checks"]["status"] == "pass"  # health is not one of the watched kinds
    assert done.did == "rolled_back"


def test_promotion_can_deprecate_the_previous_champion(world: Any) -> None:
    champion_first(world)
    start_ramp(world.store, "churn/2", schedule=[100], bake_time=0, deprecate_previous=True,
               now=at(20), **world.options())  # fmt: skip
    served = world.served({"2": 500}, start=at(20))
    done = advance_ramp(world.store, "churn/2", now=at(21), requests=served, **world.options())
    assert done.did == "promoted"
    assert lifecycle_state(world.store, "churn/1") == "deprecated"
    history = world.store.get_aspect("urn:aim:modelVersion:churn/1", "lifecycle").value
    assert "superseded by churn/2" in history["reason"]


def test_reviews_compare_with_the_deployments_champion_not_the_newest_published(
    world: Any,
) -> None:
    from aimops.metadata.lifecycle import champion_of
    from aimops.metadata.recording import record_model_version

    world.publish(1, 2)  # 2 is the newest published...
    candidate = record_model_version(world.store, "churn", 3)
    assert champion_of(world.store, candidate) == "urn:aim:modelVersion:churn/2"
    start_ramp(world.store, "churn/1", bake_time=0, now=T0, **world.options())
    advance_ramp(world.store, "churn/1", now=at(1), requests=world.served({"1": 300}),
                 **world.options())  # fmt: skip
    assert champion_of(world.store, candidate) == "urn:aim:modelVersion:churn/1"  # ...1 serves
