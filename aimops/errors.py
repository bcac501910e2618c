"""The errors aimops raises, one hierarchy for the whole package.

Every failure a user can cause or meet is one of these; foreign exceptions (SQLAlchemy,
pydantic, drivers) are translated at the boundary with ``raise ... from exc``. Each class says
whether trying again can help: ``transient`` errors (T below: the store busy or unreachable, a
thing not recorded or written yet) are retried by the orchestrators, the others are permanent
(bad input, a failed gate, a wrong setting: fail now). The task frame (:mod:`aimops.tasks`)
reads the attribute, not the class's place in the tree::

    AimopsError
    ├── ConfigurationError            a setting or store URL that cannot be used (a file that
    │                                 is no database; a write into a read-only store)
    ├── InvalidInputError             bad input; nothing was written
    │   ├── MalformedUrnError         not a valid ``urn:aim:<type>:<key>``
    │   ├── UnknownAspectError        an aspect name that is not registered
    │   ├── InvalidAspectError        a payload that fails the aspect's schema
    │   ├── UnknownRelationError      an edge relation that is not registered
    │   ├── MissingEntityError     T  an edge or read names an entity not recorded (yet)
    │   └── InvalidDataError          labels, scores or frames that cannot be evaluated
    ├── NotFoundError              T  a user-facing lookup found nothing (yet): a file, a version
    ├── GateFailedError               an evaluation or check missed a bound it was gated on
    │   ├── CheckFailedError          a monitoring check came out ``fail``
    │   └── RampRolledBackError       a ramp's analysis failed; the champion serves 100% again
    ├── UnknownAnalyzerError          an analyzer name that no entry point registers
    ├── TransitionRefusedError        a lifecycle transition its guards refuse (state, evidence,
    │                                 four eyes): the message names what is missing
    ├── RampAbortedError              a ramp a task was running was aborted (a person, a de-ramp)
    ├── RouterUnavailableError     T  a traffic router (a webhook) did not answer or failed on
    │                                 its side: the serving layer may take the weights later
    └── StoreError                 T  the AIM store itself
        ├── StoreUnavailableError  T  cannot open or reach the store
        ├── SchemaError               the store's schema does not match this aimops
        │   ├── SchemaMissingError    no aimops schema yet: run ``aimops init``
        │   └── SchemaOutdatedError   older than the code: run ``aimops db upgrade``
        ├── StoreBusyError         T  a lock or a statement timed out: trying later may work
        └── ConcurrentUpdateError  T  an expected version was stale: another writer got there first
            └── LifecycleConflictError T  another transition moved the model version first

    AimopsWarning                   the package's own warnings (errors in the test suite)

Example:
    >>> from aimops.errors import AimopsError, MalformedUrnError
    >>> issubclass(MalformedUrnError, AimopsError), MalformedUrnError.transient
    (True, False)
"""

from __future__ import annotations

from typing import ClassVar


class AimopsError(Exception):
    """Base of every error aimops raises on purpose.

    ``transient`` says whether the same call may succeed later (retry) or never will (fail
    now); a subclass that differs from its parent says so itself.
    """

    transient: ClassVar[bool] = False


class ConfigurationError(AimopsError):
    """A setting, environment variable or store URL that cannot be used: also a store URL
    naming a file that is no database, and a write into a store this user cannot write."""


class InvalidInputError(AimopsError, ValueError):
    """Input that aimops refuses; nothing was written."""


class MalformedUrnError(InvalidInputError):
    """A string that is not a valid ``urn:aim:<type>:<key>``."""


class UnknownAspectError(InvalidInputError):
    """An aspect name that is not in the aspect registry."""


class InvalidAspectError(InvalidInputError):
    """An aspect payload that does not validate against its schema."""


class UnknownRelationError(InvalidInputError):
    """An edge relation that is not in the relation registry."""


class MissingEntityError(InvalidInputError):
    """An operation names an entity that is not in the store."""

    transient = True


class InvalidDataError(InvalidInputError):
    """Labels, scores, weights or frames that cannot be evaluated: the message says which."""


class NotFoundError(AimopsError, LookupError):
    """A lookup from a user-facing surface (CLI, operator, task) that found nothing."""

    transient = True


class GateFailedError(AimopsError):
    """An evaluation or check missed a bound: the message names the metric, value and bound."""


class CheckFailedError(GateFailedError):
    """A monitoring check came out ``fail``: the message names what failed and the check."""


class UnknownAnalyzerError(AimopsError, LookupError):
    """An analyzer name that no ``aimops.analyzers`` entry point registers."""


class TransitionRefusedError(AimopsError):
    """A lifecycle transition its guards refuse: the message names the model version, its
    state, the transition and what is missing (evidence, another approver). Nothing changed."""


class RampRolledBackError(GateFailedError):
    """A ramp's analysis failed and the ramp rolled the challenger back: the message names the
    failed gates and says the champion serves 100% again."""


class RampAbortedError(AimopsError):
    """A ramp was aborted (by a person, or a de-ramp) while a task was running it: the message
    names who and why."""


class RouterUnavailableError(AimopsError):
    """A traffic router could not apply the weights for a reason that may pass: its endpoint
    did not answer, timed out or answered with a server error (5xx, 429). The message names
    the endpoint by ``scheme://host[:port]`` only."""

    transient = True


class StoreError(AimopsError):
    """A failure of the AIM store itself."""

    transient = True


class StoreUnavailableError(StoreError):
    """The store cannot be opened or reached."""


class SchemaError(StoreError):
    """The store's schema does not match what this version of aimops expects: a person must
    initialise or upgrade it, so trying again does not help."""

    transient = False


class SchemaMissingError(SchemaError):
    """The database has no aimops schema yet."""


class SchemaOutdatedError(SchemaError):
    """The database schema is older than this version of aimops."""


class StoreBusyError(StoreError):
    """The store is there, but a lock wait or a statement timed out; trying later may work."""


class ConcurrentUpdateError(StoreError):
    """A write stated an expected version that another writer already moved past."""


class LifecycleConflictError(ConcurrentUpdateError):
    """Two transitions raced on one model version and the other one won; nothing changed."""


class AimopsWarning(UserWarning):
    """Warnings issued by aimops itself."""
