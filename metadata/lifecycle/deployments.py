"""Deployments: which versions of a model serve an environment's traffic, and with what weight.

A deployment is a model in an environment (``production`` by default),
``urn:aim:deployment:<model>/<environment>``. Every traffic change appends a version of its
``deployment`` aspect (weights, champion, active ramp, revision, who and why), adds or
removes the ``serves`` edge to each version (an edge while its weight is above 0), and adds a
point to each changed version's weight series (``weight.<version>`` on the deployment).

The order of effects is fixed, so that store and router never disagree for long:

1. the router is asked whether it can apply (an unwritable traffic folder fails here, and
   nothing has changed);
2. the store records the change in one transaction (with the ramp's own record, when a ramp
   made it), stating the aspect version it read: of two racing writers one wins, the other
   gets :class:`~aimops.errors.LifecycleConflictError`;
3. the router applies the store's state (:func:`apply_traffic`), unless it has that revision;
4. MLflow's registry is brought in line (aliases and tags).

A crash after 2 leaves the router behind the store; running the same task again finds the
store already changed (nothing new is written) and repeats 3 and 4. That is what makes every
traffic task idempotent.

Example:
    >>> import tempfile
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.lifecycle.routers import FileRouter
    >>> store = AimStore.open("sqlite://")
    >>> router = FileRouter(tempfile.mkdtemp())
    >>> read_deployment(store, "churn").weights
    {}
    >>> done = change_traffic(store, read_deployment(store, "churn"), {"1": 100}, champion="1",
    ...                       change="set", actor="ana", router=router, mlflow=False)
    >>> done.deployment.weights, done.deployment.revision, done.router
    ({'1': 100}, 1, 'applied')
    >>> router.current("churn", "production").champion
    '1'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import ConcurrentUpdateError, LifecycleConflictError
from aimops.metadata.store_values import iso
from aimops.metadata.urns import Urn, deployment_urn, model_version_urn

if TYPE_CHECKING:
    from aimops.metadata.lifecycle.routers import Router, TrafficState
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter

ASPECT = "deployment"
DEFAULT_ENVIRONMENT = "production"
#: The weight series of version ``v`` on the deployment is ``weight.<v>``.
WEIGHT_METRIC = "weight.{version}"
_KEEP: Any = object()


@dataclass(frozen=True)
class Deployment:
    """A deployment's traffic as the store has it (revision 0: never changed)."""

    urn: str
    model: str
    environment: str
    weights: dict[str, int]
    champion: str | None
    revision: int
    ramp: str | None
    at: str | None
    aspect_version: int

    def weight(self, version: str | int) -> int:
        """The percent of traffic ``version`` serves (0 when none)."""
        return self.weights.get(str(version), 0)

    @property
    def serving(self) -> tuple[str, ...]:
        """The versions with a weight above 0."""
        return tuple(version for version, weight in self.weights.items() if weight > 0)

    def traffic_state(self) -> TrafficState:
        """What a router is given to apply."""
        from aimops.metadata.lifecycle.routers import TrafficState

        return TrafficState(
            model=self.model,
            environment=self.environment,
            weights=dict(self.weights),
            champion=self.champion,
            revision=self.revision,
            updated_at=self.at or iso(datetime.now(UTC)) or "",
            ramp=self.ramp,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class TrafficChange:
    """What a traffic change did: the deployment after it, whether the store changed, and how
    the router and MLflow's mirror went."""

    deployment: Deployment
    written: bool
    #: ``applied``, ``in line`` (the router had this revision) or ``off``.
    router: str
    mlflow: str


def environment_name(environment: Any) -> str:
    """``environment`` when it can name one (a URN segment), else InvalidInputError."""
    return validation.text(environment, "environment", empty=False, limit=128, nul=False)


def read_deployment(
    store: AimStore, model: str, environment: str = DEFAULT_ENVIRONMENT
) -> Deployment:
    """The deployment of ``model`` in ``environment`` (empty weights when never deployed)."""
    urn = deployment_urn(model, environment_name(environment))
    found = store.get_aspect(urn, ASPECT)
    if found is None:
        return Deployment(str(urn), model, environment, {}, None, 0, None, None, 0)
    value = found.value
    return Deployment(
        urn=str(urn),
        model=model,
        environment=environment,
        weights={str(k): int(v) for k, v in value["weights"].items()},
        champion=value.get("champion"),
        revision=int(value["revision"]),
        ramp=value.get("ramp"),
        at=str(value["at"]),
        aspect_version=found.version,
    )


def deployments_serving(store: AimStore, version: Urn | str) -> list[Deployment]:
    """Every deployment in which the model version ``version`` has a weight above 0."""
    urn = Urn.parse(version)
    found = []
    for entity in store.related(urn, "serves", incoming=True):
        model, environment = Urn.parse(entity.urn).segments[:2]
        deployment = read_deployment(store, model, environment)
        if deployment.weight(urn.segments[1]) > 0:
            found.append(deployment)
    return found


def change_traffic(
    store: AimStore,
    read: Deployment,
    weights: Mapping[Any, Any],
    *,
    champion: str | None = _KEEP,
    ramp: str | None = _KEEP,
    change: str,
    actor: str,
    reason: str | None = None,
    origin: Mapping[str, Any] | None = None,
    also: Callable[[StoreWriter], None] | None = None,
    router: Router | str | None = None,
    mlflow: Any = True,
) -> TrafficChange:
    """Record ``weights`` (and the champion, the active ramp) on the deployment as ``read``,
    then make the router and MLflow follow (see the module for the order). ``also`` writes
    more in the same transaction (a ramp's record). Nothing new is written when the store
    has this traffic already; the router and MLflow are brought in line regardless."""
    from aimops.metadata.lifecycle.routers import check_weights, resolve_router

    wanted = check_weights(weights)
    target_champion = read.champion if champion is _KEEP else champion
    target_ramp = read.ramp if ramp is _KEEP else ramp
    applier = resolve_router(router)
    applier.check(read.model, read.environment)
    same = (wanted, target_champion, target_ramp) == (read.weights, read.champion, read.ramp)
    deployment, written = read, False
    if not same or also is not None:
        deployment = _commit(
            store, read, wanted, target_champion, target_ramp, change, actor, reason, origin,
            also, same,
        )  # fmt: skip
        written = deployment.revision != read.revision or also is not None
    return TrafficChange(deployment, written, *apply_traffic(store, deployment, applier, mlflow))


def apply_traffic(
    store: AimStore, deployment: Deployment, router: Router | str | None = None, mlflow: Any = True
) -> tuple[str, str]:
    """Make the router hold the store's state of ``deployment`` (unless it has that revision
    or a newer one), then mirror the model to MLflow. Returns (router, mlflow) outcomes."""
    from aimops.metadata.lifecycle.routers import resolve_router

    applier = resolve_router(router)
    routed = "off"
    if deployment.revision > 0:
        held = applier.current(deployment.model, deployment.environment)
        if held is not None and held.revision >= deployment.revision:
            routed = "in line"
        else:
            applier.apply(deployment.traffic_state())
            routed = "applied"
    return routed, _mirror(store, deployment.model, mlflow)


def _mirror(store: AimStore, model: str, mlflow: Any) -> str:
    if mlflow is False:
        return "off"
    from aimops.metadata.lifecycle.mlflow_mirror import MlflowTarget, mirror_model

    target = mlflow if isinstance(mlflow, MlflowTarget) else None
    return mirror_model(store, model, target=target).summary


def _commit(
    store: AimStore,
    read: Deployment,
    weights: dict[str, int],
    champion: str | None,
    ramp: str | None,
    change: str,
    actor: str,
    reason: str | None,
    origin: Mapping[str, Any] | None,
    also: Callable[[StoreWriter], None] | None,
    same: bool,
) -> Deployment:
    now = datetime.now(UTC)
    revision = read.revision if same else read.revision + 1
    value = {
        "model": read.model,
        "environment": read.environment,
        "weights": weights,
        "champion": champion,
        "revision": revision,
        "ramp": ramp,
        "change": change,
        "actor": actor,
        "reason": reason,
        "at": now,
        "origin": dict(origin or {"kind": "python"}),
    }
    urn = read.urn
    try:
        with store.transaction(actor=actor) as tx:
            written = read.aspect_version
            if not same:
                written = tx.put_aspect(urn, ASPECT, value, expected_version=read.aspect_version)
                _edges_and_points(tx, read, weights, now)
            if also is not None:
                also(tx)
    except ConcurrentUpdateError as exc:
        raise LifecycleConflictError(
            f"cannot change the traffic of {read.model}/{read.environment} ({urn}): another "
            f"change got there first ({exc}); nothing was changed, read it again"
        ) from None
    if same:
        return read
    return Deployment(
        urn, read.model, read.environment, weights, champion, revision, ramp, iso(now), written
    )


def _edges_and_points(
    tx: StoreWriter, read: Deployment, weights: Mapping[str, int], now: datetime
) -> None:
    """A ``serves`` edge per serving version (removed when it stops) and a weight point per
    version whose weight changed."""
    for version in sorted(set(weights) | set(read.weights)):
        before, after = read.weight(version), weights.get(version, 0)
        target = model_version_urn(read.model, version)
        if after > 0 and before == 0:
            tx.put_entity(target)
            tx.put_edge(read.urn, "serves", target)
        elif after == 0 and before > 0:
            tx.remove_edge(read.urn, "serves", target)
        if after != before or read.revision == 0:
            tx.put_points(read.urn, WEIGHT_METRIC.format(version=version), [(now, float(after))])


def weight_history(
    store: AimStore, model: str, environment: str = DEFAULT_ENVIRONMENT
) -> list[dict[str, Any]]:
    """Every traffic change of the deployment, oldest first: revision, weights, champion,
    ramp, change, actor, reason, at."""
    urn = deployment_urn(model, environment_name(environment))
    return [
        {**found.value, "aspect_version": found.version}
        for found in sorted(store.history(urn, ASPECT), key=lambda found: found.version)
    ]
