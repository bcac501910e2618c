"""``models show``: how each version serves, from real ramps in a real store.

``churn`` 1 is rolled out in production and in staging, 2 ramps to champion of production, 3
is rolled back there and 4 is ramping; the JSON keeps ``traffic`` (production's percent),
``champion`` (a bool) and ``ramp`` (a line), and adds what says it per environment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aimops.cli import main
from aimops.metadata import AimStore
from aimops.metadata.lifecycle.routers import FileRouter
from aimops.metadata.recording import record_model_version
from aimops.metadata.views import model_deployments, model_details, model_ramps
from aimops.monitors.ramps.engine import advance_ramp, start_ramp

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
PRODUCTION = "urn:aim:ramp:churn/production"


def _requests(split: dict[str, int], slow: str | None = None) -> pd.DataFrame:
    frames = []
    for version, count in split.items():
        frames.append(pd.DataFrame({
            "timestamp": pd.Timestamp(T0), "model_version": f"churn/{version}",
            "latency_ms": [900.0 if version == slow else 40.0] * count, "status": 200,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AimStore]:
    with AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}") as opened:
        router, clock = FileRouter(tmp_path / "traffic"), [T0]

        def options(**more: Any) -> dict[str, Any]:
            clock[0] += dt.timedelta(minutes=5)
            return {"router": router, "mlflow": False, "now": clock[0], **more}

        for number in (1, 2, 3, 4, 5):
            version = record_model_version(opened, "churn", number)
            opened.put_aspect(version, "lifecycle", {
                "state": "published", "transition": "publish", "previous": "publishable",
                "actor": "ana", "at": T0})  # fmt: skip
        for environment in ("production", "staging"):
            start_ramp(opened, "churn/1", bake_time=0, **options(environment=environment))
            advance_ramp(opened, "churn/1", requests=_requests({"1": 150}),
                         **options(environment=environment))  # fmt: skip
        start_ramp(opened, "churn/2", schedule=[50, 100], bake_time=0, **options())
        for _ in range(2):
            advance_ramp(opened, "churn/2", requests=_requests({"2": 150, "1": 150}), **options())
        start_ramp(opened, "churn/3", schedule=[10, 100], bake_time=0, **options())
        advance_ramp(opened, "churn/3", requests=_requests({"3": 150, "2": 150}, slow="3"),
                     alert=False, **options())  # fmt: skip
        start_ramp(opened, "churn/4", schedule=[1, 5, 25, 50, 100], bake_time=0, **options())
        advance_ramp(opened, "churn/4", requests=_requests({"4": 150, "2": 150}), **options())
        yield opened


def _serving(version: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(version[key] for key in ("traffic", "champion", "ramp"))


def test_models_show_says_how_each_version_serves(store: AimStore) -> None:
    details = model_details(store, "churn")
    assert details is not None
    versions = {version["version"]: version for version in details["versions"]}
    staging = "urn:aim:ramp:churn/staging/1"  # its newest ramp
    assert _serving(versions["1"]) == (0, True, f"complete 1/1 at 100% {staging}")
    assert _serving(versions["2"]) == (95, True, f"complete 2/2 at 100% {PRODUCTION}/2")
    assert _serving(versions["3"]) == (0, False, f"rolled_back 1/2 at 10% {PRODUCTION}/3")
    assert _serving(versions["4"]) == (5, False, f"ramping 2/5 at 5% {PRODUCTION}/4")
    assert _serving(versions["5"]) == (0, False, "none")
    one, two, four = versions["1"], versions["2"], versions["4"]
    assert (one["traffic_label"], one["champion_label"]) == ("staging 100%", "yes (staging)")
    assert (one["traffic_by_environment"], one["champion_in"]) == ({"staging": 100}, ["staging"])
    assert (two["traffic_label"], two["champion_label"]) == ("production 95%", "yes (production)")
    assert (four["traffic_label"], four["champion_label"]) == ("production 5%", "no")
    assert (four["ramp_status"], four["ramp_urn"]) == ("ramping", f"{PRODUCTION}/4")
    assert (versions["5"]["ramp_status"], versions["5"]["ramp_urn"]) == ("none", None)
    assert versions["3"]["traffic_label"] == "0%"


def test_deployments_and_ramps_of_a_model_are_read_in_a_few_queries(store: AimStore) -> None:
    deployments = model_deployments(store, "churn")
    assert [(d.environment, d.weights, d.champion) for d in deployments] == [
        ("production", {"2": 95, "4": 5}, "2"), ("staging", {"1": 100}, "1"),
    ]  # fmt: skip
    ramps = model_ramps(store, "churn")
    assert [(r.environment, r.version, r.status) for r in ramps] == [
        ("production", "1", "complete"), ("production", "2", "complete"),
        ("production", "3", "rolled_back"), ("production", "4", "ramping"),
        ("staging", "1", "complete"),
    ]  # fmt: skip
    assert model_deployments(store, "churn2") == [] and model_ramps(store, "chur") == []


def test_the_cli_prints_and_emits_it(
    store: AimStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    assert main(["models", "show", "churn", "--json", "--store", url]) == 0
    shown = {v["version"]: v for v in json.loads(capsys.readouterr().out)["versions"]}
    assert shown["4"]["ramp"] == f"ramping 2/5 at 5% {PRODUCTION}/4"
    assert shown["2"]["champion_label"] == "yes (production)"
    assert main(["models", "show", "churn", "--store", url]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["4"][2:7] == ["production", "5%", "ramping", "2/5", "at"]
    assert rows["2"][2:6] == ["production", "95%", "yes", "(production)"]
