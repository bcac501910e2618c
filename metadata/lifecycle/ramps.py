"""A ramp's record: its schedule, its status, and the traffic each status stands for.

A ramp moves a published challenger version of a model through a schedule of weights
(:data:`DEFAULT_SCHEDULE`: 1, 5, 25, 50 and 100 percent) in one deployment. It is an entity,
``urn:aim:ramp:<model>/<environment>/<n>`` (the deployment's n-th ramp, ``partOf`` the
deployment), whose ``ramp`` aspect gets a version at every step. Statuses (:data:`STATUSES`):
``ramping`` and ``paused`` are active (one at a time per deployment); ``complete``,
``rolled_back`` (its analysis failed) and ``aborted`` (a person, or a de-ramp) are final.

Each status stands for a traffic (:func:`desired_traffic`), which is what makes the ramp's
tasks idempotent: whatever a crash interrupted, the ramp's record says what the deployment
must serve, and the next run makes it so. The steps themselves (bake, analysis, decisions)
are :mod:`aimops.monitors.ramps`'.

Example:
    >>> check_schedule([1, 5, 25, 50, 100])
    (1, 5, 25, 50, 100)
    >>> check_schedule([5, 1, 100])
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidInputError: a ramp's schedule must increase step by step, not [5, 1, 100]
    >>> desired_traffic({"status": "ramping", "schedule": [1, 5, 100], "step": 1,
    ...                  "version": "4", "champion": "3"})
    ({'3': 95, '4': 5}, '3')
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata.urns import Urn, deployment_urn, ramp_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

ASPECT = "ramp"
STATUSES = ("none", "ramping", "paused", "complete", "rolled_back", "aborted")
ACTIVE = ("ramping", "paused")
FINAL = ("complete", "rolled_back", "aborted")
DEFAULT_SCHEDULE = (1, 5, 25, 50, 100)


@dataclass(frozen=True)
class Ramp:
    """A ramp as its latest record has it (``value`` is the ``ramp`` aspect)."""

    urn: str
    value: dict[str, Any]
    aspect_version: int

    @property
    def status(self) -> str:
        return str(self.value["status"])

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def version(self) -> str:
        return str(self.value["version"])

    @property
    def model(self) -> str:
        return str(self.value["model"])

    @property
    def environment(self) -> str:
        return str(self.value["environment"])

    @property
    def schedule(self) -> tuple[int, ...]:
        return tuple(int(weight) for weight in self.value["schedule"])

    @property
    def step(self) -> int:
        return int(self.value["step"])

    @property
    def weight(self) -> int:
        """The challenger's weight now (0 once rolled back or aborted)."""
        return desired_traffic(self.value)[0].get(self.version, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the record with its URN, the challenger's weight and the step count."""
        from aimops.metadata.aspects import to_jsonable

        value = to_jsonable(ASPECT, self.value, "ramp")
        return {"urn": self.urn, **value, "weight": self.weight, "steps": len(self.schedule)}


def check_schedule(schedule: Any) -> tuple[int, ...]:
    """``schedule`` as a tuple of whole percents that rise step by step from above 0 to 100."""
    weights = validation.items(schedule, "a ramp's schedule")
    if not weights or any(
        isinstance(weight, bool) or not isinstance(weight, int) for weight in weights
    ):
        raise InvalidInputError(
            f"a ramp's schedule is a list of whole percents, not {validation.shown(schedule)}"
        )
    if any(b <= a for a, b in itertools.pairwise(weights)):
        raise InvalidInputError(
            f"a ramp's schedule must increase step by step, not {list(weights)}"
        )
    if weights[0] < 1 or weights[-1] != 100:
        raise InvalidInputError(
            f"a ramp's schedule runs from above 0 to exactly 100 percent, not {list(weights)}"
        )
    return tuple(weights)


def desired_traffic(value: Mapping[str, Any]) -> tuple[dict[str, int], str | None]:
    """(weights, champion) the deployment must serve while the ramp is in ``value``'s state."""
    version, champion = str(value["version"]), value.get("champion")
    status = value["status"]
    if status == "complete":
        return {version: 100}, version
    if status in ("rolled_back", "aborted"):
        return ({str(champion): 100} if champion else {}), champion
    weight = int(value["schedule"][int(value["step"])])
    if champion is None or weight == 100:  # an initial rollout, or the last step's bake
        return {version: 100}, champion
    return {str(champion): 100 - weight, version: weight}, champion


def read_ramp(store: AimStore, urn: Urn | str) -> Ramp:
    """The ramp ``urn`` names; MissingEntityError when the store has none."""
    parsed = Urn.parse(urn)
    if parsed.type != "ramp":
        raise InvalidInputError(f"{parsed} is not a ramp URN (urn:aim:ramp:model/env/n)")
    found = store.get_aspect(parsed, ASPECT)
    if found is None:
        raise MissingEntityError(f"no ramp {parsed} in the AIM store")
    return Ramp(str(parsed), dict(found.value), found.version)


def ramps_of(
    store: AimStore, model: str, environment: str, *, version: str | None = None
) -> list[Ramp]:
    """The deployment's ramps, oldest first (only ``version``'s when given)."""
    deployment = deployment_urn(model, environment)
    urns = [entity.urn for entity in store.related(deployment, "partOf", incoming=True)]
    values = store.latest_values([urn for urn in urns if urn.startswith("urn:aim:ramp:")], ASPECT)
    found = [Ramp(urn, dict(value), 0) for urn, value in values.items() if value is not None]
    if version is not None:
        found = [ramp for ramp in found if ramp.version == str(version)]
    return sorted(found, key=lambda ramp: int(Urn.parse(ramp.urn).segments[2]))


def next_ramp_urn(store: AimStore, model: str, environment: str) -> Urn:
    """The URN the deployment's next ramp gets."""
    return ramp_urn(model, environment, len(ramps_of(store, model, environment)) + 1)


def latest_ramp(
    store: AimStore, model: str, environment: str, *, version: str | None = None
) -> Ramp | None:
    """The newest ramp of the deployment (of ``version``, when given), read whole."""
    ramps = ramps_of(store, model, environment, version=version)
    return read_ramp(store, ramps[-1].urn) if ramps else None


def ramp_lines(ramps: Sequence[Ramp]) -> list[str]:
    """One line per ramp: ``urn:aim:ramp:churn/production/2: 4 rolled_back at 5%``."""
    return [f"{ramp.urn}: {ramp.version} {ramp.status} at {ramp.weight}%" for ramp in ramps]
