"""Building and parsing AIM URNs: ``urn:aim:<type>:<key>``.

A key is ``/``-joined segments, each percent-encoded so that only letters, digits and
``-._~`` stay literal; Airflow run ids with ``:`` and ``+`` are therefore safe. Pipeline, run
and step keys start with the orchestrator. Parsing is lenient about how a segment was
written (``manual__2024-01-01T00:00:00+00:00`` and its encoded form are the same URN) and
strict about structure: anything else raises :class:`~aimops.errors.MalformedUrnError`.

Example:
    >>> str(run_urn("airflow", "train", "manual__2024-01-01T00:00:00+00:00"))
    'urn:aim:run:airflow/train/manual__2024-01-01T00%3A00%3A00%2B00%3A00'
    >>> Urn.parse("urn:aim:modelVersion:churn/3").segments
    ('churn', '3')
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, unquote

from aimops.errors import MalformedUrnError

PREFIX = "urn:aim:"
SAFE_CHARACTERS = "-._~"
ORCHESTRATORS = ("airflow", "prefect", "python")

#: Entity types and how many key segments each takes (min, max); None = no upper bound.
ENTITY_TYPES: dict[str, tuple[int, int | None]] = {
    "project": (1, None),
    "pipeline": (2, 2),
    "run": (3, 3),
    "step": (4, 5),
    "dataset": (1, None),
    "artifact": (1, None),
    "model": (1, 1),
    "modelVersion": (2, 2),
    "evaluation": (1, None),
    "check": (1, None),
    "deployment": (1, None),
    "ramp": (3, 3),
}
ORCHESTRATED_TYPES = frozenset({"pipeline", "run", "step"})


def _encode(segment: str) -> str:
    return quote(segment, safe=SAFE_CHARACTERS)


@dataclass(frozen=True, order=True)
class Urn:
    """A parsed AIM URN: an entity type and the decoded segments of its key."""

    type: str
    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_structure(self.type, self.segments)

    @cached_property
    def key(self) -> str:
        """The encoded key, segments joined by ``/``."""
        return "/".join(_encode(segment) for segment in self.segments)

    @cached_property
    def text(self) -> str:
        """The URN as a string (computed once: URNs are used as keys everywhere)."""
        return f"{PREFIX}{self.type}:{self.key}"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str | Urn) -> Urn:
        """Parse ``text`` into a URN, raising MalformedUrnError with the reason."""
        if isinstance(text, Urn):
            return text
        if not isinstance(text, str):
            raise MalformedUrnError(f"a URN must be a string, got {type(text).__name__}")
        if not text.startswith(PREFIX):
            raise MalformedUrnError(f"{text!r} is not an AIM URN: it must start with {PREFIX!r}")
        entity_type, separator, key = text[len(PREFIX) :].partition(":")
        if not separator or not key:
            raise MalformedUrnError(f"{text!r} has no key: expected urn:aim:<type>:<key>")
        if any(ch.isspace() or ord(ch) < 32 for ch in key):
            raise MalformedUrnError(f"{text!r} contains white space or control characters")
        return cls(entity_type, tuple(unquote(part) for part in key.split("/")))


def _check_structure(entity_type: str, segments: tuple[str, ...]) -> None:
    if not isinstance(entity_type, str) or entity_type not in ENTITY_TYPES:
        known = ", ".join(sorted(ENTITY_TYPES))
        raise MalformedUrnError(f"unknown entity type {entity_type!r}; known types: {known}")
    if not isinstance(segments, tuple):
        raise MalformedUrnError(
            f"a {entity_type} key's segments must be a tuple of text, not {type(segments).__name__}"
        )
    low, high = ENTITY_TYPES[entity_type]
    if not low <= len(segments) <= (high if high is not None else len(segments)):
        expected = f"{low}" if low == high else f"{low} to {high if high else 'any number of'}"
        raise MalformedUrnError(
            f"a {entity_type} key takes {expected} segment(s), got {len(segments)}: {segments!r}"
        )
    for segment in segments:
        if not isinstance(segment, str) or not segment:
            raise MalformedUrnError(f"empty key segment in {entity_type} key {segments!r}")
        if not segment.isascii() and not _is_utf8(segment):
            raise MalformedUrnError(
                f"key segment {segment!r} of a {entity_type} holds a lone surrogate: it is not "
                "text that can be stored or printed"
            )
    if entity_type in ORCHESTRATED_TYPES and segments[0] not in ORCHESTRATORS:
        raise MalformedUrnError(
            f"a {entity_type} key starts with the orchestrator ({', '.join(ORCHESTRATORS)}), "
            f"got {segments[0]!r}"
        )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def make_urn(entity_type: str, *segments: str | int) -> Urn:
    """Build a URN from raw (unencoded) segments: text, or whole numbers (a version).

    Example:
        >>> str(make_urn("modelVersion", "churn", 3))
        'urn:aim:modelVersion:churn/3'
    """
    for segment in segments:
        if isinstance(segment, bool) or not isinstance(segment, str | numbers.Integral):
            raise MalformedUrnError(
                f"a {entity_type!s} key segment must be text or a whole number, not "
                f"{type(segment).__name__} {segment!r:.60}"
            )
    return Urn(entity_type, tuple(_segment_text(segment) for segment in segments))


def _segment_text(segment: str | int) -> str:
    return segment if isinstance(segment, str) else str(int(segment))


def pipeline_urn(orchestrator: str, pipeline: str) -> Urn:
    """``urn:aim:pipeline:<orchestrator>/<pipeline>``."""
    return make_urn("pipeline", orchestrator, pipeline)


def run_urn(orchestrator: str, pipeline: str, run_id: str) -> Urn:
    """``urn:aim:run:<orchestrator>/<pipeline>/<run_id>``."""
    return make_urn("run", orchestrator, pipeline, run_id)


def step_urn(
    orchestrator: str, pipeline: str, run_id: str, task_id: str, map_index: int | None = None
) -> Urn:
    """``urn:aim:step:<orchestrator>/<pipeline>/<run_id>/<task_id>[/<map_index>]``.

    A map index of None or -1 (Airflow's "not mapped") leaves the segment out.
    """
    if map_index is not None and (
        isinstance(map_index, bool) or not isinstance(map_index, numbers.Integral)
    ):
        raise MalformedUrnError(
            f"a map index must be a whole number or None, not {type(map_index).__name__} "
            f"{map_index!r:.60}"
        )
    if map_index is None or map_index < 0:
        return make_urn("step", orchestrator, pipeline, run_id, task_id)
    return make_urn("step", orchestrator, pipeline, run_id, task_id, map_index)


def model_urn(name: str) -> Urn:
    """``urn:aim:model:<name>``."""
    return make_urn("model", name)


def model_version_urn(name: str, version: str | int) -> Urn:
    """``urn:aim:modelVersion:<name>/<version>``."""
    return make_urn("modelVersion", name, version)


def dataset_urn(*segments: str) -> Urn:
    """``urn:aim:dataset:<segments...>``; a URI given as one segment is encoded whole."""
    return make_urn("dataset", *segments)


def artifact_urn(*segments: str) -> Urn:
    """``urn:aim:artifact:<segments...>``."""
    return make_urn("artifact", *segments)


def deployment_urn(model: str, environment: str = "production") -> Urn:
    """``urn:aim:deployment:<model>/<environment>``: a model served in an environment."""
    return make_urn("deployment", model, environment)


def ramp_urn(model: str, environment: str, number: int) -> Urn:
    """``urn:aim:ramp:<model>/<environment>/<n>``: the deployment's n-th ramp."""
    return make_urn("ramp", model, environment, number)
