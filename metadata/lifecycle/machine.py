"""The lifecycle's states and transitions, and which transition may leave which state.

A model version is ``registered`` when it is captured; ``request_review`` takes it
``in_review``, ``approve`` makes it ``publishable`` (``reject`` sends it back to
``registered``), ``publish`` makes it ``published``, and ``deprecate`` retires it from any
state but ``deprecated``. The guards that need the store (evidence, four eyes) live in
:mod:`aimops.metadata.lifecycle.transitions`; this module is the table.

Example:
    >>> target_state("approve")
    'publishable'
    >>> allowed_from("publish")
    ('publishable',)
    >>> refusal("publish", "in_review")
    'publish needs the state publishable'
"""

from __future__ import annotations

from typing import Any

from aimops import validation

STATES: tuple[str, ...] = ("registered", "in_review", "publishable", "published", "deprecated")
#: The state of a model version no transition has moved yet.
INITIAL_STATE = "registered"

#: transition -> (the states it may leave, the state it enters)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "request_review": (("registered",), "in_review"),
    "approve": (("in_review",), "publishable"),
    "reject": (("in_review",), "registered"),
    "publish": (("publishable",), "published"),
    "deprecate": (("registered", "in_review", "publishable", "published"), "deprecated"),
}


def check_transition(value: Any) -> str:
    """``value`` when it names a transition, else InvalidInputError listing them."""
    return validation.choice(value, "a lifecycle transition", tuple(TRANSITIONS))


def target_state(transition: str) -> str:
    """The state ``transition`` leaves a model version in."""
    return TRANSITIONS[check_transition(transition)][1]


def allowed_from(transition: str) -> tuple[str, ...]:
    """The states ``transition`` may leave."""
    return TRANSITIONS[check_transition(transition)][0]


def refusal(transition: str, state: str) -> str | None:
    """Why ``transition`` may not leave ``state`` (None when it may).

    Example:
        >>> refusal("deprecate", "deprecated")
        'deprecate needs any state but deprecated'
        >>> refusal("approve", "in_review") is None
        True
    """
    allowed = allowed_from(transition)
    if state in allowed:
        return None
    if len(allowed) > 1:
        others = [found for found in STATES if found not in allowed]
        return f"{transition} needs any state but {' or '.join(others)}"
    return f"{transition} needs the state {allowed[0]}"
