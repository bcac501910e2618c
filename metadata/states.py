"""The state words runs, steps and attempts use, whatever the orchestrator.

Each orchestrator's own state is kept beside it as ``native_state``; :func:`normalize_state`
maps it onto the shared vocabulary.

Example:
    >>> normalize_state("airflow", "up_for_retry")
    'failed'
    >>> normalize_state("prefect", "Crashed")
    'failed'
"""

from __future__ import annotations

from typing import Literal

from aimops.errors import InvalidInputError

State = Literal["queued", "running", "success", "failed", "skipped", "upstream_failed", "cancelled"]
STATES: tuple[State, ...] = (
    "queued",
    "running",
    "success",
    "failed",
    "skipped",
    "upstream_failed",
    "cancelled",
)
_SHARED_WORDS: dict[str, State] = {word: word for word in STATES}
TERMINAL_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "cancelled"})

_NATIVE_STATES: dict[str, dict[str, State]] = {
    "airflow": {
        "none": "queued",
        "scheduled": "queued",
        "queued": "queued",
        "deferred": "running",
        "up_for_reschedule": "running",
        "restarting": "running",
        "running": "running",
        "success": "success",
        "failed": "failed",
        "up_for_retry": "failed",
        "skipped": "skipped",
        "removed": "cancelled",
        "upstream_failed": "upstream_failed",
    },
    "prefect": {
        "scheduled": "queued",
        "pending": "queued",
        "notready": "upstream_failed",
        "late": "queued",
        "awaitingretry": "queued",
        "running": "running",
        "retrying": "running",
        "paused": "running",
        "suspended": "running",
        "completed": "success",
        "cached": "success",
        "failed": "failed",
        "crashed": "failed",
        "timedout": "failed",
        "cancelling": "cancelled",
        "cancelled": "cancelled",
    },
}


def normalize_state(orchestrator: str, native_state: str) -> State:
    """Map an orchestrator's own state name onto the shared vocabulary."""
    if not isinstance(orchestrator, str) or not isinstance(native_state, str):
        raise InvalidInputError(
            f"a state is text, named by its orchestrator's name (text): got "
            f"{type(orchestrator).__name__} {orchestrator!r:.40} and "
            f"{type(native_state).__name__} {native_state!r:.40}"
        )
    word = native_state.strip().lower().replace(" ", "").replace("-", "")
    mapped = _NATIVE_STATES.get(orchestrator, {}).get(word) or _SHARED_WORDS.get(native_state)
    if mapped is None:
        raise InvalidInputError(f"unknown {orchestrator} state {native_state!r}")
    return mapped
