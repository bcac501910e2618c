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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aimops.metadata.store import AimStore
from aimops.metadata.store_values import Entity, iso
from aimops.metadata.urns import Urn

if TYPE_CHECKING:
    from aimops.metadata.lifecycle.deployments import Deployment
    from aimops.metadata.lifecycle.ramps import Ramp


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
    """A run with its steps, each with its attempts, inputs and outputs, and the runs started
    inside it (Prefect's subflow runs) as ``subruns``; None when unknown."""
    parsed = Urn.parse(urn)
    text = str(parsed)
    if parsed.type != "run" or store.get_entity(text) is None:
        return None
    info = store.latest_values([text], "runInfo").get(text)
    parts = store.related(text, "partOf", incoming=True)
    steps = [part for part in parts if part.type == "step"]
    subruns = [part.urn for part in parts if part.type == "run"]
    sub_infos = store.latest_values(subruns, "runInfo")
    step_infos = store.latest_values([step.urn for step in steps], "stepInfo")
    step_attempts = store.latest_values([step.urn for step in steps], "stepAttempts")
    details = run_summary(text, info)
    details["steps"] = [
        _step_details(store, step.urn, step_infos.get(step.urn), step_attempts.get(step.urn))
        for step in steps
    ]
    details["subruns"] = [run_summary(sub, sub_infos.get(sub)) for sub in subruns]
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


#: The most deployments (environments) and ramps of one model a listing reads.
_MOST = 10_000


def model_deployments(store: AimStore, model: str) -> list[Deployment]:
    """Every deployment of ``model`` (one per environment it was ever given traffic in), by
    environment name.

    Example:
        >>> import tempfile
        >>> from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
        >>> from aimops.metadata.lifecycle.routers import FileRouter
        >>> store = AimStore.open("sqlite://")
        >>> _ = change_traffic(store, read_deployment(store, "churn", "staging"), {"1": 100},
        ...                    change="set", actor="ana", router=FileRouter(tempfile.mkdtemp()),
        ...                    mlflow=False)
        >>> [(found.environment, found.weights) for found in model_deployments(store, "churn")]
        [('staging', {'1': 100})]
    """
    from aimops.metadata.lifecycle.deployments import read_deployment

    found = store.search("deployment", where=[("deployment.model", "=", model)], limit=_MOST)
    environments = sorted(
        segments[1]
        for segments in (Urn.parse(entity.urn).segments for entity in found)
        if segments[0] == model and len(segments) == 2
    )
    return [read_deployment(store, model, environment) for environment in environments]


def model_ramps(store: AimStore, model: str) -> list[Ramp]:
    """Every ramp of ``model``, in every environment (each as its latest record has it),
    by environment, oldest first; two queries.

    Example:
        >>> model_ramps(AimStore.open("sqlite://"), "churn")
        []
    """
    from aimops.metadata.lifecycle.ramps import ASPECT, Ramp

    found = store.search("ramp", where=[("ramp.model", "=", model)], limit=_MOST)
    urns = [entity.urn for entity in found if Urn.parse(entity.urn).segments[0] == model]
    values = store.latest_values(urns, ASPECT)
    ramps = [Ramp(urn, dict(value), 0) for urn, value in values.items() if value is not None]
    return sorted(ramps, key=_ramp_order)


def _ramp_order(ramp: Ramp) -> tuple[str, int]:
    environment, number = Urn.parse(ramp.urn).segments[1:]
    return environment, int(number)


def ramp_label(ramp: Ramp | None) -> str:
    """A ramp as one line: its status, its step of how many and that step's weight, its URN
    (``ramping 2/5 at 5% urn:aim:ramp:churn/production/3``); ``none`` for no ramp.

    Example:
        >>> from aimops.metadata.lifecycle.ramps import Ramp
        >>> ramp_label(Ramp("urn:aim:ramp:churn/production/3", {
        ...     "status": "ramping", "schedule": [1, 5, 25, 50, 100], "step": 1}, 0))
        'ramping 2/5 at 5% urn:aim:ramp:churn/production/3'
    """
    if ramp is None:
        return "none"
    steps = ramp.schedule
    step = min(ramp.step, len(steps) - 1)
    return f"{ramp.status} {step + 1}/{len(steps)} at {steps[step]}% {ramp.urn}"


def version_serving(
    version: str, deployments: Sequence[Deployment], ramps: Sequence[Ramp]
) -> dict[str, Any]:
    """What ``models show`` says of how the model's version ``version`` serves, from the
    model's ``deployments`` and ``ramps``:

    - ``traffic``: its percent of the ``production`` environment's traffic (0 when none);
      ``traffic_by_environment``: ``{environment: percent}`` where it serves;
      ``traffic_label``: ``production 25%`` (every environment it serves in; ``0%`` when none);
    - ``champion``: whether it is the champion of any environment; ``champion_in``: which
      ones; ``champion_label``: ``yes (production)`` or ``no``;
    - ``ramp``: its active ramp, else its newest one (:func:`ramp_label`), or ``none``;
      ``ramp_status`` and ``ramp_urn`` (``none`` and None without one).

    Example:
        >>> version_serving("1", [], [])["traffic_label"]
        '0%'
    """
    from aimops.metadata.lifecycle.deployments import DEFAULT_ENVIRONMENT

    weights = {found.environment: found.weight(version) for found in deployments}
    serving = {environment: weight for environment, weight in weights.items() if weight > 0}
    champion_in = [found.environment for found in deployments if found.champion == version]
    mine = [ramp for ramp in ramps if ramp.version == version]
    active = [ramp for ramp in mine if ramp.active]
    ramp = max(active or mine, key=lambda found: str(found.value.get("started_at")), default=None)
    return {
        "traffic": weights.get(DEFAULT_ENVIRONMENT, 0),
        "champion": bool(champion_in),
        "ramp": ramp_label(ramp),
        "traffic_by_environment": serving,
        "traffic_label": ", ".join(f"{env} {weight}%" for env, weight in serving.items()) or "0%",
        "champion_in": champion_in,
        "champion_label": f"yes ({', '.join(champion_in)})" if champion_in else "no",
        "ramp_status": ramp.status if ramp is not None else "none",
        "ramp_urn": ramp.urn if ramp is not None else None,
    }


def model_details(store: AimStore, name: str) -> dict[str, Any] | None:
    """A model and its versions (with what produced each, its lifecycle ``state``, and how it
    serves: :func:`version_serving`); None when unknown. Its deployments and ramps are read
    once for all versions (:func:`model_deployments`, :func:`model_ramps`).

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
    deployments = model_deployments(store, name) if versions else []
    ramps = model_ramps(store, name) if versions else []
    rows = []
    for version in versions:
        info = infos.get(version.urn, {})
        number = Urn.parse(version.urn).segments[1]
        rows.append(
            {
                "urn": version.urn,
                "version": info.get("version", number),
                "state": states[version.urn]["state"],
                **version_serving(number, deployments, ramps),
                "uri": info.get("uri"),
                "framework": info.get("framework"),
                "mlflow_run_id": info.get("mlflow_run_id"),
                "created_at": iso(version.created_at),
                "produced_by": [step.urn for step in store.related(version.urn, "producedBy")],
            }
        )
    info = store.latest_values([urn], "modelInfo").get(urn, {})
    return {"name": name, "urn": urn, "description": info.get("description"), "versions": rows}
