"""Typed aspects: the documents attached to entities, one pydantic model per aspect name.

The registry (:mod:`~aimops.metadata.aspects.registry`) knows every aspect once, with the
entity types it may be attached to and the fields the store indexes; writes are validated
against the aspect's model. The aspects themselves live beside it, by the entities they
describe: :mod:`~aimops.metadata.aspects.core` (pipelines, runs, steps, data sets, models),
:mod:`~aimops.metadata.aspects.evaluation` and :mod:`~aimops.metadata.aspects.checks`. Each
imports only the registry; importing this package registers them all, so that every reader
of the store (the CLI's history, say) knows them.

Example:
    >>> canonical_json("metrics", {"auroc": 0.91})
    '{"auroc":0.91}'
    >>> sorted(index_rows("tags", {"team": "risk"}))
    [('team', None, 'risk')]
"""

from __future__ import annotations

from aimops.metadata.aspects import checks, core, deployment, evaluation, lifecycle
from aimops.metadata.aspects.core import (
    ArtifactInfo,
    Attempt,
    DatasetInfo,
    Metrics,
    MlflowRunLink,
    ModelInfo,
    ModelVersionInfo,
    Params,
    PipelineInfo,
    PipelineTask,
    PipelineTasks,
    ProjectInfo,
    RunInfo,
    StepAttempts,
    StepInfo,
    Tags,
)
from aimops.metadata.aspects.registry import (
    ANY_TYPE,
    ASPECTS,
    AspectModel,
    AspectSpec,
    IndexRow,
    as_utc,
    aspect_spec,
    build_model,
    canonical_json,
    dump_canonical,
    index_rows,
    register_aspect,
    to_jsonable,
    validate_aspect,
)

__all__ = [
    "ANY_TYPE",
    "ASPECTS",
    "ArtifactInfo",
    "AspectModel",
    "AspectSpec",
    "Attempt",
    "DatasetInfo",
    "IndexRow",
    "Metrics",
    "MlflowRunLink",
    "ModelInfo",
    "ModelVersionInfo",
    "Params",
    "PipelineInfo",
    "PipelineTask",
    "PipelineTasks",
    "ProjectInfo",
    "RunInfo",
    "StepAttempts",
    "StepInfo",
    "Tags",
    "as_utc",
    "aspect_spec",
    "build_model",
    "canonical_json",
    "checks",
    "core",
    "deployment",
    "dump_canonical",
    "evaluation",
    "index_rows",
    "lifecycle",
    "register_aspect",
    "to_jsonable",
    "validate_aspect",
]
