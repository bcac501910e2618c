"""Models and their lifecycle on the command line: ``models list``, ``models show`` (state,
traffic, champion, ramp) and ``models sync``; ``review``, ``approve``, ``reject``, ``publish``
and ``deprecate`` (registered on :data:`aimops.cli.cli` by :func:`register`).

Each transition names a model version by its URN or ``name/3``, records who acted (``--actor``,
else the group's ``--actor``, else the OS user), why (``--reason``) and that it came from the
CLI, rewrites the version's page, and mirrors the new state to MLflow's registry when one is
configured. A refused transition is one line on stderr and exit 1; so is a lost race.

Example (shell)::

    aimops review churn/3 --actor ana --reason "beats the champion on March's data"
    aimops approve churn/3 --actor bob            # four eyes: not the one who asked
    aimops approve churn/3 --policy default       # automated: acts as policy:default
    aimops publish churn/3 --json
    aimops models sync churn                      # MLflow was down: bring its tags in line
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from aimops import cli as _cli
from aimops.cli import COUNT, _group_option, _open, store_options
from aimops.errors import NotFoundError
from aimops.output import emit_json, emit_table, say

#: Where :func:`aimops.monitors.lifecycle.run_transition` says what it could not finish.
JOB_LOGGER = "aimops.monitors.lifecycle"

ACTOR_HELP = "Who acts, recorded with the transition (default: the group's --actor, else OS user)."
REASON_HELP = "Why, recorded with the transition."


def transition_command(
    name: str, reason_help: str = REASON_HELP
) -> Callable[[Callable[..., None]], click.Command]:
    """A lifecycle command: ``URN``, ``--actor`` (the command's own; it wins over the group's),
    ``--reason``, ``--store`` and ``--json``, in that order in its help."""

    def make(function: Callable[..., None]) -> click.Command:
        function = store_options(function)
        function = click.option("--reason", default=None, help=reason_help)(function)
        function = click.option("--actor", default=None, help=ACTOR_HELP)(function)
        function = click.argument("version", metavar="URN")(function)
        return click.command(name)(function)

    return make


@transition_command("review")
@click.option(
    "--policy",
    default=None,
    metavar="NAME",
    help="The evidence policy that judges the request: default, evaluation_only, a registered "
    "name or module:attribute (default: default).",
)
def review_command(
    version: str,
    actor: str | None,
    reason: str | None,
    policy: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Ask for a review: registered -> in_review.

    URN is a model version's URN or NAME/VERSION. The evidence policy must find, on record,
    a passing gated evaluation, a passing data-quality check and a passing comparison with
    the published champion (if any); whatever is missing is named.
    """
    _transition("request_review", version, actor, reason, policy, store_url, as_json)


@transition_command("approve")
@click.option(
    "--policy",
    default=None,
    metavar="NAME",
    help="Approve automatically: the policy NAME judges the evidence again and approves as "
    "policy:NAME (so no --actor with it).",
)
def approve_command(
    version: str,
    actor: str | None,
    reason: str | None,
    policy: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Approve a review: in_review -> publishable.

    URN is a model version's URN or NAME/VERSION. Four eyes: the approver is not who
    requested the review.
    """
    if policy is not None and (actor or _group_option("actor")):
        raise click.UsageError(
            "--policy approves automatically, acting as policy:NAME; a person approves with "
            "--actor and without --policy: give one of them"
        )
    _transition("approve", version, actor, reason, policy, store_url, as_json)


@transition_command("reject", "Why it goes back to registered (required).")
def reject_command(
    version: str, actor: str | None, reason: str | None, store_url: str | None, as_json: bool
) -> None:
    """Reject a review: in_review -> registered.

    URN is a model version's URN or NAME/VERSION; --reason is required.
    """
    _transition("reject", version, actor, reason, None, store_url, as_json)


@transition_command("publish")
def publish_command(
    version: str, actor: str | None, reason: str | None, store_url: str | None, as_json: bool
) -> None:
    """Publish: publishable -> published.

    URN is a model version's URN or NAME/VERSION.
    """
    _transition("publish", version, actor, reason, None, store_url, as_json)


@transition_command("deprecate")
@click.option(
    "--force",
    is_flag=True,
    help="Also when the version is a champion or the only version serving a deployment "
    "(its traffic is taken away; the deployment may serve nothing).",
)
def deprecate_command(
    version: str,
    actor: str | None,
    reason: str | None,
    force: bool,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Retire: any state but deprecated -> deprecated.

    URN is a model version's URN or NAME/VERSION. A version that serves traffic is
    de-ramped first (its weight to 0, the champion back to 100%); the champion or the only
    version serving a deployment is refused unless --force.
    """
    _transition("deprecate", version, actor, reason, None, store_url, as_json, force=force)


def _transition(
    action: str,
    version: str,
    actor: str | None,
    reason: str | None,
    policy: str | None,
    store_url: str | None,
    as_json: bool,
    *,
    force: bool = False,
) -> None:
    """Run the transition job and say how it went (what it could not finish: on stderr)."""
    from aimops.monitors.lifecycle import run_transition

    store = _open(store_url)
    with logged_warnings(JOB_LOGGER) as warnings:
        done = run_transition(
            store, version, action, actor=actor, reason=reason, origin={"kind": "cli"},
            policy=policy, force=force,
        )  # fmt: skip
    for warning in warnings:
        say(f"aimops: warning: {warning}", err=True)
    if as_json:
        emit_json(done)
        return
    for line in transition_lines(done):
        say(line)


def transition_lines(done: dict[str, Any]) -> list[str]:
    """What people read of a transition's outcome.

    Example:
        >>> transition_lines({"urn": "urn:aim:modelVersion:churn/3", "previous": "in_review",
        ...     "state": "publishable", "transition": "approve", "actor": "bob",
        ...     "page": "/r/churn-3.html", "evidence": ["urn:aim:evaluation:e1"]})
        ['churn/3: in_review -> publishable (approve by bob)', 'page: /r/churn-3.html', \
'evidence: urn:aim:evaluation:e1']
    """
    from aimops.metadata.lifecycle.queries import label

    lines = [
        f"{label(done['urn'])}: {done['previous']} -> {done['state']} "
        f"({done['transition']} by {done['actor']})"
    ]
    for found in done.get("deramped") or ():
        serving = ", ".join(f"{v} {w}%" for v, w in found["weights"].items()) or "nothing"
        lines.append(
            f"de-ramped first in {found['environment']} (was {found['removed_weight']}%); "
            f"it serves now: {serving}"
        )
    if done.get("page"):
        lines.append(f"page: {done['page']}")
    if done.get("evidence"):
        lines.append(f"evidence: {', '.join(done['evidence'])}")
    return lines


class _Collected(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextmanager
def logged_warnings(name: str) -> Iterator[list[str]]:
    """Collect the warnings the logger ``name`` emits meanwhile (and keep them from being
    printed twice by logging's own last-resort handler); the CLI prints them its way."""
    logger = logging.getLogger(name)
    found: list[str] = []
    handler, propagate = _Collected(found), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@click.command("sync")
@click.argument("name")
@store_options
def models_sync_command(name: str, store_url: str | None, as_json: bool) -> int:
    """Mirror NAME's lifecycle states to MLflow's registry.

    Sets the tag aimops.lifecycle_state on every version of NAME that MLflow's registry holds
    to its state here (run it after a transition warned that MLflow could not be updated).
    MLflow is $MLFLOW_REGISTRY_URI / $MLFLOW_TRACKING_URI, else the local registry under
    $AIMOPS_HOME/mlflow.

    Exit status: 0 when every version MLflow holds is in line, or when no MLflow is
    configured (there is nothing to mirror; it says so); 1 when MLflow could not be reached
    or updated (nothing changed here: run it again when MLflow answers).
    """
    from aimops.metadata.lifecycle.mlflow_mirror import mirror_model
    from aimops.metadata.urns import model_urn

    store = _open(store_url)
    if store.get_entity(model_urn(name)) is None:
        raise NotFoundError(f"no model {name!r} in the store")
    outcome = mirror_model(store, name)
    registry = shown_uri(outcome.registry) if outcome.registry else None
    data = {
        "model": name,
        "mlflow": outcome.summary,
        "registry": registry,
        "updated": list(outcome.updated),
        "in_line": list(outcome.in_line),
        "absent": list(outcome.absent),
        "error": outcome.error,
        "states": outcome.states,
    }
    if outcome.error is not None:
        say(
            f"aimops: error: could not sync {name} with MLflow at {registry}: {outcome.error}; "
            "nothing changed in the AIM store, run it again when MLflow answers",
            err=True,
        )
        if as_json:
            emit_json(data)
        return 1
    if as_json:
        emit_json(data)
        return 0
    for line in sync_lines(name, registry, outcome.updated, outcome.in_line, outcome.absent,
                           outcome.states, configured=outcome.configured):  # fmt: skip
        say(line)
    return 0


def sync_lines(
    name: str,
    registry: str | None,
    updated: Sequence[str],
    in_line: Sequence[str],
    absent: Sequence[str],
    states: dict[str, str],
    *,
    configured: bool = True,
) -> list[str]:
    """What people read of a sync.

    Example:
        >>> for line in sync_lines("churn", "sqlite:///m.db", ["3"], ["1"], ["4"],
        ...                        {"1": "published", "3": "in_review", "4": "registered"}):
        ...     print(line)
        churn in MLflow's registry at sqlite:///m.db:
        updated: 3 -> in_review
        in line: 1 (published)
        not in MLflow: 4
    """
    if not configured:
        return [
            "MLflow is not configured (no MLFLOW_TRACKING_URI or MLFLOW_REGISTRY_URI, no "
            f"local registry under $AIMOPS_HOME/mlflow): nothing to sync for {name}"
        ]
    if not updated and not in_line:
        here = f" (versions here: {', '.join(absent)})" if absent else ""
        return [f"MLflow's registry at {registry} holds no version of {name}: nothing to tag{here}"]
    lines = [f"{name} in MLflow's registry at {registry}:"]
    if updated:
        lines.append("updated: " + ", ".join(f"{v} -> {states.get(v, '?')}" for v in updated))
    if in_line:
        lines.append("in line: " + ", ".join(f"{v} ({states.get(v, '?')})" for v in in_line))
    if absent:
        lines.append("not in MLflow: " + ", ".join(absent))
    return lines


def shown_uri(uri: str) -> str:
    """An MLflow URI fit to print: credentials hidden.

    Example:
        >>> shown_uri("http://ml:s3cret@mlflow:5000"), shown_uri("databricks")
        ('http://ml:***@mlflow:5000', 'databricks')
    """
    if "://" not in uri:
        return uri
    from aimops.metadata.engine import redact

    return redact(uri)


@click.command("list")
@store_options
@click.option("--limit", default=100, show_default=True, type=COUNT)
@click.option("--offset", default=0, show_default=True, type=COUNT)
def models_list_command(store_url: str | None, as_json: bool, limit: int, offset: int) -> None:
    """List models with their number of versions."""
    from aimops.metadata.views import list_models

    models = list_models(_open(store_url), limit=limit, offset=offset)
    if as_json:
        emit_json(models)
        return
    emit_table(models, ["name", "versions", "urn", "created_at"], "no models recorded")


@click.command("show")
@click.argument("name")
@store_options
def models_show_command(name: str, store_url: str | None, as_json: bool) -> None:
    """Show a model's versions: lifecycle state, traffic, and what produced each."""
    from aimops.metadata.views import model_details

    details = model_details(_open(store_url), name)
    if details is None:
        raise NotFoundError(f"no model {name!r} in the store")
    if as_json:
        emit_json(details)
        return
    say(f"model {details['name']} ({details['urn']})")
    rows = [_version_row(version) for version in details["versions"]]
    emit_table(rows, VERSION_COLUMNS, "no versions")


VERSION_COLUMNS = ("version", "state", "traffic", "champion", "ramp", "created_at", "uri",
                   "produced_by")  # fmt: skip


def _version_row(version: dict[str, Any]) -> dict[str, Any]:
    """A model version as ``models show`` prints it: ``production 25%``, ``yes
    (production)``, ``-`` for no ramp."""
    return {
        **version,
        "traffic": version["traffic_label"],
        "champion": version["champion_label"] if version["champion"] else "",
        "ramp": None if version["ramp"] == "none" else version["ramp"],
    }


def register(cli: click.Group, models: click.Group) -> None:
    """Add the lifecycle commands to the ``aimops`` group and ``list``, ``show`` and ``sync``
    to ``models``."""
    for command in (review_command, approve_command, reject_command, publish_command,
                    deprecate_command):  # fmt: skip
        cli.add_command(command)
    for command in (models_list_command, models_show_command, models_sync_command):
        models.add_command(command)


register(_cli.cli, _cli.models_group)  # aimops.cli imports this module for it
_cli._register_lifecycle()  # and the command modules after this one
