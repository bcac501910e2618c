"""The ``aimops`` command line: the store, runs, lineage, history, evaluations, the spool, models
and the model lifecycle (:mod:`aimops.cli_lifecycle`: models list, show and sync, review,
approve, reject, publish, deprecate)
and traffic ramps (:mod:`aimops.cli_ramps`: ramp, ramp status, resume, abort, deramp).

Every listing takes ``--json``; ``--store URL`` overrides ``AIMOPS_STORE_URL``. Failures print
one line to stderr and exit 1 (2 for usage errors), never a traceback.

Example (shell)::

    aimops runs list --limit 5
    aimops lineage 'urn:aim:dataset:iris' --downstream --depth 4 --json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aimops.errors import AimopsError, NotFoundError
from aimops.output import emit_json, emit_table, printable, say

if TYPE_CHECKING:
    from aimops.metadata.migrate import SchemaChange

F = TypeVar("F", bound=Callable[..., Any])


def store_options(function: F) -> F:
    """Add ``--store`` and ``--json`` to a command."""
    function = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(
        function
    )
    return click.option("--store", "store_url", default=None, help=STORE_HELP)(function)


STORE_HELP = (
    "Store URL (sqlite:///path or postgresql://user@host:5432/db); "
    "default $AIMOPS_STORE_URL, else $AIMOPS_HOME/aim.db."
)


def _group_option(name: str) -> str | None:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context else None
    options = root.obj if root is not None and isinstance(root.obj, dict) else {}
    value = options.get(name)
    return value if isinstance(value, str) else None


def _store_url(store_url: str | None) -> str | None:
    """The command's ``--store``, else the group's, else None (the environment decides)."""
    return store_url or _group_option("store_url")


def _open(store_url: str | None, *, create: bool | None = False) -> Any:
    from aimops.metadata import AimStore

    return AimStore.open(_store_url(store_url), create=create, actor=_group_option("actor"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aimops", prog_name="aimops")
@click.option("--store", "store_url", default=None, help=STORE_HELP)
@click.option("--actor", default=None, help="Who is acting, recorded on writes (default: OS user).")
@click.pass_context
def cli(context: click.Context, store_url: str | None, actor: str | None) -> None:
    """aimops: the AI-metadata store and model lifecycle for Airflow and Prefect."""
    context.obj = {"store_url": store_url, "actor": actor}


#: ``--limit`` / ``--offset``: what a database's 64-bit integer holds.
COUNT = click.IntRange(min=0, max=2**63 - 1)


@cli.command("init")
@store_options
def init_command(store_url: str | None, as_json: bool) -> None:
    """Create the AIM store (or bring its schema up to date, or repair its version record).

    An empty file or a database without aimops' tables gets the schema (beside any other
    tables); a damaged version record is rewritten when the tables match this aimops.
    """
    from aimops.metadata import AimStore

    store = AimStore.open_unchecked(
        _store_url(store_url), create=True, actor=_group_option("actor")
    )
    change = store.change_schema(create=True, repair=True)
    _report_schema(store.label, change, as_json, "AIM store ready at {store} (schema {schema})")


@cli.group("db")
def db_group() -> None:
    """Schema maintenance."""


@db_group.command("upgrade")
@store_options
def db_upgrade_command(store_url: str | None, as_json: bool) -> None:
    """Upgrade the store's schema to this version of aimops."""
    from aimops.metadata import AimStore

    store = AimStore.open_unchecked(_store_url(store_url), actor=_group_option("actor"))
    change = store.change_schema(create=False)
    _report_schema(store.label, change, as_json, "AIM store at {store} is at schema {schema}")


def _report_schema(label: str, change: SchemaChange, as_json: bool, template: str) -> None:
    """One line (or JSON) on where the schema is, and what was done to get it there."""
    data: dict[str, Any] = {"store": label, "schema": change.revision, "change": change.action}
    if change.note:
        data["note"] = change.note
    _report(data, as_json, template + ("; {note}" if change.note else ""))


def _report(data: dict[str, Any], as_json: bool, template: str) -> None:
    if as_json:
        emit_json(data)
    else:
        say(template.format(**data))


@cli.group("runs")
def runs_group() -> None:
    """Pipeline runs: Airflow DAG runs, Prefect flow runs, Python runs."""


@runs_group.command("list")
@store_options
@click.option("--limit", default=100, show_default=True, type=COUNT)
@click.option("--offset", default=0, show_default=True, type=COUNT)
def runs_list_command(store_url: str | None, as_json: bool, limit: int, offset: int) -> None:
    """List runs, newest first."""
    from aimops.metadata.views import list_runs

    runs = list_runs(_open(store_url), limit=limit, offset=offset)
    if as_json:
        emit_json(runs)
        return
    columns = ["urn", "pipeline", "orchestrator", "status", "started_at", "ended_at"]
    emit_table(runs, columns, "no runs recorded")


@runs_group.command("show")
@click.argument("urn")
@store_options
def runs_show_command(urn: str, store_url: str | None, as_json: bool) -> None:
    """Show one run with its steps, attempts, inputs and outputs."""
    from aimops.metadata.views import run_details

    details = run_details(_open(store_url), urn)
    if details is None:
        raise NotFoundError(f"no run {urn} in the store")
    if as_json:
        emit_json(details)
        return
    started, ended = details["started_at"] or "-", details["ended_at"] or "-"
    say(f"{details['urn']}  {details['status']}  {started} -> {ended}")
    rows = [
        {
            **step,
            "tries": len(step["attempts"]),
            "inputs": [item["urn"] for item in step["inputs"]],
            "outputs": [item["urn"] for item in step["outputs"]],
        }
        for step in sorted(details["steps"], key=_step_order)
    ]
    columns = ["task_id", "map_index", "state", "native_state", "tries", "inputs", "outputs"]
    emit_table(rows, columns, "no steps recorded")
    if details["subruns"]:
        say("runs started inside it:")
        emit_table(details["subruns"], ["urn", "pipeline", "status"], "")


def _step_order(step: dict[str, Any]) -> tuple[str, int]:
    index = step["map_index"]
    return step["task_id"], -1 if index is None else index


@cli.command("lineage")
@click.argument("urn")
@click.option("--upstream", is_flag=True, help="Only what it came from.")
@click.option("--downstream", is_flag=True, help="Only what came of it.")
@click.option("--depth", default=5, show_default=True, type=click.IntRange(0, 50))
@click.option("--no-edges", is_flag=True, help="Only the entities reached, not the edges.")
@store_options
def lineage_command(
    urn: str,
    upstream: bool,
    downstream: bool,
    depth: int,
    no_edges: bool,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Show the lineage around URN (both directions unless one is given)."""
    if upstream and downstream:
        raise click.UsageError("choose one of --upstream and --downstream (neither: both ways)")
    direction = "upstream" if upstream else "downstream" if downstream else None
    store = _open(store_url)
    if store.get_entity(urn) is None:
        raise NotFoundError(f"no entity {urn} in the store")
    graph = store.lineage(urn, direction=direction or "both", depth=depth, edges=not no_edges)
    if as_json:
        emit_json(graph.to_dict())
        return
    say(f"lineage of {graph.root} ({graph.direction}, depth {graph.depth})")
    emit_table([node.to_dict() for node in graph.nodes], ["depth", "type", "urn"], "no nodes")
    if no_edges:
        return
    say("")
    emit_table([edge.to_dict() for edge in graph.edges], ["src", "relation", "dst"], "no edges")


@cli.command("history")
@click.argument("urn")
@click.option("--aspect", default=None, help="Only this aspect.")
@store_options
def history_command(urn: str, aspect: str | None, store_url: str | None, as_json: bool) -> None:
    """Every version of the entity's aspects, oldest first: the audit trail."""
    store = _open(store_url)
    if store.get_entity(urn) is None:
        raise NotFoundError(f"no entity {urn} in the store")
    versions = [version.to_dict() for version in store.history(urn, aspect)]
    for version in versions:
        version.pop("urn")
    if as_json:
        emit_json(versions)
        return
    rows = [{**version, "value": _shown_value(version)} for version in versions]
    emit_table(rows, ["created_at", "aspect", "version", "actor", "value"], "no aspects recorded")


def _shown_value(version: dict[str, Any]) -> str:
    """An aspect version's value in a table cell: a transition as a sentence, else JSON."""
    value = version["value"]
    if version["aspect"] == "lifecycle" and isinstance(value, dict):
        return _short_text(_transition_text(value))
    return _short(value)


def _transition_text(value: dict[str, Any]) -> str:
    """``registered -> in_review (request_review); evidence: 2; from cli; reason: ...``."""
    parts = [f"{value.get('previous')} -> {value.get('state')} ({value.get('transition')})"]
    if value.get("evidence"):
        parts.append(f"evidence: {len(value['evidence'])}")
    origin = value.get("origin") or {}
    if origin.get("kind") not in (None, "python"):
        parts.append(f"from {origin['kind']}")
    if value.get("reason"):  # last: the one part that may be long
        parts.append(f"reason: {value['reason']}")
    return "; ".join(parts)


def _short(value: Any, width: int = 80) -> str:
    return _short_text(json.dumps(value, sort_keys=True), width)


def _short_text(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@cli.group("models")
def models_group() -> None:
    """Models and their versions (the commands: :mod:`aimops.cli_lifecycle`)."""


def html_option(function: F) -> F:
    """Add ``--html FILE``: also write the interactive report there."""
    return click.option(
        "--html",
        "html_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Also write the interactive report (one offline HTML file) here.",
    )(function)


def _write_html(
    document: dict[str, Any], html_file: str | None, as_json: bool, **title: Any
) -> None:
    """Write ``document``'s report to ``html_file`` when asked, saying where (not in JSON)."""
    if not html_file:
        return
    from aimops.monitors.reports.evaluation_page import write_report

    written = write_report([document], html_file, **title)
    if not as_json:
        say(f"report: {written}")


@cli.command("compare")
@click.argument("urns", nargs=-1, required=True)
@click.option("--dataset", default=None, help="For model versions: their evaluations on this.")
@html_option
@store_options
def compare_command(
    urns: tuple[str, ...],
    dataset: str | None,
    html_file: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Compare recorded evaluations (or model versions' latest) side by side.

    The first is the baseline. Intervals and winners come from a recorded paired comparison
    of the same versions on the same data set, when there is one.
    """
    from aimops.monitors.evaluation.recorded_comparison import compare_recorded

    comparison = compare_recorded(_open(store_url), urns, dataset=dataset)
    _write_html(comparison, html_file, as_json, title=f"aimops: {comparison['label']}")
    if as_json:
        emit_json(_comparison_summary(comparison))
        return
    _print_comparison(comparison)


def _comparison_summary(comparison: dict[str, Any]) -> dict[str, Any]:
    evaluations = [
        {key: document.get(key) for key in ("urn", "label", "model_version", "dataset", "metrics")}
        for document in comparison.get("evaluations", [])
    ]
    keep = (
        "urn", "labels", "baseline", "method", "confidence", "inconclusive", "deltas", "winners"
    )  # fmt: skip
    return {key: comparison.get(key) for key in keep} | {"evaluations": evaluations}


def _print_comparison(comparison: dict[str, Any]) -> None:
    names = list(comparison["labels"])
    values = {document.get("label"): document["metrics"] for document in comparison["evaluations"]}
    deltas = {(d["metric"], d["version"]): d for d in comparison["deltas"]}
    rows = []
    for metric, winner in _headline_first(comparison["winners"]):
        row: dict[str, Any] = {"metric": metric, "winner": winner or "none"}
        for name in names:
            value = values.get(name, {}).get(metric)
            row[name] = f"{value:.4f}" if value is not None else None
            found = deltas.get((metric, name))
            if found is not None:
                row[name] += f" ({_signed(found['delta'])}{_interval(found)})"
        rows.append(row)
    methods = sorted({f"{d['metric']} by {d['method']}" for d in comparison["deltas"]})
    intervals = ", ".join(methods) if comparison.get("confidence") else comparison["method"]
    say(f"baseline {comparison['baseline']}; intervals: {intervals}")
    emit_table(rows, ["metric", *names, "winner"], "no metrics in common")
    if comparison.get("inconclusive"):  # too little data: no winner means anything
        say(f"no winners: {comparison['inconclusive']}")


def _headline_first(winners: dict[str, str | None]) -> list[tuple[str, str | None]]:
    from aimops.monitors.evaluation.result import HEADLINE_METRICS

    def rank(metric: str) -> tuple[int, str]:
        known = metric in HEADLINE_METRICS
        return (HEADLINE_METRICS.index(metric) if known else len(HEADLINE_METRICS), metric)

    return sorted(winners.items(), key=lambda item: rank(item[0]))


def _signed(value: float) -> str:
    return f"{value:+.4f}"


def _interval(delta: dict[str, Any]) -> str:
    if delta.get("ci_low") is None or delta.get("ci_high") is None:
        return ""
    return f", [{delta['ci_low']:+.4f}, {delta['ci_high']:+.4f}]"


@cli.group("evaluations")
def evaluations_group() -> None:
    """Recorded evaluations and comparisons."""


@evaluations_group.command("list")
@store_options
@click.option("--model", default=None, help="Only evaluations of this model's versions.")
@click.option("--limit", default=100, show_default=True, type=COUNT)
def evaluations_list_command(
    store_url: str | None, as_json: bool, model: str | None, limit: int
) -> None:
    """List evaluations, newest first, with their headline metrics and gate status."""
    from aimops.monitors.evaluation.listing import list_evaluations

    found = list_evaluations(_open(store_url), model=model, limit=limit)
    if as_json:
        emit_json(found)
        return
    rows = [
        {**item, "auroc": _rounded(item["metrics"].get("auroc")), "target": item["target"]}
        for item in found
    ]
    emit_table(
        rows,
        ["urn", "kind", "target", "status", "auroc", "evaluated_at"],
        "no evaluations recorded",
    )


def _rounded(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


@evaluations_group.command("show")
@click.argument("urn")
@html_option
@store_options
def evaluations_show_command(
    urn: str, html_file: str | None, store_url: str | None, as_json: bool
) -> None:
    """Show one evaluation: what it evaluated, its metrics and gates."""
    from aimops.monitors.evaluation.recording import load_evaluation

    document = load_evaluation(_open(store_url), urn)
    _write_html(document, html_file, as_json)
    if as_json:
        emit_json(document)
        return
    say(f"{document['urn']}  {document['kind']}  {document['status']}")
    for key in ("model_version", "dataset", "evaluated_at"):
        say(f"{key}: {document.get(key) or '-'}")
    rows = [{"metric": name, "value": value} for name, value in document["metrics"].items()]
    emit_table(rows, ["metric", "value"], "no metrics")
    for gate in document.get("gates", []):
        say(("PASS " if gate["passed"] else "FAIL ") + gate["message"])


@cli.group("checks")
def checks_group() -> None:
    """Recorded checks: data quality, drift, feature consistency, health, anomalies."""


class CheckKindType(click.ParamType[str, Any]):
    """A check kind, as the registry knows them (read when the option is used or shown)."""

    name = "kind"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return f"[{'|'.join(_check_kinds())}]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        kinds = _check_kinds()
        if value not in kinds:
            self.fail(f"{value!r} is not a check kind; kinds: {', '.join(kinds)}", param, ctx)
        return str(value)


def _check_kinds() -> list[str]:
    from aimops.monitors.checks.registry import check_kinds

    return sorted(check_kinds())


@checks_group.command("list")
@store_options
@click.option("--model", default=None, help="Only checks of this model's versions.")
@click.option(
    "--kind",
    default=None,
    type=CheckKindType(),
    help="Only checks of this kind.",
)
@click.option("--limit", default=100, show_default=True, type=COUNT)
def checks_list_command(
    store_url: str | None, as_json: bool, model: str | None, kind: str | None, limit: int
) -> None:
    """List checks, newest first, with their status and what they checked."""
    from aimops.monitors.checks.recording import list_checks

    found = list_checks(_open(store_url), model=model, kind=kind, limit=limit)
    if as_json:
        emit_json(found)
        return
    emit_table(found, ["urn", "kind", "status", "target", "created_at"], "no checks recorded")


@cli.command("metrics")
@click.argument("urn")
@click.argument("metric")
@click.option("--since", default=None, help="ISO date/time, or a span back from now: 7d, 24h, 30m.")
@store_options
def metrics_command(
    urn: str, metric: str, since: str | None, store_url: str | None, as_json: bool
) -> None:
    """The time series METRIC of URN (e.g. check.drift.drift_share on a model version)."""
    store = _open(store_url)
    if store.get_entity(urn) is None:
        raise NotFoundError(f"no entity {urn} in the store")
    points = store.get_points(urn, metric, since=_since(since))
    rows = [{"timestamp": p.timestamp.isoformat(), "value": p.value} for p in points]
    if as_json:
        emit_json(rows)
        return
    emit_table(rows, ["timestamp", "value"], f"no points of {metric} on {urn}")


def _since(text: str | None) -> Any:
    """``--since``: an ISO date/time (UTC when it has no zone) or ``<n>d``/``h``/``m``."""
    from datetime import UTC, datetime, timedelta

    if not text:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[-1] in units and text[:-1].isdigit():
        try:
            return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
        except OverflowError:  # further back than datetime reaches: everything
            return datetime.min.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO date/time nor a span like 7d, 24h or 30m",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.group("spool")
def spool_group() -> None:
    """Capture events kept locally while the store could not be reached."""


@spool_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def spool_status_command(as_json: bool) -> None:
    """How many captured events wait in the spool ($AIMOPS_HOME/spool)."""
    from aimops.metadata.capture.spool import Spool

    spool = Spool()
    _report(
        {"spool": str(spool.directory), "pending": spool.pending()},
        as_json,
        "{pending} event(s) waiting in {spool}",
    )


@spool_group.command("replay")
@store_options
def spool_replay_command(store_url: str | None, as_json: bool) -> None:
    """Replay spooled events into the store, oldest first; safe to run again at any time."""
    from aimops.metadata.capture.spool import Spool

    spool = Spool()
    store = _open(store_url, create=None)
    report = spool.replay(store)
    assert report is not None  # a waiting replay always runs
    _report(
        {"store": store.label, "spool": str(spool.directory), **report._asdict()},
        as_json,
        "replayed {applied} event(s) into {store}; {rejected} rejected; {remaining} waiting",
    )


def _register_lifecycle() -> None:
    """Import the command modules that add themselves to ``cli``, in order. One being
    imported right now (it imported this module first) stops the loop; it calls this again
    when it is done, for the rest."""
    import importlib

    for name in ("aimops.cli_lifecycle", "aimops.cli_ramps"):
        module = sys.modules.get(name)
        if module is not None and not hasattr(module, "register"):
            return
        importlib.import_module(name)


if __name__ != "__main__":  # as a script, the block at the end runs the imported module
    _register_lifecycle()


def _is_text(argument: str) -> bool:
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: bytes that were not UTF-8
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning aimops errors into one line on stderr."""
    for number, argument in enumerate(sys.argv[1:] if argv is None else argv, start=1):
        if not argument.isascii() and not _is_text(argument):
            shown = printable(argument[:80])
            click.echo(f"aimops: error: argument {number} ({shown}) is not valid UTF-8", err=True)
            return 2
    try:
        result = cli.main(args=argv, prog_name="aimops", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aimops: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except AimopsError as exc:
        click.echo(f"aimops: error: {printable(str(exc))}", err=True)
        return 1
    except OSError as exc:  # a file the command was told to write or read (--html, a table)
        click.echo(f"aimops: error: {printable(str(exc))}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # python -m aimops.cli: the module as imported, commands and all
    from aimops.cli import main as imported_main

    sys.exit(imported_main())
