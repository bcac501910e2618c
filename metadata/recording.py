"""Recording pipelines as they run: runs, steps and their attempts, datasets, artifacts, models.

This is the API pipeline code and the Airflow and Prefect adapters share. Identity is
deterministic: a step is keyed by (orchestrator, pipeline, run id, task id, map index) and each
try number is an attempt of that step, so retries and replays never duplicate anything. Every
function takes the store (one transaction, retried on a concurrent update) or a
:class:`StoreWriter` (to fold several records into one atomic batch).

Example:
    >>> from aimops.metadata import AimStore
    >>> store = AimStore.open("sqlite://")
    >>> run = record_run(store, orchestrator="python", pipeline="churn", run_id="r1")
    >>> step = record_step(store, run, "train")
    >>> record_attempt(store, step, 1, state="success")
    1
    >>> str(step)
    'urn:aim:step:python/churn/r1/train'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata.aspects import Attempt, StepAttempts, build_model
from aimops.metadata.states import TERMINAL_STATES, normalize_state
from aimops.metadata.store import AimStore
from aimops.metadata.urns import (
    Urn,
    artifact_urn,
    dataset_urn,
    make_urn,
    model_urn,
    model_version_urn,
    pipeline_urn,
    run_urn,
    step_urn,
)
from aimops.metadata.writer import StoreWriter, UrnLike

T = TypeVar("T")
Target = AimStore | StoreWriter


def _apply(target: Target, work: Callable[[StoreWriter], T]) -> T:
    if isinstance(target, StoreWriter):
        return work(target)
    return target.write(work)


def _check_target(target: Any) -> None:
    """Refuse a ``target`` records cannot be written to: not an AimStore, nor a StoreWriter."""
    if not isinstance(target, AimStore | StoreWriter):
        raise InvalidInputError(
            "records are written to an AimStore (aimops.connect) or a store transaction's "
            f"writer, not to {type(target).__name__} {validation.shown(target)}"
        )


def _merge(
    tx: StoreWriter,
    urn: Urn,
    aspect: str,
    updates: Mapping[str, Any],
    *,
    alongside: Mapping[str, Any] | None = None,
    clear: tuple[str, ...] = (),
) -> int:
    """Write ``aspect`` as its latest value updated with the non-None ``updates``.

    ``alongside`` holds other aspects of the same entity to write in the same breath; the
    fields named in ``clear`` are set to None.
    """
    current, version = tx.read_aspect(urn, aspect)
    merged = {**(current or {}), **{k: v for k, v in updates.items() if v is not None}}
    merged.update(dict.fromkeys(clear))
    values = {aspect: merged, **(alongside or {})}
    return tx.put_aspects(urn, values, expected_versions={aspect: version})[aspect]


def _state(
    orchestrator: str, state: str | None, native_state: str | None
) -> tuple[str | None, str | None]:
    if state is not None:  # already a shared word (checked)
        return normalize_state("aimops", state), native_state
    if native_state is not None:
        return normalize_state(orchestrator, native_state), native_state
    return None, None


def record_pipeline(
    target: Target,
    *,
    orchestrator: str,
    name: str,
    project: str | None = None,
    description: str | None = None,
    owner: str | None = None,
    schedule: str | None = None,
    file: str | None = None,
) -> Urn:
    """Record a pipeline definition (and its project); returns its URN."""
    _check_target(target)
    validation.optional_text(project, "project")
    urn = pipeline_urn(orchestrator, name)
    info = {
        "name": name,
        "orchestrator": orchestrator,
        "project": project,
        "description": description,
        "owner": owner,
        "schedule": schedule,
        "file": file,
    }

    def work(tx: StoreWriter) -> Urn:
        _merge(tx, urn, "pipelineInfo", info)
        if project:
            project_entity = make_urn("project", project)
            _merge(tx, project_entity, "projectInfo", {"name": project})
            tx.put_edge(urn, "partOf", project_entity)
        return urn

    return _apply(target, work)


def record_run(
    target: Target,
    *,
    orchestrator: str,
    pipeline: str,
    run_id: str,
    state: str | None = None,
    native_state: str | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    run_type: str | None = None,
    conf: Mapping[str, Any] | None = None,
    project: str | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Urn:
    """Record (or update) a run of ``pipeline``; fields left None keep what was recorded.

    ``params`` (kept as text), ``metrics`` and ``tags`` become the run's aspects of those
    names, each key searchable on its own (``store.search("run", where=[("metrics.auroc",
    ">", 0.9)])``).
    """
    _check_target(target)
    validation.optional_text(project, "project")
    urn = run_urn(orchestrator, pipeline, run_id)
    status, native = _state(orchestrator, state, native_state)
    conf = validation.optional_mapping(conf, "conf")
    alongside: dict[str, Any] = {}
    if params is not None:
        alongside["params"] = {
            key: str(value) for key, value in validation.text_mapping(params, "params").items()
        }
    if metrics is not None:
        alongside["metrics"] = validation.text_mapping(metrics, "metrics")
    if tags is not None:
        alongside["tags"] = validation.text_mapping(tags, "tags")

    def work(tx: StoreWriter) -> Urn:
        pipeline_entity = pipeline_urn(orchestrator, pipeline)
        if tx.entity_id(pipeline_entity) is None or project:
            record_pipeline(tx, orchestrator=orchestrator, name=pipeline, project=project)
        _merge(
            tx,
            urn,
            "runInfo",
            {
                "pipeline": str(pipeline_entity),
                "orchestrator": orchestrator,
                "run_id": run_id,
                "status": status,
                "native_state": native,
                "started_at": started_at,
                "ended_at": ended_at,
                "run_type": run_type,
                "conf": dict(conf) if conf else None,
            },
            alongside=alongside,
            # A run that runs again (a clear) has not ended yet, whatever it recorded before.
            clear=("ended_at",) if status is not None and status not in TERMINAL_STATES else (),
        )
        tx.put_edge(urn, "partOf", pipeline_entity)
        return urn

    return _apply(target, work)


def record_step(
    target: Target,
    run: UrnLike,
    task_id: str,
    *,
    map_index: int | None = None,
    operator: str | None = None,
    state: str | None = None,
    native_state: str | None = None,
) -> Urn:
    """Record (or update) a step of ``run``; the run must have been recorded."""
    _check_target(target)
    validation.optional_whole_number(map_index, "map_index")
    run_entity = Urn.parse(run)
    if run_entity.type != "run":
        raise InvalidInputError(f"a step belongs to a run, not to {run_entity}")
    orchestrator, pipeline, run_id = run_entity.segments
    urn = step_urn(orchestrator, pipeline, run_id, task_id, map_index)
    status, native = _state(orchestrator, state, native_state)
    index = map_index if map_index is not None and map_index >= 0 else None

    def work(tx: StoreWriter) -> Urn:
        _merge(
            tx,
            urn,
            "stepInfo",
            {
                "task_id": task_id,
                "map_index": index,
                "operator": operator,
                "state": status,
                "native_state": native,
            },
        )
        tx.put_edge(urn, "partOf", run_entity)
        return urn

    return _apply(target, work)


def record_attempt(
    target: Target,
    step: UrnLike,
    try_number: int,
    *,
    state: str | None = None,
    native_state: str | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    hostname: str | None = None,
    error: str | None = None,
    duration_s: float | None = None,
    rendered_fields: Mapping[str, str] | None = None,
) -> int:
    """Record (or update) try ``try_number`` of a step; the step takes the latest try's state.

    Returns the try number. Calling it again for the same try (start, then end; or a
    replay) updates that attempt instead of adding one.
    """
    _check_target(target)
    validation.whole_number(try_number, "try_number", minimum=1)
    rendered_fields = validation.optional_mapping(rendered_fields, "rendered_fields")
    step_entity = Urn.parse(step)
    if step_entity.type != "step":
        raise InvalidInputError(f"attempts belong to a step, not to {step_entity}")
    status, native = _state(step_entity.segments[0], state, native_state)

    def work(tx: StoreWriter) -> int:
        current, version = tx.read_aspect(step_entity, "stepAttempts")
        recorded = build_model(StepAttempts, current or {}, "stepAttempts aspect")
        attempts = {a.try_number: a for a in recorded.attempts}
        before = attempts.get(try_number)
        fields = {
            "state": status,
            "native_state": native,
            "started_at": started_at,
            "ended_at": ended_at,
            "hostname": hostname,
            "error": error,
            "duration_s": duration_s,
            "rendered_fields": dict(rendered_fields) if rendered_fields is not None else None,
        }
        base = (
            before.model_dump()
            if before
            else {"try_number": try_number, "state": status or "running"}
        )
        attempts[try_number] = build_model(
            Attempt,
            {**base, **{k: v for k, v in fields.items() if v is not None}},
            f"attempt {try_number} of {step_entity}",
        )
        ordered = tuple(attempts[n] for n in sorted(attempts))
        tx.put_aspect(step_entity, "stepAttempts", {"attempts": ordered}, expected_version=version)
        latest = ordered[-1]
        info, info_version = tx.read_aspect(step_entity, "stepInfo")
        # Written exactly (None included): a retry that is running again has no end yet.
        derived = {
            "task_id": _task_id(step_entity),
            "state": latest.state,
            "native_state": latest.native_state,
            "started_at": ordered[0].started_at,
            "ended_at": latest.ended_at if latest.state in TERMINAL_STATES else None,
        }
        tx.put_aspect(
            step_entity, "stepInfo", {**(info or {}), **derived}, expected_version=info_version
        )
        return try_number

    return _apply(target, work)


def record_final_steps(target: Target, run: UrnLike, steps: Iterable[Mapping[str, Any]]) -> int:
    """Bring many steps of ``run`` to their final states at once (a run's end); how many.

    Each item holds ``task_id``, ``native_state`` and optionally ``map_index``, ``operator``
    and ``attempt`` (the try that ended the task: ``try_number``, ``native_state``, times,
    ``hostname``, ``duration_s``, ``error``, ``rendered_fields``, and ``state`` when the
    shared word is not the native state's) or ``attempts`` (several of those, in order, from
    an orchestrator that saw every try at once). A step takes ``native_state`` whatever its
    tries say (a task skipped after a clear keeps the tries it had); each attempt is merged
    into the tries as :func:`record_attempt` merges one. Written in a few statements, whatever
    the count.
    """
    run_entity = Urn.parse(run)
    if run_entity.type != "run":
        raise InvalidInputError(f"steps belong to a run, not to {run_entity}")
    orchestrator, pipeline, run_id = run_entity.segments
    planned = []
    for item in steps:
        index = item.get("map_index")
        index = index if index is not None and index >= 0 else None
        urn = step_urn(orchestrator, pipeline, run_id, item["task_id"], index)
        status, native = _state(orchestrator, None, item["native_state"])
        planned.append((urn, index, status, native, item))

    def work(tx: StoreWriter) -> int:
        urns = [urn for urn, *_ in planned]
        infos = tx.read_aspects(urns, "stepInfo")
        tries = tx.read_aspects(urns, "stepAttempts")
        writes: list[tuple[UrnLike, str, Any]] = []
        for urn, index, status, native, item in planned:
            info = dict(infos.get(str(urn), ({}, 0))[0] or {})
            current = tries.get(str(urn), ({}, 0))[0] or {}
            known = build_model(StepAttempts, current, f"stepAttempts of {urn}").attempts
            merged = [item["attempt"]] if item.get("attempt") is not None else []
            merged += list(item.get("attempts") or ())
            for attempt in merged:
                known = _merged_attempts(urn, known, attempt)
            if merged:
                writes.append((urn, "stepAttempts", {"attempts": known}))
            info.update(
                task_id=item["task_id"],
                map_index=index,
                state=status,
                native_state=native,
                started_at=known[0].started_at if known else info.get("started_at"),
                ended_at=(known[-1].ended_at if known else None) or info.get("ended_at"),
            )
            if item.get("operator"):
                info["operator"] = item["operator"]
            writes.append((urn, "stepInfo", info))
        tx.put_many(writes)
        tx.put_edges([(urn, "partOf", run_entity) for urn in urns])
        return len(planned)

    return _apply(target, work)


def _merged_attempts(
    urn: Urn, recorded: tuple[Attempt, ...], attempt: Mapping[str, Any]
) -> tuple[Attempt, ...]:
    """The tries with ``attempt`` merged in, as :func:`record_attempt` merges one."""
    by_number = {a.try_number: a for a in recorded}
    number = int(attempt["try_number"])
    status, native = _state(urn.segments[0], attempt.get("state"), attempt.get("native_state"))
    fields = {**attempt, "state": status, "native_state": native}
    before = by_number.get(number)
    base = before.model_dump() if before else {}
    by_number[number] = build_model(
        Attempt,
        {**base, **{k: v for k, v in fields.items() if v is not None}},
        f"attempt {number} of {urn}",
    )
    return tuple(by_number[n] for n in sorted(by_number))


def _task_id(step: Urn) -> str:
    return step.segments[3]


def record_dataset(
    target: Target,
    name: str,
    *,
    uri: str | None = None,
    format: str | None = None,
    rows: int | None = None,
    columns: Iterable[str] | None = None,
    description: str | None = None,
) -> Urn:
    """Record a data set by name (the name is its identity)."""
    _check_target(target)
    urn = dataset_urn(validation.text(name, "a data set name", empty=False))
    info = {
        "name": name,
        "uri": uri,
        "format": format,
        "rows": rows,
        "columns": validation.items(columns, "columns") if columns is not None else None,
        "description": description,
    }
    return _apply(target, lambda tx: (_merge(tx, urn, "datasetInfo", info), urn)[1])


def record_artifact(
    target: Target,
    name: str,
    *,
    kind: str = "file",
    uri: str | None = None,
    media_type: str | None = None,
    size_bytes: int | None = None,
    checksum: str | None = None,
    key: Iterable[str] | None = None,
) -> Urn:
    """Record an artifact; ``key`` segments name it (default: the name alone)."""
    _check_target(target)
    validation.text(name, "an artifact name", empty=False)
    urn = artifact_urn(*(validation.texts(key, "key", empty=False) if key is not None else [name]))
    info = {
        "name": name,
        "kind": kind,
        "uri": uri,
        "media_type": media_type,
        "size_bytes": size_bytes,
        "checksum": checksum,
    }
    return _apply(target, lambda tx: (_merge(tx, urn, "artifactInfo", info), urn)[1])


def record_io(
    target: Target,
    step: UrnLike,
    *,
    consumed: Iterable[UrnLike] = (),
    produced: Iterable[UrnLike] = (),
) -> None:
    """Record what a step consumed and produced (the entities must exist)."""
    _check_target(target)
    edges = [(step, "consumed", item) for item in validation.items(consumed, "consumed")]
    edges += [(step, "produced", item) for item in validation.items(produced, "produced")]
    _apply(target, lambda tx: tx.put_edges(edges))


def record_model_version(
    target: Target,
    model: str,
    version: str | int,
    *,
    uri: str | None = None,
    framework: str | None = None,
    mlflow_run_id: str | None = None,
    description: str | None = None,
    produced_by: UrnLike | None = None,
) -> Urn:
    """Record a model version (and its model), optionally ``producedBy`` a step."""
    _check_target(target)
    model_entity = model_urn(validation.text(model, "a model name"))
    version = validation.key_segment(version, "a model version")
    urn = model_version_urn(model, version)
    info = {
        "model": model,
        "version": version,
        "uri": uri,
        "framework": framework,
        "mlflow_run_id": mlflow_run_id,
        "description": description,
    }

    def work(tx: StoreWriter) -> Urn:
        if tx.entity_id(model_entity) is None:
            tx.put_aspect(model_entity, "modelInfo", {"name": model})
        _merge(tx, urn, "modelVersionInfo", info)
        tx.put_edge(urn, "versionOf", model_entity)
        if produced_by is not None:
            tx.put_edge(urn, "producedBy", produced_by)
        return urn

    return _apply(target, work)
