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
    from aimops.monitors.alerts import Alert, send_alert
    from aimops.monitors.analyzers import Analyzer, get_analyzer, list_analyzers
    from aimops.monitors.anomalies import AnomalyResult, detect_anomalies
    from aimops.monitors.binary import BinaryEvaluation, evaluate_binary
    from aimops.monitors.check_record import list_checks, record_check
    from aimops.monitors.check_report import render_check_report, write_check_report
    from aimops.monitors.comparison import Comparison, compare
    from aimops.monitors.consistency import ConsistencyResult, check_feature_consistency
    from aimops.monitors.data_quality import DataQualityResult, check_data_quality
    from aimops.monitors.drift import ColumnDrift, DriftResult, check_drift
    from aimops.monitors.gates import Gate, check_gates
    from aimops.monitors.group_fairness import FairnessResult, fairness
    from aimops.monitors.health import HealthResult, check_health
    from aimops.monitors.multiclass import MulticlassEvaluation, evaluate_multiclass
    from aimops.monitors.record import load_evaluation, record_evaluation
    from aimops.monitors.reference_data import load_reference, register_reference
    from aimops.monitors.regression import RegressionEvaluation, evaluate_regression
    from aimops.monitors.report import render_report, write_report
    from aimops.monitors.result import EvaluationResult
    from aimops.monitors.serving_simulator import ServingDay, simulate_serving_day

_LAZY = {
    "Alert": "aimops.monitors.alerts",
    "Analyzer": "aimops.monitors.analyzers",
    "AnomalyResult": "aimops.monitors.anomalies",
    "BinaryEvaluation": "aimops.monitors.binary",
    "ColumnDrift": "aimops.monitors.drift",
    "Comparison": "aimops.monitors.comparison",
    "ConsistencyResult": "aimops.monitors.consistency",
    "DataQualityResult": "aimops.monitors.data_quality",
    "DriftResult": "aimops.monitors.drift",
    "EvaluationResult": "aimops.monitors.result",
    "FairnessResult": "aimops.monitors.group_fairness",
    "Gate": "aimops.monitors.gates",
    "HealthResult": "aimops.monitors.health",
    "MulticlassEvaluation": "aimops.monitors.multiclass",
    "RegressionEvaluation": "aimops.monitors.regression",
    "ServingDay": "aimops.monitors.serving_simulator",
    "check_data_quality": "aimops.monitors.data_quality",
    "check_drift": "aimops.monitors.drift",
    "check_feature_consistency": "aimops.monitors.consistency",
    "check_gates": "aimops.monitors.gates",
    "check_health": "aimops.monitors.health",
    "compare": "aimops.monitors.comparison",
    "detect_anomalies": "aimops.monitors.anomalies",
    "evaluate_binary": "aimops.monitors.binary",
    "evaluate_multiclass": "aimops.monitors.multiclass",
    "evaluate_regression": "aimops.monitors.regression",
    "fairness": "aimops.monitors.group_fairness",
    "get_analyzer": "aimops.monitors.analyzers",
    "list_analyzers": "aimops.monitors.analyzers",
    "list_checks": "aimops.monitors.check_record",
    "load_evaluation": "aimops.monitors.record",
    "load_reference": "aimops.monitors.reference_data",
    "record_check": "aimops.monitors.check_record",
    "record_evaluation": "aimops.monitors.record",
    "register_reference": "aimops.monitors.reference_data",
    "render_check_report": "aimops.monitors.check_report",
    "render_report": "aimops.monitors.report",
    "send_alert": "aimops.monitors.alerts",
    "simulate_serving_day": "aimops.monitors.serving_simulator",
    "write_check_report": "aimops.monitors.check_report",
    "write_report": "aimops.monitors.report",
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
    "write_check_report",
    "write_report",
]
