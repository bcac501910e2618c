"""Evaluation, fairness, comparison, data quality, drift, consistency and health checks.

Plain functions over arrays and data frames that return typed results and can record them in
the AIM store. Part of the core: never imports Airflow or Prefect. Notebooks and the
orchestrator adapters use the same functions.

Example:
    >>> from aimops.monitors import evaluate_binary
    >>> result = evaluate_binary([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9])
    >>> round(result.metrics["auroc"], 2)
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.monitors.analyzers import Analyzer, get_analyzer, list_analyzers
    from aimops.monitors.binary import BinaryEvaluation, evaluate_binary
    from aimops.monitors.comparison import Comparison, compare
    from aimops.monitors.drift import ColumnDrift, DriftResult, check_drift
    from aimops.monitors.gates import Gate, check_gates
    from aimops.monitors.group_fairness import FairnessResult, fairness
    from aimops.monitors.multiclass import MulticlassEvaluation, evaluate_multiclass
    from aimops.monitors.record import load_evaluation, record_evaluation
    from aimops.monitors.regression import RegressionEvaluation, evaluate_regression
    from aimops.monitors.report import render_report, write_report
    from aimops.monitors.result import EvaluationResult

_LAZY = {
    "Analyzer": "aimops.monitors.analyzers",
    "BinaryEvaluation": "aimops.monitors.binary",
    "ColumnDrift": "aimops.monitors.drift",
    "DriftResult": "aimops.monitors.drift",
    "check_drift": "aimops.monitors.drift",
    "Comparison": "aimops.monitors.comparison",
    "EvaluationResult": "aimops.monitors.result",
    "FairnessResult": "aimops.monitors.group_fairness",
    "Gate": "aimops.monitors.gates",
    "MulticlassEvaluation": "aimops.monitors.multiclass",
    "RegressionEvaluation": "aimops.monitors.regression",
    "check_gates": "aimops.monitors.gates",
    "compare": "aimops.monitors.comparison",
    "evaluate_binary": "aimops.monitors.binary",
    "evaluate_multiclass": "aimops.monitors.multiclass",
    "evaluate_regression": "aimops.monitors.regression",
    "fairness": "aimops.monitors.group_fairness",
    "get_analyzer": "aimops.monitors.analyzers",
    "list_analyzers": "aimops.monitors.analyzers",
    "load_evaluation": "aimops.monitors.record",
    "record_evaluation": "aimops.monitors.record",
    "render_report": "aimops.monitors.report",
    "write_report": "aimops.monitors.report",
}

__getattr__ = lazy_attributes("aimops.monitors", _LAZY)

__all__ = [
    "Analyzer",
    "BinaryEvaluation",
    "ColumnDrift",
    "Comparison",
    "DriftResult",
    "EvaluationResult",
    "FairnessResult",
    "Gate",
    "MulticlassEvaluation",
    "RegressionEvaluation",
    "check_drift",
    "check_gates",
    "compare",
    "evaluate_binary",
    "evaluate_multiclass",
    "evaluate_regression",
    "fairness",
    "get_analyzer",
    "list_analyzers",
    "load_evaluation",
    "record_evaluation",
    "render_report",
    "write_report",
]
