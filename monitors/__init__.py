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
    from aimops.monitors.checks.alerts import Alert, send_alert
    from aimops.monitors.checks.anomalies import AnomalyResult, detect_anomalies
    from aimops.monitors.checks.consistency import ConsistencyResult, check_feature_consistency
    from aimops.monitors.checks.data_quality import DataQualityResult, check_data_quality
    from aimops.monitors.checks.drift import ColumnDrift, DriftResult, check_drift
    from aimops.monitors.checks.health import HealthResult, check_health
    from aimops.monitors.checks.recording import list_checks, record_check
    from aimops.monitors.checks.reference_data import load_reference, register_reference
    from aimops.monitors.evaluation.analyzers import Analyzer, get_analyzer, list_analyzers
    from aimops.monitors.evaluation.binary import BinaryEvaluation, evaluate_binary
    from aimops.monitors.evaluation.comparison import Comparison, compare
    from aimops.monitors.evaluation.fairness import FairnessResult, fairness
    from aimops.monitors.evaluation.gates import Gate, check_gates
    from aimops.monitors.evaluation.multiclass import MulticlassEvaluation, evaluate_multiclass
    from aimops.monitors.evaluation.recording import load_evaluation, record_evaluation
    from aimops.monitors.evaluation.regression import RegressionEvaluation, evaluate_regression
    from aimops.monitors.evaluation.result import EvaluationResult
    from aimops.monitors.reports.check_page import render_check_report, write_check_report
    from aimops.monitors.reports.evaluation_page import render_report, write_report
    from aimops.monitors.serving.simulator import ServingDay, simulate_serving_day
    from aimops.monitors.serving.windows import simulate_serving_window

_LAZY = {
    "Alert": "aimops.monitors.checks.alerts",
    "Analyzer": "aimops.monitors.evaluation.analyzers",
    "AnomalyResult": "aimops.monitors.checks.anomalies",
    "BinaryEvaluation": "aimops.monitors.evaluation.binary",
    "ColumnDrift": "aimops.monitors.checks.drift",
    "Comparison": "aimops.monitors.evaluation.comparison",
    "ConsistencyResult": "aimops.monitors.checks.consistency",
    "DataQualityResult": "aimops.monitors.checks.data_quality",
    "DriftResult": "aimops.monitors.checks.drift",
    "EvaluationResult": "aimops.monitors.evaluation.result",
    "FairnessResult": "aimops.monitors.evaluation.fairness",
    "Gate": "aimops.monitors.evaluation.gates",
    "HealthResult": "aimops.monitors.checks.health",
    "MulticlassEvaluation": "aimops.monitors.evaluation.multiclass",
    "RegressionEvaluation": "aimops.monitors.evaluation.regression",
    "ServingDay": "aimops.monitors.serving.simulator",
    "check_data_quality": "aimops.monitors.checks.data_quality",
    "check_drift": "aimops.monitors.checks.drift",
    "check_feature_consistency": "aimops.monitors.checks.consistency",
    "check_gates": "aimops.monitors.evaluation.gates",
    "check_health": "aimops.monitors.checks.health",
    "compare": "aimops.monitors.evaluation.comparison",
    "detect_anomalies": "aimops.monitors.checks.anomalies",
    "evaluate_binary": "aimops.monitors.evaluation.binary",
    "evaluate_multiclass": "aimops.monitors.evaluation.multiclass",
    "evaluate_regression": "aimops.monitors.evaluation.regression",
    "fairness": "aimops.monitors.evaluation.fairness",
    "get_analyzer": "aimops.monitors.evaluation.analyzers",
    "list_analyzers": "aimops.monitors.evaluation.analyzers",
    "list_checks": "aimops.monitors.checks.recording",
    "load_evaluation": "aimops.monitors.evaluation.recording",
    "load_reference": "aimops.monitors.checks.reference_data",
    "record_check": "aimops.monitors.checks.recording",
    "record_evaluation": "aimops.monitors.evaluation.recording",
    "register_reference": "aimops.monitors.checks.reference_data",
    "render_check_report": "aimops.monitors.reports.check_page",
    "render_report": "aimops.monitors.reports.evaluation_page",
    "send_alert": "aimops.monitors.checks.alerts",
    "simulate_serving_day": "aimops.monitors.serving.simulator",
    "simulate_serving_window": "aimops.monitors.serving.windows",
    "write_check_report": "aimops.monitors.reports.check_page",
    "write_report": "aimops.monitors.reports.evaluation_page",
}

__getattr__ = lazy_attributes("aimops.monitors", _LAZY)

__all__ = [
    "Alert",
    "Analyzer",
    "AnomalyResult",
    "BinaryEvaluation",
    "ColumnDrift",
    "Comparison",
    "ConsistencyResult",
    "DataQualityResult",
    "DriftResult",
    "EvaluationResult",
    "FairnessResult",
    "Gate",
    "HealthResult",
    "MulticlassEvaluation",
    "RegressionEvaluation",
    "ServingDay",
    "check_data_quality",
    "check_drift",
    "check_feature_consistency",
    "check_gates",
    "check_health",
    "compare",
    "detect_anomalies",
    "evaluate_binary",
    "evaluate_multiclass",
    "evaluate_regression",
    "fairness",
    "get_analyzer",
    "list_analyzers",
    "list_checks",
    "load_evaluation",
    "load_reference",
    "record_check",
    "record_evaluation",
    "register_reference",
    "render_check_report",
    "render_report",
    "send_alert",
    "simulate_serving_day",
    "simulate_serving_window",
    "write_check_report",
    "write_report",
]
