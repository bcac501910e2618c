"""MLflow's model registry as a mirror of the lifecycle: a tag on each model version.

The AIM store is the truth; MLflow shows it where MLflow users look. Each version of a model
that MLflow's registry holds gets the tag ``aimops.lifecycle_state`` with its AIM state.
:func:`mirror_model` sets every version's tag that differs, so one call (a transition's, or
``aimops models sync NAME``) repairs whatever an earlier failure left behind.

Which MLflow: the :class:`MlflowTarget` given, else ``MLFLOW_REGISTRY_URI`` /
``MLFLOW_TRACKING_URI``, else the local SQLite registry under ``$AIMOPS_HOME/mlflow`` when it
exists. With none, nothing is mirrored (``not configured``) and everything else works. An
MLflow server that does not answer fails fast (one try, a short timeout) instead of holding the
transition for minutes, and is reported as ``failed: <why>``.

Example:
    >>> from aimops.metadata import AimStore
    >>> import os; os.environ.pop("MLFLOW_TRACKING_URI", None) and None
    >>> mirror_model(AimStore.open("sqlite://"), "churn").summary
    'not configured'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.metadata.urns import Urn, model_urn
from aimops.settings import aimops_home, temporary_environment

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

TAG = "aimops.lifecycle_state"
#: The version's weight (percent) in the ``production`` deployment.
TRAFFIC_TAG = "aimops.traffic"
#: The version's newest ramp in ``production``: ``<status> <ramp URN>``.
RAMP_TAG = "aimops.ramp"
#: The environment MLflow mirrors, and the aliases that follow its champion and challenger.
MIRRORED_ENVIRONMENT = "production"
CHAMPION_ALIAS, CHALLENGER_ALIAS = "champion", "challenger"
#: How long one MLflow request may take before the mirror reports it failed (seconds).
REQUEST_TIMEOUT = "10"


@dataclass(frozen=True)
class MlflowTarget:
    """Where MLflow's tracking server and registry are (the registry defaults to tracking)."""

    tracking_uri: str
    registry_uri: str | None = None

    @property
    def registry(self) -> str:
        return self.registry_uri or self.tracking_uri


@dataclass(frozen=True)
class MirrorOutcome:
    """How a mirror went: the versions whose tag changed, the ones MLflow does not hold, and
    the failure (None when it worked)."""

    configured: bool
    updated: tuple[str, ...] = ()
    in_line: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    error: str | None = None
    registry: str | None = None
    states: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        if not self.configured:
            return "not configured"
        if self.error is not None:
            return f"failed: {self.error}"
        if not self.updated and not self.in_line:
            return "not in the MLflow registry"
        return "synced"


def configured_target(target: MlflowTarget | None = None) -> MlflowTarget | None:
    """The MLflow to mirror into (see the module), or None."""
    if target is not None:
        return target
    tracking = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    registry = os.environ.get("MLFLOW_REGISTRY_URI", "").strip() or None
    if tracking or registry:
        return MlflowTarget(tracking or str(registry), registry)
    local = Path(aimops_home()) / "mlflow" / "mlflow.db"
    return MlflowTarget(f"sqlite:///{local}") if local.is_file() else None


def mirror_model(
    store: AimStore, model: str, *, target: MlflowTarget | None = None
) -> MirrorOutcome:
    """Set ``aimops.lifecycle_state`` on every version of ``model`` that MLflow's registry
    holds to its AIM state, and mirror the ``production`` deployment: the aliases
    ``champion`` and ``challenger`` (the active ramp's version) and the tags
    ``aimops.traffic`` and ``aimops.ramp``; never raises for MLflow's sake (the outcome says
    what failed)."""
    from aimops.metadata.lifecycle.queries import lifecycle_values

    where = configured_target(target)
    if where is None:
        return MirrorOutcome(configured=False)
    versions = [e.urn for e in store.related(model_urn(model), "versionOf", incoming=True)]
    states = {
        Urn.parse(urn).segments[1]: value["state"]
        for urn, value in lifecycle_values(store, versions).items()
    }
    deployed = _deployed(store, model)
    try:
        with temporary_environment(_fail_fast()):
            return _apply(model, states, where, deployed)
    except Exception as exc:  # MLflow's or the network's: the transition stands regardless
        first_line = _without_secrets((str(exc).strip().splitlines() or [type(exc).__name__])[0])
        first_line = first_line[:300]
        return MirrorOutcome(
            configured=True, error=first_line, registry=where.registry, states=states
        )


_SECRET_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def _without_secrets(text: str) -> str:
    """``text`` with the password of every URL in it hidden.

    Example:
        >>> _without_secrets("cannot reach https://ana:s3cret@mlflow.example.com/api")
        'cannot reach https://ana:***@mlflow.example.com/api'
    """
    return _SECRET_IN_URL.sub(r"\1***@", text)


def _fail_fast() -> dict[str, str]:
    """MLflow's HTTP settings for one quick try, unless the user chose their own."""
    wanted = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": REQUEST_TIMEOUT,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    return {name: value for name, value in wanted.items() if name not in os.environ}


def _held_versions(
    client: Any, model: str, states: dict[str, str], mlflow_error: type[Exception]
) -> dict[str, Any]:
    """The versions of ``model`` MLflow's registry holds, by version: one search, or (for a
    name MLflow's filter syntax cannot quote) one lookup per version AIM knows."""
    if "'" not in model and "\\" not in model:
        found = client.search_model_versions(f"name = '{model}'")
        return {str(version.version): version for version in found}
    held = {}
    for version in states:
        try:
            held[version] = client.get_model_version(model, version)
        except mlflow_error as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                raise
    return held


@dataclass(frozen=True)
class _Deployed:
    """What MLflow mirrors of the production deployment: tags per version and aliases."""

    tags: dict[str, dict[str, str]]
    aliases: dict[str, str | None]


def _deployed(store: AimStore, model: str) -> _Deployed:
    from aimops.metadata.lifecycle.deployments import read_deployment
    from aimops.metadata.lifecycle.ramps import ramps_of

    deployment = read_deployment(store, model, MIRRORED_ENVIRONMENT)
    ramps = ramps_of(store, model, MIRRORED_ENVIRONMENT)
    tags: dict[str, dict[str, str]] = {}
    for ramp in ramps:  # oldest first: each version keeps its newest ramp
        tags.setdefault(ramp.version, {})[RAMP_TAG] = f"{ramp.status} {ramp.urn}"
    if deployment.revision:
        for version in {*deployment.weights, *tags}:
            tags.setdefault(version, {})[TRAFFIC_TAG] = str(deployment.weight(version))
    active = [ramp.version for ramp in ramps if ramp.active]
    aliases = {
        CHAMPION_ALIAS: deployment.champion,
        CHALLENGER_ALIAS: active[-1] if active else None,
    }
    return _Deployed(tags, aliases if deployment.revision else {})


def _apply_deployment(
    client: Any, model: str, held: dict[str, Any], deployed: _Deployed
) -> list[str]:
    """Set the deployment's tags and aliases that differ; returns the versions changed."""
    changed = []
    for version, tags in sorted(deployed.tags.items()):
        found = held.get(version)
        if found is None:
            continue
        for name, value in tags.items():
            if (found.tags or {}).get(name) != value:
                client.set_model_version_tag(model, version, name, value)
                changed.append(version)
    if deployed.aliases:
        found = getattr(client.get_registered_model(model), "aliases", {}) or {}
        current = {alias: str(version) for alias, version in dict(found).items()}
        for alias, wanted in deployed.aliases.items():
            if wanted is not None and wanted in held and current.get(alias) != wanted:
                client.set_registered_model_alias(model, alias, wanted)
            elif (wanted is None or wanted not in held) and alias in current:
                client.delete_registered_model_alias(model, alias)
    return changed


def _apply(
    model: str, states: dict[str, str], where: MlflowTarget, deployed: _Deployed | None = None
) -> MirrorOutcome:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=where.tracking_uri, registry_uri=where.registry)
    held = _held_versions(client, model, states, MlflowException)
    updated, in_line, absent = [], [], []
    for version, state in sorted(states.items()):
        found = held.get(version)
        if found is None:
            absent.append(version)
        elif (found.tags or {}).get(TAG) == state:
            in_line.append(version)
        else:
            client.set_model_version_tag(model, version, TAG, state)
            updated.append(version)
    if deployed is not None and held:
        updated += [v for v in _apply_deployment(client, model, held, deployed) if v not in updated]
        in_line = [version for version in in_line if version not in updated]
    return MirrorOutcome(
        configured=True,
        updated=tuple(updated),
        in_line=tuple(in_line),
        absent=tuple(absent),
        registry=where.registry,
        states=states,
    )
