"""Aspects: payloads are validated on write and canonical so equal values compare equal."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aimops.errors import InvalidAspectError, UnknownAspectError
from aimops.metadata.aspects import canonical_json, index_rows, to_jsonable, validate_aspect
from aimops.metadata.states import normalize_state


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json("tags", {"b": "2", "a": "1"}) == canonical_json(
        "tags", {"a": "1", "b": "2"}
    )


def test_timestamps_are_stored_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    data = to_jsonable(
        "runInfo",
        {
            "pipeline": "p",
            "orchestrator": "python",
            "run_id": "1",
            "started_at": datetime(2026, 1, 1, 13, tzinfo=paris),
        },
    )
    assert data["started_at"] == "2026-01-01T12:00:00Z"


def test_unknown_aspect_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownAspectError, match=r"registered: .*runInfo"):
        validate_aspect("runInfoo", {})


def test_invalid_payload_names_the_field() -> None:
    with pytest.raises(InvalidAspectError, match="rows"):
        validate_aspect("datasetInfo", {"name": "iris", "rows": -5})


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidAspectError, match="colour"):
        validate_aspect("datasetInfo", {"name": "iris", "colour": "red"})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_metrics_must_be_finite(bad: float) -> None:
    with pytest.raises(InvalidAspectError, match="finite"):
        validate_aspect("metrics", {"auroc": bad})


def test_aspect_on_the_wrong_entity_type_is_refused() -> None:
    with pytest.raises(InvalidAspectError, match="belongs on run entities"):
        validate_aspect("runInfo", {}, "dataset")


def test_invalid_state_word_is_refused() -> None:
    with pytest.raises(InvalidAspectError, match="status"):
        validate_aspect(
            "runInfo", {"pipeline": "p", "orchestrator": "python", "run_id": "1", "status": "ok"}
        )


def test_map_aspects_index_every_key_and_structured_ones_their_declared_fields() -> None:
    assert sorted(index_rows("metrics", {"auroc": 0.9, "aupr": 0.5})) == [
        ("aupr", 0.5, None),
        ("auroc", 0.9, None),
    ]
    rows = dict(
        (field, (num, text))
        for field, num, text in index_rows(
            "runInfo",
            to_jsonable("runInfo", {"pipeline": "p", "orchestrator": "python", "run_id": "1"}),
        )
    )
    assert rows["status"] == (None, "running")
    assert "conf" not in rows


@pytest.mark.parametrize(
    ("orchestrator", "native", "expected"),
    [
        ("airflow", "up_for_retry", "failed"),
        ("airflow", "upstream_failed", "upstream_failed"),
        ("airflow", "success", "success"),
        ("prefect", "Crashed", "failed"),
        ("prefect", "Completed", "success"),
        ("prefect", "Cancelled", "cancelled"),
    ],
)
def test_native_states_map_to_the_shared_words(
    orchestrator: str, native: str, expected: str
) -> None:
    assert normalize_state(orchestrator, native) == expected


def test_unknown_native_state_is_an_error() -> None:
    from aimops.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown airflow state"):
        normalize_state("airflow", "exploded")


def test_utc_now_round_trips() -> None:
    now = datetime.now(UTC)
    data = to_jsonable(
        "runInfo", {"pipeline": "p", "orchestrator": "python", "run_id": "1", "started_at": now}
    )
    assert datetime.fromisoformat(data["started_at"]) == now
