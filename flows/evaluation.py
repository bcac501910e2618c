"""Evaluate and compare model versions as Prefect tasks, recorded in the AIM store.

``evaluate_model`` and ``compare_models`` are the Prefect twins of the Airflow operators
``EvaluateModelOperator`` and ``CompareModelsOperator``: thin wrappers of the same jobs
(:func:`aimops.monitors.evaluation.jobs.evaluate_model`, :func:`~aimops.monitors.evaluation.jobs.
compare_models`) through the shared task frame (:mod:`aimops.flows.frame`), so a flow records
exactly what a DAG or a notebook would:

- the evaluation is keyed by the task run (``prefect/<flow>/<flow run id>/<task>[/<n>]``) and
  produced by its step, so a retry records over its first try;
- bad input (neither or both of ``dataset`` and ``predictions``, one model version to
  compare, a bound that is no number) fails the task run at once, naming the parameter;
- a failed gate fails it at once too, after the evaluation is recorded (status ``failed``) and
  its artifacts published; the store busy or unreachable, a model version, file or baseline
  evaluation not recorded yet, keep the task's retries (2, 10 s apart);
- the task returns the evaluation (or comparison) URN and publishes its progress view
  (:mod:`aimops.flows.artifacts`): ``aimops-evaluation-<model>`` (or ``aimops-comparison-
  <model>``) with the verdict, the headline metrics and the failed gates; ``-table`` with
  every metric and its gates (a comparison: one row per version, with the metrics it wins);
  ``-link`` to the HTML report. Every version of a model adds to the same keys.

MLflow (where a ``dataset`` is scored), the store and the reports folder come from the
``store=`` block (:class:`aimops.flows.blocks.AimopsStore`), else the environment.

Example:
    >>> evaluate_model.name, compare_models.name, evaluate_model.retries
    ('evaluate_model', 'compare_models', 2)
    >>> print(gate_text({"bound": "baseline", "limit": 0.01, "baseline": "churn/2"}))
    at most 0.01 worse than churn/2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.errors import GateFailedError, InvalidInputError
from aimops.flows.artifacts import (
    ProgressView,
    data_name,
    progress_subject,
    report_link,
    summary_markdown,
    version_label_of,
)
from aimops.flows.frame import aimops_task, current_identity, in_frame, run_logger
from aimops.monitors.arguments import names, number, number_map
from aimops.monitors.reports.urls import report_url

if TYPE_CHECKING:
    from aimops.flows.blocks import AimopsStore
    from aimops.metadata.store import AimStore
    from aimops.monitors.evaluation.jobs import Columns, EvaluationOutcome


@aimops_task
def evaluate_model(
    model_version: Any = None,
    dataset: Any = None,
    predictions: Any = None,
    *,
    baseline: Any = None,
    label_column: str = "label",
    score_column: str = "score",
    weight_column: str | None = None,
    class_score_columns: Sequence[str] | None = None,
    feature_columns: Sequence[str] | None = None,
    ignore_columns: Sequence[str] = (),
    analyzers: Sequence[str] = ("binary",),
    analyzer_options: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    min_metrics: Mapping[str, float] | None = None,
    max_metrics: Mapping[str, float] | None = None,
    max_regression: Mapping[str, float] | None = None,
    dataset_name: str | None = None,
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Evaluate one model version on labelled rows, gate it, record it, write its report.

    The parameters are those of ``EvaluateModelOperator``: ``model_version`` (a
    ``model_version_ref``, ``"name/3"`` or its URN; optional with ``predictions``), exactly one
    of ``dataset`` (labelled rows the registered model scores through MLflow: a
    ``dataset_ref``, a CSV or Parquet path) and ``predictions`` (label and score columns),
    the columns, ``analyzers`` (``["binary", "fairness"]`` with ``analyzer_options=
    {"sensitive_column": "sex"}``), the gates ``min_metrics`` / ``max_metrics`` and, against
    the latest evaluation of ``baseline`` on the same data set, ``max_regression``. ``key``
    defaults to the task run's identity (keep it); ``store`` is the block (or a saved one's
    name). Returns the evaluation URN.

    Example (in a flow)::

        @flow
        def nightly_evaluation(version: str) -> str:
            return evaluate_model(
                model_version=version, dataset="/data/churn/test.csv", label_column="churned",
                min_metrics={"auroc": 0.85}, baseline="churn/2", max_regression={"auroc": 0.01},
            )
    """
    identity = current_identity()
    key = key or identity.key

    def arguments() -> dict[str, Any]:
        _one_source(identity.task_name, dataset, predictions)
        return {
            "model_version": model_version,
            "dataset": dataset,
            "predictions": predictions,
            "columns": _columns(
                label_column,
                score_column,
                weight_column,
                feature_columns,
                ignore_columns,
                class_score_columns,
            ),
            "analyzers": tuple(names(analyzers)),
            "analyzer_options": dict(analyzer_options or {}),
            "threshold": number(threshold, "threshold"),
            "min_metrics": number_map(min_metrics, "min_metrics"),
            "max_metrics": number_map(max_metrics, "max_metrics"),
            "baseline": baseline,
            "max_regression": number_map(max_regression, "max_regression"),
            "dataset_name": dataset_name or None,
        }

    def job(aim: AimStore, block: AimopsStore, given: dict[str, Any]) -> EvaluationOutcome:
        from aimops.monitors.evaluation import jobs

        return jobs.evaluate_model(
            aim, **given, key=key, producer=identity.producer, report_dir=block.reports(),
            mlflow=block.model_location() if dataset is not None else None,
        )  # fmt: skip

    def view(recorded: Recorded) -> ProgressView:
        data = dataset_name or data_name(dataset if dataset is not None else predictions)
        label = version_label_of(model_version)
        title = f"Evaluation of {label or 'the predictions'}" + (f" on {data}" if data else "")
        subject = progress_subject(model_version, data) or identity.flow_name
        return _view(recorded, "evaluation", subject, title, _metric_rows(recorded))

    return _finish(*_run(store, arguments, job, key), view)


@aimops_task
def compare_models(
    model_versions: Sequence[Any],
    dataset: Any = None,
    predictions: Any = None,
    *,
    score_columns: Mapping[str, str] | None = None,
    baseline: Any = None,
    label_column: str = "label",
    weight_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    ignore_columns: Sequence[str] = (),
    metrics: Sequence[str] = ("auroc", "aupr", "log_loss", "brier"),
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    min_metrics: Mapping[str, float] | None = None,
    max_regression: Mapping[str, float] | None = None,
    dataset_name: str | None = None,
    key: str | None = None,
    store: AimopsStore | str | None = None,
) -> str:
    """Compare two or more model versions on the same labelled rows, gate the challengers
    against the baseline, record the comparison (and each version's evaluation).

    The parameters are those of ``CompareModelsOperator``: ``model_versions`` (refs,
    ``"name/3"`` or URNs), the rows (``dataset`` scored by each version, or ``predictions``
    with ``score_columns={"name/version": column}``), ``baseline`` (default: the first
    version), the ``metrics`` compared with paired ``confidence`` intervals, and the gates
    every challenger must pass: ``min_metrics``, and at most ``max_regression`` worse than the
    baseline. Returns the comparison URN.

    Example (in a flow)::

        @flow
        def champion_or_challenger(champion: str, challenger: str) -> str:
            return compare_models(
                [champion, challenger], dataset="/data/churn/test.csv",
                label_column="churned", max_regression={"auroc": 0.0},
            )
    """
    identity = current_identity()
    key = key or identity.key

    def arguments() -> dict[str, Any]:
        _one_source(identity.task_name, dataset, predictions)
        if isinstance(model_versions, list | tuple) and len(model_versions) < 2:
            raise InvalidInputError(f"{identity.task_name}: compare at least two model versions")
        return {
            "model_versions": list(model_versions),
            "dataset": dataset,
            "predictions": predictions,
            "score_columns": score_columns,
            "columns": _columns(
                label_column, "score", weight_column, feature_columns, ignore_columns, None
            ),
            "baseline": baseline,
            "metrics": tuple(names(metrics)),
            "threshold": number(threshold, "threshold"),
            "confidence": number(confidence, "confidence"),
            "n_bootstrap": int(number(n_bootstrap, "n_bootstrap")),
            "min_metrics": number_map(min_metrics, "min_metrics"),
            "max_regression": number_map(max_regression, "max_regression"),
            "dataset_name": dataset_name or None,
        }

    def job(aim: AimStore, block: AimopsStore, given: dict[str, Any]) -> EvaluationOutcome:
        from aimops.monitors.evaluation import jobs

        return jobs.compare_models(
            aim, **given, key=key, producer=identity.producer, report_dir=block.reports(),
            mlflow=block.model_location() if dataset is not None else None,
        )  # fmt: skip

    def view(recorded: Recorded) -> ProgressView:
        data = dataset_name or data_name(dataset if dataset is not None else predictions)
        compared = ", ".join(recorded.document.get("labels", []))
        title = f"Comparison of {compared}" + (f" on {data}" if data else "")
        first = baseline if baseline is not None else _first(model_versions)
        subject = progress_subject(first, data) or identity.flow_name
        return _view(recorded, "comparison", subject, title, _version_rows(recorded))

    return _finish(*_run(store, arguments, job, key), view)


# -- what both tasks share: the frame, the record, the log, the artifacts ----------------------


@dataclass(frozen=True)
class Recorded:
    """What an evaluation task recorded, as its log and artifacts show it: the URN, the
    result's document, its gates' outcomes (as dicts), the report file and, for a
    comparison, each version's own evaluation."""

    urn: str
    document: Mapping[str, Any]
    gates: list[Mapping[str, Any]]
    report: Path | None
    evaluations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, outcome: EvaluationOutcome) -> Recorded:
        return cls(
            urn=str(outcome.urn), document=outcome.result.to_dict(),
            gates=[gate.to_dict() for gate in outcome.gates], report=outcome.report,
            evaluations={name: str(urn) for name, urn in outcome.evaluations.items()},
        )  # fmt: skip

    @classmethod
    def read(cls, aim: AimStore, key: str, report_dir: str) -> Recorded:
        """The evaluation recorded under ``key`` (a job that failed a gate returns none)."""
        from aimops.monitors.evaluation.recording import evaluation_urn, load_evaluation
        from aimops.monitors.reports.page import report_path

        urn = evaluation_urn({}, (), None, key)
        document = load_evaluation(aim, urn)
        report = report_path(report_dir, urn)
        evaluations = {
            name: str(evaluation_urn({}, (), None, f"{key}/{name}"))
            for name in document.get("labels", [])
        }
        return cls(str(urn), document, list(document.get("gates", [])),
                   report if report.is_file() else None, evaluations)  # fmt: skip

    @property
    def failed_gates(self) -> list[str]:
        return [str(gate["message"]) for gate in self.gates if not gate["passed"]]

    @property
    def verdict(self) -> str:
        """``fail`` when a gate failed; ``inconclusive`` for a comparison too thin for
        intervals; else ``pass``."""
        if self.failed_gates:
            return "fail"
        return "inconclusive" if self.document.get("inconclusive") else "pass"


Arguments = Callable[[], dict[str, Any]]
Job = Callable[["AimStore", "AimopsStore", dict[str, Any]], "EvaluationOutcome"]


def _run(
    store: AimopsStore | str | None, arguments: Arguments, job: Job, key: str
) -> tuple[Recorded, GateFailedError | None]:
    """The arguments checked and the block resolved (a bad one fails before the store is
    opened), then the job on the store. A failed gate is returned with
    what was recorded, for the artifacts to show before the task fails."""
    from aimops.flows.blocks import resolve_store

    given, block = arguments(), resolve_store(store)

    def judged(aim: AimStore) -> tuple[Recorded, GateFailedError | None]:
        try:
            return Recorded.of(job(aim, block, given)), None
        except GateFailedError as failed:  # recorded first: read back what was
            return Recorded.read(aim, key, block.reports()), failed

    recorded, failure = in_frame(block, judged)
    _log(recorded, failure)
    return recorded, failure


def _log(recorded: Recorded, failure: GateFailedError | None) -> None:
    """The operator's lines: the headline numbers, the gates, the report file, the winners."""
    from aimops.monitors.evaluation.result import headline

    log = run_logger()
    if failure is not None:
        log.error("recorded with failed gates; report file: %s", recorded.report)
        return
    log.info("recorded %s: %s", recorded.urn, headline(recorded.document["metrics"]))
    for gate in recorded.gates:
        log.info("gate passed: %s", gate["message"])
    if recorded.report is not None:
        log.info("report file: %s", recorded.report)
    for metric, winner in recorded.document.get("winners", {}).items():
        log.info("%s: %s", metric, f"{winner} wins" if winner else "no clear winner")
    for name, urn in recorded.evaluations.items():
        log.info("evaluation of %s: %s", name, urn)


def _finish(
    recorded: Recorded, failure: GateFailedError | None, view: Callable[[Recorded], ProgressView]
) -> str:
    """Publish the progress view, then fail the task on a failed gate; the URN. The record
    stands whatever happens to its view: a view that cannot be made is logged."""
    try:
        view(recorded).publish()
    except Exception:
        run_logger().exception("%s is recorded; reporting on it failed", recorded.urn)
    if failure is not None:
        raise failure
    return recorded.urn


def _view(
    recorded: Recorded, kind: str, subject: str, title: str, table: list[dict[str, Any]]
) -> ProgressView:
    """The progress view: the summary, the table, the link to the report."""
    from aimops.monitors.evaluation.result import headline_names

    metrics = recorded.document["metrics"]
    lines = [f"Recorded as `{recorded.urn}`."]
    winners = recorded.document.get("winners") or {}
    if winners:
        won = [f"{metric}: {winner or 'no clear winner'}" for metric, winner in winners.items()]
        lines.append("Winners: " + "; ".join(won) + ".")
    if recorded.document.get("inconclusive"):
        lines.append(f"Inconclusive: {recorded.document['inconclusive']}.")
    if not recorded.gates:
        lines.append("No gates: recorded, nothing was judged.")
    if recorded.report is not None:
        lines.append(f"Report file: `{recorded.report}`")
    return ProgressView(
        kind, subject,
        summary_markdown(
            title, recorded.verdict, {name: metrics[name] for name in headline_names(metrics)},
            recorded.failed_gates, lines,
        ),
        f"{title}: {recorded.verdict}", table=table,
        link=report_link(recorded.report, report_url(recorded.urn)),
        link_text=f"{kind} report",
    )  # fmt: skip


def _metric_rows(recorded: Recorded) -> list[dict[str, Any]]:
    """One row per metric (then per gated metric the result lacks): value, gates, passed."""
    from aimops.monitors.evaluation.result import headline_names

    metrics = recorded.document["metrics"]
    gated: dict[str, list[Mapping[str, Any]]] = {}
    for gate in recorded.gates:
        gated.setdefault(str(gate["metric"]), []).append(gate)
    order = headline_names(metrics, limit=len(metrics))
    return [
        {
            "metric": name,
            "value": metrics.get(name),
            "gate": "; ".join(gate_text(gate) for gate in gated.get(name, [])) or None,
            "passed": all(g["passed"] for g in gated[name]) if name in gated else None,
        }
        for name in [*order, *(name for name in gated if name not in metrics)]
    ]


def _version_rows(recorded: Recorded) -> list[dict[str, Any]]:
    """One row per compared version: baseline or challenger, its metrics, what it wins and
    whether its gates passed."""
    document = recorded.document
    winners = document.get("winners") or {}
    rows = []
    for evaluation in document.get("evaluations", []):
        name = evaluation.get("label")
        own = [gate for gate in recorded.gates if str(gate["message"]).startswith(f"{name}: ")]
        rows.append({
            "model_version": name,
            "role": "baseline" if name == document.get("baseline") else "challenger",
            **{metric: evaluation["metrics"].get(metric) for metric in winners},
            "wins": ", ".join(m for m, winner in winners.items() if winner == name) or None,
            "gates": None if not own else "pass" if all(g["passed"] for g in own) else "fail",
        })  # fmt: skip
    return rows


def gate_text(gate: Mapping[str, Any]) -> str:
    """A gate's bound in words: ``>= 0.9``, ``<= 0.35``, ``at most 0.01 worse than churn/2``."""
    limit = f"{float(gate['limit']):g}"
    if gate["bound"] == "minimum":
        return f">= {limit}"
    if gate["bound"] == "maximum":
        return f"<= {limit}"
    return f"at most {limit} worse than {gate.get('baseline') or 'the baseline'}"


# -- arguments and names -------------------------------------------------------------------------


def _one_source(task_name: str, dataset: Any, predictions: Any) -> None:
    if (dataset is None) == (predictions is None):  # the job checks it again, later
        given = "both" if dataset is not None else "neither"
        raise InvalidInputError(
            f"{task_name} takes one of dataset= and predictions=: {given} given"
        )


def _columns(
    label: str,
    score: str,
    weight: str | None,
    features: Sequence[str] | None,
    ignore: Sequence[str],
    class_scores: Sequence[str] | None,
) -> Columns:
    from aimops.monitors.evaluation.jobs import Columns

    return Columns(
        label=str(label), score=str(score), weight=str(weight) if weight else None,
        class_scores=names(class_scores) or None, features=names(features) or None,
        ignore=names(ignore),
    )  # fmt: skip


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list | tuple) and values else None
