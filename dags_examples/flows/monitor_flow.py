"""``monitor_model_prefect``: the daily health of a model version in service, checked and
recorded; and ``simulate_serving_prefect``, a SIMULATED day of serving for it to check.

The Airflow DAGs ``monitor_model`` and ``simulate_serving`` as Prefect 3 flows, with the aimops
Prefect tasks in place of the operators.

``monitor_model_prefect``: resolve_model_version → find_serving_day → data_quality, drift,
feature_consistency, health (the four at once). For the version in ``model_version`` (default
``breast_cancer_classifier/latest``, the newest version the training flows registered; or
``name/3``, ``name@alias``) it reads the newest day of served requests and the feature snapshot
(``$AIMOPS_HOME/serving/<model>/<version>/<day>/``, see :mod:`aimops.monitors.serving.logs`),
then runs four checks, each recorded in the AIM store as a check of the version, with its
Prefect artifacts (``aimops-<kind>-breast-cancer-classifier``: the verdict, a table, a link to
the check's page):

- **data_quality**: the request log against a Great Expectations suite;
- **drift**: the served features against the version's registered reference data;
- **feature_consistency**: the feature snapshot against the training features;
- **health**: latency p50/p90/p99, error rate and throughput against the objectives (success
  rate ≥ 99 %, p99 ≤ ``latency_p99_max_ms``).

While there is nothing to check (no version registered yet, or no day served by it) the run
says why in one line and completes. A failing check fails its task (not retried: it would
fail again) and raises an alert (a line in ``$AIMOPS_ALERT_LOG``, default
``$AIMOPS_HOME/alerts.log``, and a POST to ``$AIMOPS_ALERT_WEBHOOK`` when set); the other
checks still run, and the flow run ends ``Failed`` naming the failed checks.

``simulate_serving_prefect`` stands in for a serving fleet (no model is served here): it
resolves the version, registers its reference data in the AIM store unless it has some (the
training split, as training would) and writes one day of requests scored by the real model,
with faults when asked (``latency_regression_ms``, ``error_rate``, ``drift``).

Run it (train first: ``python dags_examples/flows/train_flow.py``)::

    python dags_examples/flows/monitor_flow.py                  # simulate a day, check it
    python dags_examples/flows/monitor_flow.py --latency-regression-ms 900   # health fails
    python dags_examples/flows/monitor_flow.py --simulate-only  # only write a day
    python dags_examples/flows/monitor_flow.py --serve --cron "0 6 * * *"

``--serve`` makes the deployment ``monitor_model_prefect/monitor`` on the Prefect server
(``PREFECT_API_URL``; start one with ``prefect server start``) and runs its scheduled runs
(daily at 06:00 by default) until stopped with Ctrl-C; ``prefect deployment run
monitor_model_prefect/monitor`` triggers one now. Heavy imports stay inside the functions.
"""

from __future__ import annotations

import argparse
import datetime
import re
from typing import Any

from prefect import flow, task
from prefect.runtime import flow_run

from aimops.flows import tracked
from aimops.flows.artifacts import artifact_key
from aimops.flows.checks import (
    data_quality_check,
    drift_check,
    feature_consistency_check,
    health_check,
)

FLOW_NAME = "monitor_model_prefect"
SIMULATOR_FLOW_NAME = "simulate_serving_prefect"
DEPLOYMENT_NAME = "monitor"
PROJECT = "churn-demo"
MODEL_NAME = "breast_cancer_classifier"
MODEL_VERSION = f"{MODEL_NAME}/latest"
DAILY_AT_SIX = "0 6 * * *"
MIN_REQUESTS_PER_DAY = 500
SEED = 42  # the training flows' split
TEST_SIZE = 0.25
TARGET = "target"
RETRIES = {"retries": 1, "retry_delay_seconds": 5}

#: The request log's expectations (see aimops.monitors.checks.data_quality for the entries).
REQUEST_LOG_SUITE: list[dict[str, Any]] = [
    {"expect": "row_count_between", "min": MIN_REQUESTS_PER_DAY},
    {"expect": "unique", "column": "request_id"},
    {"expect": "not_null", "column": "timestamp"},
    {"expect": "not_null", "column": "latency_ms"},
    {"expect": "between", "column": "latency_ms", "min": 0},
    {"expect": "in_set", "column": "status", "values": [200, 400, 404, 429, 500, 503]},
    {"expect": "between", "column": "score", "min": 0, "max": 1},
    {"expect": "not_null", "column": "mean_radius"},
    {"expect": "not_null", "column": "worst_area"},
    {"expect": "between", "column": "mean_radius", "min": 0, "max": 40, "severity": "warn"},
]
#: The checks, by task name, and the kind of their artifacts.
CHECKS = {
    "data_quality": "data-quality",
    "drift": "drift",
    "feature_consistency": "feature-consistency",
    "health": "health",
}


def _breast_cancer() -> tuple[Any, Any]:
    """The whole table and the training flows' train split of it, features only."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    train, _ = train_test_split(
        frame, test_size=TEST_SIZE, stratify=frame[TARGET], random_state=SEED
    )
    return frame.drop(columns=[TARGET]), train.drop(columns=[TARGET])


def _mlflow(store: str | None) -> dict[str, str]:
    """Where registered models are: the ``store`` block's MLflow, else the environment's."""
    from aimops.flows.blocks import resolve_store

    location = resolve_store(store).model_location()
    return {"tracking_uri": location.tracking_uri, "registry_uri": location.registry_uri}


@task(**RETRIES)
def resolve_model_version(model_version: str, store: str | None = None) -> str | None:
    """The version as ``name/version`` (an alias or ``latest`` resolved by MLflow); None, with
    the reason printed, while the registry has no such version."""
    from aimops.errors import NotFoundError
    from aimops.monitors.sources import registered_version

    try:
        resolved = registered_version(model_version, **_mlflow(store))
    except NotFoundError:
        print(
            f"nothing to do: {model_version} is not in the MLflow registry yet "
            "(python dags_examples/flows/train_flow.py registers a version)"
        )
        return None
    print(f"{model_version} is {resolved}")
    return resolved


@task(**RETRIES)
def find_serving_day(model_version: str, serving_root: str = "") -> dict[str, str] | None:
    """The newest day of serving of the version: ``day``, and the ``requests`` log and
    ``features`` snapshot files; None, with the reason printed, while it served no day."""
    from aimops.errors import NotFoundError
    from aimops.monitors.serving.logs import latest_day

    try:
        found = latest_day(model_version, root=serving_root or None)
    except NotFoundError:
        print(
            f"nothing to check: no day of serving of {model_version} yet; "
            "python dags_examples/flows/monitor_flow.py --simulate-only writes one"
        )
        return None
    print(f"checking {model_version} on {found.day}: {found.requests}")
    return {
        "day": found.day.isoformat(),
        "requests": str(found.requests),
        "features": str(found.features),
    }


def alert_on_failure(task: Any, task_run: Any, state: Any) -> None:
    """A check task's failure hook: the alert (log line, webhook) that ``AlertOnFailure``
    sends for the DAG. Never raises: a broken alert must not hide the failure."""
    from aimops.flows.frame import run_logger
    from aimops.monitors.checks.alerts import Alert, send_alert

    try:
        alert = Alert(
            title=f"{FLOW_NAME}.{task.name} failed",
            message=str(state.message or "the check failed"),
            source={
                "flow": FLOW_NAME,
                "flow_run_id": str(task_run.flow_run_id),
                "task": str(task.name),
            },
        )
        delivery = send_alert(alert)
        run_logger().warning("alert sent: %s", delivery.logged_to)
    except Exception:
        run_logger().exception("aimops could not send the alert for this failure")


def _alerting(check: Any, name: str) -> Any:
    """``check`` as the task ``name`` that alerts when it fails for good."""
    return check.with_options(name=name, on_failure=[*check.on_failure_hooks, alert_on_failure])


def submit_checks(
    version: str, day: dict[str, str], settings: dict[str, Any], store: str | None
) -> dict[str, Any]:
    """Start the four checks of the day at once; their futures by task name."""
    dashboard = settings["dashboard_url_template"] or None
    return {
        "data_quality": _alerting(data_quality_check, "data_quality").submit(
            day["requests"],
            REQUEST_LOG_SUITE,
            name="request log",
            model_version=version,
            store=store,
        ),
        "drift": _alerting(drift_check, "drift").submit(
            day["requests"],
            model_version=version,
            evidently_report=settings["evidently_report"],
            store=store,
        ),
        "feature_consistency": _alerting(feature_consistency_check, "feature_consistency").submit(
            day["features"], model_version=version, store=store
        ),
        "health": _alerting(health_check, "health").submit(
            day["requests"],
            model_version=version,
            objectives={"latency_p99_max_ms": settings["latency_p99_max_ms"]},
            dashboard_url_template=dashboard,
            store=store,
        ),
    }


def check_outcomes(futures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each check's end: ``{"state", "check"}`` (the URN) or ``{"state", "error"}``."""
    outcomes = {}
    for name, future in futures.items():
        future.wait()
        state = future.state
        if state.is_completed():
            outcomes[name] = {"state": state.name, "check": future.result()}
        else:
            outcomes[name] = {"state": state.name, "error": str(state.message)}
    return outcomes


@tracked(project=PROJECT)
@flow(name=FLOW_NAME, log_prints=True)
def monitor_model_prefect(
    model_version: str = MODEL_VERSION,
    serving_root: str = "",
    evidently_report: bool = True,
    latency_p99_max_ms: float = 500.0,
    dashboard_url_template: str = "",
    store: str | None = None,
) -> Any:
    """Check the newest day of serving of a model version: data quality, drift, feature
    consistency, health (captured by aimops).

    ``serving_root``: default ``$AIMOPS_HOME/serving``; ``evidently_report``: save Evidently's
    report with the drift check; ``dashboard_url_template``: a Grafana URL, say; ``store``: the
    name of a saved ``AimopsStore`` block (None: the environment).

    Returns ``{"run", "model_version", "day", "checks"}`` (``day`` None: nothing to check);
    the run ends ``Failed`` when a check failed.
    """
    from prefect.states import Failed

    from aimops.metadata.urns import run_urn

    summary: dict[str, Any] = {
        "run": str(run_urn("prefect", FLOW_NAME, str(flow_run.id))),
        "model_version": None,
        "day": None,
        "checks": {},
    }
    version = resolve_model_version(model_version, store)
    day = find_serving_day(version, serving_root) if version else None
    if version is None or day is None:
        return {**summary, "model_version": version}
    settings = {
        "evidently_report": evidently_report,
        "latency_p99_max_ms": latency_p99_max_ms,
        "dashboard_url_template": dashboard_url_template,
    }
    checks = check_outcomes(submit_checks(version, day, settings, store))
    summary.update(model_version=version, day=day["day"], checks=checks)
    failed = [name for name, outcome in checks.items() if "error" in outcome]
    if failed:
        return Failed(message=f"failed checks of {version}: {', '.join(failed)}", data=summary)
    return summary


@task(**RETRIES)
def register_reference_data(model_version: str, store: str | None = None) -> str:
    """The version's reference data in the AIM store: registered now from the training split
    (features only) unless the version already has some. Its artifact URN."""
    from aimops.errors import NotFoundError
    from aimops.flows.blocks import resolve_store
    from aimops.metadata.urns import artifact_urn
    from aimops.monitors.checks.reference_data import load_reference, register_reference

    urn = f"urn:aim:modelVersion:{model_version}"
    with resolve_store(store).open() as aim:
        try:
            frame = load_reference(aim, urn)
        except NotFoundError:
            _, train = _breast_cancer()
            registered = register_reference(aim, urn, train)
            print(f"registered {len(train)} training rows as the reference data of {urn}")
            return str(registered)
    print(f"{model_version} has reference data: {frame.shape[0]} rows")
    return str(artifact_urn("reference", *model_version.split("/")))


@task(**RETRIES)
def simulate_day(model_version: str, plan: dict[str, Any], store: str | None = None) -> str:
    """One SIMULATED day of requests to the version, written where the monitoring flow looks;
    its folder. ``plan``: ``day`` (ISO date; default today, UTC), ``requests``, ``seed`` and
    the faults ``latency_regression_ms``, ``error_rate``, ``drift`` (``{feature: shift in
    standard deviations}``)."""
    from aimops.monitors.serving.logs import day_folder
    from aimops.monitors.serving.simulator import simulate_serving_day
    from aimops.monitors.sources import load_model

    day = datetime.date.fromisoformat(plan["day"]) if plan["day"] else _today()
    model = load_model(f"models:/{model_version}", **_mlflow(store))
    population, _ = _breast_cancer()
    served = simulate_serving_day(
        model,
        population,
        model_version=model_version,
        day=day,
        requests=int(plan["requests"]),
        seed=int(plan["seed"]),
        latency_regression_ms=float(plan["latency_regression_ms"]),
        error_rate=float(plan["error_rate"]),
        drift={str(k): float(v) for k, v in dict(plan["drift"] or {}).items()},
    )
    folder = served.write(day_folder(model_version, day))
    print(f"simulated {len(served.requests)} requests to {model_version} on {day}: {folder}")
    return str(folder)


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@tracked(project=PROJECT)
@flow(name=SIMULATOR_FLOW_NAME, log_prints=True)
def simulate_serving_prefect(
    model_version: str = MODEL_VERSION,
    day: str = "",
    requests: int = 2000,
    seed: int = 0,
    latency_regression_ms: float = 0.0,
    error_rate: float = 0.002,
    drift: dict[str, float] | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    """Write a SIMULATED day of serving of a registered model version (not a real fleet).

    Returns ``{"model_version", "folder"}`` (both None while no such version is registered).
    """
    version = resolve_model_version(model_version, store)
    if version is None:
        return {"model_version": None, "folder": None}
    register_reference_data(version, store)
    plan = {
        "day": day,
        "requests": requests,
        "seed": seed,
        "latency_regression_ms": latency_regression_ms,
        "error_rate": error_rate,
        "drift": drift,
    }
    return {"model_version": version, "folder": simulate_day(version, plan, store)}


def serve(cron: str, model_version: str) -> None:
    """Serve the monitoring flow as the deployment ``monitor_model_prefect/monitor``, run on
    ``cron``, until stopped."""
    monitor_model_prefect.serve(
        name=DEPLOYMENT_NAME,
        cron=cron,
        parameters={"model_version": model_version},
        description="Daily checks of the newest day of serving of a model version (aimops).",
        tags=["aimops", "monitoring"],
    )


def _verdicts(urns: list[str]) -> dict[str, str]:
    """The recorded verdict (``pass``, ``warn``...) of each check, by URN."""
    from aimops.flows.blocks import resolve_store

    with resolve_store(None).open() as aim:
        found = aim.latest_values(urns, "checkInfo")
    return {str(urn): info["status"] for urn, info in found.items()}


def describe(summary: dict[str, Any], message: str | None) -> str:
    """What a user wants to see of a monitoring run: each check's verdict and URN, where the
    artifacts and alerts are."""
    lines = [f"\n{FLOW_NAME}: {message or 'done'}", f"  run        {summary['run']}"]
    if summary["day"] is None:
        return "\n".join([*lines, "  nothing to check (see the log above for why)"])
    lines.append(f"  checked    {summary['model_version']} on {summary['day']}")
    recorded = _verdicts(
        [outcome["check"] for outcome in summary["checks"].values() if "check" in outcome]
    )
    for name, outcome in summary["checks"].items():
        if "check" in outcome:
            lines.append(
                f"  {name:<20} {recorded.get(outcome['check'], '?'):<5} {outcome['check']}"
            )
        else:  # "Task run encountered an exception CheckFailedError: <what failed> [<URN>]"
            lines.append(f"  {name:<20} FAIL  {outcome['error'].split(': ', 1)[-1]}")
    keys = ", ".join(artifact_key(kind, MODEL_NAME) for kind in CHECKS.values())
    lines.append(f"  artifacts  {keys} (+ -table, -link)")
    if any("error" in outcome for outcome in summary["checks"].values()):
        from aimops.monitors.checks.alerts import ALERT_LOG_NAME
        from aimops.settings import aimops_home

        lines.append(f"  alerts     {aimops_home() / ALERT_LOG_NAME} (or $AIMOPS_ALERT_LOG)")
    lines.append("  next: aimops checks list --model breast_cancer_classifier")
    return "\n".join(lines)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--model-version", default=MODEL_VERSION, help="name/3, name@alias")
    parser.add_argument("--serve", action="store_true", help="serve the flow on a schedule")
    parser.add_argument("--cron", default=DAILY_AT_SIX, help="when --serve runs it")
    parser.add_argument("--simulate-only", action="store_true", help="only write a day")
    parser.add_argument(
        "--latency-regression-ms",
        type=float,
        default=0.0,
        help="slow a quarter of the simulated requests down by this much",
    )
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    if arguments.serve:
        serve(arguments.cron, arguments.model_version)
        return
    simulated = simulate_serving_prefect(
        model_version=arguments.model_version,
        latency_regression_ms=arguments.latency_regression_ms,
    )
    print(f"\n{SIMULATOR_FLOW_NAME}: {simulated['folder'] or 'nothing simulated'}")
    if arguments.simulate_only or simulated["folder"] is None:
        return
    state = monitor_model_prefect(model_version=arguments.model_version, return_state=True)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise summary
    print(describe(summary, state.message))
    if not state.is_completed():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
