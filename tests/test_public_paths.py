"""What users and Airflow hold stays valid when the code moves: facade names, the import paths
DAG files use, entry points, and the extra-link class paths serialized DAGs keep."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest

#: Every name each facade exports (the list before the code moved into rooms, and since).
FACADES = {
    "aimops": [
        "AimStore", "AimopsError", "PipelineRun", "Urn", "__version__", "artifact_ref",
        "connect", "dataset_ref", "model_version_ref", "record_artifact", "record_attempt",
        "record_dataset", "record_io", "record_model_version", "record_pipeline", "record_run",
        "record_step",
    ],
    "aimops.metadata": [
        "ASPECTS", "AimStore", "AspectVersion", "Edge", "Entity", "LineageGraph", "LineageNode",
        "Point", "RELATIONS", "STATES", "StoreWriter", "Urn", "artifact_urn", "dataset_urn",
        "make_urn", "model_urn", "model_version_urn", "normalize_state", "pipeline_urn",
        "register_aspect", "run_urn", "step_urn",
    ],
    "aimops.monitors": [
        "Alert", "Analyzer", "AnomalyResult", "BinaryEvaluation", "ColumnDrift", "Comparison",
        "ConsistencyResult", "DataQualityResult", "DriftResult", "EvaluationResult",
        "FairnessResult", "Gate", "HealthResult", "MulticlassEvaluation",
        "RegressionEvaluation", "ServingDay", "check_data_quality", "check_drift",
        "check_feature_consistency", "check_gates", "check_health", "compare",
        "detect_anomalies", "evaluate_binary", "evaluate_multiclass", "evaluate_regression",
        "fairness", "get_analyzer", "list_analyzers", "list_checks", "load_evaluation",
        "load_reference", "record_check", "record_evaluation", "register_reference",
        "render_check_report", "render_report", "send_alert", "simulate_serving_day",
        "simulate_serving_window",
        "write_check_report", "write_report",
    ],
    "aimops.hooks": ["AimHook", "MlflowHook"],
    "aimops.flows": [
        "AimopsStore", "approve_model", "compare_models", "data_quality_check", "deprecate_model",
        "deramp_model", "drift_check", "evaluate_model", "feature_consistency_check",
        "health_check", "publish_model", "ramp_model", "reject_model", "request_review",
        "tracked",
    ],
}  # fmt: skip

#: Module paths DAG files import, with names they take from them.
DAG_IMPORTS = {
    "aimops.operators.evaluation": ["EvaluateModelOperator", "CompareModelsOperator"],
    "aimops.operators.monitoring": [
        "DataQualityOperator", "DriftCheckOperator", "FeatureConsistencyOperator",
        "HealthCheckOperator",
    ],
    "aimops.operators.alerting": ["AlertOnFailure"],
    "aimops.monitors.sources": ["read_table", "registered_version", "load_model"],
    "aimops.monitors.serving_logs": ["latest_day", "day_folder"],
    "aimops.monitors.serving_simulator": ["simulate_serving_day", "ServingDay"],
    "aimops.monitors.reference_data": ["load_reference", "register_reference"],
    "aimops.hooks.aim": ["AimHook"],
    "aimops.hooks.mlflow": ["MlflowHook"],
}  # fmt: skip

#: Extra links by the class path Airflow keeps in serialized DAGs.
EXTRA_LINKS = [
    "aimops.operators.links.AimStepLink",
    "aimops.operators.links.MlflowRunLink",
    "aimops.operators.evaluation.AimReportLink",
    "aimops.operators.monitoring.AimCheckLink",
    "aimops.operators.monitoring.EvidentlyReportLink",
    "aimops.operators.monitoring.DashboardLink",
    "aimops.operators.lifecycle.ModelVersionLink",
    "aimops.operators.ramps.RampVersionLink",
]

ENTRY_POINTS = {
    "apache_airflow_provider": {"provider_info"},
    "airflow.plugins": {"aimops"},
    "aimops.analyzers": {"binary", "multiclass", "regression", "fairness"},
    "aimops.check_kinds": {"data_quality", "drift", "feature_consistency", "health", "anomaly"},
    "aimops.routers": {"file", "webhook"},
}


@pytest.mark.parametrize("facade", sorted(FACADES))
def test_each_facade_exports_the_same_names(facade: str) -> None:
    module = importlib.import_module(facade)
    assert sorted(module.__all__) == sorted(FACADES[facade])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("path", sorted(DAG_IMPORTS))
def test_the_paths_dag_files_import_still_work(path: str) -> None:
    module = importlib.import_module(path)
    for name in DAG_IMPORTS[path]:
        assert getattr(module, name) is not None, f"{path}.{name}"


def test_the_moved_modules_re_export_the_same_objects() -> None:
    from aimops.monitors import reference_data, serving_logs, serving_simulator
    from aimops.monitors.checks import reference_data as checks_reference_data
    from aimops.monitors.serving import logs, simulator

    assert serving_logs.latest_day is logs.latest_day
    assert serving_simulator.simulate_serving_day is simulator.simulate_serving_day
    assert reference_data.load_reference is checks_reference_data.load_reference


@pytest.mark.parametrize("path", EXTRA_LINKS)
def test_extra_link_classes_keep_their_paths(path: str) -> None:
    module, _, name = path.rpartition(".")
    link = getattr(importlib.import_module(module), name)
    assert f"{link.__module__}.{link.__qualname__}" == path  # defined there, not re-exported


def test_the_provider_lists_the_extra_links_by_those_paths() -> None:
    from aimops.operators.provider import get_provider_info

    assert get_provider_info()["extra-links"] == EXTRA_LINKS


@pytest.mark.parametrize("group", sorted(ENTRY_POINTS))
def test_entry_points_resolve(group: str) -> None:
    found = {
        point.name: point
        for point in entry_points(group=group)
        if point.dist is not None and point.dist.name == "aimops"  # not other providers'
    }
    assert set(found) == ENTRY_POINTS[group]
    for point in found.values():
        assert point.load() is not None, point.value
