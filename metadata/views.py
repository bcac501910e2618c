"""Read models for people and machines: runs with their steps and attempts, models.

These assemble what the CLI (and later the UI) shows from the store's generic reads. Each
returns plain JSON-ready data; a missing run or model is None, and the surface decides what
to say.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_run
    >>> store = AimStore.open("sqlite://")
    >>> _ = record_run(store, orchestrator="python", pipeline="demo", run_id="1", state="success")
    >>> [(run["pipeline"], run["status"]) for run in list_runs(store)]
    [('demo', 'success')]
"""

from __future__ import annotations

from typing import Any

from aimops.metadata.store import AimStore
from aimops.metadata.store_values import Entity, iso
from aimops.metadata.urns import Urn


def _io(entities: list[Entity]) -> list[dict[str, str]]:
    return [{"urn": entity.urn, "type": entity.type} for entity in entities]


def run_summary(urn: str, info: dict[str, Any] | None) -> dict[str, Any]:
    """The row ``runs list`` shows for one run."""
    parsed = Urn.parse(urn)
    orchestrator, pipeline, run_id = parsed.segments
    info = info or {}
    return {
        "urn": urn,
        "pipeline": pipeline,
        "orchestrator": orchestrator,
        "run_id": run_id,
        "status": info.get("status"),
        "native_state": info.get("native_state"),
        "started_at": info.get("started_at"),
        "ended_at": info.get("ended_at"),
    }


def list_runs(store: AimStore, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Runs, newest recorded first."""
    runs = store.search("run", limit=limit, offset=offset)
    infos = store.latest_values([run.urn for run in runs], "runInfo")
    return [run_summary(run.urn, infos.get(run.urn)) for run in runs]


def run_details(store: AimStore, urn: str) -> dict[str, Any] | None:
    """A run with its steps, each with its attempts, inputs and outputs; None when unknown."""
    parsed = Urn.parse(urn)
    text = str(parsed)
    if parsed.type != "run" or store.get_entity(text) is None:
        return None
    info = store.latest_values([text], "runInfo").get(text)
    steps = store.related(text, "partOf", incoming=True)
    step_infos = store.latest_values([step.urn for step in steps], "stepInfo")
    step_attempts = store.latest_values([step.urn for step in steps], "stepAttempts")
    details = run_summary(text, info)
    details["steps"] = [
        _step_details(store, step.urn, step_infos.get(step.urn), step_attempts.get(step.urn))
        for step in steps
    ]
    return details


def _step_details(
    store: AimStore, urn: str, info: dict[str, Any] | None, attempts: dict[str, Any] | None
) -> dict[str, Any]:
    info = info or {}
    outputs = store.related(urn, "produced") + store.related(urn, "producedBy", incoming=True)
    return {
        "urn": urn,
        "task_id": info.get("task_id", Urn.parse(urn).segments[3]),
        "map_index": info.get("map_index"),
        "operator": info.get("operator"),
        "state": info.get("state"),
        "native_state": info.get("native_state"),
        "started_at": info.get("started_at"),
        "ended_at": info.get("ended_at"),
        "attempts": [
            {
                "try_number": attempt["try_number"],
                "state": attempt["state"],
                "native_state": attempt.get("native_state"),
                "started_at": attempt.get("started_at"),
                "ended_at": attempt.get("ended_at"),
                "hostname": attempt.get("hostname"),
                "error": attempt.get("error"),
            }
            for attempt in (attempts or {}).get("attempts", [])
        ],
        "inputs": _io(store.related(urn, "consumed")),
        "outputs": _io(outputs),
    }


def list_models(store: AimStore, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Models with how many versions each has, newest first."""
    models = store.search("model", limit=limit, offset=offset)
    return [
        {
            "name": Urn.parse(model.urn).segments[0],
            "urn": model.urn,
            "versions": len(store.related(model.urn, "versionOf", incoming=True)),
            "created_at": iso(model.created_at),
        }
        for model in models
    ]


#: What a model version serves until ramps exist (issue 14, part 2): no traffic, no ramp.
NOT_SERVING: dict[str, Any] = {"traffic": 0, "champion": False, "ramp": "none"}


def model_details(store: AimStore, name: str) -> dict[str, Any] | None:
    """A model and its versions (with what produced each, its lifecycle ``state``, and its
    ``traffic`` in percent, whether it is the ``champion`` and its ``ramp``); None when unknown.

    Example:
        >>> from aimops.metadata.recording import record_model_version
        >>> store = AimStore.open("sqlite://")
        >>> _ = record_model_version(store, "churn", 1)
        >>> (version,) = model_details(store, "churn")["versions"]
        >>> version["version"], version["state"], version["traffic"], version["champion"]
        ('1', 'registered', 0, False)
    """
    from aimops.metadata.lifecycle.queries import lifecycle_values
    from aimops.metadata.urns import model_urn

    urn = str(model_urn(name))
    if store.get_entity(urn) is None:
        return None
    versions = store.related(urn, "versionOf", incoming=True)
    infos = store.latest_values([version.urn for version in versions], "modelVersionInfo")
    states = lifecycle_values(store, [version.urn for version in versions])
    rows = []
    for version in versions:
        info = infos.get(version.urn, {})
        rows.append(
            {
                "urn": version.urn,
                "version": info.get("version", Urn.parse(version.urn).segments[1]),
                "state": states[version.urn]["state"],
                **NOT_SERVING,
                "uri": info.get("uri"),
                "framework": info.get("framework"),
                "mlflow_run_id": info.get("mlflow_run_id"),
                "created_at": iso(version.created_at),
                "produced_by": [step.urn for step in store.related(version.urn, "producedBy")],
            }
        )
    info = store.latest_values([urn], "modelInfo").get(urn, {})
    return {"name": name, "urn": urn, "description": info.get("description"), "versions": rows}
