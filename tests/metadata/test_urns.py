"""URNs: what users type and what capture builds must name the same entity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimops.errors import MalformedUrnError
from aimops.metadata.urns import (
    Urn,
    dataset_urn,
    make_urn,
    model_version_urn,
    pipeline_urn,
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


def test_map_index_zero_is_a_mapped_task_of_its_own() -> None:
    """Mapped task 0 is a step of its own: it must not share the unmapped step's URN."""
    first = step_urn("airflow", "d", "r", "t", 0)
    assert str(first) == "urn:aim:step:airflow/d/r/t/0"
    assert first != step_urn("airflow", "d", "r", "t")
    assert first != step_urn("airflow", "d", "r", "t", 1)
    assert Urn.parse(str(first)).segments[-1] == "0"


@pytest.mark.parametrize("orchestrator", ["airflow", "prefect", "python"])
def test_every_orchestrator_names_pipelines_runs_and_steps(orchestrator: str) -> None:
    assert str(pipeline_urn(orchestrator, "p")) == f"urn:aim:pipeline:{orchestrator}/p"
    assert run_urn(orchestrator, "p", "r").segments == (orchestrator, "p", "r")
    assert Urn.parse(f"urn:aim:step:{orchestrator}/p/r/t").type == "step"


@pytest.mark.parametrize("entity_type", ["pipeline", "run", "step"])
def test_an_unknown_orchestrator_is_refused(entity_type: str) -> None:
    segments = ["jenkins", "p", "r", "t"][: {"pipeline": 2, "run": 3, "step": 4}[entity_type]]
    with pytest.raises(MalformedUrnError, match="starts with the orchestrator"):
        make_urn(entity_type, *segments)


#: (type, segment counts it takes, counts it refuses).
SEGMENT_COUNTS = [
    ("project", [1, 2, 7], [0]),
    ("pipeline", [2], [0, 1, 3]),
    ("run", [3], [0, 2, 4]),
    ("step", [4, 5], [0, 3, 6]),
    ("dataset", [1, 2, 7], [0]),
    ("artifact", [1, 2, 7], [0]),
    ("model", [1], [0, 2]),
    ("modelVersion", [2], [0, 1, 3]),
    ("evaluation", [1, 2, 7], [0]),
    ("check", [1, 2, 7], [0]),
    ("deployment", [1, 2, 7], [0]),
]


@pytest.mark.parametrize(("entity_type", "taken", "refused"), SEGMENT_COUNTS)
def test_each_entity_type_takes_its_number_of_key_segments(
    entity_type: str, taken: list[int], refused: list[int]
) -> None:
    def segments(count: int) -> list[str]:
        return ["airflow", *(f"s{i}" for i in range(1, count))][:count]

    for count in taken:
        urn = make_urn(entity_type, *segments(count))
        assert Urn.parse(str(urn)) == urn
        assert str(urn).startswith(f"urn:aim:{entity_type}:")
    for count in refused:
        with pytest.raises(MalformedUrnError, match="segment"):
            make_urn(entity_type, *segments(count))


@pytest.mark.parametrize(
    ("entity_type", "count", "expected"),
    [
        ("model", 2, "a model key takes 1 segment(s), got 2"),
        ("step", 3, "a step key takes 4 to 5 segment(s), got 3"),
        ("dataset", 0, "a dataset key takes 1 to any number of segment(s), got 0"),
    ],
)
def test_a_wrong_segment_count_names_the_count_expected(
    entity_type: str, count: int, expected: str
) -> None:
    with pytest.raises(MalformedUrnError) as raised:
        make_urn(entity_type, *(["airflow", "d", "r"][:count] if count else []))
    assert str(raised.value).startswith(expected)


def test_a_lone_surrogate_is_not_a_key_segment() -> None:
    """Text that cannot be encoded cannot be stored or printed: refused when the URN is made."""
    with pytest.raises(MalformedUrnError, match="lone surrogate"):
        dataset_urn("bad\ud800name")
    assert dataset_urn("caf\u00e9").segments == ("caf\u00e9",)  # other non-ASCII text is fine


def test_urns_are_values_that_sets_dicts_and_sorting_can_use() -> None:
    first, again = Urn.parse("urn:aim:model:churn"), make_urn("model", "churn")
    assert {first, again} == {first}
    assert {first: 1}[again] == 1
    with pytest.raises(AttributeError):
        first.segments = ("other",)  # type: ignore[misc]
    unordered = [
        make_urn("run", "python", "p", "b"),
        make_urn("model", "z"),
        make_urn("run", "python", "p", "a"),
    ]
    assert [str(u) for u in sorted(unordered)] == [
        "urn:aim:model:z",
        "urn:aim:run:python/p/a",
        "urn:aim:run:python/p/b",
    ]


@pytest.mark.parametrize("text", ["urn:aim:dataset:", "urn:aim:dataset"])
def test_a_urn_without_a_key_says_so(text: str) -> None:
    with pytest.raises(MalformedUrnError, match="has no key"):
        Urn.parse(text)


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\t", "\n", " "])
def test_control_characters_and_white_space_are_refused_in_a_key(character: str) -> None:
    with pytest.raises(MalformedUrnError, match="white space or control characters"):
        Urn.parse(f"urn:aim:dataset:a{character}b")


def test_an_unknown_entity_type_lists_the_known_ones() -> None:
    with pytest.raises(MalformedUrnError) as raised:
        Urn.parse("urn:aim:widget:x")
    assert "known types: artifact, check, dataset, deployment, evaluation, model," in str(
        raised.value
    )


@pytest.mark.parametrize("segment", [1.5, True, None, b"raw"])
def test_a_key_segment_is_text_or_a_whole_number(segment: object) -> None:
    with pytest.raises(MalformedUrnError, match="must be text or a whole number"):
        make_urn("dataset", "ok", segment)  # type: ignore[arg-type]
    assert str(make_urn("modelVersion", "churn", np.int64(3))) == "urn:aim:modelVersion:churn/3"


@pytest.mark.parametrize("map_index", [1.5, True, "0"])
def test_a_map_index_is_a_whole_number(map_index: object) -> None:
    with pytest.raises(MalformedUrnError, match="map index must be a whole number"):
        step_urn("airflow", "d", "r", "t", map_index)  # type: ignore[arg-type]
    assert str(step_urn("airflow", "d", "r", "t", np.int64(2))).endswith("/t/2")
