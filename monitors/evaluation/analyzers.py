"""Pluggable analyzers, found through the ``aimops.analyzers`` entry point group.

An analyzer turns labelled, scored rows into an :class:`EvaluationResult`. The built-ins
(``binary``, ``multiclass``, ``regression``, ``fairness``) are registered by this package's
own entry points, the same way another team registers theirs::

    # pyproject.toml of the other team's package
    [project.entry-points."aimops.analyzers"]
    lift = "risk_tools.lift:LiftAnalyzer"

The entry point names an analyzer object or a class to instantiate without arguments: it
has a ``name``, a ``description`` and ``analyze(data: AnalysisInput) -> EvaluationResult``.
:func:`analyze` runs the first analyzer as the primary evaluation and the others as parts
of it (their documents under their names, their metrics as ``<name>.<metric>``).

Example:
    >>> sorted(list_analyzers())[:2]
    ['binary', 'fairness']
    >>> result = analyze(AnalysisInput([0, 1, 1, 0], [0.1, 0.7, 0.8, 0.3]), ["binary"])
    >>> result.metrics["auroc"]
    1.0
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from aimops import validation
from aimops.errors import InvalidInputError, UnknownAnalyzerError
from aimops.monitors.evaluation.result import EvaluationResult

GROUP = "aimops.analyzers"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisInput:
    """What an analyzer is given: labels, scores, optional weights, and the evaluated table.

    ``frame`` is the labelled table the rows came from (a pandas DataFrame, say) for
    analyzers that need other columns (the fairness analyzer reads its sensitive attribute
    there); ``options`` holds analyzer-specific settings.
    """

    y_true: Any
    y_score: Any
    sample_weight: Any = None
    threshold: float = 0.5
    frame: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None


@runtime_checkable
class Analyzer(Protocol):
    """What the ``aimops.analyzers`` entry points provide."""

    name: str
    description: str

    def analyze(self, data: AnalysisInput) -> EvaluationResult: ...


class BinaryAnalyzer:
    name = "binary"
    description = "AUROC, AUPR, log loss, Brier, ROC/PR curves, confusion, threshold table"

    def analyze(self, data: AnalysisInput) -> EvaluationResult:
        from aimops.monitors.evaluation.binary import evaluate_binary

        return evaluate_binary(
            data.y_true,
            data.y_score,
            sample_weight=data.sample_weight,
            threshold=data.threshold,
            label=data.label,
        )


class MulticlassAnalyzer:
    name = "multiclass"
    description = "accuracy, one-vs-rest AUROC, macro/micro/weighted F1, confusion matrix"

    def analyze(self, data: AnalysisInput) -> EvaluationResult:
        from aimops.monitors.evaluation.multiclass import evaluate_multiclass

        return evaluate_multiclass(
            data.y_true,
            data.y_score,
            sample_weight=data.sample_weight,
            labels=data.options.get("labels"),
            label=data.label,
        )


class RegressionAnalyzer:
    name = "regression"
    description = "RMSE, MAE, R², residual quantiles"

    def analyze(self, data: AnalysisInput) -> EvaluationResult:
        from aimops.monitors.evaluation.regression import evaluate_regression

        return evaluate_regression(
            data.y_true, data.y_score, sample_weight=data.sample_weight, label=data.label
        )


class FairnessAnalyzer:
    name = "fairness"
    description = "per-group rates, AUROC, AUPR and losses, with gaps and ratios to the best"

    def analyze(self, data: AnalysisInput) -> EvaluationResult:
        from aimops.monitors.evaluation.fairness import fairness

        attribute = data.options.get("sensitive_column")
        groups = data.options.get("groups")
        if groups is None:
            if attribute is None or data.frame is None:
                raise InvalidInputError(
                    "the fairness analyzer needs options['sensitive_column'] and the evaluated "
                    "table (frame), or options['groups']"
                )
            if attribute not in data.frame:
                raise InvalidInputError(
                    f"sensitive column {attribute!r} is not in the evaluated table; "
                    f"columns: {', '.join(map(str, data.frame.columns))}"
                )
            groups = data.frame[attribute].to_numpy()
        return fairness(
            data.y_true,
            data.y_score,
            groups,
            threshold=data.threshold,
            sample_weight=data.sample_weight,
            attribute=str(attribute) if attribute is not None else None,
            min_group_size=int(data.options.get("min_group_size", 1)),
            label=data.label,
        )


def list_analyzers() -> dict[str, Analyzer]:
    """Every analyzer the installed packages register, by name (broken ones are logged)."""
    found: dict[str, Analyzer] = {}
    for point in entry_points(group=GROUP):
        try:
            found[point.name] = _instance(point.load(), point.name)
        except Exception as exc:  # another team's broken plugin must not hide the others
            log.warning("aimops analyzer %r (%s) cannot be loaded: %s", point.name, point, exc)
    return found


def get_analyzer(name: str) -> Analyzer:
    """The analyzer registered as ``name``; UnknownAnalyzerError lists the known ones."""
    validation.text(name, "an analyzer name")
    for point in entry_points(group=GROUP, name=name):
        return _instance(point.load(), name)
    known = ", ".join(sorted(point.name for point in entry_points(group=GROUP)))
    raise UnknownAnalyzerError(f"no analyzer {name!r} is registered; known: {known}")


def _instance(loaded: Any, name: str) -> Analyzer:
    candidate = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(candidate, Analyzer):
        raise UnknownAnalyzerError(
            f"the {GROUP} entry point {name!r} gives {candidate!r}, which has no "
            "name, description and analyze(data)"
        )
    return candidate


@dataclass(frozen=True, kw_only=True)
class AnalyzedEvaluation(EvaluationResult):
    """A primary evaluation with the results of further analyzers attached by name."""

    primary: EvaluationResult
    parts: dict[str, EvaluationResult]

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.primary.kind

    def to_dict(self) -> dict[str, Any]:
        document = self.primary.to_dict()
        document["label"] = self.label or document.get("label")
        document["metrics"] = dict(self.metrics)
        document["analyzers"] = [self.primary.kind, *self.parts]
        for name, part in self.parts.items():
            document[name] = part.to_dict()
        return document

    def part(self, name: str) -> EvaluationResult:
        """The result of the analyzer ``name`` (the primary one by its kind)."""
        if name == self.primary.kind:
            return self.primary
        return self.parts[name]


def analyze(data: AnalysisInput, analyzers: Sequence[str] = ("binary",)) -> AnalyzedEvaluation:
    """Run ``analyzers`` on ``data``: the first is the primary evaluation, the rest its parts."""
    if not analyzers:
        raise InvalidInputError("give at least one analyzer, e.g. ['binary']")
    names = list(dict.fromkeys(analyzers))
    results = {name: get_analyzer(name).analyze(data) for name in names}
    primary = results.pop(names[0])
    metrics = dict(primary.metrics)
    for name, part in results.items():
        metrics.update({f"{name}.{metric}": value for metric, value in part.metrics.items()})
    return AnalyzedEvaluation(
        metrics=metrics,
        n=primary.n,
        weighted=primary.weighted,
        label=data.label,
        primary=primary,
        parts=results,
    )


def relabelled(result: EvaluationResult, label: str) -> EvaluationResult:
    """``result`` under the display name ``label``, whatever its kind."""
    if isinstance(result, AnalyzedEvaluation):
        return dataclasses.replace(result, label=label, primary=result.primary.labelled(label))
    return result.labelled(label)
