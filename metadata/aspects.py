"""Typed aspects: the documents attached to entities, one pydantic model per aspect name.

Every aspect is registered here, once, with the entity types it may be attached to and the
fields that the store indexes for search. Writes are validated against the model; anything
that does not fit raises :class:`~aimops.errors.InvalidAspectError` naming the field.

Map aspects (``params``, ``metrics``, ``tags``) index every key, so "runs where metric
``auroc`` > 0.9" is one indexed lookup.

Example:
    >>> canonical_json("metrics", {"auroc": 0.91})
    '{"auroc":0.91}'
    >>> sorted(index_rows("tags", {"team": "risk"}))
    [('team', None, 'risk')]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator

from aimops.errors import InvalidAspectError, UnknownAspectError
from aimops.metadata.states import State

IndexRow = tuple[str, float | None, str | None]
MAX_INDEXED_TEXT = 512


class AspectModel(BaseModel):
    """Base of structured aspects: unknown fields are refused, timestamps are UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    indexed: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return as_utc(value)
        return value


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive timestamp is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class RunInfo(AspectModel):
    """A run of a pipeline (an Airflow DAG run, a Prefect flow run, a Python run)."""

    indexed = ("pipeline", "orchestrator", "status", "started_at")
    pipeline: str
    orchestrator: str
    run_id: str
    status: State = "running"
    native_state: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    run_type: str | None = None
    conf: dict[str, Any] = Field(default_factory=dict)


class StepInfo(AspectModel):
    """A step of a run: one task (per map index); its tries are in ``stepAttempts``."""

    indexed = ("task_id", "state")
    task_id: str
    map_index: int | None = None
    operator: str | None = None
    state: State = "queued"
    native_state: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class Attempt(AspectModel):
    """One try of a step."""

    try_number: int = Field(ge=1)
    state: State
    native_state: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    hostname: str | None = None
    error: str | None = None
    duration_s: float | None = Field(default=None, ge=0)
    rendered_fields: dict[str, str] | None = None


class StepAttempts(AspectModel):
    """Every try of a step, in try order; a retry adds one, never a new step."""

    attempts: tuple[Attempt, ...] = ()


class PipelineInfo(AspectModel):
    """A pipeline definition: an Airflow DAG, a Prefect flow, a Python pipeline."""

    indexed = ("name", "orchestrator", "project")
    name: str
    orchestrator: str
    project: str | None = None
    description: str | None = None
    owner: str | None = None
    schedule: str | None = None
    file: str | None = None


class PipelineTask(AspectModel):
    """One task of a pipeline definition and the tasks it waits for."""

    task_id: str
    operator: str | None = None
    upstream: tuple[str, ...] = ()
    doc: str | None = None


class PipelineTasks(AspectModel):
    """The tasks of a pipeline and their dependencies, as the orchestrator declares them."""

    tasks: tuple[PipelineTask, ...] = ()


class MlflowRunLink(AspectModel):
    """The MLflow run a step logged to."""

    indexed = ("run_id",)
    run_id: str
    experiment_id: str | None = None
    run_name: str | None = None
    tracking_uri: str | None = None


class ProjectInfo(AspectModel):
    """A project grouping pipelines and models."""

    indexed = ("name",)
    name: str
    description: str | None = None


class DatasetInfo(AspectModel):
    """A data set that steps consume and produce."""

    indexed = ("name", "uri")
    name: str
    uri: str | None = None
    format: str | None = None
    rows: int | None = Field(default=None, ge=0)
    columns: tuple[str, ...] | None = None
    description: str | None = None


class ArtifactInfo(AspectModel):
    """A file or object a step produced: a model file, a report, a plot."""

    indexed = ("name", "kind", "uri")
    name: str
    kind: str = "file"
    uri: str | None = None
    media_type: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    checksum: str | None = None


class ModelInfo(AspectModel):
    """A model: the name its versions share."""

    indexed = ("name",)
    name: str
    description: str | None = None
    owner: str | None = None


class ModelVersionInfo(AspectModel):
    """One registered version of a model."""

    indexed = ("model", "version", "mlflow_run_id")
    model: str
    version: str
    uri: str | None = None
    framework: str | None = None
    mlflow_run_id: str | None = None
    description: str | None = None


class Params(RootModel[dict[str, str]]):
    """Parameters as text, every key indexed."""


class Metrics(RootModel[dict[str, float]]):
    """Finite numeric metrics, every key indexed."""

    @field_validator("root")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {name: number for name, number in value.items() if not math.isfinite(number)}
        if bad:
            raise ValueError(f"metrics must be finite numbers; not finite: {bad}")
        return value


class Tags(RootModel[dict[str, str]]):
    """Free-form labels, every key indexed."""


@dataclass(frozen=True)
class AspectSpec:
    """What the registry knows of one aspect."""

    name: str
    model: type[BaseModel]
    entity_types: frozenset[str] | None  # None: any entity type
    is_map: bool = False


ANY_TYPE = None
ASPECTS: dict[str, AspectSpec] = {}


def register_aspect(
    name: str, model: type[BaseModel], entity_types: frozenset[str] | None, *, is_map: bool = False
) -> None:
    """Add an aspect to the registry (later issues register theirs the same way)."""
    ASPECTS[name] = AspectSpec(name, model, entity_types, is_map)


register_aspect("runInfo", RunInfo, frozenset({"run"}))
register_aspect("stepInfo", StepInfo, frozenset({"step"}))
register_aspect("stepAttempts", StepAttempts, frozenset({"step"}))
register_aspect("pipelineInfo", PipelineInfo, frozenset({"pipeline"}))
register_aspect("pipelineTasks", PipelineTasks, frozenset({"pipeline"}))
register_aspect("mlflowRun", MlflowRunLink, frozenset({"step", "run"}))
register_aspect("projectInfo", ProjectInfo, frozenset({"project"}))
register_aspect("datasetInfo", DatasetInfo, frozenset({"dataset"}))
register_aspect("artifactInfo", ArtifactInfo, frozenset({"artifact"}))
register_aspect("modelInfo", ModelInfo, frozenset({"model"}))
register_aspect("modelVersionInfo", ModelVersionInfo, frozenset({"modelVersion"}))
register_aspect("params", Params, ANY_TYPE, is_map=True)
register_aspect("metrics", Metrics, ANY_TYPE, is_map=True)
register_aspect("tags", Tags, ANY_TYPE, is_map=True)


def aspect_spec(name: str, entity_type: str | None = None) -> AspectSpec:
    """The registered spec of ``name``, checked against ``entity_type`` when given."""
    spec = ASPECTS.get(name)
    if spec is None:
        raise UnknownAspectError(
            f"unknown aspect {name!r}; registered: {', '.join(sorted(ASPECTS))}"
        )
    allowed_types = spec.entity_types
    if entity_type is not None and allowed_types is not None and entity_type not in allowed_types:
        allowed = ", ".join(sorted(allowed_types))
        raise InvalidAspectError(
            f"aspect {name!r} belongs on {allowed} entities, not on a {entity_type}"
        )
    return spec


def validate_aspect(name: str, value: Any, entity_type: str | None = None) -> BaseModel:
    """Validate ``value`` (a mapping or the aspect's model) into the aspect's model."""
    spec = aspect_spec(name, entity_type)
    if isinstance(value, spec.model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return build_model(spec.model, value, f"{name!r} aspect")


ModelT = TypeVar("ModelT", bound=BaseModel)


def build_model(model: type[ModelT], value: Any, what: str) -> ModelT:
    """Validate ``value`` into ``model``; failures raise InvalidAspectError naming each field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidAspectError(f"invalid {what}: {problems}") from exc


def to_jsonable(name: str, value: Any, entity_type: str | None = None) -> Any:
    """The validated aspect as plain JSON-compatible data (timestamps as ISO 8601 UTC)."""
    return validate_aspect(name, value, entity_type).model_dump(mode="json")


def canonical_json(name: str, value: Any, entity_type: str | None = None) -> str:
    """The validated aspect as canonical JSON: equal values give equal text."""
    return dump_canonical(to_jsonable(name, value, entity_type))


def dump_canonical(data: Any) -> str:
    """Compact, key-sorted JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def index_rows(name: str, data: Mapping[str, Any]) -> Iterator[IndexRow]:
    """The (field, number, text) rows the store indexes for an aspect's JSON data."""
    spec = aspect_spec(name)
    if spec.is_map:
        fields: Mapping[str, Any] = data
    else:
        wanted: tuple[str, ...] = getattr(spec.model, "indexed", ())
        fields = {field: data.get(field) for field in wanted}
    for field, value in fields.items():
        row = _index_value(field, value)
        if row is not None:
            yield row


def _index_value(field: str, value: Any) -> IndexRow | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return (field, float(value), str(value).lower())
    if isinstance(value, int | float):
        return (field, float(value), None)
    if isinstance(value, str):
        return (field, None, value[:MAX_INDEXED_TEXT])
    return None


# The evaluation and check entities' aspects live in modules of their own and register
# themselves here, so that every reader of the store (the CLI's history, say) knows them.
from aimops.metadata import check_aspects, evaluation_aspects  # noqa: E402, F401
