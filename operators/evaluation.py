"""Evaluate and compare model versions as Airflow tasks, recorded in the AIM store.

Both operators are thin wrappers of :func:`aimops.monitors.evaluation.jobs.evaluate_model` and
:func:`~aimops.monitors.evaluation.jobs.compare_models`: a task records exactly what a notebook
would. The rows come from a labelled ``dataset`` (scored by the registered model through MLflow)
or a ``predictions`` table (label and score columns); a model version or a data set may be
the ``model_version_ref`` / ``dataset_ref`` an upstream TaskFlow task returned.

- The evaluation is keyed by the task's identity, ``airflow/<dag_id>/<run_id>/<task_id>
  [/<map_index>]``, and produced by its step: a retried or re-run task records over its first
  try instead of adding another evaluation.
- A failed gate fails the task at once, with the message naming each metric, its value and
  the bound; the evaluation is recorded first, with status ``failed``. Bad input fails at once
  too. Both would fail again, so they are not retried; the store or MLflow being unreachable,
  a model version or file not there yet, keep the task's retries (the task frame,
  :mod:`aimops.tasks`, decides from the error).
- ``execute`` returns the evaluation URN (the XCom); the "AIM report" link opens the report
  of that URN in Airflow (see :mod:`aimops.operators.web.app`).
- The operators do not repeat the jobs' checks and defaults (the rows, the reports folder);
  only "exactly one of dataset and predictions" is also checked when the DAG file is parsed,
  so that a wrong DAG shows as an import error rather than as failing runs.

Example (in a DAG file)::

    evaluate = EvaluateModelOperator(
        task_id="evaluate",
        model_version=train_task_output,          # a model_version_ref, "name/3" or a URN
        dataset="/data/churn/test.csv",           # labelled rows, scored by the model
        label_column="churned",
        min_metrics={"auroc": 0.85},
        baseline="churn/2", max_regression={"auroc": 0.01},
    )
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from aimops.errors import InvalidInputError
from aimops.monitors.arguments import names as _names
from aimops.monitors.arguments import number as _number
from aimops.monitors.arguments import number_map as _bounds
from aimops.operators.links import task_xcom
from aimops.operators.task_frame import task_identity, task_key, task_result
from aimops.operators.web.urls import report_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn
    from aimops.monitors.evaluation.jobs import Columns, EvaluationOutcome, MlflowLocation


#: The key of the evaluation a task records: the task instance's identity (``airflow/<dag_id>/
#: <run_id>/<task_id>[/<map_index>]``).
evaluation_key = task_key


def evaluation_of(key: str) -> Urn:
    """The URN of the evaluation recorded under ``key`` (as the store names it)."""
    from aimops.monitors.evaluation.recording import evaluation_urn

    return evaluation_urn({}, (), None, key)


class AimReportLink(BaseOperatorLink):
    """The report of the evaluation or comparison the task recorded, inside Airflow.

    Airflow 3 computes an operator's links in the task's process when it ends (the API server
    reads them back from XCom): the link is the report of the URN the task returned. A task
    that returned none (a failed gate records, then fails) links to the evaluation under its
    rendered ``key``, else under its identity, where it recorded it.
    """

    name: ClassVar[str] = "AIM report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        returned = _returned_evaluation(ti_key)
        if returned is not None:
            return report_url(returned)
        key = getattr(operator, "key", None)
        if not isinstance(key, str) or not key or "{{" in key:
            key = evaluation_key(
                ti_key.dag_id, ti_key.run_id, ti_key.task_id, getattr(ti_key, "map_index", -1)
            )
        return report_url(evaluation_of(key))


def _returned_evaluation(ti_key: Any) -> str | None:
    """The evaluation URN the task instance returned (its ``return_value`` XCom), if any."""
    from airflow.sdk import BaseXCom

    value = task_xcom(ti_key, BaseXCom.XCOM_RETURN_KEY)
    return value if isinstance(value, str) and value.startswith("urn:aim:evaluation:") else None


class _ModelEvaluation(BaseOperator):
    """What both operators share: the rows, the columns, gates, the store, MLflow, errors."""

    operator_extra_links = (AimReportLink(),)
    ui_color = "#e6f0fa"

    def __init__(
        self,
        *,
        dataset: Any = None,
        predictions: Any = None,
        baseline: Any = None,
        label_column: str = "label",
        score_column: str = "score",
        weight_column: str | None = None,
        feature_columns: Sequence[str] | None = None,
        ignore_columns: Sequence[str] = (),
        threshold: float | str = 0.5,
        min_metrics: Mapping[str, float] | None = None,
        max_regression: Mapping[str, float] | None = None,
        key: str | None = None,
        dataset_name: str | None = None,
        report_dir: str | Path | None = "default",
        aimops_conn_id: str = "aimops_default",
        mlflow_conn_id: str = "mlflow_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (dataset is None) == (predictions is None):  # the job checks it again, when run
            given = "both" if dataset is not None else "neither"
            raise InvalidInputError(
                f"{self.task_id} takes one of dataset= and predictions=: {given} given"
            )
        self.dataset = dataset
        self.predictions = predictions
        self.baseline = baseline
        self.label_column = label_column
        self.score_column = score_column
        self.weight_column = weight_column
        self.feature_columns = feature_columns
        self.ignore_columns = ignore_columns
        self.threshold = threshold
        self.min_metrics = min_metrics
        self.max_regression = max_regression
        self.key = key
        self.dataset_name = dataset_name
        self.report_dir = report_dir
        self.aimops_conn_id = aimops_conn_id
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> str:
        from aimops.errors import GateFailedError
        from aimops.hooks.aim import AimHook
        from aimops.tasks import run_task

        key, producer = task_identity(context["ti"], self.key)
        hook = AimHook(self.aimops_conn_id)
        try:
            outcome = run_task(lambda: self.evaluate(hook.get_store(), key=key, producer=producer))
        finally:
            hook.close()
        if isinstance(outcome.error, GateFailedError):  # recorded first, then failed
            self.log.error("recorded with failed gates; report: %s", report_url(evaluation_of(key)))
        evaluated = task_result(outcome)
        self.log_outcome(evaluated)
        return str(evaluated.urn)

    def evaluate(self, store: AimStore, *, key: str, producer: str) -> EvaluationOutcome:
        """Run the job; each operator calls its own."""
        raise NotImplementedError

    def log_outcome(self, outcome: EvaluationOutcome) -> None:
        """The headline numbers, the gates and where the report is, in the task log."""
        from aimops.monitors.evaluation.result import headline

        self.log.info("recorded %s: %s", outcome.urn, headline(outcome.result.metrics))
        for gate in outcome.gates:
            self.log.info("gate passed: %s", gate.message)
        if outcome.report is not None:
            self.log.info("report file: %s", outcome.report)
        self.log.info("report in Airflow: %s", report_url(outcome.urn))

    # -- arguments as the jobs take them ----------------------------------------------------

    def columns(self) -> Columns:
        from aimops.monitors.evaluation.jobs import Columns

        return Columns(
            label=str(self.label_column),
            score=str(self.score_column),
            weight=str(self.weight_column) if self.weight_column else None,
            features=_names(self.feature_columns) or None,
            ignore=_names(self.ignore_columns),
        )

    def mlflow_location(self) -> MlflowLocation | None:
        """Where registered models are loaded from, when the rows are to be scored: the MLflow
        connection (or ``MLFLOW_TRACKING_URI``), else the local default the examples use."""
        if self.dataset is None:
            return None
        from aimops.hooks.mlflow import MlflowHook
        from aimops.monitors.evaluation.jobs import MlflowLocation

        return MlflowLocation(*MlflowHook(self.mlflow_conn_id).model_location())


class EvaluateModelOperator(_ModelEvaluation):
    """Evaluate one model version on labelled rows, gate it, record it, write its report.

    :param model_version: the version evaluated: a ``model_version_ref`` (e.g. an upstream
        task's output), ``"name/3"`` or its URN. Optional with ``predictions``.
    :param dataset: labelled rows the model scores (through the MLflow registry): a
        ``dataset_ref``, a CSV or Parquet path, or a ``file://`` URI.
    :param predictions: instead of ``dataset``, a table with label and score columns.
    :param label_column: the column of the labels; ``score_column`` of the scores
        (predictions), ``weight_column`` of sample weights.
    :param class_score_columns: with ``predictions`` of a multiclass model (and
        ``analyzers=["multiclass"]``): one score column per class, in the classes' order.
    :param feature_columns: the features the model takes (default: every other column);
        ``ignore_columns`` are left out of them (a group column for fairness, say).
    :param analyzers: ``["binary"]`` by default; e.g. ``["binary", "fairness"]`` with
        ``analyzer_options={"sensitive_column": "sex"}``.
    :param threshold: the decision threshold of the confusion matrix and rates.
    :param min_metrics: gates ``{"auroc": 0.9}``; ``max_metrics`` for losses, fairness gaps.
    :param baseline: a model version whose latest evaluation on the same data set is the
        reference of ``max_regression`` (``{"auroc": 0.01}``: at most that much worse).
    :param key: the evaluation's key (default: the task's identity; keep the default).
    :param dataset_name: the data set the rows are, when ``predictions`` is given (default: the
        predictions file itself); baseline gates compare evaluations on the same data set.
    :param report_dir: where the HTML report goes (``"default"``: ``$AIMOPS_HOME/reports``;
        None: no file; the report is still served by Airflow from the store).
    :param aimops_conn_id: the AIM store connection; ``mlflow_conn_id`` the MLflow one.
    :return: the evaluation URN.
    """

    template_fields: Sequence[str] = (
        "model_version",
        "dataset",
        "predictions",
        "baseline",
        "label_column",
        "score_column",
        "weight_column",
        "class_score_columns",
        "feature_columns",
        "ignore_columns",
        "analyzer_options",
        "threshold",
        "min_metrics",
        "max_metrics",
        "max_regression",
        "key",
        "dataset_name",
        "report_dir",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "analyzer_options": "json",
        "min_metrics": "json",
        "max_metrics": "json",
        "max_regression": "json",
    }

    def __init__(
        self,
        *,
        model_version: Any = None,
        analyzers: Sequence[str] = ("binary",),
        analyzer_options: Mapping[str, Any] | None = None,
        max_metrics: Mapping[str, float] | None = None,
        class_score_columns: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_version = model_version
        self.analyzers = list(analyzers)
        self.analyzer_options = analyzer_options
        self.max_metrics = max_metrics
        self.class_score_columns = class_score_columns

    def columns(self) -> Columns:
        from dataclasses import replace

        return replace(super().columns(), class_scores=_names(self.class_score_columns) or None)

    def evaluate(self, store: AimStore, *, key: str, producer: str) -> EvaluationOutcome:
        from aimops.monitors.evaluation.jobs import evaluate_model

        return evaluate_model(
            store,
            model_version=self.model_version,
            dataset=self.dataset,
            predictions=self.predictions,
            columns=self.columns(),
            analyzers=tuple(self.analyzers),
            analyzer_options=dict(self.analyzer_options or {}),
            threshold=_number(self.threshold, "threshold"),
            min_metrics=_bounds(self.min_metrics, "min_metrics"),
            max_metrics=_bounds(self.max_metrics, "max_metrics"),
            baseline=self.baseline,
            max_regression=_bounds(self.max_regression, "max_regression"),
            key=key,
            producer=producer,
            report_dir=self.report_dir or None,
            mlflow=self.mlflow_location(),
            dataset_name=self.dataset_name or None,
        )


class CompareModelsOperator(_ModelEvaluation):
    """Compare two or more model versions on the same labelled rows, gate the challengers
    against the baseline, record the comparison (and each version's evaluation).

    :param model_versions: the versions compared (refs, ``"name/3"`` or URNs).
    :param baseline: the reference version (default: the first); every other version must
        meet ``min_metrics`` and be at most ``max_regression`` worse than it
        (``{"auroc": 0.02}``).
    :param score_columns: with ``predictions``: ``{"name/version": column}`` per version.
    :param metrics: the metrics compared, each with a paired confidence interval.
    :param confidence: of the intervals; ``n_bootstrap`` resamples for the bootstrap ones.

    The rest is as for :class:`EvaluateModelOperator`. Returns the comparison URN.
    """

    template_fields: Sequence[str] = (
        "model_versions",
        "dataset",
        "predictions",
        "baseline",
        "label_column",
        "weight_column",
        "feature_columns",
        "ignore_columns",
        "score_columns",
        "threshold",
        "min_metrics",
        "max_regression",
        "key",
        "dataset_name",
        "report_dir",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "score_columns": "json",
        "min_metrics": "json",
        "max_regression": "json",
    }

    def __init__(
        self,
        *,
        model_versions: Sequence[Any] | Any,
        score_columns: Mapping[str, str] | None = None,
        metrics: Sequence[str] = ("auroc", "aupr", "log_loss", "brier"),
        confidence: float = 0.95,
        n_bootstrap: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(model_versions, list | tuple) and len(model_versions) < 2:
            raise InvalidInputError(f"{self.task_id}: compare at least two model versions")
        self.model_versions = model_versions
        self.score_columns = score_columns
        self.metrics = list(metrics)
        self.confidence = confidence
        self.n_bootstrap = n_bootstrap

    def evaluate(self, store: AimStore, *, key: str, producer: str) -> EvaluationOutcome:
        from aimops.monitors.evaluation.jobs import compare_models

        return compare_models(
            store,
            model_versions=list(self.model_versions),
            dataset=self.dataset,
            predictions=self.predictions,
            score_columns=self.score_columns,
            columns=self.columns(),
            baseline=self.baseline,
            metrics=tuple(self.metrics),
            threshold=_number(self.threshold, "threshold"),
            confidence=float(self.confidence),
            n_bootstrap=int(self.n_bootstrap),
            min_metrics=_bounds(self.min_metrics, "min_metrics"),
            max_regression=_bounds(self.max_regression, "max_regression"),
            key=key,
            producer=producer,
            report_dir=self.report_dir or None,
            mlflow=self.mlflow_location(),
            dataset_name=self.dataset_name or None,
        )

    def log_outcome(self, outcome: EvaluationOutcome) -> None:
        super().log_outcome(outcome)
        winners = getattr(outcome.result, "winners", {})
        for metric, winner in winners.items():
            self.log.info("%s: %s", metric, f"{winner} wins" if winner else "no clear winner")
        for name, urn in outcome.evaluations.items():
            self.log.info("evaluation of %s: %s", name, urn)
