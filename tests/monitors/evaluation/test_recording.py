"""Recording evaluations: entity, aspects, edges, points; idempotent; nothing on bad input."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

import aimops
from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata import AimStore
from aimops.monitors import compare, evaluate_binary, load_evaluation, record_evaluation
from aimops.monitors.evaluation.recording import latest_evaluation

ROWS = 200


def _scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, ROWS)
    return y, np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, ROWS), 0, 1)


def _counts(store: AimStore) -> tuple[int, int]:
    with store.engine.connect() as connection:
        entities = connection.exec_driver_sql("SELECT count(*) FROM aim_entities").scalar()
        aspects = connection.exec_driver_sql("SELECT count(*) FROM aim_aspects").scalar()
    return int(entities or 0), int(aspects or 0)


def test_an_evaluation_is_an_entity_with_parts_edges_and_points(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", "3")
    y, s = _scores()
    result = evaluate_binary(y, s, label="churn/3")
    urn = record_evaluation(store, result, model_version=version, dataset="churn_test")
    assert str(urn).startswith("urn:aim:evaluation:churn/3/")
    aspects = store.get_aspects(urn)
    assert set(aspects) >= {
        "evaluationInfo", "metrics", "rocCurve", "prCurve", "calibrationCurve",
        "confusionMatrix", "thresholdTable",
    }  # fmt: skip
    assert aspects["metrics"].value["auroc"] == result.metrics["auroc"]
    assert [e.urn for e in store.related(urn, "evaluates")] == [str(version)]
    assert [e.urn for e in store.related(urn, "evaluatedOn")] == ["urn:aim:dataset:churn_test"]
    (point,) = store.get_points(version, "eval.auroc")
    assert point.value == result.metrics["auroc"]
    found = store.search("evaluation", where=[("metrics.auroc", ">", 0.5)])
    assert [entity.urn for entity in found] == [str(urn)]
    document = load_evaluation(store, urn)
    expected = result.to_dict()
    assert {key: document[key] for key in expected} == expected
    assert latest_evaluation(store, version, dataset="churn_test")["urn"] == str(urn)


def test_recording_the_same_evaluation_again_adds_nothing(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", "3")
    y, s = _scores()
    first = record_evaluation(store, evaluate_binary(y, s), model_version=version, key="t/1")
    before = _counts(store)
    again = record_evaluation(store, evaluate_binary(y, s), model_version=version, key="t/1")
    assert again == first
    assert _counts(store) == before
    assert len(store.get_points(version, "eval.auroc")) == 1
    # Without a key the URN is a fingerprint of the result: also stable.
    a = record_evaluation(store, evaluate_binary(y, s), model_version=version)
    b = record_evaluation(store, evaluate_binary(y, s), model_version=version)
    assert a == b


def test_a_retry_with_a_different_result_appends_versions_under_the_same_urn(
    store: AimStore,
) -> None:
    version = aimops.record_model_version(store, "churn", "3")
    y, s = _scores()
    first = evaluate_binary(y, s)
    second = evaluate_binary(y, np.clip(s + 0.2 * (y - 0.5), 0, 1))
    urn = record_evaluation(store, first, model_version=version, key="retry/1")
    record_evaluation(store, second, model_version=version, key="retry/1")
    assert len(store.history(urn, "metrics")) == 2
    assert store.count("evaluation") == 1
    # The time series shows both results, the later one last.
    points = store.get_points(version, "eval.auroc")
    assert [p.value for p in points] == [first.metrics["auroc"], second.metrics["auroc"]]
    recorded_at = datetime.fromisoformat(load_evaluation(store, urn)["evaluated_at"])
    assert recorded_at == points[-1].timestamp


def test_a_key_names_one_evaluation_of_one_version_on_one_data_set(store: AimStore) -> None:
    versions = [aimops.record_model_version(store, "churn", v) for v in ("1", "2")]
    y, s = _scores()
    record_evaluation(store, evaluate_binary(y, s), model_version=versions[0], key="k")
    before = _counts(store)
    with pytest.raises(InvalidInputError, match="an evaluation key names one evaluation"):
        record_evaluation(store, evaluate_binary(y, s), model_version=versions[1], key="k")
    with pytest.raises(InvalidInputError, match="on no data set; it cannot now evaluate"):
        record_evaluation(
            store, evaluate_binary(y, s), model_version=versions[0], dataset="other", key="k"
        )
    assert _counts(store) == before
    assert [e.urn for e in store.related("urn:aim:evaluation:k", "evaluates")] == [str(versions[0])]


def test_bad_input_records_nothing(store: AimStore) -> None:
    y, s = _scores()
    result = evaluate_binary(y, s)
    before = _counts(store)
    with pytest.raises(MissingEntityError, match="model version urn:aim:modelVersion:nope/1"):
        record_evaluation(store, result, model_version="urn:aim:modelVersion:nope/1")
    with pytest.raises(InvalidInputError, match="not model version URNs"):
        record_evaluation(store, result, model_version="urn:aim:dataset:x")
    with pytest.raises(InvalidInputError, match="needs kind"):
        record_evaluation(store, {"n": 3, "metrics": {}})
    assert _counts(store) == before


def test_a_comparison_evaluates_every_version(store: AimStore) -> None:
    versions = [aimops.record_model_version(store, "churn", v) for v in ("1", "2")]
    y, s = _scores()
    result = compare(y, {"churn/1": s, "churn/2": np.clip(s * 0.9, 0, 1)}, n_bootstrap=60)
    urn = record_evaluation(store, result, model_version=versions, dataset="holdout")
    assert sorted(e.urn for e in store.related(urn, "evaluates")) == sorted(map(str, versions))
    document = load_evaluation(store, urn)
    assert document["kind"] == "comparison"
    assert document["deltas"] == [delta.to_dict() for delta in result.deltas]
    assert document["model_versions"] == [str(v) for v in versions]


def test_a_part_that_a_retry_no_longer_has_does_not_linger(store: AimStore) -> None:
    from aimops.monitors.evaluation.analyzers import AnalysisInput, analyze

    y, s = _scores()
    groups = np.where(np.arange(ROWS) % 2 == 0, "a", "b")
    data = AnalysisInput(y, s, options={"groups": groups})
    urn = record_evaluation(store, analyze(data, ["binary", "fairness"]), key="parts/1")
    assert "fairness" in load_evaluation(store, urn)
    record_evaluation(store, analyze(data, ["binary"]), key="parts/1")
    again = load_evaluation(store, urn)
    assert "fairness" not in again and "roc" in again
    with pytest.raises(InvalidInputError, match="is a binary evaluation; it cannot now hold a"):
        from aimops.monitors import evaluate_regression

        record_evaluation(store, evaluate_regression([1.0, 2.0], [1.5, 2.5]), key="parts/1")
