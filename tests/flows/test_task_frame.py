"""The Prefect side of the task frame and the ``AimopsStore`` block, run for real: what a task
is keyed by, which failures are retried, where it records, and what Prefect's server shows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from aimops.errors import ConfigurationError, InvalidDataError, InvalidInputError, StoreBusyError
from aimops.flows.artifacts import ProgressView, artifact_key
from aimops.flows.blocks import AimopsStore, resolve_store
from aimops.flows.frame import TaskIdentity, aimops_task, current_identity, in_frame
from aimops.metadata.store import AimStore

TRIES: dict[str, int] = {}


def _identity() -> TaskIdentity:
    return current_identity()


def _fails_with(name: str, error: Exception, *, succeed_on: int | None = None) -> str:
    """Counts its tries; raises ``error`` until try ``succeed_on``."""
    TRIES[name] = TRIES.get(name, 0) + 1
    if succeed_on is None or TRIES[name] < succeed_on:
        raise error
    return current_identity().key


def _record(name: str, store: Any = None) -> str:
    """Records a data set in the store the task was given."""
    from aimops import record_dataset

    return in_frame(store, lambda aim: str(record_dataset(aim, name, rows=3)))


identity_task = aimops_task(_identity)
failing_task = aimops_task(_fails_with).with_options(retry_delay_seconds=0)
recording_task = aimops_task(_record)


@flow
def identities() -> list[TaskIdentity]:
    return [identity_task(), identity_task(), identity_task.with_options(name="renamed")()]


@flow
def fails(name: str, error: Exception, succeed_on: int | None = None) -> str:
    return failing_task(name, error, succeed_on=succeed_on)


@flow
def records(name: str, store: Any = None) -> str:
    return recording_task(name, store)


def _state_of(flow_fn: Any, *args: Any, **kwargs: Any) -> Any:
    return flow_fn(*args, **kwargs, return_state=True)


def test_what_a_task_records_is_keyed_by_its_flow_run_and_call(aim_home: Path) -> None:
    first, second, renamed = identities()
    assert first.flow_name == "identities" and first.task_name == "_identity"
    assert first.key == f"prefect/identities/{first.flow_run_id}/_identity"
    assert second.key == f"prefect/identities/{first.flow_run_id}/_identity/1"
    assert renamed.key == f"prefect/identities/{first.flow_run_id}/renamed"
    assert first.producer == f"urn:aim:step:{first.key}"
    assert first.actor == "prefect:identities"
    assert first.origin() == {
        "kind": "prefect",
        "run": f"urn:aim:run:prefect/identities/{first.flow_run_id}",
        "task": f"urn:aim:step:{first.key}",
    }
    alone = identity_task()  # a task run outside any flow run is its own run
    assert alone.flow_name == alone.task_name == "_identity"
    assert alone.key.startswith("prefect/_identity/") and alone.index is None


def test_a_permanent_error_fails_at_once_and_a_transient_one_retries(
    aim_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        state = _state_of(fails, "bad", InvalidDataError("labels hold NaN"))
    assert state.is_failed() and TRIES["bad"] == 1  # 2 retries, none used
    assert "labels hold NaN (permanent: not retried)" in caplog.text

    state = _state_of(fails, "busy", StoreBusyError("database is locked"))
    assert state.is_failed() and TRIES["busy"] == 3  # the first try and both retries

    key = fails("flaky", StoreBusyError("database is locked"), succeed_on=2)
    assert TRIES["flaky"] == 2
    assert key.endswith("/_fails_with")  # the retry kept the task run's identity

    state = _state_of(fails, "foreign", ConnectionError("reset by peer"))
    assert state.is_failed() and TRIES["foreign"] == 3  # not aimops': the retries decide


def test_without_a_block_a_task_records_where_the_environment_says(aim_home: Path) -> None:
    urn = records("churn_features")
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        assert store.get_entity(urn) is not None


def test_a_saved_block_names_the_store_and_keeps_its_url_secret(
    aim_home: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    AimStore.open(f"sqlite:///{elsewhere}", create=True).close()
    AimopsStore(store_url=f"sqlite:///{elsewhere}", report_dir=str(tmp_path / "r")).save(
        "frame-test", overwrite=True
    )
    urn = records("churn_labels", "frame-test")
    with AimStore.open(f"sqlite:///{elsewhere}") as store:
        assert store.get_entity(urn) is not None
    assert not (aim_home / "aim.db").exists()  # nothing went to the environment's store

    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(
            "frame-test", "aimops-store", include_secrets=False
        )
        assert document.data["store_url"] != f"sqlite:///{elsewhere}"  # obfuscated
        assert document.block_type.name == "AIM store"
    loaded = resolve_store("frame-test")
    assert loaded.store_location() == f"sqlite:///{elsewhere}"
    assert loaded.reports() == str(tmp_path / "r")


def test_aimops_is_a_prefect_collection_whose_module_holds_the_block() -> None:
    # what a Prefect server loads at start to register the block (tests/e2e checks a fresh
    # server lists it; here a saved block of an earlier test would register it anyway)
    from importlib.metadata import entry_points

    found = {e.name: e for e in entry_points(group="prefect.collections")}
    assert found["aimops"].load().AimopsStore is AimopsStore
    assert AimopsStore.get_block_type_slug() == "aimops-store"
    assert "AIMOPS_STORE_URL" in (AimopsStore.get_description() or "")


def test_a_wrong_store_fails_at_once_with_what_was_wrong(aim_home: Path) -> None:
    state = _state_of(records, "x", "no-such-block")
    assert state.is_failed()
    with pytest.raises(ConfigurationError, match="no AimopsStore block named 'no-such-block'"):
        state.result()
    with pytest.raises(InvalidInputError, match="not a URL"):
        records("x", "postgresql://aim:secret@db/aim")
    with pytest.raises(InvalidInputError, match="store= takes an AimopsStore block"):
        records("x", 42)


def test_block_fields_fall_back_to_the_environment(
    aim_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_STORE_URL", "sqlite:////srv/env.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # MLflow sets it for the process
    block = AimopsStore()
    assert block.store_location() == "sqlite:////srv/env.db"
    assert block.mlflow_uris() == ("http://mlflow:5000", "http://mlflow:5000")
    assert block.reports() == "default"
    given = AimopsStore(mlflow_tracking_uri="http://a", mlflow_registry_uri="http://b")
    location = given.model_location()
    assert (location.tracking_uri, location.registry_uri) == ("http://a", "http://b")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert AimopsStore().mlflow_target() is True  # the core's local default


@flow
def publishes(verdict: str) -> dict[str, str]:
    return aimops_task(_publish)(verdict)


def _publish(verdict: str) -> dict[str, str]:
    return ProgressView(
        "drift", "Churn Model", f"### drift\n\n**Verdict: {verdict}**", "drift of churn",
        table=[{"column": "age", "score": 0.31, "drifted": True, "bad": float("nan")}],
        link="file:///tmp/report.html",
    ).publish()  # fmt: skip


def test_artifacts_accumulate_under_stable_keys(aim_home: Path) -> None:
    keys = publishes("pass")
    publishes("fail")
    assert keys == {
        "markdown": "aimops-drift-churn-model",
        "table": "aimops-drift-churn-model-table",
        "link": "aimops-drift-churn-model-link",
    }
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys.values())))
        )
    by_key: dict[str, list[Any]] = {}
    for artifact in found:
        by_key.setdefault(str(artifact.key), []).append(artifact)
    assert all(len(by_key[key]) >= 2 for key in keys.values()), by_key  # two runs' history
    verdicts = {a.data.split("Verdict: ")[1].rstrip("*") for a in by_key[keys["markdown"]]}
    assert {"pass", "fail"} <= verdicts
    assert {a.type for a in by_key[keys["table"]]} == {"table"}
    assert '"bad": "nan"' in by_key[keys["table"]][0].data  # NaN kept readable, not refused
    assert "file:///tmp/report.html" in by_key[keys["link"]][0].data


def test_artifact_keys_use_prefects_alphabet() -> None:
    assert artifact_key("feature-consistency", "Churn/3 (EU)") == (
        "aimops-feature-consistency-churn-3-eu"
    )
    assert artifact_key("lifecycle", None) == "aimops-lifecycle-any"
    assert len(artifact_key("drift", "x" * 300)) <= 90
