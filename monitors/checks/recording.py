"""Recording check results in the AIM store, and listing them.

A check becomes a ``check`` entity with ``checkInfo`` (kind, status, targets, when),
``metrics`` (headline numbers, indexed; an undefined one, None, NaN or infinite, is left out,
and so never becomes a point) and ``checkResult`` (the whole result); ``checks``
edges to what it checked (data sets, model versions, deployments), ``producedBy`` to the step
that ran it, and time-series points ``check.<kind>.<metric>`` on each target, at the check's
time. The URN is deterministic: ``key`` when given (an orchestrator passes its task's
identity, so a retried task records over its first try), else a fingerprint of the result and
its targets. Recording the same check again writes nothing new; a retry with other numbers is
a new point in time. A key names one check of one kind on the same targets.

Example:
    >>> import aimops, pandas as pd
    >>> from aimops.monitors import check_drift
    >>> store = aimops.connect("sqlite://")
    >>> before = pd.DataFrame({"x": [1.0, 2, 3, 4] * 10})
    >>> after = before.iloc[::-1]
    >>> result = check_drift(before, after)
    >>> urn = record_check(store, result, target="urn:aim:dataset:scores", key="nightly/1")
    >>> str(urn), list_checks(store)[0]["status"]
    ('urn:aim:check:nightly/1', 'pass')
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata.aspects import dump_canonical
from aimops.metadata.urns import Urn, make_urn
from aimops.monitors.checks.base import STATUSES, CheckResult
from aimops.monitors.checks.registry import check_kind

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter

POINT_PREFIX = "check."
TARGET_TYPES = ("dataset", "modelVersion", "deployment", "model")


def record_check(
    store: AimStore,
    result: CheckResult,
    *,
    target: str | Urn | Sequence[str | Urn] | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    name: str | None = None,
    reports: Mapping[str, str] | None = None,
) -> Urn:
    """Record ``result`` as a check entity of ``target`` (one URN or several); returns its URN.

    Model versions must already be in the store; data sets and deployments are created.
    ``reports`` names the files saved beside the check (``{"evidently": "file:///..."}``).
    Anything else than a check's result, and arguments of the wrong kind, are refused
    (:class:`~aimops.errors.InvalidInputError`) before anything is written.
    """
    document, metrics = _checked_result(result)
    targets = check_targets(target)
    urn = check_urn(document, targets, key)
    name = validation.optional_text(name, "name")
    reports = validation.text_pairs({} if reports is None else reports, "reports", empty=False)
    producer = None if producer is None else Urn.parse(producer)

    def work(tx: StoreWriter) -> Urn:
        for found in targets:
            if found.type == "modelVersion" and tx.entity_id(found) is None:
                raise MissingEntityError(f"model version {found} is not in the store")
        checked_at = _checked_at(tx, urn, document, targets, metrics)
        info = {
            "kind": document["kind"],
            "status": document["status"],
            "targets": [str(found) for found in targets],
            "checked_at": checked_at,
            "name": name,
            "reports": reports,
        }
        tx.put_aspects(
            urn, {"checkInfo": info, "metrics": metrics, "checkResult": {"document": document}}
        )
        edges: list[tuple[Urn | str, str, Urn | str]] = []
        for found in targets:
            tx.put_entity(found)
            edges.append((urn, "checks", found))
            for metric, value in metrics.items():
                tx.put_points(
                    found, f"{POINT_PREFIX}{document['kind']}.{metric}", [(checked_at, value)]
                )
        if producer is not None:
            tx.put_entity(producer)
            edges.append((urn, "producedBy", producer))
        tx.put_edges(edges)
        return urn

    return store.write(work)


def _checked_result(result: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """The document of a check's ``result`` (of a registered kind, with a status a check has)
    and its defined metrics (an undefined one, None, NaN or infinite, left out); anything
    that is not a check's result is refused, saying what it is."""
    to_dict, metrics = getattr(result, "to_dict", None), getattr(result, "metrics", None)
    if not callable(to_dict) or not isinstance(metrics, Mapping):
        raise InvalidInputError(
            "record a check's result (check_drift(...), say), not "
            f"{type(result).__name__} {validation.shown(result)}"
        )
    document = dict(validation.mapping(to_dict(), "a check result's to_dict()"))
    check_kind(validation.text(document.get("kind"), "a check result's kind"))
    validation.choice(document.get("status"), "a check result's status", STATUSES)
    defined = {name: value for name, value in metrics.items() if _defined(value)}
    return document, validation.number_mapping(defined, "a check result's metrics")


def _defined(value: Any) -> bool:
    """False for a metric without a value: None, NaN or infinite."""
    return value is not None and not (isinstance(value, numbers.Real) and not math.isfinite(value))


def check_targets(given: str | Urn | Sequence[str | Urn] | None) -> list[Urn]:
    """``given`` as a list of check-target URNs (data sets, model versions, deployments,
    models); anything else is refused."""
    if given is None:
        return []
    items = [given] if isinstance(given, str | Urn) else validation.items(given, "target")
    targets = [Urn.parse(item) for item in items]
    wrong = [str(found) for found in targets if found.type not in TARGET_TYPES]
    if wrong:
        raise InvalidInputError(
            f"a check's targets are {', '.join(TARGET_TYPES)} URNs, not {', '.join(wrong)}"
        )
    return targets


def check_urn(document: Mapping[str, Any], targets: Sequence[Urn], key: str | None) -> Urn:
    """The URN a check of ``targets`` is recorded under: ``key``'s, else a fingerprint."""
    if key is not None:
        segments = [segment for segment in validation.text(key, "key").split("/") if segment]
        if not segments:
            raise InvalidInputError(f"a check key needs at least one segment, got {key!r}")
        return make_urn("check", *segments)
    identity = {"document": document, "targets": [str(found) for found in targets]}
    fingerprint = hashlib.sha256(dump_canonical(identity).encode()).hexdigest()[:16]
    return make_urn("check", document["kind"], fingerprint)


def _checked_at(
    tx: StoreWriter,
    urn: Urn,
    document: Mapping[str, Any],
    targets: Sequence[Urn],
    metrics: Mapping[str, float],
) -> datetime:
    """The first recording's time when this repeats it; now when the numbers changed. A key
    names one check: another kind or other targets under it are refused."""
    info, _ = tx.read_aspect(urn, "checkInfo")
    if not info:
        return datetime.now(UTC)
    now = (document["kind"], [str(found) for found in targets])
    before = (info["kind"], list(info.get("targets", [])))
    if before != now:
        raise InvalidInputError(
            f"{urn} is a {before[0]} check of {before[1] or 'nothing'}; it cannot now be a "
            f"{now[0]} check of {now[1] or 'nothing'}: a check key names one check"
        )
    recorded, _ = tx.read_aspect(urn, "metrics")
    if recorded != dict(metrics):
        return datetime.now(UTC)
    return datetime.fromisoformat(info["checked_at"])


def list_checks(
    store: AimStore,
    *,
    model: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Checks newest first: ``urn``, ``kind``, ``status``, ``target``, ``targets``,
    ``created_at`` (when it was checked) and ``metrics``; ``model`` keeps checks of that
    model's versions (or of the model), ``kind`` one kind."""
    if kind is not None:
        check_kind(kind)
    validation.optional_text(model, "model")
    limit = validation.whole_number(limit, "limit", minimum=0)
    urns = [entity.urn for entity in store.search("check", limit=100_000)]
    infos = store.latest_values(urns, "checkInfo")
    metrics = store.latest_values(urns, "metrics")
    found = []
    for urn, info in infos.items():
        if kind is not None and info["kind"] != kind:
            continue
        targets = list(info.get("targets", []))
        if model is not None and not any(_of_model(target, model) for target in targets):
            continue
        found.append(
            {
                "urn": urn,
                "kind": info["kind"],
                "status": info["status"],
                "target": targets[0] if targets else None,
                "targets": targets,
                "created_at": info["checked_at"],
                "metrics": metrics.get(urn, {}),
            }
        )
    found.sort(key=lambda item: datetime.fromisoformat(item["created_at"]), reverse=True)
    return found[:limit]


def _of_model(target: str, model: str) -> bool:
    parsed = Urn.parse(target)
    return parsed.type in ("modelVersion", "model") and parsed.segments[0] == model
