"""``simulate_serving``: a SIMULATED day of serving of a registered model, for the monitoring demo.

No model is served here: this DAG stands in for a serving fleet and its log shipper, so that
``monitor_model`` has something real to watch. It

1. resolves the model version (``breast_cancer_classifier@candidate`` by default, as
   ``train_model`` registers it) in the MLflow registry; while there is none, the run skips
   its tasks (and succeeds);
2. registers the version's reference data in the AIM store unless it has some: the training
   split ``train_model`` used (same data, same seed), as the training pipeline would;
3. simulates one day of requests (:func:`aimops.monitors.simulate_serving_day`): rows of the
   population the training data came from (the whole table) scored by the real model, with
   diurnal traffic, log-normal latencies and, when the run's conf asks, injected faults:
   ``latency_regression_ms``, ``error_rate`` and ``drift``
   (``{"mean_radius": 1.5}``: that feature shifted by 1.5 standard deviations), and writes
   the request log and feature snapshot to ``$AIMOPS_HOME/serving/<model>/<version>/<day>/``.

Run it: ``airflow dags test simulate_serving`` (a clean day), or with faults::

    airflow dags test simulate_serving -c '{"latency_regression_ms": 900,
                                            "drift": {"mean_radius": 2}}'

"""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

DAG_ID = "simulate_serving"
MODEL = "breast_cancer_classifier@candidate"
SEED = 42  # train_model's split
TEST_SIZE = 0.25
TARGET = "target"

DOC_MD = """
# A simulated day of serving (not a real fleet)

Writes the request log and feature snapshot a serving fleet would leave for one day, from
the real registered model, so that **monitor_model** can check them. Run it after every
**train_model** run: that moves `@candidate` to a new version, which has served nothing yet.
Before any model is registered the run skips its tasks. Faults are injected
from the run's conf: `latency_regression_ms`, `error_rate`, `drift` (`{feature: shift in
standard deviations}`), `requests`.
"""


def _breast_cancer() -> tuple[Any, Any]:
    """The whole table and ``train_model``'s train split of it, features only."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    train, _ = train_test_split(
        frame, test_size=TEST_SIZE, stratify=frame[TARGET], random_state=SEED
    )
    return frame.drop(columns=[TARGET]), train.drop(columns=[TARGET])


@task
def resolve_model_version(model_version: str) -> str:
    """The model version as ``name/version`` (an alias or ``latest`` resolved by MLflow);
    skipped, with the rest of the run, while the registry has no such version yet."""
    from airflow.sdk.exceptions import AirflowSkipException

    from aimops.errors import NotFoundError
    from aimops.hooks.mlflow import MlflowHook
    from aimops.monitors.sources import registered_version

    tracking_uri, registry_uri = MlflowHook().model_location()
    try:
        resolved = registered_version(
            model_version, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
    except NotFoundError:
        # Printed: a skip's own reason is folded away in the log's "Post Execute" group.
        print(
            f"nothing to serve: {model_version} is not in the MLflow registry yet "
            "(train_model registers it)"
        )
        raise AirflowSkipException from None
    print(f"{model_version} is {resolved}")
    return resolved


@task
def register_reference_data(model_version: str) -> str:
    """The version's reference data in the AIM store: registered now from train_model's
    training split (features only) unless the version already has some."""
    from aimops.errors import NotFoundError
    from aimops.hooks.aim import AimHook
    from aimops.metadata.urns import artifact_urn
    from aimops.monitors.checks.reference_data import load_reference, register_reference

    with AimHook().get_store() as store:
        try:
            frame = load_reference(store, f"urn:aim:modelVersion:{model_version}")
            print(f"{model_version} has reference data: {frame.shape[0]} rows")
            return str(artifact_urn("reference", *model_version.split("/")))
        except NotFoundError:
            pass
        _, train = _breast_cancer()
        urn = register_reference(store, f"urn:aim:modelVersion:{model_version}", train)
    print(f"registered {len(train)} training rows as the reference data of {model_version}")
    return str(urn)


@task
def simulate_day(model_version: str, reference: str) -> str:
    """One simulated day of requests to the model, written where monitor_model looks."""
    import datetime

    from aimops.hooks.mlflow import MlflowHook
    from aimops.monitors.serving.logs import day_folder
    from aimops.monitors.serving.simulator import simulate_serving_day
    from aimops.monitors.sources import load_model

    context = get_current_context()
    params = context["params"]
    day = (
        datetime.date.fromisoformat(params["day"])
        if params.get("day")
        else context["dag_run"].run_after.date()
    )
    tracking_uri, registry_uri = MlflowHook().model_location()
    model = load_model(
        f"models:/{model_version}", tracking_uri=tracking_uri, registry_uri=registry_uri
    )
    population, _ = _breast_cancer()
    served = simulate_serving_day(
        model,
        population,
        model_version=model_version,
        day=day,
        requests=int(params["requests"]),
        seed=int(params["seed"]),
        latency_regression_ms=float(params["latency_regression_ms"]),
        error_rate=float(params["error_rate"]),
        drift={str(k): float(v) for k, v in dict(params["drift"] or {}).items()},
    )
    folder = served.write(day_folder(model_version, day))
    print(f"simulated {len(served.requests)} requests to {model_version} on {day}: {folder}")
    return str(folder)


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["aimops", "aimops:project=churn-demo", "simulator"],
    doc_md=DOC_MD,
    params={
        "model_version": Param(MODEL, type="string", description="name/version or name@alias"),
        "day": Param("", type="string", description="YYYY-MM-DD; default: the run's date"),
        "requests": Param(2000, type="integer", minimum=1),
        "seed": Param(0, type="integer"),
        "latency_regression_ms": Param(0.0, type="number", minimum=0),
        "error_rate": Param(0.002, type="number", minimum=0, maximum=1),
        "drift": Param({}, type="object", description="{feature: shift in standard deviations}"),
    },
)
def simulate_serving() -> None:
    version = resolve_model_version("{{ params.model_version }}")
    simulate_day(version, register_reference_data(version))


simulate_serving()
