"""``ramp_model_prefect``: ramp a published model version's traffic step by step, on SIMULATED
traffic.

The Airflow DAG ``ramp_model`` as a Prefect 3 flow: resolve_model_version → ramp
(:func:`aimops.flows.ramps.ramp_model`), as Argo Rollouts runs a canary: the version gets each
weight of the schedule in turn (the champion the rest), each step bakes, then an analysis
judges its requests of the step (success rate, p99 latency, both against the champion too) and
decides: next step, rollback (the champion back to 100%, the run fails), or a pause when too
few requests came. The DAG's task waits on Airflow's triggerer between steps; here no worker
waits through a bake: **each run of the flow does what is due and returns** (starts the ramp,
or analyses the step whose bake is over, or reports the status with ``waiting_seconds`` until
the next analysis), so the flow runs on a schedule:

- ``python ramp_flow.py --serve`` makes the deployment ``ramp_model_prefect/ramp`` and runs it
  every minute (``--cron``), each run moving the ramp on as far as is due, with 5-minute
  bakes (``--bake-seconds``); a ramp that is over is only reported by later runs (pause the
  deployment then);
- plain ``python ramp_flow.py`` runs the flow again and again, waiting out 2-second bakes
  between runs, until the ramp is over, printing each step.

No fleet serves here: before each analysis, :func:`simulate_window` writes the requests a fleet
would have served in the window (:func:`aimops.monitors.serving.windows.simulate_serving_window`),
split by the deployment's weights, each version's requests scored by its real model from the
MLflow registry, on the breast-cancer table. ``--latency-regression-ms 900`` slows the version
down, so its ramp is rolled back.

The version must be ``published`` (``review_flow.py``). The first version ramped of a model is
an initial rollout (straight to 100%); the next one is ramped against it. Artifacts:
``aimops-ramp-breast-cancer-classifier-production`` (status, step, weights, the last analysis
and its gates; a table of the analyses; a link to the version's page). ``@tracked`` captures
every run (project ``churn-demo``).

Run it (after ``evaluate_flow.py`` and ``review_flow.py``)::

    python dags_examples/flows/ramp_flow.py                 # the newest version, to its end
    python dags_examples/flows/ramp_flow.py --model-version breast_cancer_classifier/2
    python dags_examples/flows/ramp_flow.py --serve --cron "*/5 * * * *" --bake-seconds 1800

Heavy imports (mlflow, scikit-learn, pandas) stay inside the functions.
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from typing import Any

from prefect import flow, task
from prefect.runtime import flow_run

from aimops.flows import tracked
from aimops.flows.artifacts import artifact_key
from aimops.flows.ramps import ramp_model

FLOW_NAME = "ramp_model_prefect"
DEPLOYMENT_NAME = "ramp"
PROJECT = "churn-demo"
MODEL_NAME = "breast_cancer_classifier"
MODEL_VERSION = f"{MODEL_NAME}/latest"
ENVIRONMENT = "production"
SCHEDULE = (1, 5, 25, 50, 100)
TARGET = "target"
EVERY_MINUTE = "* * * * *"
SERVED_BAKE_SECONDS = 300.0  # each step's bake when the flow runs on a schedule
LOCAL_BAKE_SECONDS = 2.0  # each step's bake when python ramp_flow.py runs it to its end
#: Simulated requests per step: at 1%, 200 reach the version (an analysis needs 100).
REQUESTS_PER_STEP = 20000
VERSION_URN_PREFIX = "urn:aim:modelVersion:"


def _population() -> Any:
    """The breast-cancer table's feature rows (columns named as the training flows name them)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    return frame.drop(columns=[TARGET])


def _mlflow(store: str | None) -> dict[str, str]:
    """Where registered models are: the ``store`` block's MLflow, else the environment's."""
    from aimops.flows.blocks import resolve_store

    location = resolve_store(store).model_location()
    return {"tracking_uri": location.tracking_uri, "registry_uri": location.registry_uri}


def simulate_window(
    info: dict[str, Any], *, requests: int, latency_regression_ms: float, store: str | None
) -> None:
    """Before each analysis: the requests of the window, written where the analysis reads
    them, each version served by its registered model (SIMULATED; see the module)."""
    from datetime import datetime

    from aimops.monitors.serving.windows import simulate_serving_window
    from aimops.monitors.sources import load_model

    model, weights, challenger = info["model"], info["weights"], info["challenger"]
    models = {
        version: load_model(f"models:/{model}/{version}", **_mlflow(store))
        for version, weight in weights.items()
        if weight > 0
    }
    slow = float(latency_regression_ms)
    faults = {challenger: {"latency_regression_ms": slow}} if slow and challenger in models else {}
    start = datetime.fromisoformat(info["window_start"])
    end = datetime.fromisoformat(info["window_end"])
    simulate_serving_window(
        models,
        _population(),
        model=model,
        weights=weights,
        start=start,
        end=end,
        requests=requests,
        seed=int(end.timestamp()) % 2**31,
        faults=faults,
    )
    print(
        f"simulated {requests} requests to {model} {weights} from {start} to {end}"
        + (f"; {model}/{challenger} {slow:g} ms slower" if faults else "")
    )


@task
def resolve_model_version(model_version: str, store: str | None = None) -> str | None:
    """The version as ``name/version`` (a URN, an alias or ``latest`` resolved by the MLflow
    registry); None, with the reason printed, while the registry has no such version."""
    from aimops.errors import NotFoundError
    from aimops.monitors.sources import registered_version

    wanted = model_version.strip().removeprefix(VERSION_URN_PREFIX)
    try:
        resolved = registered_version(wanted, **_mlflow(store))
    except NotFoundError:
        print(
            f"nothing to ramp: {model_version} is not in the MLflow registry yet "
            "(python dags_examples/flows/evaluate_flow.py registers versions)"
        )
        return None
    print(f"{model_version} is {resolved}")
    return resolved


def step_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a ramp's run did, in the few fields a person reads (from :func:`ramp_model`'s
    report)."""
    ramp, analysis = report["ramp"], report.get("analysis") or {}
    schedule, step = [int(weight) for weight in ramp["schedule"]], int(ramp["step"])
    return {
        "model_version": report["urn"],
        "did": report["did"],
        "status": report["status"],
        "step": f"{step + 1} of {len(schedule)} at {schedule[step]}%",
        "weights": dict(report["deployment"]["weights"]),
        "verdict": analysis.get("verdict"),
        "note": ramp.get("note"),
        "waiting_seconds": report.get("waiting_seconds"),
        "ramp": ramp["urn"],
    }


@tracked(project=PROJECT)
@flow(name=FLOW_NAME, log_prints=True)
def ramp_model_prefect(
    model_version: str = MODEL_VERSION,
    environment: str = ENVIRONMENT,
    schedule: tuple[int, ...] = SCHEDULE,
    bake_seconds: float = SERVED_BAKE_SECONDS,
    latency_regression_ms: float = 0.0,
    requests: int = REQUESTS_PER_STEP,
    store: str | None = None,
) -> dict[str, Any]:
    """Do what is due for the ramp of a published model version, on simulated traffic
    (captured by aimops): start it, analyse its step, or report where it stands.

    ``schedule`` and ``bake_seconds`` count when the run starts the ramp;
    ``latency_regression_ms`` slows the version's simulated requests down; ``requests``:
    simulated requests per window; ``store``: the name of a saved ``AimopsStore`` block (None:
    the environment). Returns ``{"run", "status", ...}`` (:func:`step_summary`); ``status``
    ``"nothing to ramp"`` while no such version is registered. A rollback fails the run.
    """
    from aimops.metadata.urns import run_urn

    run = str(run_urn("prefect", FLOW_NAME, str(flow_run.id)))
    version = resolve_model_version(model_version, store)
    if version is None:
        return {"run": run, "status": "nothing to ramp", "model_version": None}
    simulate = functools.partial(
        simulate_window,
        requests=requests,
        latency_regression_ms=latency_regression_ms,
        store=store,
    )
    report = ramp_model.with_options(name="ramp")(
        version,
        environment=environment,
        schedule=list(schedule),
        bake_time=bake_seconds,
        before_analysis=simulate,
        reason=f"ramped by the {FLOW_NAME} flow",
        store=store,
    )
    return {"run": run, **step_summary(report)}


def step_line(summary: dict[str, Any]) -> str:
    """One printed line per run of the flow."""
    if summary["model_version"] is None:
        return f"  {summary['status']}"
    verdict = f", verdict {summary['verdict']}" if summary["verdict"] else ""
    weights = ", ".join(f"{version} {weight}%" for version, weight in summary["weights"].items())
    return (
        f"  {summary['did']:<9} {summary['status']:<9} step {summary['step']}{verdict}; "
        f"weights: {weights}; {summary['note']}"
    )


def ramp_to_the_end(
    model_version: str, bake_seconds: float, latency_regression_ms: float = 0.0
) -> dict[str, Any] | None:
    """Run the flow again and again, waiting out each bake, until the ramp is over (complete,
    paused, nothing to ramp): its last summary; None when a run failed (a rollback: the run's
    message says which gates failed)."""
    while True:
        state = ramp_model_prefect(
            model_version=model_version,
            bake_seconds=bake_seconds,
            latency_regression_ms=latency_regression_ms,
            return_state=True,
        )
        if not state.is_completed():
            print(f"  {state.name}: {state.message}")
            return None
        summary: dict[str, Any] = state.result()
        print(step_line(summary))
        if summary["status"] != "ramping":
            return summary
        time.sleep(float(summary["waiting_seconds"] or 0.0))


def serve(cron: str, model_version: str, bake_seconds: float) -> None:
    """Serve the ramp flow as the deployment ``ramp_model_prefect/ramp``, run on ``cron``
    (each run does what is due), until stopped."""
    ramp_model_prefect.serve(
        name=DEPLOYMENT_NAME,
        cron=cron,
        parameters={"model_version": model_version, "bake_seconds": bake_seconds},
        description="Moves a model version's ramp on by what is due, each run (aimops).",
        tags=["aimops", "lifecycle", "ramp"],
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--model-version", default=MODEL_VERSION, help="name/3, name@alias")
    parser.add_argument("--serve", action="store_true", help="serve the flow on a schedule")
    parser.add_argument("--cron", default=EVERY_MINUTE, help="when --serve runs it")
    parser.add_argument(
        "--bake-seconds",
        type=float,
        default=None,
        help=f"each step's bake (default {LOCAL_BAKE_SECONDS:g} s, "
        f"{SERVED_BAKE_SECONDS:g} s with --serve)",
    )
    parser.add_argument(
        "--latency-regression-ms",
        type=float,
        default=0.0,
        help="slow the version's simulated requests down (a rollback)",
    )
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    if arguments.serve:
        bake = arguments.bake_seconds
        serve(
            arguments.cron, arguments.model_version, SERVED_BAKE_SECONDS if bake is None else bake
        )
        return
    bake = LOCAL_BAKE_SECONDS if arguments.bake_seconds is None else arguments.bake_seconds
    print(f"{FLOW_NAME}: ramping {arguments.model_version}, {bake:g} s bakes, one run a step")
    last = ramp_to_the_end(arguments.model_version, bake, arguments.latency_regression_ms)
    if last is None:
        raise SystemExit(1)
    if last["model_version"] is not None:
        print(
            f"\n{FLOW_NAME}: {last['model_version']} {last['status']} in {ENVIRONMENT}\n"
            f"  ramp       {last['ramp']}\n"
            f"  artifacts  {artifact_key('ramp', f'{MODEL_NAME} {ENVIRONMENT}')} "
            "(+ -table, -link)\n"
            f"  next: aimops ramp status {last['ramp']}"
        )


if __name__ == "__main__":
    main()
