"""Reference data: stored once per model version, found again by the version alone."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import InvalidDataError, MissingEntityError, NotFoundError
from aimops.metadata import AimStore
from aimops.monitors.checks import reference_data
from aimops.monitors.checks.reference_data import load_reference, register_reference


def _training_frame(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "visits": rng.poisson(3, rows),
            "plan": rng.choice(["basic", "pro", "team"], rows),
        }
    )


def test_a_registered_reference_is_found_by_its_model_version(
    store: AimStore, tmp_path: Path
) -> None:
    version = aimops.record_model_version(store, "churn", 3)
    frame = _training_frame()

    urn = register_reference(store, version, frame)

    assert str(urn) == "urn:aim:artifact:reference/churn/3"
    pd.testing.assert_frame_equal(load_reference(store, "urn:aim:modelVersion:churn/3"), frame)
    info = store.get_aspect(urn, "artifactInfo")
    assert info is not None and info.value["kind"] == "reference_data"
    assert info.value["uri"] == (tmp_path / "home/reference/churn/3/reference.parquet").as_uri()
    assert info.value["checksum"].startswith("sha256:") and info.value["size_bytes"] > 0
    described = store.get_aspect(urn, "params")
    assert described is not None
    assert described.value == {
        "rows": "500",
        "columns": '["age", "visits", "plan"]',
        "sampled_from": "500",
    }
    assert [entity.urn for entity in store.related(urn, "partOf")] == [str(version)]


def test_a_large_frame_is_sampled_the_same_way_for_the_same_seed(
    store: AimStore, tmp_path: Path
) -> None:
    version = aimops.record_model_version(store, "churn", 4)
    frame = _training_frame(1000)

    urn = register_reference(store, version, frame, max_rows=100, seed=5, folder=tmp_path / "a")
    first = load_reference(store, version)
    register_reference(store, version, frame, max_rows=100, seed=5, folder=tmp_path / "b")
    again = load_reference(store, version)
    register_reference(store, version, frame, max_rows=100, seed=6, folder=tmp_path / "c")
    other = load_reference(store, version)

    assert len(first) == 100 and not first.duplicated().any()
    assert pd.merge(first, frame).shape == first.shape  # every sampled row is a real row
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert (tmp_path / "c/reference.parquet").is_file()
    described = store.get_aspect(urn, "params")
    assert described is not None and described.value["sampled_from"] == "1000"
    assert described.value["sample_seed"] == "6"


def test_registering_the_same_frame_again_adds_nothing(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", 5)
    frame = _training_frame(50)

    first = register_reference(store, version, frame)
    again = register_reference(store, version, frame)

    assert first == again
    assert len(store.history(first, "artifactInfo")) == 1
    assert len(store.history(first, "params")) == 1
    assert store.count("artifact") == 1


def test_an_unknown_model_version_is_refused_and_nothing_is_written(
    store: AimStore, tmp_path: Path
) -> None:
    with pytest.raises(MissingEntityError, match="churn/9 is not in the store"):
        register_reference(store, "urn:aim:modelVersion:churn/9", _training_frame(10))

    assert store.count("artifact") == 0
    assert not (tmp_path / "home/reference").exists()


def test_no_reference_or_a_lost_file_is_a_clear_error(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", 6)

    with pytest.raises(NotFoundError, match=r"no reference data is registered .*churn/6"):
        load_reference(store, version)

    register_reference(store, version, _training_frame(10))
    path = Path(aimops.settings.aimops_home()) / "reference/churn/6/reference.parquet"
    path.unlink()
    with pytest.raises(NotFoundError, match=f"recorded at {path}, but that file is gone"):
        load_reference(store, version)


def test_an_empty_frame_is_refused(store: AimStore) -> None:
    version = aimops.record_model_version(store, "churn", 7)

    with pytest.raises(InvalidDataError, match="reference data is empty"):
        register_reference(store, version, _training_frame().iloc[:0])


def test_docstring_example() -> None:
    assert doctest.testmod(reference_data).failed == 0
