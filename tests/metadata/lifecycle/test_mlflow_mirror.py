"""MLflow's registry mirrors the lifecycle: the tag ``aimops.lifecycle_state`` on each version.

Real MLflow (a SQLite registry in the test's folder). The AIM store is the truth: without
MLflow everything works; when MLflow fails the transition stands and says so, and the next
mirror (``models sync`` or the next transition) brings every version back in line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aimops.metadata import AimStore
from aimops.metadata.lifecycle import (
    MlflowTarget,
    deprecate,
    lifecycle_state,
    mirror_model,
    request_review,
)
from aimops.metadata.lifecycle.mlflow_mirror import TAG

pytestmark = pytest.mark.integration

#: A port nothing listens on: MLflow's server is down.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An MLflow registry holding churn versions 1 and 2 (3 is only in AIM)."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    for _ in range(2):
        client.create_model_version("churn", source=(tmp_path / "model").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return client


def _tags(client: Any) -> dict[str, str | None]:
    return {
        str(found.version): (found.tags or {}).get(TAG)
        for found in client.search_model_versions("name = 'churn'")
    }


def test_each_transition_sets_the_tag_and_the_version_only_in_aim_is_left_alone(
    store: AimStore, evidence: Any, registry: Any
) -> None:
    first = evidence.reviewable(1)
    evidence.version(2)
    evidence.version(3)
    review = request_review(store, first, actor="ana")
    assert review.mlflow == "synced"
    assert _tags(registry) == {"1": "in_review", "2": "registered"}
    deprecate(store, first, actor="ana", reason="replaced")
    assert _tags(registry) == {"1": "deprecated", "2": "registered"}
    outcome = mirror_model(store, "churn")
    assert (outcome.updated, outcome.in_line, outcome.absent) == ((), ("1", "2"), ("3",))


def test_when_mlflow_is_down_the_transition_stands_and_a_sync_repairs_the_tags(
    store: AimStore, evidence: Any, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = evidence.reviewable(1)
    evidence.version(2)
    mirror_model(store, "churn")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    review = request_review(store, version, actor="ana")
    assert review.mlflow.startswith("failed: ")
    assert lifecycle_state(store, version) == "in_review"
    assert _tags(registry)["1"] == "registered"  # MLflow missed it

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    synced = mirror_model(store, "churn")
    assert (synced.summary, synced.updated) == ("synced", ("1",))
    assert _tags(registry) == {"1": "in_review", "2": "registered"}


def test_without_mlflow_configured_everything_else_works(store: AimStore, evidence: Any) -> None:
    version = evidence.reviewable(1)
    assert request_review(store, version, actor="ana").mlflow == "not configured"
    assert mirror_model(store, "churn").summary == "not configured"


def test_an_explicit_target_wins_and_mlflow_false_skips_the_mirror(
    store: AimStore, evidence: Any, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = MlflowTarget(registry.tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    version = evidence.reviewable(1)
    evidence.version(2)
    assert request_review(store, version, actor="ana", mlflow=False).mlflow == "off"
    assert _tags(registry) == {"1": None, "2": None}
    assert deprecate(store, version, actor="ana", mlflow=target).mlflow == "synced"
    assert _tags(registry) == {"1": "deprecated", "2": "registered"}


def test_a_model_mlflow_does_not_hold_is_said_to_be_absent(
    store: AimStore, evidence: Any, registry: Any
) -> None:
    version = evidence.version(1, "fraud")
    outcome = deprecate(store, version, actor="ana", reason="never trained")
    assert outcome.mlflow == "not in the MLflow registry"


def test_a_model_name_mlflow_filters_cannot_quote_is_mirrored_too(
    store: AimStore, evidence: Any, registry: Any
) -> None:
    registry.create_registered_model("o'brien")
    registry.create_model_version("o'brien", source="file:///tmp/model")
    version = evidence.version(1, "o'brien")
    assert deprecate(store, version, actor="ana", reason="renamed").mlflow == "synced"
    assert registry.get_model_version("o'brien", "1").tags[TAG] == "deprecated"
    assert mirror_model(store, "o'brien").in_line == ("1",)


def test_a_password_in_mlflow_s_error_is_not_repeated(
    store: AimStore, evidence: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ana:s3cret@127.0.0.1:9")
    outcome = deprecate(store, evidence.version(1), actor="ana")
    assert outcome.mlflow.startswith("failed: ") and "s3cret" not in outcome.mlflow
