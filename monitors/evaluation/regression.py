"""Regression: RMSE, MAE, R², explained variance and the quantiles of the residuals.

The metrics are scikit-learn's, to 1e-9, sample weights included. R² and explained variance
follow sklearn's ``force_finite``: when ``y_true`` is constant they are 1.0 for perfect
predictions and 0.0 otherwise. R² is undefined (left out) for a single row, as in sklearn.

Residuals are ``y_true - y_pred``, so a positive residual means the model predicted too low.
Their quantiles are ``np.quantile``'s default ones (linear: Hyndman and Fan's type 7). Type 7
reads the ``q``-quantile of ``N`` sorted values at position ``h = (N - 1) q``, between the
values at ``floor(h)`` and ``floor(h) + 1``: it is the mean of the values over the window
``[h, h + 1]`` when the ``k``-th value (from 0) fills the stretch ``[k, k + 1]``.

With sample weights the quantiles are numpy's weighted ``inverted_cdf`` (Hyndman and Fan's
type 1, the weighted method numpy defines): the smallest residual at which the weighted share
of residuals at or below it reaches ``q``. Only the weights' proportions count (but where a
cumulative share lands exactly on ``q``, rescaled weights may round to either side of it),
whole weights give the quantiles of the rows repeated under the same method, zero weights
drop out and the order of the rows does not matter. Without weights they are the default
linear ones above, so weights of 1 (type 1) and no weights (type 7) can differ.

Example:
    >>> result = evaluate_regression([3.0, 5.0, 2.5, 7.0], [2.5, 5.0, 3.0, 8.0])
    >>> result.metrics["mae"], result.metrics["max_error"]
    (0.5, 1.0)
    >>> round(result.metrics["r2"], 4)
    0.8818
    >>> result.residual_quantiles["0.5"]  # residuals 0.5, 0, -0.5, -1
    -0.25
    >>> weighted = evaluate_regression([0.0, 1.0], [0.0, 0.0], sample_weight=[2, 1])
    >>> weighted.residual_quantiles["0.5"], weighted.residual_quantiles["0.75"]  # as 0, 0, 1
    (0.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aimops.errors import InvalidDataError
from aimops.monitors.evaluation.result import EvaluationResult, rounded
from aimops.monitors.inputs import FloatArray, finite_numbers, same_length, sample_weights

#: The quantiles of the residuals that every regression evaluation reports.
RESIDUAL_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True, kw_only=True)
class RegressionEvaluation(EvaluationResult):
    """A regression evaluation: metrics and the quantiles of ``y_true - y_pred``."""

    kind = "regression"
    residual_quantiles: dict[str, float]

    def details(self) -> dict[str, Any]:
        return {"residual_quantiles": dict(self.residual_quantiles)}


def evaluate_regression(
    y_true: Any,
    y_pred: Any,
    *,
    sample_weight: Any = None,
    label: str | None = None,
) -> RegressionEvaluation:
    """Evaluate predictions ``y_pred`` against ``y_true``.

    ``metrics`` holds ``rmse``, ``mse``, ``mae``, ``r2``, ``explained_variance``,
    ``mean_residual`` and, without weights, ``max_error``. Bad input raises InvalidDataError.
    """
    truth = finite_numbers(y_true, "y_true")
    predicted = finite_numbers(y_pred, "y_pred")
    same_length(y_true=truth, y_pred=predicted)
    weights = sample_weights(sample_weight, len(truth))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused in _metrics
        residuals = truth - predicted
        metrics = _metrics(truth, residuals, weights)
    quantiles = _quantiles(residuals, weights).tolist()
    return RegressionEvaluation(
        metrics=rounded(metrics),
        n=len(truth),
        weighted=weights is not None,
        label=label,
        residual_quantiles={
            str(q): value for q, value in zip(RESIDUAL_QUANTILES, quantiles, strict=True)
        },
    )


def _metrics(
    truth: FloatArray, residuals: FloatArray, weights: FloatArray | None
) -> dict[str, float | None]:
    mse = float(np.average(residuals**2, weights=weights))
    spread = _squared_deviations(truth, weights)
    metrics = {
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
        "mae": float(np.average(np.abs(residuals), weights=weights)),
        "r2": _explained(_squared_sum(residuals, weights), spread) if len(truth) > 1 else None,
        "explained_variance": _explained(_squared_deviations(residuals, weights), spread),
        "max_error": float(np.abs(residuals).max()) if weights is None else None,
        "mean_residual": float(np.average(residuals, weights=weights)),
    }
    if not all(np.isfinite(value) for value in metrics.values() if value is not None):
        raise InvalidDataError(
            "y_true and y_pred are too large to square in float64 (residuals up to "
            f"{float(np.abs(residuals).max()):g}): rescale them"
        )
    return metrics


def _squared_sum(values: FloatArray, weights: FloatArray | None) -> float:
    return float(np.sum(values**2 if weights is None else weights * values**2))


def _squared_deviations(values: FloatArray, weights: FloatArray | None) -> float:
    """Weighted sum of squares about the weighted mean; exactly 0 for constant values.

    Values of zero weight do not count. Rounding in the mean would otherwise leave a speck
    above 0 for constant values and turn R² into a huge negative number.
    """
    counted = values if weights is None else values[weights > 0]
    if counted.min() == counted.max():
        return 0.0
    return _squared_sum(values - np.average(values, weights=weights), weights)


def _explained(unexplained: float, total: float) -> float:
    """``1 - unexplained / total``, finite as sklearn's ``force_finite`` makes it."""
    if unexplained == 0.0:
        return 1.0
    if total == 0.0:
        return 0.0
    return 1.0 - unexplained / total


def _quantiles(residuals: FloatArray, weights: FloatArray | None) -> FloatArray:
    """The residual quantiles, weighted as the module's docstring defines them."""
    if weights is None:
        return np.quantile(residuals, RESIDUAL_QUANTILES)
    counted = weights > 0
    return np.quantile(
        residuals[counted], RESIDUAL_QUANTILES, weights=weights[counted], method="inverted_cdf"
    )
