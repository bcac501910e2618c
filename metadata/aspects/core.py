"""The aspects of the core entities: pipelines, runs, steps and their tries, projects, data
sets, artifacts, models and model versions, and the map aspects (params, metrics, tags).

Example:
    >>> from aimops.metadata.aspects.registry import canonical_json
    >>> StepInfo(task_id="fit", state="success").state
    'success'
    >>> canonical_json("tags", {"team": "risk"})
    '{"team":"risk"}'
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import Field, RootModel, field_validator

from aimops.metadata.aspects.registry import ANY_TYPE, AspectModel, register_aspect
from aimops.metadata.states import State


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
