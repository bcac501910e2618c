"""``ramp_model``: ramp a published model version's traffic step by step, on SIMULATED traffic.

resolve_version → ramp. The ramp is an aimops
:class:`~aimops.operators.ramps.RampModelOperator`, as Argo Rollouts runs a canary: the
challenger gets each weight of the schedule in turn (the champion the rest), each step bakes,
then an analysis judges the challenger's requests of the step (success rate, p99 latency, both
against the champion too) and decides: next step, rollback (the champion back to 100%, an
alert), or a pause when too few requests came. The task waits on Airflow's triggerer between
steps, not in a worker slot.

No fleet serves here: before each analysis, :func:`simulate_window` writes the requests a
fleet would have served in the window (:func:`aimops.monitors.serving.windows.
simulate_serving_window`), split by the deployment's weights, each version's requests scored
by its real model from the MLflow registry, on the breast-cancer table ``train_model`` trains
on. ``latency_regression_ms`` slows the challenger down, so its ramp is rolled back.

The version must be ``published`` (``review_model``). The first version ramped of a model is an
initial rollout (straight to 100%); the next one is ramped against it.

Run it: ``airflow dags test ramp_model -c '{"version": "2"}'``, or with a slow challenger::

    airflow dags test ramp_model -c '{"version": "3", "latency_regression_ms": 900}'

Heavy imports (mlflow, scikit-learn, pandas) stay inside the functions: parsing stays fast.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from aimops.operators.ramps import RampModelOperator

DAG_ID = "ramp_model"
MODEL = "breast_cancer_classifier"  # what train_model registers
TARGET = "target"

DOC_MD = """
# Ramp a model version's traffic (on simulated traffic)

Trigger with the version to ramp: `{"version": "3"}` (default: the `@candidate` alias that
**train_model** moves). The version must be **published** (run **review_model** first).

1. **resolve_version**: the version as `name/number`, from the MLflow registry. Skipped, with
   the run, while the registry has none.
2. **ramp**: the challenger serves each weight of `schedule` for `bake_seconds`, then its
   requests are analysed: **pass**: the next weight, and at 100% it is the champion;
   **fail** (p99 latency, success rate, or either against the champion): rolled back, the
   champion serves 100% again, an alert is raised and the task fails; **too few requests** past
   the progress deadline: paused until `aimops resume` or `aimops abort`.

The traffic is simulated (`requests` per step, split by the weights);
`latency_regression_ms` slows the challenger down to watch a rollback. Each step's analysis is
the task's XCom `ramp_step_<n>`, with its gates; the task's **Model version** link opens the
version's page with its ramp.
"""


def _population() -> Any:
    """The breast-cancer table's feature rows (columns named as train_model names them)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    return frame.drop(columns=[TARGET])


def simulate_window(info: dict[str, Any]) -> None:
    """Before each analysis: the requests of the window, written where the analysis reads
    them, each version served by its registered model (SIMULATED; see the module)."""
    from datetime import datetime

    from aimops.hooks.mlflow import MlflowHook
    from aimops.monitors.serving.windows import simulate_serving_window
    from aimops.monitors.sources import load_model

    params = get_current_context()["params"]
    model, weights = info["model"], info["weights"]
    tracking_uri, registry_uri = MlflowHook().model_location()
    models = {
        version: load_model(
            f"models:/{model}/{version}", tracking_uri=tracking_uri, registry_uri=registry_uri
        )
        for version, weight in weights.items()
        if weight > 0
    }
    slow = float(params["latency_regression_ms"])
    challenger = info["challenger"]
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
        requests=int(params["requests"]),
        seed=int(end.timestamp()) % 2**31,
        faults=faults,
    )
    print(
        f"simulated {params['requests']} requests to {model} {weights} from {start} to {end}"
        + (f"; {model}/{challenger} {slow:g} ms slower" if faults else "")
    )


@task(doc_md="The version to ramp as name/number, resolved in the MLflow registry.")
def resolve_version(model: str, version: str) -> str:
    """``name/number`` of ``version`` (a number, an alias such as ``candidate``, or
    ``latest``); skipped, with the rest of the run, while the registry has no such version."""
    from airflow.sdk.exceptions import AirflowSkipException

    from aimops.errors import NotFoundError
    from aimops.hooks.mlflow import MlflowHook
    from aimops.monitors.sources import registered_version

    wanted = version.strip().lstrip("@")
    reference = (
        f"{model}/{wanted}" if wanted.isdigit() or wanted == "latest" else f"{model}@{wanted}"
    )
    tracking_uri, registry_uri = MlflowHook().model_location()
    try:
        resolved = registered_version(
            reference, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
    except NotFoundError:
        print(f"nothing to ramp: {reference} is not in the MLflow registry yet (train_model)")
        raise AirflowSkipException from None
    print(f"{reference} is {resolved}")
    return resolved


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["aimops", "aimops:project=churn-demo", "lifecycle", "ramp", "simulator"],
    doc_md=DOC_MD,
    params={
        "model": Param(MODEL, type="string", minLength=1, description="the registered model"),
        "version": Param(
            "candidate", type="string", minLength=1,
            description="the version to ramp: a number, an alias (candidate) or latest",
        ),
        "environment": Param("production", type="string", minLength=1),
        "schedule": Param(
            [1, 5, 25, 50, 100], type="array",
            items={"type": "integer", "minimum": 1, "maximum": 100},
            description="the challenger's weights, step by step, ending at 100",
        ),
        "bake_seconds": Param(5, type="number", minimum=0, description="each step's bake time"),
        "latency_regression_ms": Param(
            0, type="number", minimum=0, description="slow the challenger down by this much"
        ),
        "requests": Param(
            20000, type="integer", minimum=1,
            description="simulated requests per step (at 1%, 200 reach the challenger: more than "
            "the 100 an analysis needs)",
        ),
    },
)  # fmt: skip
def ramp_model() -> None:
    version = resolve_version("{{ params.model }}", "{{ params.version }}")
    RampModelOperator(
        task_id="ramp",
        doc_md=(
            "Ramps the version through the schedule on simulated traffic: one analysis per "
            "step (XCom ramp_step_<n>); fails when the ramp is rolled back or aborted."
        ),
        model_version=version,
        environment="{{ params.environment }}",
        schedule="{{ params.schedule }}",
        bake_time="{{ params.bake_seconds }}",
        before_analysis=simulate_window,
        poll_interval=timedelta(seconds=15),
        reason="ramped by the ramp_model DAG",
    )


ramp_model()
