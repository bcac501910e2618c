"""What a model version must have on record before it may be reviewed: the evidence policy.

A policy judges the store's record of one model version and returns :class:`Evidence`: the
URNs it relied on and, for each piece it did not find, one sentence saying what is missing.
The default policy asks for

- an **evaluation** of this version with gates, whose newest gated one passed (an evaluation
  recorded without gates is no evidence);
- a **passing data-quality check** on the version, and no failing data-quality or drift check
  on it newer than that one;
- where the model has a champion (the ``production`` deployment's, else the newest published
  version), a **comparison** of the two whose gates passed; an inconclusive comparison (too
  few rows to name winners) is no evidence.

Any object with a ``name`` and ``judge(store, version) -> Evidence`` is a policy;
:func:`register_policy` makes one known by name to the CLI and the operators.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> evidence = DEFAULT_POLICY.judge(store, version)
    >>> evidence.sufficient, evidence.missing[0]
    (False, 'an evaluation of churn/1 with gates that passed (none is recorded)')
    >>> resolve_policy("evaluation_only").name
    'evaluation_only'
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata.urns import Urn, model_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore


@dataclass(frozen=True)
class Evidence:
    """What a policy found (``found``: URNs) and what it missed (``missing``: sentences)."""

    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def sufficient(self) -> bool:
        return not self.missing


@runtime_checkable
class Policy(Protocol):
    """Judges whether a model version's record is enough to review it."""

    name: str

    def judge(self, store: AimStore, version: Urn) -> Evidence: ...


@dataclass(frozen=True)
class EvidencePolicy:
    """The built-in policy: each piece of evidence can be switched off (see the module)."""

    name: str = "default"
    evaluation: bool = True
    data_quality: bool = True
    comparison: bool = True
    #: The check kinds whose failure after the passing data-quality check voids it.
    voiding_kinds: tuple[str, ...] = field(default=("data_quality", "drift"))

    def judge(self, store: AimStore, version: Urn) -> Evidence:
        found: list[str] = []
        missing: list[str] = []
        evaluations = _evaluations(store, version) if self.evaluation or self.comparison else {}
        if self.evaluation:
            _judge_evaluation(version, evaluations, found, missing)
        if self.data_quality:
            _judge_data_quality(store, version, self.voiding_kinds, found, missing)
        if self.comparison:
            _judge_comparison(store, version, evaluations, found, missing)
        return Evidence(tuple(found), tuple(missing))


DEFAULT_POLICY = EvidencePolicy()
POLICIES: dict[str, Any] = {
    "default": DEFAULT_POLICY,
    "evaluation_only": EvidencePolicy(name="evaluation_only", data_quality=False, comparison=False),
}


def register_policy(policy: Any) -> Any:
    """Make ``policy`` known by its name (to ``--policy NAME`` and the operators' ``policy=``);
    returns it, so it can decorate an instance's creation."""
    if not isinstance(policy, Policy):
        raise InvalidInputError(
            "a lifecycle policy has a name and judge(store, version) -> Evidence, not "
            f"{validation.shown(policy)}"
        )
    name = validation.text(policy.name, "a policy's name", empty=False, limit=100, nul=False)
    POLICIES[name] = policy
    return policy


def resolve_policy(policy: Any = None) -> Any:
    """The policy ``policy`` names: a policy object, a registered name, or ``module:attribute``
    (the CLI's way to name one it has not imported); None is the default policy."""
    if policy is None:
        return DEFAULT_POLICY
    if isinstance(policy, Policy):
        return policy
    name = validation.text(policy, "a policy", empty=False, limit=300, nul=False)
    if name in POLICIES:
        return POLICIES[name]
    module, colon, attribute = name.partition(":")
    if colon and module and attribute:
        try:
            found = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise InvalidInputError(f"cannot load the policy {name!r}: {exc}") from None
        return resolve_policy(found)
    known = ", ".join(sorted(POLICIES))
    raise InvalidInputError(
        f"no lifecycle policy named {name!r}; known: {known} (or module:attribute)"
    )


def _label(version: Urn | str) -> str:
    return "/".join(Urn.parse(version).segments)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _evaluations(store: AimStore, version: Urn) -> dict[str, dict[str, Any]]:
    """Every evaluation and comparison of ``version``: URN -> its ``evaluationInfo``."""
    found = store.related_values(version, "evaluates", "evaluationInfo", incoming=True)
    return {urn: info for urn, info in found.items() if info is not None}


def _newest(infos: dict[str, dict[str, Any]], moment: str) -> tuple[str, dict[str, Any]]:
    return max(infos.items(), key=lambda item: (_moment(item[1][moment]), item[0]))


def _failed_gates(info: dict[str, Any]) -> str:
    failed = [gate for gate in info.get("gates", ()) if not gate.get("passed", True)]
    shown = [str(gate.get("message") or gate.get("metric")) for gate in failed[:3]]
    return "; ".join(shown) or "a gate failed"


def _judge_evaluation(
    version: Urn, evaluations: dict[str, dict[str, Any]], found: list[str], missing: list[str]
) -> None:
    own = {
        urn: info
        for urn, info in evaluations.items()
        if info.get("kind") != "comparison" and info.get("model_version") == str(version)
    }
    gated = {urn: info for urn, info in own.items() if info.get("status") in ("passed", "failed")}
    wanted = f"an evaluation of {_label(version)} with gates that passed"
    if not gated:
        why = f"{len(own)} recorded without gates" if own else "none is recorded"
        missing.append(f"{wanted} ({why})")
        return
    urn, info = _newest(gated, "evaluated_at")
    if info["status"] != "passed":
        missing.append(f"{wanted} (the newest, {urn}, failed: {_failed_gates(info)})")
        return
    found.append(urn)


def _judge_data_quality(
    store: AimStore,
    version: Urn,
    voiding: Sequence[str],
    found: list[str],
    missing: list[str],
) -> None:
    recorded = store.related_values(version, "checks", "checkInfo", incoming=True)
    checks = {urn: info for urn, info in recorded.items() if info is not None}
    passing = {
        urn: info
        for urn, info in checks.items()
        if info.get("kind") == "data_quality" and info.get("status") == "pass"
    }
    wanted = f"a passing data-quality check on {_label(version)}"
    if not passing:
        quality = [info["status"] for info in checks.values() if info.get("kind") == "data_quality"]
        why = f"recorded: {', '.join(sorted(set(quality)))}" if quality else "none is recorded"
        missing.append(f"{wanted} ({why})")
        return
    urn, info = _newest(passing, "checked_at")
    since = _moment(info["checked_at"])
    later_failures = sorted(
        (_moment(other["checked_at"]), other_urn, other["kind"])
        for other_urn, other in checks.items()
        if other.get("kind") in voiding
        and other.get("status") == "fail"
        and _moment(other["checked_at"]) > since
    )
    if later_failures:
        moment, failed, kind = later_failures[-1]
        missing.append(
            f"no failing data-quality or drift check on {_label(version)} after its passing "
            f"data-quality check {urn} (the {kind} check {failed} failed at {moment.isoformat()})"
        )
        return
    found.append(urn)


def champion_of(store: AimStore, version: Urn) -> str | None:
    """The champion ``version`` is compared with: the champion of the model's ``production``
    deployment, else (never deployed, or no champion there) the newest published version of
    the model, other than ``version`` itself; None when there is neither."""
    from aimops.metadata.lifecycle.deployments import DEFAULT_ENVIRONMENT, read_deployment
    from aimops.metadata.urns import model_version_urn

    name = Urn.parse(version).segments[0]
    serving = read_deployment(store, name, DEFAULT_ENVIRONMENT).champion
    if serving is not None and str(model_version_urn(name, serving)) != str(version):
        return str(model_version_urn(name, serving))
    model = model_urn(name)
    states = store.related_values(model, "versionOf", "lifecycle", incoming=True)
    published = {
        urn: value for urn, value in states.items()
        if value is not None and value["state"] == "published" and urn != str(version)
    }  # fmt: skip
    return _newest(published, "at")[0] if published else None


def _judge_comparison(
    store: AimStore,
    version: Urn,
    evaluations: dict[str, dict[str, Any]],
    found: list[str],
    missing: list[str],
) -> None:
    champion = champion_of(store, version)
    if champion is None:
        return
    comparisons = {
        urn: info
        for urn, info in evaluations.items()
        if info.get("kind") == "comparison"
        and {str(version), champion} <= set(info.get("model_versions", ()))
        and info.get("status") in ("passed", "failed")
    }
    wanted = (
        f"a comparison of {_label(version)} with the published {_label(champion)} "
        "whose gates passed"
    )
    if not comparisons:
        missing.append(f"{wanted} (none with gates is recorded)")
        return
    urn, info = _newest(comparisons, "evaluated_at")
    if info["status"] != "passed":
        missing.append(f"{wanted} (the newest, {urn}, failed: {_failed_gates(info)})")
        return
    details = store.latest_values([urn], "evaluationDetails").get(urn) or {}
    inconclusive = details.get("parts", {}).get("inconclusive")
    if inconclusive:
        missing.append(f"{wanted} (the newest, {urn}, is {inconclusive})")
        return
    found.append(urn)
