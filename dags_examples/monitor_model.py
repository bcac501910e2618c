"""``monitor_model``: the daily health of a model version in service, checked and recorded.

find_serving_day → data_quality, drift, feature_consistency, health. For the model version
in the ``model_version`` param (``breast_cancer_classifier@candidate``, resolved in MLflow),
it reads the newest day of served requests and the feature snapshot
(``$AIMOPS_HOME/serving/<model>/<version>/<day>/``, see :mod:`aimops.monitors.serving.logs`;
``simulate_serving`` writes them here), then runs four checks, each recorded in the AIM store
as a check of the model version, with its headline numbers as time series:

- **data_quality**: the request log against a Great Expectations suite (unique request ids,
  scores in [0, 1], known statuses, features present, enough rows);
- **drift**: the served features against the version's registered reference data, with
  Evidently's methods (and Evidently's HTML report when ``evidently_report`` is on);
- **feature_consistency**: the feature snapshot against the training features;
- **health**: latency p50/p90/p99, error rate and throughput against the objectives
  (success rate ≥ 99 %, p99 ≤ 500 ms), with a link to the team's dashboard when
  ``$AIMOPS_DASHBOARD_URL_TEMPLATE`` (or the ``dashboard_url_template`` param) is set.

Until there is a day to check (no version registered yet, or ``train_model`` has just moved
``@candidate`` to a version nothing served yet) the run skips its checks and succeeds, and
``find_serving_day``'s log says why in one line. A failing check fails its task (not retried:
it would fail again) with a message naming what failed, and
:class:`~aimops.operators.alerting.AlertOnFailure` raises the alert: a line in
``$AIMOPS_ALERT_LOG`` (default ``$AIMOPS_HOME/alerts.log``) and a POST to
``$AIMOPS_ALERT_WEBHOOK`` when set. Each task's "AIM check" link opens the check in Airflow.

Run it: ``airflow dags test monitor_model``; ``aimops checks list`` shows the results.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from airflow.sdk import Param, dag, task

from aimops.operators.alerting import AlertOnFailure
from aimops.operators.monitoring import (
    DataQualityOperator,
    DriftCheckOperator,
    FeatureConsistencyOperator,
    HealthCheckOperator,
)

DAG_ID = "monitor_model"
MODEL = "breast_cancer_classifier@candidate"
MIN_REQUESTS_PER_DAY = 500

#: The request log's expectations (see aimops.monitors.checks.data_quality for the entries).
REQUEST_LOG_SUITE: list[dict[str, Any]] = [
    {"expect": "row_count_between", "min": MIN_REQUESTS_PER_DAY},
    {"expect": "unique", "column": "request_id"},
    {"expect": "not_null", "column": "timestamp"},
    {"expect": "not_null", "column": "latency_ms"},
    {"expect": "between", "column": "latency_ms", "min": 0},
    {"expect": "in_set", "column": "status", "values": [200, 400, 404, 429, 500, 503]},
    {"expect": "between", "column": "score", "min": 0, "max": 1},
    {"expect": "not_null", "column": "mean_radius"},
    {"expect": "not_null", "column": "worst_area"},
    {"expect": "between", "column": "mean_radius", "min": 0, "max": 40, "severity": "warn"},
]

DOC_MD = """
# Daily monitoring of a model version in service

For the version in the `model_version` param, on the newest day of served requests:

| task | checks | fails when |
|---|---|---|
| **data_quality** | the request log, with Great Expectations | an expectation is not met |
| **drift** | served vs reference features (Evidently's methods) | half the features drifted |
| **feature_consistency** | feature snapshot vs training features (TFDV) | a feature is skewed |
| **health** | latency p50/p90/p99, error rate, throughput | success rate < 99 % or p99 > 500 ms |

A red task has failed its check (it is not retried): the log says what failed, the
**AIM check** link shows every number, and an alert went to the alert log and webhook.
Skipped (pink) checks had nothing to check: no day served by the version yet. Trigger
**simulate_serving**, then this DAG again; **find_serving_day**'s log names the version.
`aimops checks list --model breast_cancer_classifier` shows the history.
"""


def _skip_checks(reason: str) -> NoReturn:
    """Skip this task and the checks after it, saying why in one line of its log (printed: a
    skip's own reason is folded away in the log's "Post Execute" group)."""
    from airflow.sdk.exceptions import AirflowSkipException

    print(f"nothing to check: {reason}")
    raise AirflowSkipException


@task(multiple_outputs=True)
def find_serving_day(model_version: str, serving_root: str) -> dict[str, str]:
    """The newest day of serving of the version: ``model_version`` (``name/version``),
    ``day``, and the ``requests`` log and ``features`` snapshot files.

    Skipped, and the checks with it, while there is nothing to check: no such version in the
    registry yet (``train_model`` registers it), or no day served by it yet (``simulate_serving``
    writes one; ``train_model`` moving ``@candidate`` to a new version starts it afresh)."""
    from aimops.errors import NotFoundError
    from aimops.hooks.mlflow import MlflowHook
    from aimops.monitors.serving.logs import latest_day
    from aimops.monitors.sources import registered_version

    tracking_uri, registry_uri = MlflowHook().model_location()
    try:
        version = registered_version(
            model_version, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
    except NotFoundError:
        _skip_checks(
            f"{model_version} is not in the MLflow registry yet (train_model registers it, "
            "then simulate_serving writes a day of serving)"
        )
    try:
        found = latest_day(version, root=serving_root or None)
    except NotFoundError:
        _skip_checks(
            f"no day of serving of {version} ({model_version}) yet; simulate_serving writes "
            "one, then run monitor_model again"
        )
    print(f"checking {version} on {found.day}: {found.requests}")
    return {
        "model_version": version,
        "day": found.day.isoformat(),
        "requests": str(found.requests),
        "features": str(found.features),
    }


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["aimops", "aimops:project=churn-demo", "monitoring"],
    doc_md=DOC_MD,
    render_template_as_native_obj=True,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": AlertOnFailure(),
    },
    params={
        "model_version": Param(MODEL, type="string", description="name/version or name@alias"),
        "serving_root": Param("", type="string", description="default: $AIMOPS_HOME/serving"),
        "evidently_report": Param(True, type="boolean", description="save Evidently's report"),
        "latency_p99_max_ms": Param(500.0, type="number", minimum=0),
        "dashboard_url_template": Param("", type="string", description="a Grafana URL, say"),
    },
)
def monitor_model() -> None:
    day = find_serving_day("{{ params.model_version }}", "{{ params.serving_root }}")
    version = day["model_version"]
    DataQualityOperator(
        task_id="data_quality",
        doc_md="The day's request log against a Great Expectations suite. "
        "Fails when an expectation is not met; **AIM check** opens the check's page.",
        data=day["requests"],
        suite=REQUEST_LOG_SUITE,
        name="request log",
        model_version=version,
    )
    DriftCheckOperator(
        task_id="drift",
        doc_md="The served features against the version's registered reference data "
        "(Evidently's methods). Fails when half the features drifted.",
        current=day["requests"],
        model_version=version,
        evidently_report="{{ params.evidently_report }}",
    )
    FeatureConsistencyOperator(
        task_id="feature_consistency",
        doc_md="The day's feature snapshot against the training features. Fails when a "
        "feature is skewed between training and serving.",
        serving=day["features"],
        model_version=version,
    )
    HealthCheckOperator(
        task_id="health",
        doc_md="Latency p50/p90/p99, error rate and throughput against the objectives. "
        "Fails when the success rate is under 99 % or p99 over the `latency_p99_max_ms` param.",
        requests=day["requests"],
        model_version=version,
        objectives={"latency_p99_max_ms": "{{ params.latency_p99_max_ms }}"},
        dashboard_url_template="{{ params.dashboard_url_template }}",
    )


monitor_model()
