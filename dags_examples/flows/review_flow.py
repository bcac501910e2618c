"""``review_model_prefect``: review a model version on its recorded evidence, approve it by
policy, publish it.

The Airflow DAG ``review_model`` as a Prefect 3 flow, with the aimops lifecycle tasks in place
of the operators: resolve_model_version → request_review → approve_by_policy → publish, for the
version in ``model_version`` (``breast_cancer_classifier/3``, its URN, ``name@alias``, or by
default ``breast_cancer_classifier/latest``: the newest registered version). Each lifecycle
task is a guarded, audited transition of the version in the AIM store, mirrored to MLflow's
registry as the tag ``aimops.lifecycle_state``:

- **request_review** asks the evidence policy (``default``): a gated evaluation of the version
  that passed, a passing data-quality check on it (and no failing quality or drift check
  since), and, when another version of the model is published, a comparison with it whose
  gates passed. ``evaluate_flow.py`` records all three for its challenger (the training flow's
  evaluation alone is not enough: it has no data-quality check). Missing evidence fails the
  task at once, naming each missing piece; nothing changes;
- **approve_by_policy** approves as ``policy:default`` after judging the evidence again (four
  eyes: the policy is not the actor who asked);
- **publish** makes the version ``published``: ``ramp_flow.py`` ramps it next.

Each task publishes its artifacts under ``aimops-lifecycle-breast-cancer-classifier`` (the
transition, by whom, why, the evidence; a table; a link to the version's page), and
``aimops history urn:aim:modelVersion:...`` shows the same audit trail in a terminal.
``@tracked`` captures the run (project ``churn-demo``).

Run it (after ``python dags_examples/flows/evaluate_flow.py``)::

    python dags_examples/flows/review_flow.py                           # the newest version
    python dags_examples/flows/review_flow.py breast_cancer_classifier/2
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, task
from prefect.runtime import flow_run

from aimops.flows import tracked
from aimops.flows.artifacts import artifact_key
from aimops.flows.lifecycle import approve_model, publish_model, request_review, transition_line

FLOW_NAME = "review_model_prefect"
PROJECT = "churn-demo"
MODEL_NAME = "breast_cancer_classifier"
MODEL_VERSION = f"{MODEL_NAME}/latest"
REASON = "reviewed by the review_model_prefect flow"
VERSION_URN_PREFIX = "urn:aim:modelVersion:"


@task
def resolve_model_version(model_version: str, store: str | None = None) -> str:
    """The version as ``name/version``: a URN, an alias or ``latest`` resolved by the MLflow
    registry. Fails, saying how to get one, while the registry has no such version."""
    from aimops.errors import NotFoundError
    from aimops.flows.blocks import resolve_store
    from aimops.monitors.sources import registered_version

    location = resolve_store(store).model_location()
    wanted = model_version.strip().removeprefix(VERSION_URN_PREFIX)
    try:
        resolved = registered_version(
            wanted, tracking_uri=location.tracking_uri, registry_uri=location.registry_uri
        )
    except NotFoundError as exc:
        raise NotFoundError(
            f"{exc}; python dags_examples/flows/evaluate_flow.py registers versions with the "
            "evidence a review asks for"
        ) from None
    print(f"{model_version} is {resolved}")
    return resolved


@tracked(project=PROJECT)
@flow(name=FLOW_NAME, log_prints=True)
def review_model_prefect(
    model_version: str = MODEL_VERSION, reason: str = REASON, store: str | None = None
) -> dict[str, Any]:
    """Review, approve (by the evidence policy) and publish a model version (captured by
    aimops).

    ``store``: the name of a saved ``AimopsStore`` block (None: the environment). Returns
    ``{"run", "model_version", "transitions"}`` (each transition as the lifecycle tasks return
    it).
    """
    from aimops.metadata.urns import run_urn

    version = resolve_model_version(model_version, store)
    review = request_review(version, reason=reason, store=store)
    approval = approve_model.with_options(name="approve_by_policy")(
        version, policy="default", store=store
    )
    published = publish_model.with_options(name="publish")(version, reason=reason, store=store)
    return {
        "run": str(run_urn("prefect", FLOW_NAME, str(flow_run.id))),
        "model_version": published["urn"],
        "transitions": [review, approval, published],
    }


def describe(summary: dict[str, Any]) -> str:
    """What a user wants to see of a review: each transition, the artifacts, what is next."""
    lines = [
        f"\n{FLOW_NAME} finished; captured by aimops (project {PROJECT}):",
        f"  run        {summary['run']}",
        f"  version    {summary['model_version']}",
    ]
    lines += [f"  - {transition_line(done)}" for done in summary["transitions"]]
    lines.append(f"  artifacts  {artifact_key('lifecycle', MODEL_NAME)} (+ -table, -link)")
    version = summary["model_version"].removeprefix(VERSION_URN_PREFIX)
    lines.append(f"  next: aimops history {summary['model_version']}")
    lines.append(f"        python dags_examples/flows/ramp_flow.py --model-version {version}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "model_version",
        nargs="?",
        default=MODEL_VERSION,
        help="name/3, its URN, name@alias (default: the newest version)",
    )
    arguments = parser.parse_args()
    state = review_model_prefect(model_version=arguments.model_version, return_state=True)
    if not state.is_completed():
        print(
            f"\n{FLOW_NAME} did not publish {arguments.model_version}: {state.message}\n"
            "  python dags_examples/flows/evaluate_flow.py records the gated evaluation and the"
            " data-quality check a review asks for (and a comparison, with its own champion: once"
            " a version is published, a review asks for one with that version)"
        )
        raise SystemExit(1)
    print(describe(state.result()))


if __name__ == "__main__":
    main()
