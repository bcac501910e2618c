"""The aspects of ``evaluation`` entities: what was evaluated, curves, matrices and tables.

An evaluation (of one model version, or a comparison of several) keeps its headline numbers
in the shared ``metrics`` aspect (indexed: ``metrics.auroc > 0.9`` finds it) and its parts in
the aspects below, so a chart needs only the curve and a gate only the metrics. Registered
with the rest of the registry when :mod:`aimops.metadata.aspects` loads.

Example:
    >>> from aimops.metadata.aspects import canonical_json
    >>> canonical_json("rocCurve", {"fpr": [0, 1], "tpr": [0, 1], "thresholds": [None, 0.5]})
    '{"fpr":[0.0,1.0],"full_points":null,"thresholds":[null,0.5],"tpr":[0.0,1.0]}'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from aimops.metadata.aspects.registry import AspectModel, register_aspect

EVALUATION = frozenset({"evaluation"})


class EvaluationInfo(AspectModel):
    """What an evaluation is: its kind, what it evaluated on which data, and when."""

    indexed = ("kind", "label", "model_version", "dataset", "evaluated_at", "status")
    kind: str
    label: str | None = None
    model_version: str | None = None
    model_versions: tuple[str, ...] = ()
    dataset: str | None = None
    n: int = Field(ge=0)
    weighted: bool = False
    threshold: float | None = None
    evaluated_at: datetime
    analyzers: tuple[str, ...] = ()
    status: str = "recorded"
    gates: tuple[dict[str, Any], ...] = ()
    predictions_uri: str | None = None
    parts: tuple[str, ...] | None = None  # the part aspects this version holds (None: any)


class RocCurve(AspectModel):
    """A ROC curve, thinned for storage; thresholds[0] is None (nothing predicted positive)."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    thresholds: tuple[float | None, ...]
    full_points: int | None = None


class PrCurve(AspectModel):
    """A precision-recall curve, thinned for storage, starting at recall 0, precision 1."""

    recall: tuple[float, ...]
    precision: tuple[float, ...]
    thresholds: tuple[float | None, ...]
    full_points: int | None = None


class CalibrationCurveAspect(AspectModel):
    """Mean predicted probability and observed share of positives per score bin."""

    mean_predicted: tuple[float, ...]
    fraction_positive: tuple[float, ...]
    count: tuple[float, ...]


class ConfusionMatrixAspect(AspectModel):
    """Counts by actual class (rows) and predicted class (columns), with both distributions."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    threshold: float | None = None
    actual: tuple[float, ...]
    predicted: tuple[float, ...]


class ThresholdTableAspect(AspectModel):
    """Counts and rates at each threshold from 0.00 to 0.99."""

    threshold: tuple[float, ...]
    tp: tuple[float, ...]
    fp: tuple[float, ...]
    tn: tuple[float, ...]
    fn: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    fpr: tuple[float, ...]
    f1: tuple[float, ...]
    ppr: tuple[float, ...]


class EvaluationDetails(AspectModel):
    """The rest of a result's document: per-class tables, residual quantiles, fairness groups,
    comparison deltas, and what contributed analyzers returned, by part name."""

    parts: dict[str, Any] = Field(default_factory=dict)


register_aspect("evaluationInfo", EvaluationInfo, EVALUATION)
register_aspect("rocCurve", RocCurve, EVALUATION)
register_aspect("prCurve", PrCurve, EVALUATION)
register_aspect("calibrationCurve", CalibrationCurveAspect, EVALUATION)
register_aspect("confusionMatrix", ConfusionMatrixAspect, EVALUATION)
register_aspect("thresholdTable", ThresholdTableAspect, EVALUATION)
register_aspect("evaluationDetails", EvaluationDetails, EVALUATION)
