"""Reading the lifecycle: a model version's state, many versions' states, and its audit trail.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> lifecycle_state(store, version), lifecycle_history(store, version)
    ('registered', [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata.lifecycle.machine import INITIAL_STATE
from aimops.metadata.urns import Urn, model_version_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

ASPECT = "lifecycle"


def version_urn(value: Any) -> Urn:
    """The model version ``value`` names: its URN (text or :class:`Urn`), ``name/3``, or a
    ``model_version_ref`` (a mapping with its ``urn``).

    Example:
        >>> str(version_urn("churn/3")), str(version_urn({"urn": "urn:aim:modelVersion:churn/3"}))
        ('urn:aim:modelVersion:churn/3', 'urn:aim:modelVersion:churn/3')
    """
    if isinstance(value, Mapping) and "urn" in value:
        value = value["urn"]
    if isinstance(value, Urn) or (isinstance(value, str) and value.startswith("urn:")):
        urn = Urn.parse(value)
        if urn.type != "modelVersion":
            raise InvalidInputError(f"{urn} is not a model version URN (urn:aim:modelVersion:...)")
        return urn
    if isinstance(value, str):
        name, slash, version = value.removeprefix("models:/").rpartition("/")
        if slash and name and version:
            return model_version_urn(name, version)
    raise InvalidInputError(
        f"{value!r} is not a model version: give its URN (urn:aim:modelVersion:name/3), "
        "'name/3' or a model_version_ref"
    )


def label(version: Urn | str) -> str:
    """``name/version``: how messages name a model version."""
    return "/".join(Urn.parse(version).segments)


def require_version(store: AimStore, version: Urn) -> None:
    """MissingEntityError unless ``version`` is recorded."""
    if store.get_entity(version) is None:
        raise MissingEntityError(
            f"model version {label(version)} ({version}) is not in the AIM store; register it "
            "first (a training task returning a model_version_ref, or record_model_version)"
        )


def lifecycle_values(store: AimStore, versions: Sequence[Urn | str]) -> dict[str, dict[str, Any]]:
    """The latest ``lifecycle`` value of each of ``versions``, by URN; a version no transition
    has moved is ``{"state": "registered"}``."""
    found = store.latest_values(list(versions), ASPECT)
    return {
        str(Urn.parse(version)): found.get(str(Urn.parse(version))) or {"state": INITIAL_STATE}
        for version in versions
    }


def lifecycle_state(store: AimStore, version: Any) -> str:
    """The state of the model version ``version`` (``registered`` until a transition)."""
    urn = version_urn(version)
    found = store.get_aspect(urn, ASPECT)
    return str(found.value["state"]) if found is not None else INITIAL_STATE


def lifecycle_history(store: AimStore, version: Any) -> list[dict[str, Any]]:
    """Every transition of ``version``, oldest first: each ``lifecycle`` value with its
    aspect ``version`` number."""
    urn = version_urn(version)
    return [
        {**found.value, "version": found.version}
        for found in sorted(store.history(urn, ASPECT), key=lambda found: found.version)
    ]
