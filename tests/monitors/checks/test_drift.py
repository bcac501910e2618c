"""Drift: the same scores and flags as Evidently 0.7.23's DataDriftPreset, and clear errors."""

from __future__ import annotations

import doctest
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidDataError
from aimops.monitors.checks import drift, drift_methods
from aimops.monitors.checks.drift import check_drift

EvidentlyRun = Callable[..., dict[str, Any]]
#: Evidently's display names of its methods, as its resolved ValueDrift configs show them.
EVIDENTLY_NAMES = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


@pytest.fixture(scope="module")
def evidently_drift() -> EvidentlyRun:
    """Runs Evidently's preset and reads back each column's score, method, threshold, flag."""
    pytest.importorskip("evidently")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def run(reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> dict[str, Any]:
        report = Report([DataDriftPreset(**options)], include_tests=True)
        with warnings.catch_warnings():
            # Its scipy calls warn on ±inf and on values unseen in the reference; ours do not.
            warnings.simplefilter("ignore", RuntimeWarning)
            document = report.run(current, reference).dict()
        columns: dict[str, dict[str, Any]] = {}
        verdict: dict[str, Any] = {}
        for metric in document["metrics"]:
            config = metric["config"]
            if config["type"].endswith(":ValueDrift"):
                method = EVIDENTLY_NAMES.get(config["method"], config["method"])
                columns[config["column"]] = {
                    "score": metric["value"],
                    "method": method,
                    "threshold": config["threshold"],
                }
            else:
                verdict["drift_share"] = metric["value"]["share"]
        for test in document["tests"]:
            params = test["metric_config"]["params"]
            failed = test["status"] == "FAIL"
            if params["type"].endswith(":ValueDrift"):
                columns[params["column"]]["drifted"] = failed
            else:
                verdict["dataset_drift"] = failed
        return {"columns": columns, **verdict}

    return run


def _frame(rows: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Numbers, few-valued numbers, strings, booleans and a category; ``shift`` drifts them."""
    rng = np.random.default_rng(seed)
    letters = np.array(["a", "b", "c", "d"])
    letter_odds = np.array([0.4, 0.3, 0.2, 0.1]) + np.array([-0.2, -0.1, 0.1, 0.2]) * shift
    return pd.DataFrame(
        {
            "income": rng.lognormal(10 + shift / 2, 0.5, rows),
            "age": rng.normal(40 + 5 * shift, 10, rows).round(1),
            "rating": rng.choice([1.0, 2.0, 3.0, 4.0], rows, p=[0.1, 0.2, 0.3, 0.4]),
            "visits": rng.poisson(3 + shift, rows),
            "flag": rng.random(rows) < 0.3 + 0.2 * shift,
            "segment": rng.choice(letters, rows, p=letter_odds),
            "channel": pd.Categorical(rng.choice(["web", "app"], rows, p=[0.6, 0.4])),
        }
    )


def _with_gaps(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The frame with a few NaN, None and ±inf cells (±inf only beside a NaN: see below)."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    rows = rng.choice(len(frame), 6, replace=False)
    frame.loc[rows[:2], "income"] = np.nan
    frame.loc[rows[2], "age"] = np.inf
    frame.loc[rows[3], "age"] = -np.inf
    frame.loc[rows[4], "age"] = np.nan
    frame["segment"] = frame["segment"].astype(object)
    frame.loc[rows[4:], "segment"] = None
    return frame


def _edge_frame(rows: int, seed: int, *, moved: bool = False) -> pd.DataFrame:
    """Columns at the edges of the method choice and of how aimops computes the scores."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "constant": np.full(rows, 3.0),
            "moved_constant": np.full(rows, 2.0 if moved else 1.0),
            # a reference of three values against a current of many (or the same three)
            "few_then_many": rng.normal(2, 1, rows) if moved else rng.choice([1.0, 2.0, 3.0], rows),
            "ties": rng.integers(0, 50 if moved else 40, rows).astype(float),
            "zeros": rng.choice([-0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0], rows),
            "counts": rng.integers(0, 130 if moved else 100, rows),
            "one_flag": rng.random(rows) < 0.5 if moved else np.ones(rows, dtype=bool),
            "tier": pd.Categorical(rng.choice(["gold", "silver", None], rows, p=[0.3, 0.6, 0.1])),
        }
    )


DATASETS = {
    "small, no drift": (lambda: _frame(400, 1), lambda: _frame(300, 2)),
    "small, drift": (lambda: _frame(400, 3), lambda: _frame(250, 4, shift=1.0)),
    "small, numbers only": (
        lambda: _frame(120, 5)[["income", "age"]],
        lambda: _frame(90, 6, shift=0.3)[["income", "age"]],
    ),
    "large, no drift": (lambda: _frame(1500, 7), lambda: _frame(1200, 8)),
    "large, drift": (lambda: _frame(2000, 9), lambda: _frame(1100, 10, shift=1.0)),
    "large, gaps": (
        lambda: _with_gaps(_frame(1200, 11), 12),
        lambda: _with_gaps(_frame(1000, 13, shift=0.4), 14),
    ),
    "small, edge cases": (lambda: _edge_frame(400, 15), lambda: _edge_frame(300, 16, moved=True)),
    "large, edge cases, no drift": (lambda: _edge_frame(1500, 17), lambda: _edge_frame(1400, 18)),
    "large, edge cases, drift": (
        lambda: _edge_frame(1500, 19),
        lambda: _edge_frame(1400, 20, moved=True),
    ),
}


def _assert_same(ours: drift.DriftResult, theirs: dict[str, Any]) -> None:
    assert list(ours.columns) == list(theirs["columns"])
    for name, column in ours.columns.items():
        expected = theirs["columns"][name]
        assert column.method == expected["method"], name
        assert column.threshold == expected["threshold"], name
        assert column.score == pytest.approx(expected["score"], abs=1e-9, rel=1e-9), name
        assert column.drifted is expected["drifted"], name
    assert ours.drift_share == pytest.approx(theirs["drift_share"], abs=1e-12)
    assert ours.dataset_drift is theirs["dataset_drift"]


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_scores_and_flags_match_evidently(dataset: str, evidently_drift: EvidentlyRun) -> None:
    make_reference, make_current = DATASETS[dataset]
    reference, current = make_reference(), make_current()

    ours = check_drift(reference, current)

    _assert_same(ours, evidently_drift(reference, current))


def test_the_datasets_cover_every_method_with_and_without_drift() -> None:
    seen = {
        (column.method, column.drifted)
        for reference, current in DATASETS.values()
        for column in check_drift(reference(), current()).columns.values()
    }

    assert {method for method, _ in seen} == set(drift_methods.DRIFT_METHODS)
    assert {drifted for _, drifted in seen} == {True, False}


def test_chosen_methods_thresholds_and_share_match_evidently(evidently_drift: EvidentlyRun) -> None:
    reference, current = _frame(1300, 21), _frame(900, 22, shift=0.2)
    methods = {"income": "jensenshannon", "age": "ks", "segment": "chisquare", "flag": "z"}
    thresholds = {"income": 0.05, "age": 0.2, "rating": 0.01}

    ours = check_drift(reference, current, methods=methods, thresholds=thresholds, drift_share=0.25)

    theirs = evidently_drift(
        reference,
        current,
        per_column_method=methods,
        per_column_threshold=thresholds,
        drift_share=0.25,
    )
    _assert_same(ours, theirs)


def test_jensen_shannon_asked_for_on_edge_columns_matches_evidently(
    evidently_drift: EvidentlyRun,
) -> None:
    # "few_then_many": at most 20 distinct reference values, so the bins are the distinct
    # values of both, though the current column has many; "ties": Sturges' bins.
    reference, current = _edge_frame(1500, 23), _edge_frame(1200, 24, moved=True)
    methods = dict.fromkeys(["few_then_many", "ties", "zeros", "counts"], "jensenshannon")

    ours = check_drift(reference, current, methods=methods)

    _assert_same(ours, evidently_drift(reference, current, per_column_method=methods))


def test_reference_data_read_back_from_parquet_gives_the_same_result(tmp_path: Path) -> None:
    reference, current = _with_gaps(_frame(1500, 25), 26), _frame(1200, 27, shift=0.5)
    reference = reference.assign(
        visits=reference["visits"].astype("Int64").mask(reference.index % 7 == 0),
        segment=reference["segment"].astype("string"),
    )
    path = tmp_path / "reference.parquet"
    reference.to_parquet(path, index=False)

    expected = check_drift(reference, current).to_dict()
    for backend in ("numpy_nullable", "pyarrow"):
        stored = pd.read_parquet(path, dtype_backend=backend)
        assert check_drift(stored, current).to_dict() == expected, backend
    assert check_drift(pd.read_parquet(path), current).to_dict() == expected


def test_nullable_numbers_are_scored_as_the_same_floats_without_the_gaps() -> None:
    rng = np.random.default_rng(28)
    values = rng.integers(0, 60, 3000).astype(float)
    values[::11] = np.nan
    reference = pd.DataFrame({"n": values[:1600]})
    current = pd.DataFrame({"n": values[1600:] + 3})
    nullable = (reference.astype("Int64"), current.astype("Int64"))

    for pair in (nullable, (reference.astype("Float64"), current.astype("Float64"))):
        ours = check_drift(*pair, numerical_columns=["n"])
        assert ours.to_dict() == check_drift(reference, current, numerical_columns=["n"]).to_dict()


def test_a_value_only_in_current_makes_chi_square_drift(evidently_drift: EvidentlyRun) -> None:
    reference = pd.DataFrame({"colour": ["red", "green", "blue"] * 40})
    current = pd.DataFrame({"colour": ["red", "green", "blue", "violet"] * 30})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = check_drift(reference, current)

    assert ours.columns["colour"].score == 0.0 and ours.columns["colour"].drifted
    _assert_same(ours, evidently_drift(reference, current))


def test_infinities_are_dropped_like_evidentlys_value_drift(
    evidently_drift: EvidentlyRun,
) -> None:
    # Evidently's per-column ValueDrift drops ±inf; the legacy metric behind its
    # DriftedColumnsCount drops them only from a column that also holds a NaN, scores "age"
    # NaN (not drifted) and so counts one drifted column fewer. aimops follows ValueDrift.
    reference, current = _frame(1200, 70), _frame(1000, 71, shift=1.0)
    reference.loc[[3, 7], "age"] = current.loc[[3, 7], "age"] = [np.inf, -np.inf]

    ours = check_drift(reference, current)

    theirs = evidently_drift(reference, current)
    assert ours.columns["age"].drifted and theirs["columns"]["age"]["drifted"]
    assert ours.columns["age"].score == pytest.approx(theirs["columns"]["age"]["score"], abs=1e-9)
    drifted = sum(column["drifted"] for column in theirs["columns"].values())
    assert ours.drift_share == drifted / len(theirs["columns"]) > theirs["drift_share"]


def test_status_follows_the_share_of_drifted_columns() -> None:
    rng = np.random.default_rng(30)
    reference = pd.DataFrame({name: rng.normal(size=200) for name in "abcd"})
    current = reference.sample(150, random_state=0)
    drifted_one = current.assign(a=current["a"] + 3)
    drifted_two = drifted_one.assign(b=current["b"] + 3)

    assert check_drift(reference, current).status == "pass"
    assert check_drift(reference, drifted_one).status == "warn"
    result = check_drift(reference, drifted_two)
    assert (result.status, result.drift_share, result.dataset_drift) == ("fail", 0.5, True)
    assert result.drifted_columns == ["a", "b"]
    assert check_drift(reference, drifted_two, drift_share=0.75).status == "warn"
    assert check_drift(reference, drifted_two, min_rows=500).status == "inconclusive"


def test_metrics_and_json_document() -> None:
    reference, current = _frame(300, 40), _frame(200, 41, shift=1.0)

    result = check_drift(reference, current)

    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["kind"] == "drift" and document["status"] == result.status
    assert document["columns"]["age"] == {
        "kind": "numerical",
        "method": "ks",
        "threshold": 0.05,
        "score": result.columns["age"].score,
        "drifted": True,
        "inconclusive": None,
    }
    assert result.metrics["drifted_columns"] == len(result.drifted_columns)
    assert result.metrics["drift.segment"] == result.columns["segment"].score
    assert (document["n_reference"], document["n_current"]) == (300, 200)


def test_a_column_not_scored_is_null_in_json_and_one_value_is_no_drift() -> None:
    reference, current = pd.DataFrame({"c": ["a"] * 50}), pd.DataFrame({"c": ["a"] * 4})

    result = check_drift(reference, current, methods={"c": "chisquare"})

    assert result.columns["c"].drifted is None and result.status == "inconclusive"
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["columns"]["c"]["score"] is None and "drift.c" not in result.metrics
    # one value, the same in both: chi-square's p-value is 1 (Evidently's is NaN)
    same = check_drift(reference, reference[:40], methods={"c": "chisquare"})
    assert (same.columns["c"].score, same.status) == (1.0, "pass")


def test_kinds_are_inferred_like_evidentlys_and_lists_choose_columns() -> None:
    reference, current = _frame(300, 50), _frame(300, 51)
    reference["seen"] = current["seen"] = pd.Timestamp("2024-01-01")

    inferred = check_drift(reference, current)
    chosen = check_drift(
        reference, current, numerical_columns=["visits"], categorical_columns=["age"]
    )

    assert "seen" not in inferred.columns  # dates are left out, as in Evidently
    assert {name: column.kind for name, column in inferred.columns.items()} == {
        "income": "numerical",
        "age": "numerical",
        "rating": "numerical",
        "visits": "categorical",  # integers with at most 10 distinct values
        "flag": "categorical",
        "segment": "categorical",
        "channel": "categorical",
    }
    assert {name: column.kind for name, column in chosen.columns.items()} == {
        "visits": "numerical",
        "age": "categorical",
    }


BAD_INPUTS: dict[str, tuple[Callable[[pd.DataFrame, pd.DataFrame], Any], str]] = {
    "missing in current": (
        lambda ref, cur: check_drift(ref, cur.drop(columns="age")),
        "current lacks column(s) ['age']",
    ),
    "extra in current": (
        lambda ref, cur: check_drift(ref, cur.assign(extra=1.0)),
        "reference lacks column(s) ['extra']",
    ),
    "listed but missing": (
        lambda ref, cur: check_drift(ref, cur, numerical_columns=["age", "height"]),
        "reference lacks column(s) ['height']",
    ),
    "no columns": (lambda ref, cur: check_drift(ref, cur.iloc[:, :0]), "current is empty"),
    "not a frame": (
        lambda ref, cur: check_drift(ref["age"], cur),
        "reference must be a pandas DataFrame",
    ),
    "text as numbers": (
        lambda ref, cur: check_drift(ref, cur, numerical_columns=["segment"]),
        "numerical column 'segment' holds object values in reference",
    ),
    "numbers in one frame only": (
        lambda ref, cur: check_drift(ref, cur.assign(age=cur["age"].astype(str))),
        "column 'age' holds numbers in one frame and not the other",
    ),
    "named twice": (
        lambda ref, cur: check_drift(ref, pd.concat([cur, cur[["age"]]], axis=1)),
        "current names column(s) ['age'] more than once",
    ),
    "unknown method": (
        lambda ref, cur: check_drift(ref, cur, methods={"age": "psi"}),
        "unknown drift method 'psi' for column 'age'",
    ),
    "method for the wrong kind": (
        lambda ref, cur: check_drift(ref, cur, methods={"segment": "ks"}),
        "method 'ks' does not apply to categorical 'segment'",
    ),
    "method for an unchecked column": (
        lambda ref, cur: check_drift(ref, cur, numerical_columns=["age"], thresholds={"x": 1}),
        "name columns that are not checked: ['x']",
    ),
    "listed twice": (
        lambda ref, cur: check_drift(
            ref, cur, numerical_columns=["age"], categorical_columns=["age"]
        ),
        "columns ['age'] are listed as both numerical and categorical",
    ),
    "values that cannot be ordered": (
        lambda ref, cur: check_drift(ref.assign(flag=[1, "a"] * 25), cur.assign(flag="a")),
        "column 'flag' mixes values that cannot be compared",
    ),
    "share out of range": (
        lambda ref, cur: check_drift(ref, cur, drift_share=0),
        "drift_share must be in (0, 1]",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_the_problem(case: str) -> None:
    call, message = BAD_INPUTS[case]

    with pytest.raises(InvalidDataError) as raised:
        call(_frame(50, 60), _frame(50, 61))

    assert message in str(raised.value)


def test_docstring_examples() -> None:
    for module in (drift, drift_methods):
        assert doctest.testmod(module).failed == 0
