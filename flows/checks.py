"""Monitoring checks as Prefect tasks: data quality, drift, feature consistency, health.

Each task is the Prefect twin of an Airflow operator of :mod:`aimops.operators.monitoring`, a
thin wrapper of its job in :mod:`aimops.monitors.checks.jobs` through the shared task frame
(:mod:`aimops.flows.frame`), so a flow records exactly what a DAG or a notebook would:

- ``data_quality_check``: a table against a Great Expectations suite;
- ``drift_check``: current data against a model version's registered reference data (or a
  given table), optionally with Evidently's HTML report;
- ``feature_consistency_check``: served features against the training ones;
- ``health_check``: a served-request log against latency and error objectives, with a link
  to the team's dashboard for the model and the log's time window.

The check is keyed by the task run (``prefect/<flow>/<flow run id>/<task>[/<n>]``) and produced
by its step, so a retry records over its first try; the task returns the check URN. A check
whose status is in ``fail_on`` (default: ``fail``) fails the task run at once, after it is
recorded and its artifacts are published, with the message naming what failed; bad input
(a ``fail_on`` status that does not exist, neither ``model_version`` nor the reference data,
missing columns, empty tables) fails at once too, recording nothing. Neither is retried; a
table, a model version or reference data not there yet, or the store unreachable, keep the
task's retries.

The progress view (:mod:`aimops.flows.artifacts`), under ``aimops-<kind>-<model>`` (kinds
``data-quality``, ``drift``, ``feature-consistency``, ``health``): the verdict, the headline
numbers and what failed; a table of the expectations, columns, features or objectives; a link
to the check's page.

Example:
    >>> drift_check.name, health_check.retries
    ('drift_check', 2)
    >>> document = {"kind": "drift", "columns": {"age": {"kind": "numerical", "method": "ks",
    ...     "score": 0.001, "threshold": 0.05, "drifted": True, "inconclusive": None}}}
    >>> check_rows(document)
    [{'column': 'age', 'kind': 'numerical', 'method': 'ks', 'score': 0.001, 'threshold': 0.05, \
'drifted': True, 'note': None}]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.flows.artifacts import (
    ProgressView,
    data_name,
    progress_subject,
    report_link,
    summary_markdown,
    version_label_of,
)
from aimops.flows.frame import (
    TaskIdentity,
    aimops_task,
    current_identity,
    in_frame,
    run_logger,
)
from aimops.monitors.arguments import names, number, number_map, optional_number_map, switch
from aimops.monitors.reports.urls import check_url

if TYPE_CHECKING:
    from aimops.flows.blocks import AimopsStore
    from aimops.metadata.store import AimStore
    from aimops.monitors.checks.jobs import CheckOutcome

#: The artifacts' kind of each check kind.
VIEW_KINDS = {
    "data_quality": "data-quality",
    "drift": "drift",
    "feature_consistency": "feature-consistency",
    "health": "health",
}
#: How many headline numbers a summary shows.
NUMBERS_SHOWN = 8


@aimops_task
def data_quality_check(
    data: Any,
    suite: Any,
    *,
    model_version: Any = None,
    name: str | None = None,
    targets: Sequence[str] = (),
    fail_on: Sequence[str] = ("fail",),
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Validate a table against a Great Expectations suite; record the check.

    As ``DataQualityOperator``: ``data`` is a CSV or Parquet path, a ``file://`` URI or a
    ``dataset_ref``; ``suite`` a list of entries (``{"expect": "not_null", "column": "age"}``,
    ``{"expect": "between", "column": "age", "min": 0, "max": 120, "severity": "warn"}``), a
    ``.yaml``/``.json`` file or YAML text; ``name`` the suite's name. A failed expectation
    fails the task unless its severity is ``warn`` (or ``fail_on`` says otherwise). Returns
    the check URN.

    Example (in a flow)::

        @flow
        def validate_features(path: str) -> str:
            return data_quality_check(
                path, [{"expect": "not_null", "column": "age"}],
                model_version="churn/3", name="features",
            )
    """
    identity = current_identity()

    def job(aim: AimStore, block: AimopsStore) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_data_quality

        return run_data_quality(
            aim, data, suite, model_version=model_version or None, targets=names(targets),
            name=name, key=key or identity.key, producer=identity.producer,
            report_dir=block.reports(),
        )  # fmt: skip

    outcome = _run(store, fail_on, lambda: None, job)
    return _conclude(outcome, identity, fail_on, model_version, name or data_name(data))


@aimops_task
def drift_check(
    current: Any,
    *,
    model_version: Any = None,
    reference: Any = None,
    columns: Sequence[str] | None = None,
    numerical_columns: Sequence[str] | None = None,
    categorical_columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 1,
    evidently_report: bool = False,
    targets: Sequence[str] = (),
    fail_on: Sequence[str] = ("fail",),
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Drift of current data from a model version's reference data, with Evidently's methods.

    As ``DriftCheckOperator``: ``current`` is the current table; the baseline is the reference
    data registered for ``model_version`` (:func:`aimops.monitors.register_reference`) unless
    ``reference`` is given; ``columns`` (default: all the reference's), their kinds, the
    ``methods`` (``wasserstein``, ``jensenshannon``, ``ks``, ``chisquare``, ``z``) and
    ``thresholds`` per column, ``drift_share`` (the share of drifted columns at which the data
    set has drifted) and ``evidently_report`` (also save Evidently's HTML report; slow on
    large data). Returns the check URN.

    Example (in a flow)::

        @flow
        def nightly_drift(day: str) -> str:
            return drift_check(
                f"/data/serving/{day}/requests.parquet", model_version="churn/3",
                columns=["age", "income", "tenure"],
            )
    """
    identity = current_identity()

    def needs() -> None:
        if reference is None and model_version is None:
            raise InvalidInputError(f"{identity.task_name}: give model_version or reference")

    def job(aim: AimStore, block: AimopsStore) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_drift

        return run_drift(
            aim, current, reference=reference, model_version=model_version or None,
            targets=names(targets), columns=names(columns) or None,
            numerical_columns=names(numerical_columns) or None,
            categorical_columns=names(categorical_columns) or None, methods=methods,
            thresholds=number_map(thresholds, "thresholds"),
            drift_share=number(drift_share, "drift_share"),
            min_rows=int(number(min_rows, "min_rows")), evidently_report=switch(evidently_report),
            key=key or identity.key, producer=identity.producer, report_dir=block.reports(),
        )  # fmt: skip

    outcome = _run(store, fail_on, needs, job)
    return _conclude(outcome, identity, fail_on, model_version, data_name(current))


@aimops_task
def feature_consistency_check(
    serving: Any,
    *,
    model_version: Any = None,
    training: Any = None,
    features: Sequence[str] | None = None,
    entity_key: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    min_match_rate: float = 0.99,
    skew_status: str = "fail",
    targets: Sequence[str] = (),
    fail_on: Sequence[str] = ("fail",),
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Training/serving skew: the features as served against the features as trained on.

    As ``FeatureConsistencyOperator``: ``serving`` holds the served features; the training
    side is ``training``, else the reference data registered for ``model_version``;
    ``features`` (default: the training side's but ``entity_key``); with ``entity_key`` each
    feature's exact-match rate over the joined rows is checked too (``min_match_rate``);
    ``thresholds`` per feature; ``skew_status`` ``fail`` (default) or ``warn``. Returns the
    check URN.

    Example (in a flow)::

        @flow
        def skew(snapshot: str) -> str:
            return feature_consistency_check(
                snapshot, model_version="churn/3", entity_key="customer_id"
            )
    """
    identity = current_identity()

    def needs() -> None:
        if training is None and model_version is None:
            raise InvalidInputError(f"{identity.task_name}: give model_version or training")
        if skew_status not in ("fail", "warn"):
            raise InvalidInputError(f"skew_status is 'fail' or 'warn', not {skew_status!r}")

    def job(aim: AimStore, block: AimopsStore) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_feature_consistency

        return run_feature_consistency(
            aim, serving, training=training, model_version=model_version or None,
            targets=names(targets), features=names(features) or None,
            entity_key=entity_key or None, thresholds=number_map(thresholds, "thresholds"),
            min_match_rate=number(min_match_rate, "min_match_rate"),
            skew_status="fail" if skew_status == "fail" else "warn", key=key or identity.key,
            producer=identity.producer, report_dir=block.reports(),
        )  # fmt: skip

    outcome = _run(store, fail_on, needs, job)
    return _conclude(outcome, identity, fail_on, model_version, data_name(serving))


@aimops_task
def health_check(
    requests: Any,
    *,
    model_version: Any = None,
    served_as: str | None = None,
    objectives: Mapping[str, float | None] | None = None,
    min_requests: int = 100,
    dashboard_url_template: str | None = None,
    targets: Sequence[str] = (),
    fail_on: Sequence[str] = ("fail",),
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Latency percentiles, error rate and throughput of a served-request log, against
    objectives (Flagger's defaults: success rate >= 99%, p99 <= 500 ms).

    As ``HealthCheckOperator``: ``requests`` is the log (``timestamp``, ``model_version``,
    ``latency_ms``, ``status``); ``model_version`` the version judged (its rows hold
    ``served_as``, default ``name/version``; default: every version in the log);
    ``objectives`` merged with the defaults (None drops one); fewer than ``min_requests``
    make the verdict ``inconclusive``. ``dashboard_url_template`` (default
    ``$AIMOPS_DASHBOARD_URL_TEMPLATE``) fills ``{model}``, ``{version}``, ``{start_ms}``,
    ``{end_ms}``, ``{flow_name}``, ``{flow_run_id}``, ``{task_name}``...: the summary links the
    dashboard. Returns the check URN.

    Example (in a flow)::

        @flow
        def service_health(log: str) -> str:
            return health_check(log, model_version="churn/3",
                                objectives={"latency_p99_max_ms": 300})
    """
    identity = current_identity()

    def job(aim: AimStore, block: AimopsStore) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_health

        return run_health(
            aim, requests, model_version=model_version or None, served_as=served_as or None,
            targets=names(targets), objectives=optional_number_map(objectives, "objectives"),
            min_requests=int(number(min_requests, "min_requests")), key=key or identity.key,
            producer=identity.producer, report_dir=block.reports(),
        )  # fmt: skip

    def dashboard(outcome: CheckOutcome) -> list[str]:
        url = _dashboard(outcome, identity, model_version, dashboard_url_template)
        return [f"Dashboard: [{url}]({url})"] if url else []

    outcome = _run(store, fail_on, lambda: None, job)
    return _conclude(outcome, identity, fail_on, model_version, data_name(requests), dashboard)


# -- what the tasks share: the frame, the verdict, the log, the artifacts ----------------------


def _run(
    store: AimopsStore | str | None,
    fail_on: Sequence[str],
    needs: Callable[[], None],
    job: Callable[[AimStore, AimopsStore], CheckOutcome],
) -> CheckOutcome:
    """The arguments checked and the block resolved (a bad one fails before the store is
    opened), then the job on the store."""
    from aimops.flows.blocks import resolve_store

    def checked() -> AimopsStore:
        from aimops.monitors.checks.base import STATUSES

        unknown = [status for status in fail_on if status not in STATUSES]
        if unknown:
            raise InvalidInputError(
                f"fail_on takes {', '.join(STATUSES)}, not {', '.join(map(str, unknown))}"
            )
        needs()
        return resolve_store(store)

    block = checked()
    return in_frame(block, lambda aim: job(aim, block))


def _conclude(
    outcome: CheckOutcome,
    identity: TaskIdentity,
    fail_on: Sequence[str],
    model_version: Any,
    data: str | None,
    more: Callable[[CheckOutcome], list[str]] = lambda outcome: [],
) -> str:
    """Log and publish the recorded check (with the lines ``more`` adds: the health check's
    dashboard), then fail the task if its status is in ``fail_on``; the check URN."""
    try:  # what comes after the verdict is recorded must not replace it
        lines = more(outcome)
        _log(outcome)
        _publish(outcome, progress_subject(model_version, data) or identity.flow_name,
                 model_version, data, lines)  # fmt: skip
    except Exception:
        run_logger().exception("the check is recorded; reporting on it failed")
    outcome.raise_for_status(tuple(fail_on))
    return str(outcome.urn)


def _log(outcome: CheckOutcome) -> None:
    """The operator's lines: the verdict, what went wrong, the numbers, the report files."""
    from aimops.monitors.checks.registry import describe_failure
    from aimops.monitors.evaluation.result import headline

    log = run_logger()
    log.info(
        "%s check %s: %s (%s)",
        outcome.result.kind, outcome.urn, outcome.status, headline(outcome.result.metrics),
    )  # fmt: skip
    if outcome.status != "pass":
        log.warning("%s", describe_failure(outcome.result))
    for report, path in outcome.reports.items():
        log.info("%s report file: %s", report, path)


def _publish(
    outcome: CheckOutcome, subject: str, model_version: Any, data: str | None, lines: Sequence[str]
) -> None:
    """The summary, the table of the check's rows, the link to its page."""
    from aimops.monitors.checks.jobs import CHECK_PAGE
    from aimops.monitors.checks.registry import check_kind, describe_failure

    document = outcome.result.to_dict()
    kind = check_kind(outcome.result.kind)
    who = version_label_of(model_version)
    title = f"{kind.title} of {who or data or 'the data'}" + (f" on {data}" if who and data else "")
    failures = [describe_failure(document)] if outcome.status != "pass" else []
    shown = [f"Recorded as `{outcome.urn}`.", *lines]
    shown += [
        f"{report.capitalize()} report file: `{path}`" for report, path in outcome.reports.items()
    ]
    page = outcome.reports.get(CHECK_PAGE)
    ProgressView(
        VIEW_KINDS.get(kind.name, kind.name), subject,
        summary_markdown(title, outcome.status, _numbers(kind, outcome.result.metrics), failures,
                         shown),
        f"{title}: {outcome.status}", table=check_rows(document),
        link=report_link(page, check_url(outcome.urn)), link_text="check page",
    ).publish()  # fmt: skip


def _numbers(kind: Any, metrics: Mapping[str, float]) -> dict[str, float]:
    """The headline numbers: those the kind declares first, then the others its page lists
    (not per-column details), at most :data:`NUMBERS_SHOWN`."""
    chosen = [name for name in kind.metrics if name in metrics]
    chosen += [name for name in metrics if name not in chosen and kind.shows_metric(name)]
    return {name: metrics[name] for name in chosen[:NUMBERS_SHOWN]}


def check_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a check's table artifact, from its result's document: one per expectation
    (data quality), column (drift), feature (consistency) or model version and metric
    (health); none for another kind."""
    rows = _ROWS.get(str(document.get("kind")))
    return rows(document) if rows else []


def _expectation_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "expectation": found["description"],
            "column": found["column"],
            "severity": found["severity"],
            "status": found["status"],
            "observed": found["observed_value"],
            "unexpected": found["unexpected_count"],
            "error": found["error"],
        }
        for found in document.get("expectations", [])
    ]


def _column_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "column": name,
            "kind": column["kind"],
            "method": column["method"],
            "score": column["score"],
            "threshold": column["threshold"],
            "drifted": column["drifted"],
            "note": column.get("inconclusive"),
        }
        for name, column in document.get("columns", {}).items()
    ]


def _feature_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "feature": name,
            "method": feature["method"],
            "score": feature["score"],
            "threshold": feature["threshold"],
            "skewed": feature["skewed"],
            "match_rate": feature["match_rate"],
            "note": feature.get("inconclusive"),
        }
        for name, feature in document.get("features", {}).items()
    ]


def _health_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model version, each measured metric with the objective on it and whether it
    was met (None: no objective on it, or nothing measured)."""
    from aimops.monitors.checks.health import HEADLINE_METRICS, LATENCY_OBJECTIVES

    objectives = document.get("objectives", {})
    bounds = {"success_rate": ("success_rate_min", ">=")}
    bounds |= {metric: (name, "<=") for name, metric in LATENCY_OBJECTIVES.items()}
    rows = []
    for name, version in document.get("versions", {}).items():
        for metric in dict.fromkeys([*HEADLINE_METRICS, *bounds]):
            objective, side = bounds.get(metric, (None, ""))
            bounded = objective in objectives
            value = version.get(metric)
            met = objective not in version.get("violations", [])
            rows.append({
                "model_version": name, "metric": metric, "value": value,
                "objective": f"{side} {float(objectives[objective]):g}" if bounded else None,
                "met": met if bounded and value is not None else None,
            })  # fmt: skip
    return rows


_ROWS: dict[str, Callable[[Mapping[str, Any]], list[dict[str, Any]]]] = {
    "data_quality": _expectation_rows,
    "drift": _column_rows,
    "feature_consistency": _feature_rows,
    "health": _health_rows,
}


def _dashboard(
    outcome: CheckOutcome, identity: TaskIdentity, model_version: Any, template: str | None
) -> str | None:
    """The dashboard for the model version and the log's time window, as the operator's
    "Dashboard" link; None without a template, or with one that cannot be filled (logged:
    a wrong template must not hide the check's verdict)."""
    from aimops.monitors.checks.dashboards import dashboard_template, dashboard_url

    chosen = dashboard_template(template)
    if chosen is None:
        return None
    label = version_label_of(model_version)
    extra = {
        "flow_name": identity.flow_name,
        "flow_run_id": identity.flow_run_id,
        "task_name": identity.task_name,
    }
    try:
        url = dashboard_url(chosen, model_version=label, window=outcome.window, extra=extra)
    except InvalidInputError as exc:
        run_logger().warning("no dashboard link: %s", exc)
        return None
    run_logger().info("dashboard: %s", url)
    return url
