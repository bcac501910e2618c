"""``review_model``: review a model version on its recorded evidence, approve it by policy,
publish it.

request_review → approve_by_policy → publish, for the model version named in the run's
configuration (``{"model_version": "breast_cancer_classifier/3"}`` or its URN). Each task is an
aimops lifecycle operator: a guarded, audited transition of the version in the AIM store,
mirrored to MLflow's registry as the tag ``aimops.lifecycle_state``.

- **request_review** asks the evidence policy (``default``): a gated evaluation of the version
  that passed, a passing data-quality check on it (and no failing quality or drift check
  since), and, when another version of the model is published, a comparison with it whose gates
  passed. ``evaluate_models`` records all three for its challenger. Missing evidence fails the
  task at once, naming each missing piece; nothing changes.
- **approve_by_policy** approves as ``policy:default`` after judging the evidence again (four
  eyes: the policy is not the actor who asked). For a person's approval in Airflow's UI, use
  ``aimops.operators.human_approval.AwaitModelApprovalOperator`` instead.
- **publish** makes the version ``published``.

Each task's "Model version" link opens the version's page: its state, the lifecycle history
with actors and reasons, the evidence, its evaluations and checks. ``aimops history URN`` is the
same audit trail in a terminal.

Run it: ``airflow dags test review_model -c '{"model_version": "breast_cancer_classifier/3"}'``.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from aimops.operators.lifecycle import (
    ApproveModelOperator,
    PublishModelOperator,
    RequestReviewOperator,
)

DAG_ID = "review_model"
VERSION = "{{ params.model_version }}"

DOC_MD = """
# Review, approve and publish a model version

Trigger with the version to move: `{"model_version": "breast_cancer_classifier/3"}` (or its
URN, `urn:aim:modelVersion:breast_cancer_classifier/3`).

1. **request_review**: the evidence policy looks for a passing gated evaluation, a passing
   data-quality check, and a passing comparison with the published version, if any. A red task
   names what is missing; the version stays `registered`.
2. **approve_by_policy**: the policy approves (actor `policy:default`, never the requester).
3. **publish**: `publishable` → `published`.

A refused transition is not retried: it would be refused again. Each task's **Model version**
link opens the version's page with its lifecycle history.
"""


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["aimops", "aimops:project=churn-demo", "lifecycle"],
    doc_md=DOC_MD,
    params={
        "model_version": Param(
            type="string",
            minLength=3,
            description="the version to review: name/version or urn:aim:modelVersion:...",
        ),
        "reason": Param("reviewed by the review_model DAG", type="string"),
    },
)
def review_model() -> None:
    review = RequestReviewOperator(
        task_id="request_review",
        doc_md="Asks for a review: the evidence policy must find every piece it asks for.",
        model_version=VERSION,
        reason="{{ params.reason }}",
    )
    approve = ApproveModelOperator(
        task_id="approve_by_policy",
        doc_md="The policy judges the evidence again and approves as policy:default.",
        model_version=VERSION,
        policy="default",
    )
    publish = PublishModelOperator(
        task_id="publish",
        doc_md="Publishes the approved version.",
        model_version=VERSION,
        reason="{{ params.reason }}",
    )
    review >> approve >> publish


review_model()
