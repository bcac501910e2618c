"""De-ramp: take a model version's traffic away at once and give it back to the champion.

:func:`deramp` sets the version's weight to 0 in every deployment it serves (or in one
``environment``), in one step, whatever its weight was:

- the challenger of an active ramp: the ramp ends ``aborted`` and the champion serves 100%;
- a version serving beside the champion (weights set by hand): its share goes to the
  champion;
- the champion itself, or the only version serving a deployment: refused
  (:class:`~aimops.errors.TransitionRefusedError`, nothing changed) unless ``force``, because
  it would leave the deployment with no champion, or serving nothing. Forced, the remaining
  versions share the traffic in proportion to their weights (the largest becomes champion),
  or the deployment serves nothing.

A version that serves nothing is left as it is (``deployments`` is empty), so a retried
de-ramp is harmless. Deprecating a serving version de-ramps it first
(:func:`~aimops.metadata.lifecycle.transitions.deprecate`).

Example:
    >>> import tempfile
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
    >>> from aimops.metadata.lifecycle.routers import FileRouter
    >>> store, router = AimStore.open("sqlite://"), FileRouter(tempfile.mkdtemp())
    >>> _ = change_traffic(store, read_deployment(store, "churn"), {"1": 90, "2": 10},
    ...                    champion="1", change="set", actor="ana", router=router, mlflow=False)
    >>> done = deramp(store, "churn/2", actor="ana", reason="p99 up", router=router, mlflow=False)
    >>> done.deployments[0]["weights"], router.current("churn", "production").weights
    ({'1': 100}, {'1': 100})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aimops.errors import TransitionRefusedError
from aimops.metadata.lifecycle.deployments import (
    Deployment,
    change_traffic,
    deployments_serving,
)
from aimops.metadata.lifecycle.queries import label, require_version, version_urn
from aimops.metadata.lifecycle.ramps import ASPECT as RAMP_ASPECT
from aimops.metadata.lifecycle.ramps import Ramp, read_ramp

if TYPE_CHECKING:
    from aimops.metadata.lifecycle.routers import Router
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter


@dataclass(frozen=True)
class DerampOutcome:
    """What a de-ramp did: per deployment, the weight taken away, the weights left, the ramp
    it aborted, and how the router and MLflow went."""

    urn: str
    deployments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return label(self.urn)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"urn": self.urn, "deployments": [dict(found) for found in self.deployments]}


def deramp(
    store: AimStore,
    version: Any,
    *,
    environment: str | None = None,
    actor: str | None = None,
    reason: str | None = None,
    origin: Mapping[str, Any] | None = None,
    force: bool = False,
    router: Router | str | None = None,
    mlflow: Any = True,
) -> DerampOutcome:
    """Set ``version``'s weight to 0 at once (see the module); ``environment`` limits it to
    one deployment."""
    from aimops import validation
    from aimops.metadata.lifecycle.transitions import check_origin

    urn = version_urn(version)
    force = validation.flag(force, "force")
    origin = check_origin(origin)
    who = validation.text(actor if actor is not None else store.actor, "actor", empty=False)
    require_version(store, urn)
    number = urn.segments[1]
    serving = deployments_serving(store, urn)
    if environment is not None:
        serving = [found for found in serving if found.environment == environment]
    plans = [_plan(store, found, number, force) for found in serving]
    refused = [why for _, _, why in plans if why]
    if refused:
        raise TransitionRefusedError(f"cannot de-ramp {label(urn)} ({urn}): {'; '.join(refused)}")
    done = []
    for (weights, champion, _), found in zip(plans, serving, strict=True):
        ramp = _active_ramp(store, found)
        also = _aborting(ramp, who, reason, number) if ramp is not None else None
        changed = change_traffic(
            store, found, weights, champion=champion, ramp=None, change="deramp", actor=who,
            reason=reason, origin=origin, also=also, router=router, mlflow=mlflow,
        )  # fmt: skip
        done.append(
            {
                "deployment": found.urn,
                "environment": found.environment,
                "removed_weight": found.weight(number),
                "weights": changed.deployment.weights,
                "champion": changed.deployment.champion,
                "aborted_ramp": ramp.urn if ramp is not None else None,
                "router": changed.router,
                "mlflow": changed.mlflow,
            }
        )
    return DerampOutcome(str(urn), done)


def _active_ramp(store: AimStore, deployment: Deployment) -> Ramp | None:
    if deployment.ramp is None:
        return None
    ramp = read_ramp(store, deployment.ramp)
    return ramp if ramp.active else None


def _plan(
    store: AimStore, deployment: Deployment, version: str, force: bool
) -> tuple[dict[str, int], str | None, str | None]:
    """(weights, champion, why refused) of taking ``version`` out of ``deployment``."""
    where = f"{deployment.model}/{deployment.environment}"
    ramp = _active_ramp(store, deployment)
    if ramp is not None and ramp.version == version and deployment.champion:
        return {deployment.champion: 100}, deployment.champion, None
    rest = {v: w for v, w in deployment.weights.items() if v != version and w > 0}
    if not rest and not force:
        return (
            {},
            None,
            (
                f"it is the only version serving {where}; de-ramping it would leave the "
                "deployment serving nothing (force to do it anyway)"
            ),
        )
    if version == deployment.champion and not force:
        return (
            {},
            None,
            (
                f"it is the champion of {where}; ramp another version to champion first "
                "(force to take its traffic away anyway)"
            ),
        )
    champion = deployment.champion if deployment.champion in rest else None
    if champion is not None:  # the champion takes the version's share
        return {**rest, champion: rest[champion] + deployment.weight(version)}, champion, None
    shared = _proportional(rest)
    return shared, (max(shared, key=lambda v: shared[v]) if shared else None), None


def _proportional(weights: Mapping[str, int]) -> dict[str, int]:
    """``weights`` scaled to sum to 100 (largest remainders get the rounding)."""
    total = sum(weights.values())
    if not total:
        return {}
    exact = {version: weight * 100 / total for version, weight in weights.items()}
    scaled = {version: int(share) for version, share in exact.items()}
    short = 100 - sum(scaled.values())
    for version in sorted(exact, key=lambda v: exact[v] - scaled[v], reverse=True)[:short]:
        scaled[version] += 1
    return scaled


def _aborting(ramp: Ramp, actor: str, reason: str | None, version: str) -> Any:
    """The write that ends ``ramp`` as aborted, in the traffic change's transaction."""
    now = datetime.now(UTC)
    why = f"de-ramped by {actor}" + (f": {reason}" if reason else "")
    if ramp.version != version:
        why = f"its champion {ramp.value.get('champion')} was de-ramped by {actor}"
    value = {**ramp.value, "status": "aborted", "updated_at": now, "ended_at": now, "note": why}

    def write(tx: StoreWriter) -> None:
        tx.put_aspect(ramp.urn, RAMP_ASPECT, value, expected_version=ramp.aspect_version)

    return write
