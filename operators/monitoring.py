"""Monitoring checks as Airflow tasks: data quality, drift, feature consistency, health.

Each operator is a thin wrapper of its job in :mod:`aimops.monitors.checks.jobs`, so a task
records exactly what a notebook would:

- :class:`DataQualityOperator`: a table against a Great Expectations suite;
- :class:`DriftCheckOperator`: current data against a model version's registered reference
  data (or a given table), optionally with Evidently's HTML report;
- :class:`FeatureConsistencyOperator`: served features against the training ones;
- :class:`HealthCheckOperator`: a served-request log against latency and error objectives,
  with a link to the team's dashboard for the model and the log's time window.

The check is keyed by the task's identity (``airflow/<dag_id>/<run_id>/<task_id>
[/<map_index>]``) and produced by its step, so a retried task records over its first try.
The task returns the check URN and also pushes it as the XCom ``check_urn`` (a failing task
returns nothing, and an alert callback wants it). A check whose status is in ``fail_on``
(default: ``fail``) fails the task at once, after recording it, with a message naming what
failed; bad input (missing columns, empty tables, NaN where numbers are needed) also fails at
once, recording nothing. Neither is retried: it would fail again. A table, a model version or
reference data not there yet, or the store unreachable, keep the task's retries (the task
frame, :mod:`aimops.tasks`, decides from the error).

Extra links: "AIM check" opens the check's page inside Airflow (served by the plugin,
:mod:`aimops.operators.web.app`), "Evidently report" the saved Evidently report of a drift
check, "Dashboard" the health check's dashboard.

Example (in a DAG file)::

    drift = DriftCheckOperator(
        task_id="drift",
        model_version="churn/3",                      # its registered reference data
        current="/data/serving/2026-11-26/requests.parquet",
        columns=["age", "income", "tenure"],
        evidently_report=True,
    )
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from aimops.errors import InvalidInputError
from aimops.monitors.arguments import names as _names
from aimops.monitors.arguments import number_map as _numbers
from aimops.monitors.arguments import optional_number_map as _optional_numbers
from aimops.monitors.arguments import switch as _switch
from aimops.monitors.checks.base import STATUSES
from aimops.operators.links import task_xcom
from aimops.operators.task_frame import task_identity, task_result
from aimops.operators.web.urls import check_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from aimops.metadata.store import AimStore
    from aimops.monitors.checks.jobs import CheckOutcome

CHECK_URN_XCOM = "check_urn"
CHECK_FAILURE_XCOM = "check_failure"
SAVED_REPORTS_XCOM = "saved_reports"
DASHBOARD_XCOM = "dashboard_url"


def _check_of(ti_key: Any) -> str | None:
    """The check URN the task pushed (None before the check was recorded)."""
    pushed = task_xcom(ti_key, CHECK_URN_XCOM)
    if isinstance(pushed, str) and pushed.startswith("urn:aim:check:"):
        return pushed
    return None


class AimCheckLink(BaseOperatorLink):
    """The check's page inside Airflow: its status, numbers and every row that failed."""

    name: ClassVar[str] = "AIM check"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        urn = _check_of(ti_key)
        return check_url(urn) if urn else ""


class EvidentlyReportLink(BaseOperatorLink):
    """Evidently's HTML report of a drift check, when the task saved one."""

    name: ClassVar[str] = "Evidently report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        urn = _check_of(ti_key)
        saved = task_xcom(ti_key, SAVED_REPORTS_XCOM)
        if not urn or not isinstance(saved, list) or "evidently" not in saved:
            return ""
        return check_url(urn, "evidently")


class DashboardLink(BaseOperatorLink):
    """The team's dashboard for the model version and the time window a health check read."""

    name: ClassVar[str] = "Dashboard"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = task_xcom(ti_key, DASHBOARD_XCOM)
        return url if isinstance(url, str) else ""


class _CheckOperator(BaseOperator):
    """What the check operators share: the key, the store, the verdict, the errors."""

    operator_extra_links: Sequence[BaseOperatorLink] = (AimCheckLink(),)
    ui_color = "#eaf5ea"
    shared_template_fields: ClassVar[tuple[str, ...]] = ("model_version", "targets", "key")

    def __init__(
        self,
        *,
        model_version: Any = None,
        targets: Sequence[str] = (),
        fail_on: Sequence[str] = ("fail",),
        key: str | None = None,
        report_dir: str | Path | None = "default",
        aimops_conn_id: str = "aimops_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        unknown = [status for status in fail_on if status not in STATUSES]
        if unknown:
            raise InvalidInputError(
                f"{self.task_id}: fail_on takes {', '.join(STATUSES)}, not {', '.join(unknown)}"
            )
        self.model_version = model_version
        self.targets = targets
        self.fail_on = tuple(fail_on)
        self.key = key
        self.report_dir = report_dir
        self.aimops_conn_id = aimops_conn_id

    def execute(self, context: Context) -> str:
        from aimops.errors import CheckFailedError
        from aimops.hooks.aim import AimHook
        from aimops.tasks import run_task

        ti = context["ti"]
        key, producer = task_identity(ti, self.key)
        hook = AimHook(self.aimops_conn_id)
        try:
            outcome = run_task(lambda: self.run_check(hook.get_store(), key=key, producer=producer))
        finally:
            hook.close()
        checked = task_result(outcome)
        ti.xcom_push(key=CHECK_URN_XCOM, value=str(checked.urn))
        ti.xcom_push(key=SAVED_REPORTS_XCOM, value=sorted(checked.reports))
        try:  # what comes after the verdict is recorded must not replace it
            self.after_check(checked, context)
            self.log_outcome(checked)
        except Exception:
            self.log.exception("the check is recorded; reporting on it failed")
        verdict = run_task(lambda: checked.raise_for_status(self.fail_on))
        if isinstance(verdict.error, CheckFailedError):  # what failed, for an alert to read
            ti.xcom_push(key=CHECK_FAILURE_XCOM, value=str(verdict.error))
        task_result(verdict)
        return str(checked.urn)

    def run_check(self, store: AimStore, *, key: str, producer: str) -> CheckOutcome:
        """Run the job; each operator calls its own."""
        raise NotImplementedError

    def after_check(self, outcome: CheckOutcome, context: Context) -> None:
        """What an operator adds once the check is recorded (the health check's dashboard)."""

    def log_outcome(self, outcome: CheckOutcome) -> None:
        """The verdict, what went wrong, the headline numbers and where the page is."""
        from aimops.monitors.checks.registry import describe_failure
        from aimops.monitors.evaluation.result import headline

        self.log.info(
            "%s check %s: %s (%s)",
            outcome.result.kind, outcome.urn, outcome.status, headline(outcome.result.metrics),
        )  # fmt: skip
        if outcome.status != "pass":
            self.log.warning("%s", describe_failure(outcome.result))
        for name, path in outcome.reports.items():
            self.log.info("%s report file: %s", name, path)
        self.log.info("check in Airflow: %s", check_url(outcome.urn))


class DataQualityOperator(_CheckOperator):
    """Validate a table against a Great Expectations suite; record the check.

    :param data: the table: a CSV or Parquet path, a ``file://`` URI or a ``dataset_ref``.
    :param suite: the expectations: a list of entries (``{"expect": "not_null", "column":
        "age"}``, ``{"expect": "between", "column": "age", "min": 0, "max": 120,
        "severity": "warn"}``, ...), a ``.yaml``/``.json`` file or YAML text; see
        :mod:`aimops.monitors.checks.data_quality`. A failed expectation fails the task unless its
        severity is ``warn``.
    :param model_version: the model version the data feeds (a check target), optional.
    :param targets: further targets (``urn:aim:deployment:...``).
    :param fail_on: the statuses that fail the task (default ``("fail",)``; add ``"warn"``
        to fail on warnings too).
    :param name: the suite's name, shown with the check.
    :return: the check URN.
    """

    template_fields: Sequence[str] = (
        "data",
        "suite",
        "name",
        *_CheckOperator.shared_template_fields,
    )

    def __init__(self, *, data: Any, suite: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.suite = suite
        self.name = name

    def run_check(self, store: AimStore, *, key: str, producer: str) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_data_quality

        return run_data_quality(
            store, self.data, self.suite, model_version=self.model_version or None,
            targets=_names(self.targets), name=self.name, key=key, producer=producer,
            report_dir=self.report_dir,
        )  # fmt: skip


class DriftCheckOperator(_CheckOperator):
    """Drift of current data from a model version's reference data, with Evidently's methods.

    :param current: the current table (a path, ``file://`` URI or ``dataset_ref``).
    :param model_version: whose registered reference data is the baseline (see
        :func:`aimops.monitors.register_reference`); or give ``reference``.
    :param reference: the reference table instead of the registered one.
    :param columns: the columns compared (default: all the reference's).
    :param numerical_columns: / ``categorical_columns``: the columns' kinds, when inference
        is not wanted.
    :param methods: the method per column (``wasserstein``, ``jensenshannon``, ``ks``,
        ``chisquare``, ``z``; default: Evidently's choice); ``thresholds`` per column.
    :param drift_share: the share of drifted columns at which the data set has drifted
        (Evidently's default 0.5).
    :param evidently_report: also save Evidently's HTML report (slow on large data).
    :return: the check URN.
    """

    operator_extra_links = (AimCheckLink(), EvidentlyReportLink())
    template_fields: Sequence[str] = (
        "current",
        "reference",
        "columns",
        "thresholds",
        "evidently_report",
        *_CheckOperator.shared_template_fields,
    )

    def __init__(
        self,
        *,
        current: Any,
        reference: Any = None,
        columns: Sequence[str] | None = None,
        numerical_columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] | None = None,
        methods: Mapping[str, str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        drift_share: float = 0.5,
        min_rows: int = 1,
        evidently_report: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if reference is None and self.model_version is None:  # default_args count too
            raise InvalidInputError(f"{self.task_id}: give model_version or reference")
        self.current = current
        self.reference = reference
        self.columns = columns
        self.numerical_columns = numerical_columns
        self.categorical_columns = categorical_columns
        self.methods = methods
        self.thresholds = thresholds
        self.drift_share = drift_share
        self.min_rows = min_rows
        self.evidently_report = evidently_report

    def run_check(self, store: AimStore, *, key: str, producer: str) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_drift

        return run_drift(
            store, self.current, reference=self.reference,
            model_version=self.model_version or None, targets=_names(self.targets),
            columns=_names(self.columns) or None,
            numerical_columns=_names(self.numerical_columns) or None,
            categorical_columns=_names(self.categorical_columns) or None,
            methods=self.methods, thresholds=_numbers(self.thresholds, "thresholds"),
            drift_share=float(self.drift_share), min_rows=int(self.min_rows),
            evidently_report=_switch(self.evidently_report), key=key, producer=producer,
            report_dir=self.report_dir,
        )  # fmt: skip


class FeatureConsistencyOperator(_CheckOperator):
    """Training/serving skew: the features as served against the features as trained on.

    :param serving: the served features (a path, ``file://`` URI or ``dataset_ref``), e.g.
        the online feature store's snapshot.
    :param model_version: whose registered reference data stands for the training features;
        or give ``training``.
    :param features: the features compared (default: all the training side's but
        ``entity_key``).
    :param entity_key: a key both sides carry: then each feature's exact-match rate over the
        joined rows is checked too (``min_match_rate``, default 0.99).
    :param thresholds: per feature (default 0.1 Jensen-Shannon for numbers, L-infinity for
        categories, as TFDV).
    :param skew_status: ``fail`` (default) or ``warn`` for a skewed feature.
    :return: the check URN.
    """

    template_fields: Sequence[str] = (
        "serving",
        "training",
        "features",
        "thresholds",
        *_CheckOperator.shared_template_fields,
    )

    def __init__(
        self,
        *,
        serving: Any,
        training: Any = None,
        features: Sequence[str] | None = None,
        entity_key: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        min_match_rate: float = 0.99,
        skew_status: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if training is None and self.model_version is None:  # default_args count too
            raise InvalidInputError(f"{self.task_id}: give model_version or training")
        self.serving = serving
        self.training = training
        self.features = features
        self.entity_key = entity_key
        self.thresholds = thresholds
        self.min_match_rate = min_match_rate
        self.skew_status = skew_status

    def run_check(self, store: AimStore, *, key: str, producer: str) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_feature_consistency

        if self.skew_status not in ("fail", "warn"):
            raise InvalidInputError(f"skew_status is 'fail' or 'warn', not {self.skew_status!r}")
        return run_feature_consistency(
            store, self.serving, training=self.training,
            model_version=self.model_version or None, targets=_names(self.targets),
            features=_names(self.features) or None, entity_key=self.entity_key or None,
            thresholds=_numbers(self.thresholds, "thresholds"),
            min_match_rate=float(self.min_match_rate),
            skew_status="fail" if self.skew_status == "fail" else "warn",
            key=key, producer=producer, report_dir=self.report_dir,
        )  # fmt: skip


class HealthCheckOperator(_CheckOperator):
    """Latency percentiles, error rate and throughput of a served-request log, against
    objectives (Flagger's defaults: success rate >= 99%, p99 <= 500 ms).

    :param requests: the request log (columns ``timestamp``, ``model_version``,
        ``latency_ms``, ``status``): a path, ``file://`` URI or ``dataset_ref``.
    :param model_version: the version judged (its rows: ``model_version`` equal to
        ``served_as``, default ``name/version``); default: every version in the log.
    :param objectives: merged with the defaults (``{"latency_p99_max_ms": 300}``; None drops
        one); see :mod:`aimops.monitors.checks.health`.
    :param min_requests: fewer requests make the verdict ``inconclusive`` (not a failure,
        unless ``fail_on`` says so).
    :param dashboard_url_template: a URL with ``{model}``, ``{version}``, ``{start_ms}``,
        ``{end_ms}``, ... (see :mod:`aimops.monitors.checks.dashboards`), default
        ``$AIMOPS_DASHBOARD_URL_TEMPLATE``: the task's "Dashboard" link.
    :return: the check URN.
    """

    operator_extra_links = (AimCheckLink(), DashboardLink())
    template_fields: Sequence[str] = (
        "requests",
        "served_as",
        "objectives",
        "dashboard_url_template",
        *_CheckOperator.shared_template_fields,
    )

    def __init__(
        self,
        *,
        requests: Any,
        served_as: str | None = None,
        objectives: Mapping[str, float | None] | None = None,
        min_requests: int = 100,
        dashboard_url_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.requests = requests
        self.served_as = served_as
        self.objectives = objectives
        self.min_requests = min_requests
        self.dashboard_url_template = dashboard_url_template

    def run_check(self, store: AimStore, *, key: str, producer: str) -> CheckOutcome:
        from aimops.monitors.checks.jobs import run_health

        return run_health(
            store, self.requests, model_version=self.model_version or None,
            served_as=self.served_as or None, targets=_names(self.targets),
            objectives=_optional_numbers(self.objectives, "objectives"),
            min_requests=int(self.min_requests), key=key,
            producer=producer, report_dir=self.report_dir,
        )  # fmt: skip

    def after_check(self, outcome: CheckOutcome, context: Context) -> None:
        """Push the dashboard link for the model version and the log's time window."""
        from aimops.monitors.checks.dashboards import dashboard_template, dashboard_url
        from aimops.monitors.sources import model_version_of, version_label

        ti = context["ti"]
        template = dashboard_template(self.dashboard_url_template)
        if template is None:
            ti.xcom_push(key=DASHBOARD_XCOM, value="")  # no link; nor a missing-XCom error
            return
        label = (
            version_label(model_version_of(self.model_version)[0]) if self.model_version else None
        )
        try:
            url = dashboard_url(
                template, model_version=label, window=outcome.window,
                extra={"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id},
            )  # fmt: skip
        except InvalidInputError as exc:  # a wrong template must not hide the check's verdict
            self.log.warning("no dashboard link: %s", exc)
            ti.xcom_push(key=DASHBOARD_XCOM, value="")
            return
        ti.xcom_push(key=DASHBOARD_XCOM, value=url)
        self.log.info("dashboard: %s", url)
