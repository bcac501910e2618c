"""Comparing what the store already holds: evaluations (or model versions) side by side.

The store keeps metrics and curves, not the scored rows, so a comparison of recorded
evaluations is exact about values and deltas but can only give confidence intervals when a
paired comparison of the same versions on the same data set was recorded (by
``CompareModelsOperator`` or :func:`aimops.monitors.evaluation.jobs.compare_models`): then its
deltas, intervals and winners are used. Otherwise the deltas come without intervals and the
winner of a metric is simply the best value, marked as such.

Either way a comparison on too few rows names no winner and says why in ``inconclusive`` (as
:class:`~aimops.monitors.evaluation.comparison.Comparison` does, and its page shows): the
paired comparison's own reason, else an unweighted binary evaluation with fewer than
:data:`~aimops.monitors.evaluation.comparison.MIN_ROWS_PER_CLASS` rows of a class.

Example:
    >>> import aimops
    >>> from aimops.monitors import evaluate_binary
    >>> store = aimops.connect("sqlite://")
    >>> y = [0, 1, 1, 0] * 5
    >>> a = evaluate_binary(y, [0.2, 0.9, 0.4, 0.5] * 5, label="a").record(store, key="a")
    >>> b = evaluate_binary(y, [0.2, 0.9, 0.7, 0.4] * 5, label="b").record(store, key="b")
    >>> found = compare_recorded(store, [a, b])
    >>> found["baseline"], found["winners"]["auroc"], found["deltas"][0]["delta"]
    ('a', 'b', 0.25)
    >>> found["inconclusive"]
    >>> few = evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.7, 0.4], label="c").record(store, key="c")
    >>> found = compare_recorded(store, [a, few])
    >>> print(found["winners"]["auroc"], found["inconclusive"])
    None inconclusive: 'c' was evaluated on 2 positive and 2 negative rows; winners need ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError, NotFoundError
from aimops.metadata.urns import Urn
from aimops.monitors.evaluation.comparison import MIN_ROWS_PER_CLASS
from aimops.monitors.evaluation.gates import higher_is_better, improves
from aimops.monitors.evaluation.recording import latest_evaluation, load_evaluation
from aimops.monitors.evaluation.result import HEADLINE_METRICS

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore


def resolve_evaluations(
    store: AimStore, urns: Sequence[str | Urn], *, dataset: str | Urn | None = None
) -> list[dict[str, Any]]:
    """Documents of the given evaluations; a model version stands for its latest evaluation."""
    documents = []
    for given in urns:
        urn = Urn.parse(given)
        if urn.type == "evaluation":
            documents.append(load_evaluation(store, urn))
        elif urn.type == "modelVersion":
            found = latest_evaluation(store, urn, dataset=dataset)
            if found is None:
                on = f" on {dataset}" if dataset else ""
                raise NotFoundError(f"no recorded evaluation of {urn}{on}")
            documents.append(found)
        else:
            raise InvalidInputError(f"{urn} is neither an evaluation nor a model version")
    return documents


def compare_recorded(
    store: AimStore,
    urns: Sequence[str | Urn],
    *,
    dataset: str | Urn | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A comparison document (kind ``comparison``) of recorded evaluations; the first is the
    baseline. A recorded comparison given alone is returned as it was recorded."""
    documents = resolve_evaluations(store, urns, dataset=dataset)
    if len(documents) == 1 and documents[0]["kind"] == "comparison":
        return documents[0]
    if len(documents) < 2:
        raise InvalidInputError("compare needs at least two evaluations or model versions")
    kinds = {document["kind"] for document in documents}
    if len(kinds) > 1 or "comparison" in kinds:
        raise InvalidInputError(
            f"only evaluations of one kind can be compared, got {', '.join(sorted(kinds))}"
        )
    names = _names(documents)
    paired = _recorded_pairing(store, documents)
    covered = {delta["metric"] for delta in paired["deltas"]} if paired else set()
    if paired is not None and set(metrics or covered) <= covered:
        return _only(paired, metrics)
    wanted = list(metrics) if metrics else _shared_metrics(documents)
    baseline = names[0]
    inconclusive = _too_few_rows(documents, names, paired)
    deltas, winners = [], {}
    for metric in wanted:
        values = {
            name: doc["metrics"].get(metric) for name, doc in zip(names, documents, strict=True)
        }
        present = {name: value for name, value in values.items() if value is not None}
        for name in names[1:]:
            if values[name] is not None and values[baseline] is not None:
                deltas.append(_delta(metric, name, baseline, values[name], values[baseline]))
        direction = higher_is_better(metric)
        sign = 1.0 if direction else -1.0
        best = max(present, key=lambda key: sign * present[key]) if present else None
        winners[metric] = best if direction is not None and inconclusive is None else None
    return {
        "kind": "comparison",
        "label": " vs ".join(names),
        "n": max(document["n"] for document in documents),
        "weighted": any(document.get("weighted") for document in documents),
        "metrics": {f"delta_{d['metric']}": d["delta"] for d in deltas if d["version"] == names[1]},
        "labels": names,
        "baseline": baseline,
        "method": "recorded metrics (no intervals: the rows were not compared in pairs)",
        "confidence": None,
        "inconclusive": inconclusive,
        "deltas": deltas,
        "winners": winners,
        "evaluations": [
            {**document, "label": name} for name, document in zip(names, documents, strict=True)
        ],
        "datasets": sorted({str(document.get("dataset")) for document in documents}),
    }


def _too_few_rows(
    documents: list[dict[str, Any]], names: list[str], paired: dict[str, Any] | None
) -> str | None:
    """Why no winner can be named (None when one can): the recorded paired comparison's
    reason, else the first unweighted binary evaluation with too few rows of a class (a
    weighted one counts weights, not rows)."""
    if paired is not None and paired.get("inconclusive"):
        return str(paired["inconclusive"])
    for name, document in zip(names, documents, strict=True):
        counted = _rows_of_each_class(document)
        if counted is None:
            continue
        positives, negatives = counted
        if min(positives, negatives) < MIN_ROWS_PER_CLASS:
            return (
                f"inconclusive: {name!r} was evaluated on {positives:g} positive and "
                f"{negatives:g} negative row{'s' if negatives != 1 else ''}; winners need at "
                f"least {MIN_ROWS_PER_CLASS} of each"
            )
    return None


def _rows_of_each_class(document: dict[str, Any]) -> tuple[float, float] | None:
    """(positive rows, negative rows) of an unweighted binary evaluation's document, else None."""
    metrics = document.get("metrics") or {}
    positives, negatives = metrics.get("positives"), metrics.get("negatives")
    if document.get("weighted"):
        return None
    if not isinstance(positives, int | float) or not isinstance(negatives, int | float):
        return None
    return float(positives), float(negatives)


def _only(comparison: dict[str, Any], metrics: Sequence[str] | None) -> dict[str, Any]:
    """The comparison restricted to ``metrics`` (all of them when None)."""
    if not metrics:
        return comparison
    wanted = set(metrics)
    return comparison | {
        "deltas": [delta for delta in comparison["deltas"] if delta["metric"] in wanted],
        "winners": {name: who for name, who in comparison["winners"].items() if name in wanted},
    }


def _names(documents: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for position, document in enumerate(documents):
        name = str(document.get("label") or document.get("urn") or f"evaluation {position + 1}")
        names.append(name if name not in names else f"{name} ({position + 1})")
    return names


def _shared_metrics(documents: list[dict[str, Any]]) -> list[str]:
    shared = set(documents[0]["metrics"]).intersection(*(d["metrics"] for d in documents[1:]))
    headline = [metric for metric in HEADLINE_METRICS if metric in shared]
    return headline or sorted(shared)


def _delta(metric: str, name: str, baseline: str, value: float, reference: float) -> dict[str, Any]:
    return {
        "metric": metric,
        "version": name,
        "baseline": baseline,
        "value": value,
        "baseline_value": reference,
        "delta": value - reference,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "method": "recorded",
        "winner": None,
        "better": improves(metric, value, reference),
    }


def _recorded_pairing(store: AimStore, documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest recorded comparison of exactly these evaluations: the same model versions in
    the same order, on the same data set, with the very numbers of the given evaluations (so
    its intervals are about these rows, not about another day's)."""
    versions = [document.get("model_version") for document in documents]
    datasets = {document.get("dataset") for document in documents}
    if None in versions or len(datasets) != 1:
        return None
    found = []
    for entity in store.related(str(versions[0]), "evaluates", incoming=True):
        candidate = load_evaluation(store, entity.urn)
        if (
            candidate["kind"] == "comparison"
            and list(candidate.get("model_versions", [])) == versions
            and candidate.get("dataset") in datasets
            and _same_numbers(candidate, documents)
        ):
            found.append(candidate)
    return max(found, key=lambda document: document["evaluated_at"]) if found else None


def _same_numbers(comparison: dict[str, Any], documents: list[dict[str, Any]]) -> bool:
    """Whether each version's metrics inside the comparison are the given evaluation's (which
    may have more: another analyzer's, say)."""
    inside = [evaluation.get("metrics") or {} for evaluation in comparison.get("evaluations", [])]
    return len(inside) == len(documents) and all(
        all(document["metrics"].get(name) == value for name, value in metrics.items())
        for metrics, document in zip(inside, documents, strict=True)
    )
