"""What the page of a model version shows, read from the store: its registration, its state and
lifecycle history, the evaluations, comparisons and checks recorded on it (newest first), and
how it serves: in each environment it serves or served in, its weight and whether it is the
champion now, every traffic change there and its ramps there (:class:`Serving`).

Also how the page names where things came from (a step or run of an orchestrator as its DAG
or flow, run and task; a transition's origin as the CLI or the task that made it), and where
it links: the pages written beside it (:func:`sibling_links`), or the plugin's, and only to
addresses that may be links (:func:`safe_links`).

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> record = read_version(store, record_model_version(store, "churn", 1))
    >>> record.label, record.state, record.history, record.checks, record.serving
    ('churn/1', 'registered', (), (), ())
    >>> describe("urn:aim:step:airflow/churn/manual__1/train")
    'Airflow DAG churn, run manual__1, task train'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from aimops.errors import InvalidInputError
from aimops.metadata.lifecycle.ramps import ACTIVE
from aimops.metadata.urns import ORCHESTRATED_TYPES, Urn
from aimops.monitors.reports.page import report_path, visible_text

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

#: Turns the URN of an evaluation, a check or a model version into the address of its page,
#: or None when it has none.
LinkFor = Callable[[str], str | None]
#: How each orchestrator calls its pipeline, run and task (others: pipeline, run, step).
_WORDS = {"airflow": ("DAG", "run", "task"), "prefect": ("flow", "flow run", "task run")}
_ORIGINS = {"cli": "CLI", "python": "Python", "airflow": "Airflow", "prefect": "Prefect"}
#: What :func:`moment_of` makes of a value that is no time.
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VersionRecord:
    """A model version as its page shows it. ``history`` is oldest first, each transition's
    ``lifecycle`` value; ``evaluations``, ``comparisons`` and ``checks`` are newest first, each
    its info aspect's value with its ``urn`` (and, for evaluations, its ``metrics``)."""

    urn: str
    label: str
    state: str
    info: Mapping[str, Any]
    produced_by: tuple[str, ...]
    history: tuple[dict[str, Any], ...]
    evaluations: tuple[dict[str, Any], ...]
    comparisons: tuple[dict[str, Any], ...]
    checks: tuple[dict[str, Any], ...]
    serving: tuple[Serving, ...] = ()


@dataclass(frozen=True)
class Serving:
    """How a model version serves, or served, in one environment: its ``weight`` (percent)
    and the ``champion`` of the deployment now, every traffic change of the deployment
    (``history``, oldest first: each its ``deployment`` value) and the version's ramps there
    (``ramps``, oldest first: each :meth:`~aimops.metadata.lifecycle.ramps.Ramp.to_dict`)."""

    model: str
    environment: str
    deployment: str
    version: str
    weight: int
    champion: str | None
    revision: int
    changed_at: str | None
    history: tuple[dict[str, Any], ...]
    ramps: tuple[dict[str, Any], ...]

    @property
    def is_champion(self) -> bool:
        return self.champion == self.version

    @property
    def ramp(self) -> dict[str, Any] | None:
        """The version's active ramp here, else its newest one (None: never ramped here)."""
        active = [ramp for ramp in self.ramps if ramp.get("status") in ACTIVE]
        found = active or list(self.ramps)
        return found[-1] if found else None

    def weights_over_time(self) -> list[tuple[Any, int]]:
        """(when, the version's weight) at each traffic change of the deployment, oldest
        first."""
        return [(item.get("at"), _weight(item, self.version)) for item in self.history]


def _weight(change: Mapping[str, Any], version: str) -> int:
    weights = change.get("weights")
    return int(weights.get(version, 0)) if isinstance(weights, Mapping) else 0


def read_serving(store: AimStore, version: Urn) -> list[Serving]:
    """How ``version`` serves or served in each environment it was given traffic in, was the
    champion of or was ramped in, by environment name (a few queries per environment).

    Example:
        >>> from aimops.metadata import AimStore
        >>> from aimops.metadata.recording import record_model_version
        >>> store = AimStore.open("sqlite://")
        >>> read_serving(store, record_model_version(store, "churn", 1))
        []
    """
    from aimops.metadata.lifecycle.deployments import weight_history
    from aimops.metadata.views import model_deployments, model_ramps

    model, number = version.segments
    ramps = [ramp for ramp in model_ramps(store, model) if ramp.version == number]
    found = []
    for deployment in model_deployments(store, model):
        mine = [ramp.to_dict() for ramp in ramps if ramp.environment == deployment.environment]
        history = weight_history(store, model, deployment.environment)
        if not mine and not any(
            _weight(item, number) > 0 or item.get("champion") == number for item in history
        ):
            continue
        found.append(Serving(
            model=model, environment=deployment.environment, deployment=deployment.urn,
            version=number, weight=deployment.weight(number), champion=deployment.champion,
            revision=deployment.revision, changed_at=deployment.at, history=tuple(history),
            ramps=tuple(mine),
        ))  # fmt: skip
    return found


def read_version(
    store: AimStore, version: Any, *, include: Callable[[str], bool] | None = None
) -> VersionRecord:
    """The record of ``version`` (its URN, ``name/3`` or a ``model_version_ref``), listing the
    evaluations and checks ``include(urn)`` allows (default: all); a version that is not
    recorded is a :class:`~aimops.errors.MissingEntityError`."""
    from aimops.metadata.lifecycle.queries import (
        label,
        lifecycle_history,
        lifecycle_state,
        require_version,
        version_urn,
    )

    urn = version_urn(version)
    require_version(store, urn)
    evaluations = _related(store, urn, "evaluates", "evaluationInfo", "evaluated_at", include)
    metrics = store.latest_values([item["urn"] for item in evaluations], "metrics")
    for item in evaluations:
        item["metrics"] = metrics.get(item["urn"]) or {}
    return VersionRecord(
        urn=str(urn),
        label=label(urn),
        state=lifecycle_state(store, urn),
        info=store.latest_values([urn], "modelVersionInfo").get(str(urn)) or {},
        produced_by=tuple(entity.urn for entity in store.related(urn, "producedBy")),
        history=tuple(lifecycle_history(store, urn)),
        evaluations=tuple(item for item in evaluations if item.get("kind") != "comparison"),
        comparisons=tuple(item for item in evaluations if item.get("kind") == "comparison"),
        checks=tuple(_related(store, urn, "checks", "checkInfo", "checked_at", include)),
        serving=tuple(read_serving(store, urn)),
    )


def _related(
    store: AimStore,
    urn: Urn,
    relation: str,
    aspect: str,
    moment: str,
    include: Callable[[str], bool] | None,
) -> list[dict[str, Any]]:
    """The entities that ``relation`` the version, each its ``aspect`` with its URN, newest
    (by the aspect's ``moment``) first."""
    urns = [entity.urn for entity in store.related(urn, relation, incoming=True)]
    shown = [found for found in urns if include is None or include(found)]
    values = store.latest_values(shown, aspect) if shown else {}
    items = [{**(values.get(found) or {}), "urn": found} for found in shown]
    return sorted(items, key=lambda item: (moment_of(item.get(moment)), item["urn"]), reverse=True)


def moment_of(value: Any) -> datetime:
    """``value`` (an ISO 8601 time, as aspects hold it) as an aware datetime; the earliest one
    when it is not a time, so that it sorts last among the newest first."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return EARLIEST
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: Any) -> str | None:
    """``value`` as the page shows a time: ``2026-03-01 12:00:00 UTC`` (None as None, and
    anything that is no time as it is)."""
    if value is None:
        return None
    found = moment_of(value)
    if found == EARLIEST:
        return str(value)
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(urn: Any) -> str:
    """A run or step URN as its orchestrator names it (``Airflow DAG churn, run manual__1,
    task train``); any other URN as it is."""
    try:
        parsed = Urn.parse(str(urn))
    except InvalidInputError:
        return str(urn)
    if parsed.type not in ORCHESTRATED_TYPES - {"pipeline"}:
        return str(parsed)
    orchestrator, *rest = parsed.segments
    words = _WORDS.get(orchestrator, ("pipeline", "run", "step"))
    parts = [f"{word} {segment}" for word, segment in zip(words, rest, strict=False)]
    parts += [f"map index {segment}" for segment in rest[3:]]
    return f"{_ORIGINS.get(orchestrator, orchestrator)} {', '.join(parts)}"


def describe_origin(origin: Any) -> str:
    """Where a transition came from: ``CLI``, ``Python``, or the task (else the run) of an
    orchestrator that made it.

    Example:
        >>> describe_origin({"kind": "airflow", "run": "urn:aim:run:airflow/churn/manual__1",
        ...                  "task": None})
        'Airflow DAG churn, run manual__1'
    """
    if not isinstance(origin, Mapping):
        return "unknown"
    where = origin.get("task") or origin.get("run")
    if where:
        return describe(where)
    kind = origin.get("kind")
    return _ORIGINS.get(str(kind), "unknown" if kind is None else str(kind))


# Links


def sibling_links(report_dir: str | os.PathLike[str]) -> LinkFor:
    """Links from a page under ``report_dir`` to the pages beside it: the relative address of
    the file :func:`~aimops.monitors.reports.page.report_path` names for an entity, when that
    file exists; None else."""

    def link(urn: str) -> str | None:
        try:
            path = report_path(report_dir, Urn.parse(urn))
        except InvalidInputError:
            return None
        return quote(path.name) if path.is_file() else None

    return link


def safe_links(link_for: LinkFor | None) -> LinkFor:
    """``link_for``, keeping only the addresses that may be links: http(s) or relative, with
    no character a reader could not see (anything else, ``javascript:``, is no link)."""

    def link(urn: str) -> str | None:
        address = link_for(urn) if link_for is not None else None
        if not isinstance(address, str) or not address or visible_text(address) != address:
            return None
        parts = urlsplit(address)
        if parts.scheme:
            return address if parts.scheme.lower() in ("http", "https") and parts.netloc else None
        first = address.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        return None if ":" in first else address  # "x:y" would be a scheme

    return link


def version_label(urn: str) -> str:
    """``name/version`` of a model version's URN; anything else as it is."""
    try:
        parsed = Urn.parse(urn)
    except InvalidInputError:
        return urn
    return "/".join(parsed.segments) if parsed.type == "modelVersion" else urn
