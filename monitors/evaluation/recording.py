"""Recording evaluations in the AIM store, and reading them back.

An evaluation becomes an ``evaluation`` entity with:

- ``evaluationInfo`` (kind, model version(s), data set, when, gate outcomes),
- ``metrics`` (headline numbers, indexed for search),
- ``rocCurve``, ``prCurve``, ``calibrationCurve``, ``confusionMatrix``, ``thresholdTable``
  for the parts a result has, and ``evaluationDetails`` for the rest of its document;
- edges ``evaluates`` to each model version, ``evaluatedOn`` to the data set and
  ``producedBy`` to the step that made it;
- time-series points ``eval.<metric>`` on the model version, at the evaluation's time.

The URN is deterministic: ``key`` when given (an orchestrator passes its task's identity, so
a retried task records over its first try), else a fingerprint of the result and what it
evaluated. Recording the same evaluation again writes nothing new; a changed result under
the same key appends new aspect versions, keeping the history. All of it is one transaction.

Example:
    >>> import aimops
    >>> from aimops.monitors import evaluate_binary
    >>> store = aimops.connect("sqlite://")
    >>> result = evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], label="demo")
    >>> urn = record_evaluation(store, result, key="demo/1")
    >>> str(urn), load_evaluation(store, urn)["metrics"]["auroc"]
    ('urn:aim:evaluation:demo/1', 1.0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import InvalidInputError, MissingEntityError, NotFoundError
from aimops.metadata.aspects import dump_canonical
from aimops.metadata.urns import Urn, dataset_urn, make_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter
    from aimops.monitors.evaluation.gates import GateOutcome
    from aimops.monitors.evaluation.result import EvaluationResult

#: Parts of a result's document kept as aspects of their own.
PART_ASPECTS = {
    "roc": "rocCurve",
    "pr": "prCurve",
    "calibration": "calibrationCurve",
    "confusion": "confusionMatrix",
    "threshold_table": "thresholdTable",
}
COMMON_FIELDS = ("kind", "label", "n", "weighted", "metrics", "threshold")
POINT_PREFIX = "eval."


def record_evaluation(
    store: AimStore,
    result: EvaluationResult | Mapping[str, Any],
    *,
    model_version: str | Urn | Sequence[str | Urn] | None = None,
    dataset: str | Urn | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    gates: Sequence[GateOutcome] = (),
    predictions_uri: str | None = None,
) -> Urn:
    """Record ``result`` (or its document) as an evaluation entity; returns its URN.

    ``model_version`` is one URN (or several, for a comparison) that must already be in the
    store; ``dataset`` is a dataset URN or a plain name (created when missing); ``producer``
    is the step that ran the evaluation.
    """
    planned = plan_evaluation(
        result,
        model_version=model_version,
        dataset=dataset,
        key=key,
        producer=producer,
        gates=gates,
        predictions_uri=predictions_uri,
    )
    return store.write(planned.write)


@dataclass(frozen=True)
class PlannedEvaluation:
    """An evaluation checked and ready to write; :meth:`write` does it inside a transaction,
    so several (a comparison and each version's evaluation) can commit together."""

    urn: Urn
    document: Mapping[str, Any]
    versions: tuple[Urn, ...]
    dataset: Urn | None
    producer: str | Urn | None
    gates: tuple[GateOutcome, ...]
    predictions_uri: str | None
    points: bool

    def write(self, tx: StoreWriter) -> Urn:
        """Write the evaluation in ``tx``; returns its URN."""
        for version in self.versions:
            if tx.entity_id(version) is None:
                raise MissingEntityError(
                    f"model version {version} is not in the store: register it first "
                    "(aimops.record_model_version or the capture of the task that registered it)"
                )
        evaluated_at = self._evaluated_at(tx)
        tx.put_aspects(
            self.urn,
            _aspects(
                self.document, self.versions, self.dataset, evaluated_at, self.gates,
                self.predictions_uri,
            ),
        )  # fmt: skip
        edges: list[tuple[Urn | str, str, Urn | str]] = [
            (self.urn, "evaluates", version) for version in self.versions
        ]
        if self.dataset is not None:
            tx.put_entity(self.dataset)
            edges.append((self.urn, "evaluatedOn", self.dataset))
        if self.producer is not None:
            tx.put_entity(self.producer)
            edges.append((self.urn, "producedBy", self.producer))
        tx.put_edges(edges)
        if self.points and self.document["kind"] != "comparison":
            target = self.versions[0] if self.versions else self.urn
            _points(tx, target, self.document["metrics"], evaluated_at)
        return self.urn

    def _evaluated_at(self, tx: StoreWriter) -> datetime:
        """The first recording's time when this repeats it; now when the numbers changed.

        What an evaluation evaluated is its identity: recording another model version or data
        set under the same key is refused (its edges would name both)."""
        info, _ = tx.read_aspect(self.urn, "evaluationInfo")
        if not info:
            return datetime.now(UTC)
        before = (info.get("model_versions", []), info.get("dataset"))
        now = ([str(version) for version in self.versions], _text(self.dataset))
        if before != now:
            raise InvalidInputError(
                f"{self.urn} evaluated {before[0] or 'no model version'} on "
                f"{before[1] or 'no data set'}; it cannot now evaluate {now[0] or 'none'} on "
                f"{now[1] or 'no data set'}: an evaluation key names one evaluation"
            )
        if info["kind"] != self.document["kind"]:
            raise InvalidInputError(
                f"{self.urn} is a {info['kind']} evaluation; it cannot now hold a "
                f"{self.document['kind']} one: an evaluation key names one evaluation"
            )
        metrics, _ = tx.read_aspect(self.urn, "metrics")
        if metrics != dict(self.document["metrics"]):
            return datetime.now(UTC)  # a retry that found other numbers: a new point in time
        return datetime.fromisoformat(info["evaluated_at"])


def plan_evaluation(
    result: EvaluationResult | Mapping[str, Any],
    *,
    model_version: str | Urn | Sequence[str | Urn] | None = None,
    dataset: str | Urn | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    gates: Sequence[GateOutcome] = (),
    predictions_uri: str | None = None,
    points: bool = True,
) -> PlannedEvaluation:
    """Check an evaluation and name it, without writing (see :func:`record_evaluation`).

    ``points=False`` leaves out the time-series points (a version's evaluation inside a
    comparison, which its own evaluation already plotted)."""
    document = _document(result)
    versions = _model_versions(model_version)
    data = _dataset(dataset)
    return PlannedEvaluation(
        urn=evaluation_urn(document, versions, data, validation.optional_text(key, "key")),
        document=document,
        versions=tuple(versions),
        dataset=data,
        producer=None if producer is None else Urn.parse(producer),
        gates=_gate_outcomes(gates),
        predictions_uri=validation.optional_text(predictions_uri, "predictions_uri"),
        points=points,
    )


def _document(result: Any) -> dict[str, Any]:
    """The document of an evaluation result, or a document given as a mapping, checked."""
    from aimops.monitors.evaluation.result import EvaluationResult

    if isinstance(result, EvaluationResult):
        document = result.to_dict()
    elif isinstance(result, Mapping):
        document = dict(result)
    else:
        raise InvalidInputError(
            "record an evaluation result (evaluate_binary(...)) or its to_dict() document, "
            f"not {type(result).__name__} {validation.shown(result)}"
        )
    _check_document(document)
    return document


def _gate_outcomes(gates: Any) -> tuple[GateOutcome, ...]:
    from aimops.monitors.evaluation.gates import GateOutcome

    found = validation.items(gates, "gates")
    wrong = [outcome for outcome in found if not isinstance(outcome, GateOutcome)]
    if wrong:
        raise InvalidInputError(
            "gates are the outcomes evaluate_gates returned, not "
            f"{type(wrong[0]).__name__} {validation.shown(wrong[0])}"
        )
    return found


def _text(urn: Urn | None) -> str | None:
    return str(urn) if urn is not None else None


def evaluation_urn(
    document: Mapping[str, Any],
    versions: Sequence[Urn],
    dataset: Urn | None,
    key: str | None,
) -> Urn:
    """The evaluation's URN: from ``key``, else a fingerprint of what it is and found."""
    if key is not None:
        segments = [segment for segment in str(key).split("/") if segment]
        if not segments:
            raise InvalidInputError(f"an evaluation key needs at least one segment, got {key!r}")
        return make_urn("evaluation", *segments)
    identity = {
        "document": document,
        "model_versions": [str(version) for version in versions],
        "dataset": str(dataset) if dataset else None,
    }
    fingerprint = hashlib.sha256(dump_canonical(identity).encode()).hexdigest()[:16]
    if len(versions) == 1:
        return make_urn("evaluation", *versions[0].segments, fingerprint)
    return make_urn("evaluation", document["kind"], fingerprint)


def _check_document(document: Mapping[str, Any]) -> None:
    missing = [field for field in ("kind", "n", "metrics") if field not in document]
    if missing:
        raise InvalidInputError(f"an evaluation document needs {', '.join(missing)}")
    validation.text(document["kind"], "an evaluation's kind", empty=False)
    validation.whole_number(document["n"], "an evaluation's n", minimum=0)
    for name, value in validation.text_mapping(document["metrics"], "metrics").items():
        validation.real_number(value, f"metric {name!r}")


def _model_versions(given: str | Urn | Sequence[str | Urn] | None) -> list[Urn]:
    if given is None:
        return []
    items = [given] if isinstance(given, str | Urn) else validation.items(given, "model_version")
    versions = [Urn.parse(item) for item in items]
    wrong = [str(version) for version in versions if version.type != "modelVersion"]
    if wrong:
        raise InvalidInputError(f"not model version URNs: {', '.join(wrong)}")
    return versions


def _dataset(given: str | Urn | None) -> Urn | None:
    if given is None:
        return None
    if not isinstance(given, Urn):
        validation.text(given, "a data set", empty=False)
    if isinstance(given, Urn) or given.startswith("urn:"):
        parsed = Urn.parse(given)
        if parsed.type != "dataset":
            raise InvalidInputError(f"{parsed} is not a dataset URN")
        return parsed
    return dataset_urn(given)


def _aspects(
    document: Mapping[str, Any],
    versions: Sequence[Urn],
    dataset: Urn | None,
    evaluated_at: datetime,
    gates: Sequence[GateOutcome],
    predictions_uri: str | None,
) -> dict[str, Any]:
    failed = any(not outcome.passed for outcome in gates)
    info = {
        "kind": document["kind"],
        "label": document.get("label"),
        "model_version": str(versions[0]) if len(versions) == 1 else None,
        "model_versions": [str(version) for version in versions],
        "dataset": str(dataset) if dataset else None,
        "n": document["n"],
        "weighted": bool(document.get("weighted", False)),
        "threshold": document.get("threshold"),
        "evaluated_at": evaluated_at,
        "analyzers": list(document.get("analyzers", [document["kind"]])),
        "status": ("failed" if failed else "passed") if gates else "recorded",
        "gates": [outcome.to_dict() for outcome in gates],
        "predictions_uri": predictions_uri,
    }
    aspects: dict[str, Any] = {"evaluationInfo": info, "metrics": document["metrics"]}
    details: dict[str, Any] = {}
    for part, value in document.items():
        if part in PART_ASPECTS and value is not None:
            aspects[PART_ASPECTS[part]] = value
        elif part not in COMMON_FIELDS and part not in ("analyzers", "urn"):
            details[part] = value
    # Always written, empty or not, so that a part a retry no longer has does not linger.
    aspects["evaluationDetails"] = {"parts": details}
    info["parts"] = sorted(name for name in aspects if name in PART_ASPECTS.values())
    return aspects


def _points(tx: StoreWriter, target: Urn, metrics: Mapping[str, float], moment: datetime) -> None:
    for name, value in metrics.items():
        tx.put_points(target, f"{POINT_PREFIX}{name}", [(moment, value)])


def load_evaluation(store: AimStore, urn: str | Urn) -> dict[str, Any]:
    """The document of a recorded evaluation, as ``to_dict()`` gave it, plus where it came from
    (``urn``, ``model_version(s)``, ``dataset``, ``evaluated_at``, ``status``, ``gates``)."""
    parsed = Urn.parse(urn)
    if parsed.type != "evaluation":
        raise InvalidInputError(f"{parsed} is not an evaluation URN")
    aspects = store.get_aspects(parsed)
    info = aspects.get("evaluationInfo")
    if info is None:
        raise NotFoundError(f"no evaluation {parsed} in {store.label}")
    meta = info.value
    document: dict[str, Any] = {
        "kind": meta["kind"],
        "label": meta.get("label") or _default_label(meta),
        "n": meta["n"],
        "weighted": meta.get("weighted", False),
        "metrics": aspects["metrics"].value if "metrics" in aspects else {},
    }
    if meta.get("threshold") is not None:
        document["threshold"] = meta["threshold"]
    held = meta.get("parts")  # None: recorded before the list was kept
    for part, aspect in PART_ASPECTS.items():
        if aspect in aspects and (held is None or aspect in held):
            document[part] = aspects[aspect].value
    if "evaluationDetails" in aspects:
        document.update(aspects["evaluationDetails"].value.get("parts", {}))
    document.update(
        urn=str(parsed),
        model_version=meta.get("model_version"),
        model_versions=meta.get("model_versions", []),
        dataset=meta.get("dataset"),
        evaluated_at=meta["evaluated_at"],
        status=meta.get("status"),
        gates=meta.get("gates", []),
        predictions_uri=meta.get("predictions_uri"),
    )
    return document


def _default_label(meta: Mapping[str, Any]) -> str | None:
    version = meta.get("model_version")
    if not version:
        return None
    return "/".join(Urn.parse(version).segments)


def latest_evaluation(
    store: AimStore,
    model_version: str | Urn,
    *,
    dataset: str | Urn | None = None,
    kind: str | None = None,
) -> dict[str, Any] | None:
    """The newest recorded evaluation of ``model_version`` (on ``dataset``, of ``kind``);
    comparisons are not evaluations of one version. Only the newest is read whole."""
    version = _model_versions(model_version)[0]
    data = _dataset(dataset)
    urns = [entity.urn for entity in store.related(version, "evaluates", incoming=True)]
    infos = store.latest_values(urns, "evaluationInfo")
    matching = [
        (info["evaluated_at"], urn)
        for urn, info in infos.items()
        if info["kind"] != "comparison"
        and (kind is None or info["kind"] == kind)
        and (data is None or info.get("dataset") == str(data))
    ]
    if not matching:
        return None
    newest = max(matching, key=lambda found: datetime.fromisoformat(found[0]))
    return load_evaluation(store, newest[1])
