"""Store, router and MLflow never disagree for long: a crash at each point is repaired by
running the same task again; racing controllers get one winner; de-ramps and deprecations
restore the champion; MLflow's aliases and tags follow both ramp scenarios (real MLflow)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aimops.errors import LifecycleConflictError, TransitionRefusedError
from aimops.metadata.lifecycle import deprecate, lifecycle_state
from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
from aimops.metadata.lifecycle.deramp import deramp
from aimops.metadata.lifecycle.ramps import read_ramp
from aimops.monitors.ramps.engine import advance_ramp, ramp_status, start_ramp

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def with_champion(world: Any) -> None:
    world.publish(1, 2)
    start_ramp(world.store, "churn/1", bake_time=0, now=T0, **world.options())
    advance_ramp(world.store, "churn/1", now=at(1), requests=world.served({"1": 300}),
                 **world.options())  # fmt: skip


CRASHING_STEP = """
import datetime as dt, os, sys
import pandas as pd
from aimops.metadata.store import AimStore
from aimops.metadata.lifecycle import deployments, routers
from aimops.monitors.ramps.engine import advance_ramp

point = sys.argv[3]
def crash(*args, **kwargs):
    os._exit(9)
if point == "router":
    routers.FileRouter.apply = crash
elif point == "mlflow":
    deployments._mirror = crash
store = AimStore.open(sys.argv[1], create=False)
served = pd.read_parquet(sys.argv[4])
advance_ramp(store, "churn/2", requests=served, router=routers.FileRouter(sys.argv[2]),
             mlflow=point == "mlflow", now=dt.datetime(2026, 12, 1, 12, 40, tzinfo=dt.UTC))
"""


@pytest.mark.parametrize("point", ["router", "mlflow"])
def test_a_crash_after_the_store_is_repaired_by_running_the_task_again(
    world: Any, point: str, tmp_path: Path
) -> None:
    with_champion(world)
    start_ramp(world.store, "churn/2", schedule=[10, 50, 100], bake_time=600, now=at(20),
               **world.options())  # fmt: skip
    served = tmp_path / "served.parquet"
    world.served({"1": 900, "2": 300}, start=at(20)).to_parquet(served)
    script = textwrap.dedent(CRASHING_STEP)
    args = [str(world.store.engine.url), str(world.router.root), point, str(served)]
    crashed = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert crashed.returncode == 9, crashed.stderr
    stored = read_deployment(world.store, "churn")
    assert stored.weights == {"1": 50, "2": 50}  # the store moved on...
    if point == "router":
        assert world.traffic()["weights"] == {"1": 90, "2": 10}  # ...the router did not
    again = advance_ramp(world.store, "churn/2", now=at(41), **world.options())
    assert (again.did, again.router) == ("waiting", "applied" if point == "router" else "in line")
    assert world.traffic()["weights"] == {"1": 50, "2": 50}
    assert (
        world.traffic()["revision"]
        == stored.revision
        == read_deployment(world.store, "churn").revision
    )  # nothing new written by the repair
    assert len(read_ramp(world.store, stored.ramp).value["analyses"]) == 1


def test_a_crash_inside_the_store_transaction_changes_nothing(world: Any) -> None:
    with_champion(world)
    before = read_deployment(world.store, "churn")

    def crash(_tx: Any) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        change_traffic(world.store, before, {"1": 50, "2": 50}, change="set", actor="ana",
                       also=crash, **world.options())  # fmt: skip
    assert read_deployment(world.store, "churn") == before
    assert world.traffic()["weights"] == {"1": 100}


def test_two_controllers_racing_on_one_step_get_one_winner(world: Any) -> None:
    with_champion(world)
    start_ramp(world.store, "churn/2", schedule=[10, 100], bake_time=0, now=at(20),
               **world.options())  # fmt: skip
    stale = read_deployment(world.store, "churn")
    served = world.served({"1": 900, "2": 300}, start=at(20))
    advance_ramp(world.store, "churn/2", requests=served, now=at(30), **world.options())
    with pytest.raises(LifecycleConflictError, match="another change got there first"):
        change_traffic(world.store, stale, {"1": 80, "2": 20}, change="set", actor="eve",
                       **world.options())  # fmt: skip
    assert read_deployment(world.store, "churn").weights == {"2": 100}


def test_deramp_and_deprecate_restore_the_champion_and_refuse_the_last_server(
    world: Any,
) -> None:
    with_champion(world)
    started = start_ramp(world.store, "churn/2", schedule=[25, 100], bake_time=600,
                         now=at(20), **world.options())  # fmt: skip
    with pytest.raises(TransitionRefusedError, match="champion of churn/production"):
        deramp(world.store, "churn/1", **world.options())
    done = deprecate(world.store, "churn/2", actor="ana", reason="bad canary",
                     router=world.router, mlflow=False)  # fmt: skip
    assert done.state == "deprecated"
    assert [(d["removed_weight"], d["weights"]) for d in done.deramped] == [(25, {"1": 100})]
    assert world.traffic()["weights"] == {"1": 100}
    ramp = read_ramp(world.store, started.ramp["urn"])
    assert ramp.status == "aborted" and "de-ramped by ana" in ramp.value["note"]
    assert deramp(world.store, "churn/2", **world.options()).deployments == []  # nothing left
    with pytest.raises(TransitionRefusedError, match="only version serving churn/production"):
        deprecate(world.store, "churn/1", actor="ana", router=world.router, mlflow=False)
    assert lifecycle_state(world.store, "churn/1") == "published"
    forced = deprecate(world.store, "churn/1", actor="ana", force=True, router=world.router,
                       mlflow=False)  # fmt: skip
    assert forced.state == "deprecated" and world.traffic()["weights"] == {}


def test_hand_set_weights_go_back_to_the_champion(world: Any) -> None:
    with_champion(world)
    world.publish(3)
    change_traffic(world.store, read_deployment(world.store, "churn"),
                   {"1": 70, "2": 20, "3": 10}, change="set", actor="ana",
                   **world.options())  # fmt: skip
    done = deramp(world.store, "churn/3", actor="ana", **world.options())
    assert done.deployments[0]["removed_weight"] == 10
    assert world.traffic()["weights"] == {"1": 80, "2": 20}


@pytest.mark.integration
def test_mlflow_aliases_and_tags_follow_both_scenarios(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    for _ in range(3):
        client.create_model_version("churn", source=(tmp_path / "model").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    world.publish(1, 2, 3)
    options = {"router": world.router}
    start_ramp(world.store, "churn/1", bake_time=0, now=T0, **options)
    advance_ramp(world.store, "churn/1", now=at(1), requests=world.served({"1": 300}), **options)
    start_ramp(world.store, "churn/2", schedule=[50, 100], bake_time=0, now=at(20), **options)

    def mirrored() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        model = client.get_registered_model("churn")
        tags = {
            str(v.version): {k: val for k, val in v.tags.items() if k.startswith("aimops.")}
            for v in client.search_model_versions("name = 'churn'")
        }
        return {k: str(v) for k, v in model.aliases.items()}, tags

    aliases, tags = mirrored()
    assert aliases == {"champion": "1", "challenger": "2"}
    assert tags["2"]["aimops.traffic"] == "50" and tags["2"]["aimops.ramp"].startswith("ramping")
    for minute in (30, 40):
        served = world.served({"1": 300, "2": 300}, start=at(minute - 10))
        advance_ramp(world.store, "churn/2", now=at(minute), requests=served, **options)
    aliases, tags = mirrored()
    assert aliases == {"champion": "2"}
    assert (tags["1"]["aimops.traffic"], tags["2"]["aimops.traffic"]) == ("0", "100")
    assert tags["2"]["aimops.ramp"] == "complete urn:aim:ramp:churn/production/2"
    start_ramp(world.store, "churn/3", schedule=[10, 100], bake_time=0, now=at(50), **options)
    slow = world.served({"2": 900, "3": 300}, start=at(50), latency_ms={"3": 900.0})
    assert advance_ramp(world.store, "churn/3", requests=slow, now=at(60), **options).did == (
        "rolled_back"
    )
    aliases, tags = mirrored()
    assert aliases == {"champion": "2"}
    assert tags["3"] == {"aimops.lifecycle_state": "published", "aimops.traffic": "0",
                         "aimops.ramp": "rolled_back urn:aim:ramp:churn/production/3"}  # fmt: skip
    assert ramp_status(world.store, "churn/3").status == "rolled_back"
