"""Evaluating and comparing model versions as one job: read, score, analyze, gate, record.

The Airflow operators and the Prefect tasks are thin wrappers of these two functions, so a
notebook gets exactly what a pipeline records. Gates are judged before recording and the
outcome is recorded with the evaluation; only then does a failed gate raise
:class:`~aimops.errors.GateFailedError`, so the evidence of a failure is kept.

Example:
    >>> import aimops, pandas as pd
    >>> store = aimops.connect("sqlite://")
    >>> table = pd.DataFrame({"label": [0, 1, 1, 0], "score": [0.2, 0.9, 0.7, 0.4]})
    >>> outcome = evaluate_model(store, predictions=table, key="doc/eval",
    ...                          min_metrics={"auroc": 0.8}, report_dir=None)
    >>> str(outcome.urn), outcome.result.metrics["auroc"]
    ('urn:aim:evaluation:doc/eval', 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError, NotFoundError
from aimops.metadata.urns import Urn, dataset_urn
from aimops.monitors.evaluation.analyzers import AnalysisInput, analyze
from aimops.monitors.evaluation.gates import (
    GateOutcome,
    evaluate_gates,
    gates_from,
    raise_for_failures,
)
from aimops.monitors.evaluation.recording import (
    PlannedEvaluation,
    latest_evaluation,
    plan_evaluation,
)
from aimops.monitors.sources import (
    column,
    column_matrix,
    dataset_of,
    features,
    model_scores,
    model_version_of,
    read_table,
    table_path,
    version_label,
)

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter
    from aimops.monitors.evaluation.comparison import Comparison
    from aimops.monitors.evaluation.result import EvaluationResult


@dataclass(frozen=True)
class MlflowLocation:
    """Where registered models are loaded from."""

    tracking_uri: str
    registry_uri: str

    @classmethod
    def local(cls) -> MlflowLocation:
        from aimops.settings import local_mlflow_uri

        uri = local_mlflow_uri()
        return cls(uri, uri)


@dataclass(frozen=True)
class Columns:
    """Which columns of the table hold what."""

    label: str = "label"
    score: str = "score"
    weight: str | None = None
    class_scores: tuple[str, ...] | None = None  # multiclass: one column per class, in order
    features: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvaluationOutcome:
    """What :func:`evaluate_model` made: the result, its URN, gate outcomes, the report."""

    urn: Urn
    result: EvaluationResult
    gates: tuple[GateOutcome, ...] = ()
    report: Path | None = None
    evaluations: dict[str, Urn] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.gates)


def evaluate_model(
    store: AimStore,
    *,
    model_version: Any = None,
    dataset: Any = None,
    predictions: Any = None,
    columns: Columns = Columns(),
    analyzers: Sequence[str] = ("binary",),
    analyzer_options: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    min_metrics: Mapping[str, float] | None = None,
    max_metrics: Mapping[str, float] | None = None,
    baseline: Any = None,
    max_regression: Mapping[str, float] | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
    mlflow: MlflowLocation | None = None,
    dataset_name: str | None = None,
) -> EvaluationOutcome:
    """Evaluate one model version on a labelled ``dataset`` (scored by the registered model)
    or on a ``predictions`` table (label and score columns); gate, record, write the report.

    ``baseline`` (a model version) gates with ``max_regression``: its latest recorded
    evaluation on the same data set is the reference. The data set is the dataset reference
    or file given, or ``dataset_name`` (the rows a predictions table or DataFrame scored).
    A sensitive column the fairness analyzer reads is never a feature.
    """
    version = model_version_of(model_version) if model_version is not None else None
    table, data_urn, labels = _labelled_rows(dataset, predictions, dataset_name, columns)
    _check_baseline_data(baseline, data_urn)
    options = dict(analyzer_options or {})
    if predictions is not None and columns.class_scores:
        scores = column_matrix(table, columns.class_scores, "class score")
    elif predictions is not None:
        scores = column(table, columns.score, "score")
    else:
        if version is None:
            raise InvalidInputError("scoring a data set needs the model_version to score it with")
        scores = _score(version[1], table, _not_features(columns, options), mlflow)
    label = version_label(version[0]) if version else None
    data = AnalysisInput(
        y_true=labels,
        y_score=scores,
        sample_weight=column(table, columns.weight, "weight") if columns.weight else None,
        threshold=threshold,
        frame=table,
        options=options,
        label=label,
    )
    result = analyze(data, analyzers)
    baseline_metrics, baseline_name = _baseline(store, baseline, data_urn, result.kind)
    outcomes = evaluate_gates(
        result.metrics,
        gates_from(min_metrics, max_metrics, max_regression),
        baseline_metrics=baseline_metrics,
        baseline=baseline_name,
    )
    planned = plan_evaluation(
        result,
        model_version=version[0] if version else None,
        dataset=data_urn,
        key=key,
        producer=producer,
        gates=outcomes,
        predictions_uri=_uri(predictions),
    )
    scored_by_mlflow = [version] if version and predictions is None else []
    urn = store.write(lambda tx: _write(tx, [planned], scored_by_mlflow))
    report = _write_report([{**result.to_dict(), "urn": str(urn)}], urn, report_dir)
    raise_for_failures(outcomes, f"evaluation {urn}")
    return EvaluationOutcome(urn=urn, result=result, gates=tuple(outcomes), report=report)


def compare_models(
    store: AimStore,
    *,
    model_versions: Sequence[Any],
    dataset: Any = None,
    predictions: Any = None,
    score_columns: Mapping[str, str] | None = None,
    columns: Columns = Columns(),
    baseline: Any = None,
    metrics: Sequence[str] = ("auroc", "aupr", "log_loss", "brier"),
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    min_metrics: Mapping[str, float] | None = None,
    max_regression: Mapping[str, float] | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
    mlflow: MlflowLocation | None = None,
    dataset_name: str | None = None,
) -> EvaluationOutcome:
    """Compare two or more model versions on the same labelled rows and record it all.

    Each version's evaluation is recorded too (key ``<key>/<name>/<version>``). The baseline
    (default: the first version) is what the others are gated against: ``min_metrics`` on
    every challenger, and each may be worse than the baseline by at most ``max_regression``.
    ``score_columns`` maps ``name/version`` to its column of a ``predictions`` table;
    ``dataset_name`` names the data set its rows are (as in :func:`evaluate_model`).
    """
    from aimops.monitors.evaluation.comparison import compare

    versions = [model_version_of(value) for value in model_versions]
    names = [version_label(urn) for urn, _ in versions]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"model versions are compared once each, got {names}")
    chosen = version_label(model_version_of(baseline)[0]) if baseline is not None else names[0]
    table, data_urn, labels = _labelled_rows(dataset, predictions, dataset_name, columns)
    scores = {
        name: _version_scores(name, uri, table, predictions, score_columns, columns, mlflow)
        for name, (_, uri) in zip(names, versions, strict=True)
    }
    comparison = compare(
        labels,
        scores,
        baseline=chosen,
        sample_weight=column(table, columns.weight, "weight") if columns.weight else None,
        metrics=metrics,
        threshold=threshold,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
    )
    outcomes = _comparison_gates(comparison, min_metrics, max_regression)
    plans = [
        plan_evaluation(
            evaluation,
            model_version=urn,
            dataset=data_urn,
            key=f"{key}/{name}" if key else None,
            producer=producer,
            points=False,  # a version's own evaluation plots its points
        )
        for name, (urn, _), evaluation in zip(names, versions, comparison.evaluations, strict=True)
    ]
    plans.append(
        plan_evaluation(
            comparison,
            model_version=[urn for urn, _ in versions],
            dataset=data_urn,
            key=key,
            producer=producer,
            gates=outcomes,
        )
    )
    urn = store.write(lambda tx: _write(tx, plans, versions if predictions is None else []))
    evaluations = {name: plan.urn for name, plan in zip(names, plans, strict=False)}
    document = {**comparison.to_dict(), "urn": str(urn)}
    report = _write_report([document], urn, report_dir)
    raise_for_failures(outcomes, f"comparison {urn}")
    return EvaluationOutcome(
        urn=urn, result=comparison, gates=tuple(outcomes), report=report, evaluations=evaluations
    )


def _comparison_gates(
    comparison: Comparison,
    min_metrics: Mapping[str, float] | None,
    max_regression: Mapping[str, float] | None,
) -> list[GateOutcome]:
    values = {ev.label: ev.metrics for ev in comparison.evaluations}
    outcomes: list[GateOutcome] = []
    for name in comparison.labels:
        if name == comparison.baseline:
            continue
        found = evaluate_gates(
            values[name],
            gates_from(min_metrics, None, max_regression),
            baseline_metrics=values[comparison.baseline],
            baseline=comparison.baseline,
        )
        outcomes += [
            GateOutcome(**{**o.to_dict(), "message": f"{name}: {o.message}"}) for o in found
        ]
    return outcomes


def _version_scores(
    name: str,
    model_uri: str,
    table: Any,
    predictions: Any,
    score_columns: Mapping[str, str] | None,
    columns: Columns,
    mlflow: MlflowLocation | None,
) -> Any:
    if predictions is None:
        return _score(model_uri, table, columns, mlflow)
    if not score_columns or name not in score_columns:
        raise InvalidInputError(
            f"a predictions table needs score_columns naming the column of each version; "
            f"{name!r} has none"
        )
    return column(table, score_columns[name], f"score of {name}")


def _write(
    tx: StoreWriter, plans: Sequence[PlannedEvaluation], scored_by_mlflow: Sequence[tuple[Urn, str]]
) -> Urn:
    """Write the evaluations in one transaction; returns the last one's URN. A model version
    that the MLflow registry just scored with but the store does not know (its pipeline was
    not captured) is recorded with them; a version known to neither stays an error."""
    from aimops.metadata.recording import record_model_version

    for urn, model_uri in scored_by_mlflow:
        if tx.entity_id(urn) is None:
            name, number = urn.segments
            record_model_version(tx, name, number, uri=model_uri)
    return [plan.write(tx) for plan in plans][-1]


def _not_features(columns: Columns, options: Mapping[str, Any]) -> Columns:
    """``columns`` with the fairness analyzer's sensitive column ignored as a feature (unless
    ``columns.features`` names it: then the user chose it as one)."""
    sensitive = options.get("sensitive_column")
    if sensitive is None or sensitive in columns.ignore:
        return columns
    return dataclasses.replace(columns, ignore=(*columns.ignore, str(sensitive)))


def _labelled_rows(
    dataset: Any, predictions: Any, dataset_name: str | None, columns: Columns
) -> tuple[Any, Urn | None, Any]:
    """(the table, the data set its rows are, its labels) from exactly one of the sources."""
    source = _one_source(dataset, predictions)
    table = read_table(source)
    data_urn = dataset_urn(dataset_name) if dataset_name else dataset_of(source)
    return table, data_urn, column(table, columns.label, "label")


def _one_source(dataset: Any, predictions: Any) -> Any:
    if (dataset is None) == (predictions is None):
        raise InvalidInputError(
            "give either a labelled dataset (scored by the model version) or a predictions "
            "table with label and score columns, not both or neither"
        )
    return dataset if dataset is not None else predictions


def _score(model_uri: str, table: Any, columns: Columns, mlflow: MlflowLocation | None) -> Any:
    where = mlflow or MlflowLocation.local()
    excluded = [columns.label, *([columns.weight] if columns.weight else []), *columns.ignore]
    return model_scores(
        model_uri,
        features(table, excluded, columns.features),
        tracking_uri=where.tracking_uri,
        registry_uri=where.registry_uri,
    )


def _check_baseline_data(baseline: Any, dataset: Urn | None) -> None:
    """Before any scoring: a baseline gate needs to know which data set the rows are."""
    if baseline is not None and dataset is None:
        raise InvalidInputError(
            "a baseline gate compares evaluations on the same data set, and these rows have "
            "none: name it with dataset_name, or give a file or dataset reference"
        )


def _baseline(
    store: AimStore, baseline: Any, dataset: Urn | None, kind: str
) -> tuple[Mapping[str, float] | None, str | None]:
    if baseline is None or dataset is None:
        return None, None
    urn, _ = model_version_of(baseline)
    found = latest_evaluation(store, urn, dataset=dataset, kind=kind)
    if found is None:
        raise NotFoundError(
            f"no recorded {kind} evaluation of the baseline {urn} on {dataset}: evaluate it "
            "first, or compare both versions on the same rows (compare_models)"
        )
    return found["metrics"], version_label(urn)


def _uri(predictions: Any) -> str | None:
    if predictions is None:
        return None
    path = table_path(predictions)
    return path.resolve().as_uri() if path is not None else None


def _write_report(documents: list[dict[str, Any]], urn: Urn, report_dir: Any) -> Path | None:
    if report_dir is None:
        return None
    from aimops.monitors.reports.evaluation_page import write_report
    from aimops.monitors.reports.page import report_path

    return write_report(documents, report_path(report_dir, urn))
