"""Paired comparison of model versions: DeLong for AUROC, a paired bootstrap for the rest."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors import compare, evaluate_binary


def _data(rows: int = 600, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    strong = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.15, rows), 0, 1).round(2)
    weak = np.clip(0.45 + 0.1 * y + rng.normal(0, 0.2, rows), 0, 1).round(2)
    return y, {"weak/1": weak, "strong/2": strong}


def _delong_by_definition(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong's variance of AUC(b) - AUC(a) from the pairwise kernel, O(m*n), as published."""
    pos, neg = y == 1, y == 0

    def components(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kernel = (score[pos][:, None] > score[neg][None, :]) + 0.5 * (
            score[pos][:, None] == score[neg][None, :]
        )
        return kernel.mean(axis=1), kernel.mean(axis=0)

    (va10, va01), (vb10, vb01) = components(a), components(b)
    s10 = np.cov(np.vstack([va10, vb10]))
    s01 = np.cov(np.vstack([va01, vb01]))
    contrast = np.array([-1.0, 1.0])
    variance = contrast @ (s10 / pos.sum() + s01 / neg.sum()) @ contrast
    return float(vb10.mean() - va10.mean()), float(variance)


def test_delong_interval_matches_the_published_definition_and_sklearn() -> None:
    y, scores = _data()
    result = compare(y, scores, n_bootstrap=100)
    auroc = result.delta("auroc")
    difference, variance = _delong_by_definition(y, scores["weak/1"], scores["strong/2"])
    assert auroc.method == "delong"
    assert auroc.value == pytest.approx(roc_auc_score(y, scores["strong/2"]), abs=1e-12)
    assert auroc.baseline_value == pytest.approx(roc_auc_score(y, scores["weak/1"]), abs=1e-12)
    assert auroc.delta == pytest.approx(difference, abs=1e-12)
    half_width = 1.959963984540054 * np.sqrt(variance)
    assert auroc.ci_low == pytest.approx(difference - half_width, abs=1e-9)
    assert auroc.ci_high == pytest.approx(difference + half_width, abs=1e-9)


def test_the_clearly_better_version_wins_every_metric() -> None:
    y, scores = _data()
    result = compare(y, scores, n_bootstrap=200)
    assert result.baseline == "weak/1"
    assert result.winners == dict.fromkeys(("auroc", "aupr", "log_loss", "brier"), "strong/2")
    for delta in result.deltas:
        assert delta.ci_low is not None and delta.ci_high is not None
        assert delta.ci_low <= delta.delta <= delta.ci_high
        assert delta.winner == "strong/2"
    assert result.metrics["delta_auroc"] > 0 and result.metrics["delta_log_loss"] < 0
    # "better" follows each metric's direction: a lower log loss is better.
    assert result.delta("auroc").better is True and result.delta("log_loss").better is True


def test_identical_versions_have_no_winner_and_zero_deltas() -> None:
    y, scores = _data()
    same = scores["strong/2"]
    result = compare(y, {"a": same, "b": same.copy()}, n_bootstrap=100)
    assert set(result.winners.values()) == {None}
    assert all(delta.delta == 0 and delta.winner is None for delta in result.deltas)


def test_bootstrap_is_paired_and_reproducible() -> None:
    y, scores = _data(rows=300, seed=3)
    first = compare(y, scores, method="bootstrap", n_bootstrap=200, seed=7)
    again = compare(y, scores, method="bootstrap", n_bootstrap=200, seed=7)
    assert first.deltas == again.deltas
    auroc = first.delta("auroc")
    assert auroc.method == "bootstrap"
    # Paired resampling: the interval is much narrower than the two marginal spreads added.
    assert auroc.ci_high - auroc.ci_low < 0.2


def test_bootstrap_interval_covers_the_delong_interval_roughly() -> None:
    y, scores = _data(rows=800, seed=5)
    delong = compare(y, scores, metrics=["auroc"], n_bootstrap=100).delta("auroc")
    boot = compare(y, scores, metrics=["auroc"], method="bootstrap", n_bootstrap=400).delta("auroc")
    assert boot.delta == pytest.approx(delong.delta)
    assert boot.ci_high - boot.ci_low == pytest.approx(delong.ci_high - delong.ci_low, rel=0.3)


def test_weighted_comparison_uses_the_bootstrap_and_weighted_metrics() -> None:
    y, scores = _data(rows=300)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, 300)
    result = compare(y, scores, sample_weight=weights, n_bootstrap=100)
    auroc = result.delta("auroc")
    assert auroc.method == "bootstrap"
    expected = evaluate_binary(y, scores["strong/2"], sample_weight=weights).metrics["auroc"]
    assert auroc.value == pytest.approx(expected)


def test_three_versions_and_a_named_baseline() -> None:
    y, scores = _data()
    scores["middle/3"] = np.clip((scores["weak/1"] + scores["strong/2"]) / 2, 0, 1)
    result = compare(y, scores, baseline="middle/3", n_bootstrap=100)
    assert result.baseline == "middle/3"
    assert {delta.version for delta in result.deltas} == {"weak/1", "strong/2"}
    document = result.to_dict()
    assert document["kind"] == "comparison" and len(document["evaluations"]) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": "nope"}, "baseline 'nope' is not one of"),
        ({"metrics": ["speed"]}, "cannot compare metrics ['speed']"),
        ({"method": "magic"}, "method must be one of"),
        ({"confidence": 1.5}, "confidence must be in"),
        ({"n_bootstrap": 3}, "n_bootstrap must be at least 50"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], message: str) -> None:
    y, scores = _data(rows=50)
    with pytest.raises(InvalidInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compare(y, scores, **kwargs)  # type: ignore[arg-type]


def test_bad_data_is_named_per_version() -> None:
    y, scores = _data(rows=50)
    with pytest.raises(InvalidInputError, match="at least two versions"):
        compare(y, {"only": scores["weak/1"]})
    broken = scores["weak/1"].copy()
    broken[[3, 9]] = np.nan
    with pytest.raises(InvalidDataError, match=r"scores of 'b' must be finite; 2 of 50"):
        compare(y, {"a": scores["strong/2"], "b": broken})
    with pytest.raises(InvalidDataError, match=r"scores of 'b' has 49"):
        compare(y, {"a": scores["strong/2"], "b": scores["weak/1"][:49]})


def test_one_row_of_a_class_falls_back_from_delong_to_the_bootstrap() -> None:
    y = np.array([0, 0, 0, 1, 0, 0, 0, 0])
    scores = {"a": np.linspace(0.1, 0.8, 8), "b": np.linspace(0.8, 0.1, 8)}
    auroc = compare(y, scores, metrics=["auroc"], n_bootstrap=100).delta("auroc")
    assert auroc.method == "bootstrap"
    with pytest.raises(InvalidDataError, match="the smaller class has 1"):
        compare(y, scores, metrics=["auroc"], method="delong")


def test_a_metric_without_a_better_direction_has_no_winner() -> None:
    y, scores = _data()
    result = compare(y, scores, metrics=["ppr", "auroc"], n_bootstrap=100)
    assert result.winners["ppr"] is None
    assert result.delta("ppr").winner is None
    assert result.winners["auroc"] == "strong/2"


@pytest.mark.parametrize("method", ["auto", "bootstrap"])
def test_too_few_rows_of_a_class_make_the_comparison_inconclusive(method: str) -> None:
    from aimops.monitors.evaluation.comparison import compare

    labels = [0, 1]
    result = compare(labels, {"a": [0.2, 0.9], "b": [0.9, 0.1]}, method=method)
    assert result.inconclusive is not None and "1 positive and 1 negative" in result.inconclusive
    assert set(result.winners.values()) == {None}
    for delta in result.deltas:
        assert (delta.ci_low, delta.ci_high, delta.p_value, delta.winner) == (None,) * 4
    assert result.to_dict()["inconclusive"] == result.inconclusive


def test_enough_rows_of_each_class_are_compared() -> None:
    from aimops.monitors.evaluation.comparison import MIN_ROWS_PER_CLASS, compare

    rng = np.random.default_rng(5)
    labels = np.array([0, 1] * MIN_ROWS_PER_CLASS * 20)
    good = np.clip(labels * 0.6 + rng.random(labels.size) * 0.4, 0, 1)
    result = compare(labels, {"noise": rng.random(labels.size), "good": good})
    assert result.inconclusive is None
    assert result.winners["auroc"] == "good"
