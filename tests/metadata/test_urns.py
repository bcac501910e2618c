"""URNs: what users type and what capture builds must name the same entity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimops.errors import MalformedUrnError
from aimops.metadata.urns import (
    Urn,
    dataset_urn,
    make_urn,
    model_version_urn,
    run_urn,
    step_urn,
)


def test_airflow_run_ids_with_colons_and_plus_are_encoded() -> None:
    urn = run_urn("airflow", "train", "scheduled__2024-01-01T00:00:00+00:00")
    assert str(urn) == ("urn:aim:run:airflow/train/scheduled__2024-01-01T00%3A00%3A00%2B00%3A00")
    assert Urn.parse(str(urn)) == urn


def test_raw_and_encoded_forms_name_the_same_entity() -> None:
    raw = Urn.parse("urn:aim:run:airflow/train/manual__2024-01-01T00:00:00+00:00")
    assert raw == run_urn("airflow", "train", "manual__2024-01-01T00:00:00+00:00")


def test_step_keys_carry_map_index_only_when_mapped() -> None:
    assert str(step_urn("airflow", "d", "r", "t")) == "urn:aim:step:airflow/d/r/t"
    assert str(step_urn("airflow", "d", "r", "t", -1)) == "urn:aim:step:airflow/d/r/t"
    assert str(step_urn("airflow", "d", "r", "t", 3)) == "urn:aim:step:airflow/d/r/t/3"


def test_slashes_inside_a_segment_stay_inside_it() -> None:
    urn = dataset_urn("s3://bucket/path/train.csv")
    assert urn.segments == ("s3://bucket/path/train.csv",)
    assert Urn.parse(str(urn)).segments == ("s3://bucket/path/train.csv",)


def test_model_version_urn() -> None:
    assert str(model_version_urn("churn", 3)) == "urn:aim:modelVersion:churn/3"


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4))
def test_any_dataset_segments_round_trip(parts: list[str]) -> None:
    urn = make_urn("dataset", *parts)
    text = str(urn)
    assert Urn.parse(text) == urn
    assert all(ch.isalnum() or ch in "-._~%/:" for ch in text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("urn:aim:run", "no key"),
        ("urn:mlflow:run:abc", "must start with"),
        ("urn:aim:widget:x", "unknown entity type"),
        ("urn:aim:run:airflow/only-two", "3 segment"),
        ("urn:aim:run:cron/d/r", "starts with the orchestrator"),
        ("urn:aim:dataset:a//b", "empty key segment"),
        ("urn:aim:dataset:a b", "white space"),
        ("urn:aim:modelVersion:churn", "2 segment"),
    ],
)
def test_malformed_urns_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(MalformedUrnError, match=reason):
        Urn.parse(text)


def test_non_string_is_malformed() -> None:
    with pytest.raises(MalformedUrnError, match="must be a string"):
        Urn.parse(42)  # type: ignore[arg-type]
