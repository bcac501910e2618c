"""Recording checks: entity, aspects, edges, points; idempotent; refused when inconsistent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata import AimStore
from aimops.monitors import check_drift
from aimops.monitors.checks.recording import list_checks, record_check


def _frames(shift: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    columns = {"y": (5, 2), "z": (-3, 0.5)}
    reference = pd.DataFrame(
        {"x": rng.normal(0, 1, 2000)} | {k: rng.normal(*v, 2000) for k, v in columns.items()}
    )
    current = pd.DataFrame(
        {"x": rng.normal(shift, 1, 2000)} | {k: rng.normal(*v, 2000) for k, v in columns.items()}
    )
    return reference, current


def test_a_check_is_an_entity_of_its_targets_with_points(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", "3")
    result = check_drift(*_frames(shift=1.0))
    assert result.status == "warn" and result.columns["x"].drifted
    urn = result.record(store, target=[version, "urn:aim:dataset:serving-2026-11-27"], key="d/1")
    info = store.get_aspect(urn, "checkInfo").value
    assert (info["kind"], info["status"]) == ("drift", "warn")
    assert store.get_aspect(urn, "checkResult").value["document"] == result.to_dict()
    assert sorted(e.urn for e in store.related(urn, "checks")) == sorted(
        [str(version), "urn:aim:dataset:serving-2026-11-27"]
    )
    (point,) = store.get_points(version, "check.drift.drift_share")
    assert point.value == pytest.approx(1 / 3)  # one column of three drifted: a warning
    found = store.search("check", where=[("metrics.drift_share", ">", 0.3)])
    assert [e.urn for e in found] == [str(urn)]
    listed = list_checks(store, model="churn", kind="drift")
    assert [(c["urn"], c["status"], c["target"]) for c in listed] == [
        (str(urn), "warn", str(version))
    ]
    assert list_checks(store, model="other") == [] and list_checks(store, kind="health") == []


def test_recording_again_adds_nothing_and_a_retry_is_a_new_point(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", "3")
    first = check_drift(*_frames(shift=1.0))
    record_check(store, first, target=version, key="d/2")
    history = len(store.history("urn:aim:check:d/2"))
    record_check(store, first, target=version, key="d/2")
    assert len(store.history("urn:aim:check:d/2")) == history
    assert len(store.get_points(version, "check.drift.drift_share")) == 1
    second = check_drift(*_frames(shift=0.0, seed=1))
    record_check(store, second, target=version, key="d/2")
    shares = [p.value for p in store.get_points(version, "check.drift.drift_share")]
    assert shares == [first.metrics["drift_share"], second.metrics["drift_share"]]
    assert store.count("check") == 1


def test_inconsistent_or_unknown_targets_are_refused_and_nothing_is_written(
    store: AimStore,
) -> None:
    result = check_drift(*_frames())
    with pytest.raises(MissingEntityError, match="urn:aim:modelVersion:nope/1"):
        record_check(store, result, target="urn:aim:modelVersion:nope/1", key="bad")
    with pytest.raises(InvalidInputError, match="a check's targets are"):
        record_check(store, result, target="urn:aim:run:python/p/1")
    record_check(store, result, target="urn:aim:dataset:a", key="k")
    with pytest.raises(InvalidInputError, match="a check key names one check"):
        record_check(store, result, target="urn:aim:dataset:b", key="k")
    with pytest.raises(InvalidInputError, match="unknown check kind"):
        list_checks(store, kind="speed")
    assert store.count("check") == 1
