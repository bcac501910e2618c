"""The shared argument checks: each refuses with a message naming the argument and what it got."""

from __future__ import annotations

import errno
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimops import validation
from aimops.errors import InvalidInputError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("spark", "engine is 'aimops' or 'evidently', not 'spark'"),
        (np.array(["aimops"]), "engine is 'aimops' or 'evidently', not array"),
        (None, "engine is 'aimops' or 'evidently', not None"),
    ],
)
def test_a_choice_is_one_of_the_words(value: object, message: str) -> None:
    assert validation.choice("aimops", "engine", ("aimops", "evidently")) == "aimops"
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        validation.choice(value, "engine", ("aimops", "evidently"))


def test_names_are_a_collection_of_hashable_values() -> None:
    assert validation.hashables(pd.Series(["a", "b"]), "features") == ("a", "b")
    assert validation.hashables(("a", 1, math.nan), "features")[:2] == ("a", 1)
    with pytest.raises(InvalidInputError, match="features must be a collection"):
        validation.hashables(3, "features")
    with pytest.raises(InvalidInputError, match="features must be a collection"):
        validation.hashables("age", "features")  # one name, not its letters
    with pytest.raises(InvalidInputError, match=r"item 1 of features must be a name"):
        validation.hashables(["a", {}], "features")


def test_metrics_are_finite_numbers_by_name() -> None:
    assert validation.number_mapping({"a": np.float32(0.5), "b": 2}, "metrics") == {
        "a": 0.5,
        "b": 2.0,
    }
    with pytest.raises(InvalidInputError, match=r"metrics\['a'\] must be a finite number"):
        validation.number_mapping({"a": math.nan}, "metrics")
    with pytest.raises(InvalidInputError, match="a key of metrics must be text"):
        validation.number_mapping({3: 1.0}, "metrics")
    assert validation.number_mapping({"x\ud800": 1.0}, "metrics", storable=False)


def test_shown_text_may_hold_a_lone_surrogate_stored_text_may_not() -> None:
    assert validation.text("a\ud800", "title", storable=False) == "a\ud800"
    with pytest.raises(InvalidInputError, match="lone surrogate at position 1"):
        validation.text("a\ud800", "title")
    assert validation.text_pairs({"log": "x"}, "links") == {"log": "x"}
    with pytest.raises(InvalidInputError, match=r"links\['log'\] must be text, not int"):
        validation.text_pairs({"log": 3}, "links")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "path must be a path"),
        (b"page.html", "path must be a path"),
        ("", "path must not be empty"),
        ("a\x00b", "path must not hold a NUL"),
        ("a\udcffb", "lone surrogate"),
    ],
)
def test_a_file_path_is_text_that_can_name_a_file(value: object, message: str) -> None:
    assert validation.file_path(Path("a") / "b.html", "path") == Path("a/b.html")
    with pytest.raises(InvalidInputError, match=message):
        validation.file_path(value, "path")


def test_a_path_the_file_system_refuses_is_bad_input_other_failures_stay_os_errors(
    tmp_path: Path,
) -> None:
    refused = pytest.raises(InvalidInputError, match=r"page cannot name a file here \(Is a")
    with refused, validation.usable_path(tmp_path, "page"):
        tmp_path.open("w")
    # the disk, not the path: trying later may work
    with pytest.raises(OSError) as raised, validation.usable_path(tmp_path / "p", "page"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not isinstance(raised.value, InvalidInputError)
