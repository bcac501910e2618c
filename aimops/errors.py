"""The errors aimops raises, one hierarchy for the whole package.

Every failure a user can cause or meet is one of these; foreign exceptions (SQLAlchemy,
pydantic, drivers) are translated at the boundary with ``raise ... from exc``::

    AimopsError
    ├── ConfigurationError          a setting or store URL that cannot be used
    ├── InvalidInputError           bad input; nothing was written
    │   ├── MalformedUrnError       not a valid ``urn:aim:<type>:<key>``
    │   ├── UnknownAspectError      an aspect name that is not registered
    │   ├── InvalidAspectError      a payload that fails the aspect's schema
    │   ├── UnknownRelationError    an edge relation that is not registered
    │   ├── MissingEntityError      an edge or read names an entity that does not exist
    │   └── InvalidDataError        labels, scores or frames that cannot be evaluated
    ├── NotFoundError               a user-facing lookup found nothing (CLI, operators)
    ├── GateFailedError             an evaluation or check missed a bound it was gated on
    │   └── CheckFailedError        a monitoring check came out ``fail``
    ├── UnknownAnalyzerError        an analyzer name that no entry point registers
    └── StoreError                  the AIM store itself
        ├── StoreUnavailableError   cannot open or reach the store
        ├── SchemaError             the store's schema does not match this aimops
        │   ├── SchemaMissingError  no aimops schema yet: run ``aimops init``
        │   └── SchemaOutdatedError older than the code: run ``aimops db upgrade``
        ├── StoreBusyError          a lock or a statement timed out: trying later may work
        └── ConcurrentUpdateError   an expected version was stale: another writer got there first

    AimopsWarning                   the package's own warnings (errors in the test suite)

Example:
    >>> from aimops.errors import AimopsError, MalformedUrnError
    >>> issubclass(MalformedUrnError, AimopsError)
    True
"""

from __future__ import annotations


class AimopsError(Exception):
    """Base of every error aimops raises on purpose."""


class ConfigurationError(AimopsError):
    """A setting, environment variable or store URL that cannot be used."""


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


class InvalidDataError(InvalidInputError):
    """Labels, scores, weights or frames that cannot be evaluated: the message says which."""


class NotFoundError(AimopsError, LookupError):
    """A lookup from a user-facing surface (CLI, operator, task) that found nothing."""


class GateFailedError(AimopsError):
    """An evaluation or check missed a bound: the message names the metric, value and bound."""


class CheckFailedError(GateFailedError):
    """A monitoring check came out ``fail``: the message names what failed and the check."""


class UnknownAnalyzerError(AimopsError, LookupError):
    """An analyzer name that no ``aimops.analyzers`` entry point registers."""


class StoreError(AimopsError):
    """A failure of the AIM store itself."""


class StoreUnavailableError(StoreError):
    """The store cannot be opened or reached."""


class SchemaError(StoreError):
    """The store's schema does not match what this version of aimops expects."""


class SchemaMissingError(SchemaError):
    """The database has no aimops schema yet."""


class SchemaOutdatedError(SchemaError):
    """The database schema is older than this version of aimops."""


class StoreBusyError(StoreError):
    """The store is there, but a lock wait or a statement timed out; trying later may work."""


class ConcurrentUpdateError(StoreError):
    """A write stated an expected version that another writer already moved past."""


class AimopsWarning(UserWarning):
    """Warnings issued by aimops itself."""
