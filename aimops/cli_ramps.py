"""Traffic ramps on the command line: ``ramp``, ``ramp status``, ``resume``, ``abort`` and
``deramp`` (registered on :data:`aimops.cli.cli` by :func:`register`).

``aimops ramp URN`` reconciles, as Argo Rollouts' controller does: a version with no active
ramp in the environment gets one (the schedule's first weight, the champion the rest); a
version whose ramp is under way gets what is due (after the bake time, an analysis and its
decision; before it, how long is left). Run it again, from cron or by hand, until the ramp
is over, or give ``--wait`` to loop until it completes, rolls back, is aborted or pauses.

Every action goes through :func:`aimops.monitors.ramps.jobs.run_ramp_action` (which rewrites
the version's page), records who acted (``--actor``, else the group's, else the OS user),
why (``--reason``) and that it came from the CLI. A refused action is one line on stderr and
exit 1, and changes nothing.

Example (shell)::

    aimops ramp churn/4 --schedule 1,5,25,50,100 --bake 10m --gate latency_p99_max_ms=300
    aimops ramp churn/4                 # later: analyse the step when its bake time is over
    aimops ramp churn/4 --wait          # or: loop until the ramp is over
    aimops ramp status churn/4 --json
    aimops resume urn:aim:ramp:churn/production/2 --actor ana --reason "traffic is back"
    aimops deramp churn/4 --reason "p99 doubled"
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from aimops import cli as _cli
from aimops.cli import _open, store_options
from aimops.cli_lifecycle import logged_warnings, transition_command
from aimops.output import emit_json, say
from aimops.validation import shown

#: Where :func:`~aimops.monitors.ramps.jobs.run_ramp_action` and the engine say what they
#: could not finish (a page that could not be written).
JOB_LOGGER = "aimops.monitors.ramps"
DEFAULT_ENVIRONMENT = "production"
#: ``--wait`` sleeps what the ramp says is left of the bake time, within these bounds.
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 1.0, 60.0
#: The options of ``aimops ramp URN`` that only matter when it starts a ramp, by parameter.
START_OPTIONS = {"schedule": "--schedule", "bake": "--bake", "failure_limit": "--failure-limit",
                 "progress_deadline": "--progress-deadline", "gates": "--gate",
                 "deprecate_previous": "--deprecate-previous", "actor": "--actor",
                 "reason": "--reason"}  # fmt: skip
#: ``ramp status`` shows the newest analyses, this many.
SHOWN_ANALYSES = 5
#: The longest bake time or progress deadline: a year.
MAX_DURATION_HOURS = 366 * 24
MAX_DURATION_SECONDS = MAX_DURATION_HOURS * 3600.0
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_DECISIONS = {"advance": "advanced", "promote": "promoted", "roll_back": "rolled back",
              "hold": "held", "pause": "paused"}  # fmt: skip


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``30s``, ``10m`` or ``2h`` (ValueError otherwise).

    Example:
        >>> parse_duration("90"), parse_duration("30s"), parse_duration("10m"), parse_duration("2h")
        (90.0, 30.0, 600.0, 7200.0)
    """
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"{shown(text)} is not a duration: give seconds (90), or 30s, 10m, 2h")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if not seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"{shown(text)} is too long: a duration is at most {MAX_DURATION_HOURS}h")
    return seconds


class Duration(click.ParamType[float, Any]):
    """A duration option: ``90``, ``30s``, ``10m``, ``2h``, as seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Schedule(click.ParamType[list[int], Any]):
    """``--schedule 1,5,25,50,100``: whole percents (the order is the engine's to judge)."""

    name = "schedule"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[int]:
        if isinstance(value, list):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if not all(re.fullmatch(r"\d{1,3}", part) for part in parts):
            self.fail(
                f"{shown(value)} is not a list of whole percents like 1,5,25,50,100", param, ctx
            )
        return [int(part) for part in parts]


def parse_gates(pairs: Sequence[str]) -> dict[str, Any] | None:
    """``--gate NAME=VALUE`` options as the engine's gates (which checks names and limits).

    A number for a limit; ``none`` drops an optional comparison; ``check_kinds`` takes a
    comma-separated list; ``metric:NAME=MIN..MAX`` bounds a recorded metric (either side may be
    left out). ValueError names a pair that is not ``NAME=VALUE``.

    Example:
        >>> parse_gates(["min_requests=50", "latency_p99_max_ratio=none",
        ...              "check_kinds=drift", "metric:auroc=0.8.."])
        {'min_requests': 50, 'latency_p99_max_ratio': None, 'check_kinds': ['drift'], \
'metric_bounds': {'auroc': [0.8, None]}}
    """
    if not pairs:
        return None
    gates: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = (part.strip() for part in pair.partition("="))
        if not equals or not name:
            raise ValueError(f"{shown(pair)} is not NAME=VALUE (e.g. latency_p99_max_ms=300)")
        if name.startswith("metric:"):
            low, dots, high = text.partition("..")
            if not dots:
                raise ValueError(
                    f"{shown(pair)}: a metric's bounds are MIN..MAX (either may be empty)"
                )
            bounds = gates.setdefault("metric_bounds", {})
            bounds[name.removeprefix("metric:")] = [_gate_value(low, pair), _gate_value(high, pair)]
        elif name == "check_kinds":
            gates[name] = [kind.strip() for kind in text.split(",") if kind.strip()]
        else:
            gates[name] = _gate_value(text, pair)
    return gates


def _gate_value(text: str, pair: str) -> int | float | None:
    if text.lower() in ("", "none"):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{shown(pair)}: {shown(text)} is not a number (or none)") from None
    if not math.isfinite(value):
        raise ValueError(f"{shown(pair)}: {shown(text)} is not a finite number")
    return value


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it names none of its commands, is the argument of
    the ``default`` command: ``aimops ramp URN`` runs ``aimops ramp reconcile URN`` while
    ``aimops ramp status URN`` stays a command. Its help shows the default's options."""

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "URN [OPTIONS]")
        formatter.write_usage(ctx.command_path, "COMMAND URN [OPTIONS]", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        default = self.commands[self.default]
        records = [found for param in default.get_params(ctx) if isinstance(param, click.Option)
                   and (found := param.get_help_record(ctx)) is not None]  # fmt: skip
        with formatter.section("Options"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


def env_option(default: str | None, text: str) -> Callable[[Callable[..., Any]], Any]:
    """``--env NAME``: the deployment's environment."""
    return click.option(
        "--env", "environment", default=default, show_default=default is not None,
        metavar="NAME", help=text,
    )  # fmt: skip


ENV_HELP = "The deployment's environment."


@click.group(
    "ramp", cls=DefaultCommandGroup, default="reconcile",
    context_settings={"help_option_names": ["-h", "--help"]},
)  # fmt: skip
def ramp_group() -> None:
    """Ramp a published model version's traffic step by step (Argo Rollouts style).

    \b
    aimops ramp URN            start URN's ramp, or do what is due in it
    aimops ramp status URN     show the ramp, changing nothing

    URN is a model version (NAME/VERSION or its URN), a ramp URN
    (urn:aim:ramp:NAME/ENV/N) or a deployment URN (its newest ramp).
    """


@transition_command("reconcile")
@env_option(DEFAULT_ENVIRONMENT, ENV_HELP)
@click.option("--schedule", type=Schedule(), default="1,5,25,50,100", show_default=True,
              help="The challenger's weights step by step, in percent, ending at 100.")  # fmt: skip
@click.option("--bake", type=Duration(), default="10m", show_default=True,
              help="How long each step serves before its analysis: 90, 30s, 10m, 2h.")  # fmt: skip
@click.option("--failure-limit", type=click.IntRange(min=1), default=1, show_default=True,
              help="Failed analyses (in a row) before the ramp rolls back.")  # fmt: skip
@click.option("--progress-deadline", type=Duration(), default=None,
              help="How long a step may stay inconclusive before the ramp pauses "
              "[default: 4 bake times, at least 60 s].")  # fmt: skip
@click.option("--gate", "gates", multiple=True, metavar="NAME=VALUE",
              help="A gate of every analysis, e.g. latency_p99_max_ms=300, min_requests=500, "
              "success_rate_min=0.995, latency_p99_max_ratio=none, check_kinds=drift, "
              "metric:auroc=0.8.. (repeat it).")  # fmt: skip
@click.option("--deprecate-previous", is_flag=True,
              help="Deprecate the previous champion when the ramp completes.")  # fmt: skip
@click.option("--router", default=None, metavar="NAME",
              help="The router that applies the weights: file, webhook or a plugin's name "
              "[default: $AIMOPS_ROUTER, else file].")  # fmt: skip
@click.option("--wait", is_flag=True,
              help="Loop until the ramp completes, rolls back, is aborted or pauses, one line "
              "per step (with --json: one JSON line per step).")  # fmt: skip
@click.pass_context
def reconcile_command(
    ctx: click.Context,
    version: str,
    actor: str | None,
    reason: str | None,
    store_url: str | None,
    as_json: bool,
    environment: str,
    schedule: list[int],
    bake: float,
    failure_limit: int,
    progress_deadline: float | None,
    gates: tuple[str, ...],
    deprecate_previous: bool,
    router: str | None,
    wait: bool,
) -> int:
    """(the default) Start URN's ramp, or do what is due in it.

    With no active ramp of the version in the environment, start one: the schedule's first
    weight to the version, the rest to the champion (no champion: an initial rollout at
    100%). With one, advance it: after the bake time, analyse the step's window and pass
    (next weight; at 100% the version becomes champion), fail (roll back to the champion)
    or stay inconclusive (hold; pause past the progress deadline); before it, say how long
    is left. The start options are ignored (with a warning) once the ramp is under way.

    Exit status: 0, or with --wait 0 when the ramp completed and 1 when it ended otherwise
    (rolled back, aborted or paused).
    """
    try:
        gate_values = parse_gates(gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--gate'") from None
    store = _open(store_url)
    action, target = _reconcile_action(store, version, environment)
    if action == "start":
        options: dict[str, Any] = {
            "environment": environment, "schedule": schedule, "bake_time": bake,
            "failure_limit": failure_limit, "progress_deadline": progress_deadline,
            "gates": gate_values, "deprecate_previous": deprecate_previous, "actor": actor,
            "reason": reason, "origin": {"kind": "cli"}, "router": router,
        }  # fmt: skip
    else:
        _warn_ignored(ctx, target)
        options = {"environment": environment, "router": router}
    done = _run(store, action, target, options)
    reports = [done]
    _show(done, as_json, wait)
    while wait and done["status"] == "ramping":
        pause(_poll_seconds(done))
        done = _run(store, "advance", done["ramp"]["urn"], {"router": router})
        reports.append(done)
        if done["did"] != "waiting":
            _show(done, as_json, wait)
    if not as_json:
        _say_page(reports)
    return 0 if not wait or done["status"] == "complete" else 1


ramp_group.add_command(reconcile_command)


def pause(seconds: float) -> None:
    """Sleep between two advances of ``--wait`` (what the serving fleet serves meanwhile is
    the next analysis' window)."""
    time.sleep(seconds)


def _poll_seconds(done: Mapping[str, Any]) -> float:
    waiting = done.get("waiting_seconds")
    if waiting is None:  # held: the next analysis is a bake time after this one
        waiting = float(done["ramp"]["bake_seconds"])
    return max(MIN_POLL_SECONDS, min(float(waiting), MAX_POLL_SECONDS))


def _reconcile_action(store: Any, target: str, environment: str) -> tuple[str, str]:
    """(``start`` or ``advance``, what to act on) for ``aimops ramp URN``."""
    from aimops.metadata.lifecycle.deployments import environment_name
    from aimops.metadata.lifecycle.queries import version_urn
    from aimops.metadata.lifecycle.ramps import latest_ramp

    if target.startswith(("urn:aim:ramp:", "urn:aim:deployment:")):
        return "advance", target
    urn = version_urn(target)
    model, number = urn.segments
    found = latest_ramp(store, model, environment_name(environment), version=number)
    if found is not None and found.active:
        return "advance", found.urn
    return "start", target


def _warn_ignored(ctx: click.Context, ramp: str) -> None:
    given = [
        flag for name, flag in START_OPTIONS.items()
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    ]  # fmt: skip
    if given:
        say(f"aimops: warning: ignoring {', '.join(given)}: they set up a new ramp, and this "
            f"advances {ramp}", err=True)  # fmt: skip


def _run(store: Any, action: str, target: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run the ramp job, printing what it could not finish as warnings on stderr."""
    from aimops.monitors.ramps.jobs import run_ramp_action

    with logged_warnings(JOB_LOGGER) as warnings:
        done = run_ramp_action(store, action, target, **options)
    for warning in warnings:
        say(f"aimops: warning: {warning}", err=True)
    mirrored = str(done.get("mlflow") or "")
    if mirrored.startswith("failed"):
        model = done["ramp"]["model"] if "ramp" in done else _model_of(done["urn"])
        say(f"aimops: warning: MLflow's registry could not be updated ({mirrored}); run "
            f"'aimops models sync {model}' to bring it in line", err=True)  # fmt: skip
    return done


def _model_of(urn: str) -> str:
    from aimops.metadata.urns import Urn

    return Urn.parse(urn).segments[0]


def _show(done: dict[str, Any], as_json: bool, wait: bool) -> None:
    if as_json and wait:  # JSON Lines: one document per step, as they happen
        click.echo(json.dumps(done, default=str))
    elif as_json:
        emit_json(done)
    else:
        for line in ramp_lines(done):
            say(line)


def _say_page(reports: Sequence[Mapping[str, Any]]) -> None:
    pages = [report["page"] for report in reports if report.get("page")]
    if pages:
        say(f"page: {pages[-1]}")


def ramp_lines(done: Mapping[str, Any]) -> list[str]:
    """What people read of a ramp action (a :class:`~aimops.monitors.ramps.engine.RampReport`'s
    dict): where the ramp stands, then the analysis it ran with each gate, the alert sent.

    Example:
        >>> ramp = {"urn": "urn:aim:ramp:m/production/2", "model": "m",
        ...         "environment": "production", "version": "4", "champion": "3",
        ...         "status": "ramping", "schedule": [1, 5, 100], "step": 1, "bake_seconds": 600,
        ...         "note": "step 1 of 3 (1%) passed: 1% -> 5%"}
        >>> analysis = {"step": 0, "weight": 1, "verdict": "pass", "decision": "advance",
        ...             "requests": {"m/4": 150, "m/3": 9850}, "gates": [
        ...             {"name": "latency_p99", "status": "pass", "detail": "120 ms <= 500 ms"}]}
        >>> for line in ramp_lines({"did": "advanced", "ramp": ramp, "analysis": analysis,
        ...                         "waiting_seconds": 600.0}):
        ...     print(line)
        m/4 in production: ramping, step 2 of 3 at 5% (champion m/3 95%); next analysis in 600 s
        analysis of step 1 of 3 (1%): pass, advanced; requests: m/4 150, m/3 9850
          pass latency_p99: 120 ms <= 500 ms
    """
    ramp = done["ramp"]
    lines = [headline(ramp, done.get("waiting_seconds"))]
    if done["did"] == "started":
        lines.append(f"ramp: {ramp['urn']}")
    if done.get("analysis"):
        lines += analysis_lines(ramp, done["analysis"])
    if done["did"] in ("resumed", "aborted", "nothing due") and ramp.get("note"):
        lines.append(f"note: {ramp['note']}")
    if done["did"] == "nothing due" and ramp["status"] == "paused":
        lines.append(f"nothing is due while it is paused: aimops resume {ramp['urn']} (or abort)")
    if done.get("alert"):
        lines.append(f"alert: {done['alert']}")
    return lines


def headline(ramp: Mapping[str, Any], waiting: float | None = None) -> str:
    """``churn/4 in production: ramping, step 2 of 5 at 5% (champion churn/3 95%); next
    analysis in 600 s``, or where a ramp that is over left the traffic."""
    model, version, champion = ramp["model"], ramp["version"], ramp.get("champion")
    schedule, step = [int(w) for w in ramp["schedule"]], int(ramp["step"])
    at = f"step {step + 1} of {len(schedule)}"
    weight, status = schedule[step], ramp["status"]
    before = f"{model}/{champion}" if champion else None
    if status == "ramping":
        share = (f"champion {before} {100 - weight}%" if before and weight < 100
                 else f"{before} stays champion until this step passes" if before
                 else "an initial rollout: no champion yet")  # fmt: skip
        if waiting is None:
            waiting = float(ramp["bake_seconds"])
        text = f"ramping, {at} at {weight}% ({share}); next analysis in {_seconds(waiting)}"
    elif status == "paused":
        share = f"; champion {before} {100 - weight}%" if before and weight < 100 else ""
        text = f"paused at {at} ({weight}%){share}, until a person resumes or aborts it"
    elif status == "complete":
        text = f"complete: {model}/{version} is the champion at 100%" + (
            f" (was {before})" if before else "")  # fmt: skip
    else:
        went = "rolled back" if status == "rolled_back" else str(status)
        now = f"{before} serves 100% again" if before else "no version serves it"
        text = f"{went} at {at} ({weight}%): {now}"
    return f"{model}/{version} in {ramp['environment']}: {text}"


def analysis_lines(ramp: Mapping[str, Any], analysis: Mapping[str, Any]) -> list[str]:
    """``analysis of step 1 of 5 (1%): pass, advanced; requests: ...`` and a line per gate."""
    steps = len(ramp["schedule"])
    decision = _DECISIONS.get(str(analysis["decision"]), str(analysis["decision"]))
    challenger = f"{ramp['model']}/{ramp['version']}"
    counts = sorted(analysis.get("requests", {}).items(), key=lambda item: item[0] != challenger)
    served = ", ".join(f"{name} {count}" for name, count in counts)
    lines = [
        f"analysis of step {int(analysis['step']) + 1} of {steps} ({analysis['weight']}%): "
        f"{analysis['verdict']}, {decision}; requests: {served or 'none'}"
    ]
    lines += [f"  {gate['status']} {gate['name']}: {gate['detail']}" for gate in analysis["gates"]]
    return lines


def _seconds(value: float) -> str:
    return f"{math.ceil(max(value, 0.0))} s"


@ramp_group.command("status")
@click.argument("target", metavar="URN")
@env_option(DEFAULT_ENVIRONMENT, ENV_HELP + " (for a model version).")
@store_options
def ramp_status_command(
    target: str, environment: str, store_url: str | None, as_json: bool
) -> None:
    """Show a ramp, changing nothing: its status, schedule, traffic, analyses and note.

    URN is a model version (its newest ramp in --env), a ramp URN or a deployment URN.
    """
    done = _run(_open(store_url), "status", target, {"environment": environment})
    if as_json:
        emit_json(done)
        return
    for line in status_lines(done):
        say(line)


def status_lines(done: Mapping[str, Any]) -> list[str]:
    """What ``aimops ramp status`` prints: the headline, the ramp's URN, the schedule with the
    current step in brackets, the traffic, the plan, the newest analyses with their gates
    (:data:`SHOWN_ANALYSES`), the note."""
    ramp, deployment = done["ramp"], done["deployment"]
    model, step = ramp["model"], int(ramp["step"])
    marks = [f"[{w}%]" if i == step else f"{w}%" for i, w in enumerate(ramp["schedule"])]
    weights = sorted(deployment["weights"].items(), key=lambda item: (-item[1], item[0]))
    traffic = ", ".join(f"{model}/{v} {w}%" for v, w in weights) or "nothing"
    champion = deployment.get("champion")
    lines = [
        headline(ramp, done.get("waiting_seconds")),
        f"ramp: {ramp['urn']} ({ramp['status']})",
        f"schedule: {' '.join(marks)}",
        f"traffic: {traffic}" + (f" (champion {model}/{champion})" if champion else ""),
        f"plan: bake {_seconds(float(ramp['bake_seconds']))} per step, failure limit "
        f"{ramp['failure_limit']} (failed so far: {ramp['failures']}), progress deadline "
        f"{_seconds(float(ramp['progress_deadline_seconds']))}"
        + ("; deprecates the previous champion" if ramp.get("deprecate_previous") else ""),
        f"started: {ramp['started_at']} by {ramp['actor']}"
        + (f" ({ramp['origin']['kind']})" if (ramp.get("origin") or {}).get("kind") else "")
        + (f": {ramp['reason']}" if ramp.get("reason") else ""),
    ]
    analyses = list(ramp.get("analyses") or [])
    if len(analyses) > SHOWN_ANALYSES:
        lines.append(f"({len(analyses) - SHOWN_ANALYSES} earlier analyses: --json has them all)")
    for number, analysis in enumerate(analyses, start=1):
        if number > len(analyses) - SHOWN_ANALYSES:
            first, *gates = analysis_lines(ramp, analysis)
            lines += [f"{number}. {first} (at {analysis['at']})", *gates]
    if not analyses:
        lines.append("no analysis yet")
    if ramp.get("note"):
        lines.append(f"note: {ramp['note']}")
    return lines


def _ramp_action(action: str, version: str, environment: str, actor: str | None,
                 reason: str | None, store_url: str | None, as_json: bool) -> None:  # fmt: skip
    options = {"environment": environment, "actor": actor, "reason": reason}
    done = _run(_open(store_url), action, version, options)
    if as_json:
        emit_json(done)
        return
    for line in ramp_lines(done):
        say(line)
    if done.get("page"):
        say(f"page: {done['page']}")


@transition_command("resume")
@env_option(DEFAULT_ENVIRONMENT, ENV_HELP + " (for a model version).")
def resume_command(
    version: str,
    actor: str | None,
    reason: str | None,
    store_url: str | None,
    as_json: bool,
    environment: str,
) -> None:
    """Resume a paused ramp: its step starts again, with a new window and deadline.

    URN is a ramp URN, or a model version (its newest ramp in --env).
    """
    _ramp_action("resume", version, environment, actor, reason, store_url, as_json)


@transition_command("abort")
@env_option(DEFAULT_ENVIRONMENT, ENV_HELP + " (for a model version).")
def abort_command(
    version: str,
    actor: str | None,
    reason: str | None,
    store_url: str | None,
    as_json: bool,
    environment: str,
) -> None:
    """Abort an active ramp: the version's weight to 0, the champion back to 100%.

    URN is a ramp URN, or a model version (its newest ramp in --env).
    """
    _ramp_action("abort", version, environment, actor, reason, store_url, as_json)


@transition_command("deramp")
@env_option(None, "Only this environment [default: every one the version serves].")
@click.option("--force", is_flag=True,
              help="Also de-ramp a champion, or the only version serving.")  # fmt: skip
def deramp_command(
    version: str,
    actor: str | None,
    reason: str | None,
    store_url: str | None,
    as_json: bool,
    environment: str | None,
    force: bool,
) -> None:
    """Take a model version's traffic away at once, back to the champion.

    URN is a model version's URN or NAME/VERSION. An active ramp of it is aborted. The
    champion, or the only version serving, is refused unless --force.
    """
    options = {"environment": environment, "actor": actor, "reason": reason,
               "origin": {"kind": "cli"}, "force": force}  # fmt: skip
    done = _run(_open(store_url), "deramp", version, options)
    if as_json:
        emit_json(done)
        return
    for line in deramp_lines(done, environment):
        say(line)
    if done.get("page") and done["deployments"]:
        say(f"page: {done['page']}")


def deramp_lines(done: Mapping[str, Any], environment: str | None = None) -> list[str]:
    """What people read of a de-ramp.

    Example:
        >>> deramp_lines({"urn": "urn:aim:modelVersion:churn/4", "deployments": [
        ...     {"environment": "production", "removed_weight": 25, "weights": {"3": 100},
        ...      "aborted_ramp": "urn:aim:ramp:churn/production/2"}]})
        ['churn/4: de-ramped in production (was 25%): churn/3 100%; aborted \
urn:aim:ramp:churn/production/2']
        >>> deramp_lines({"urn": "urn:aim:modelVersion:churn/4", "deployments": []})
        ['churn/4 serves no traffic; nothing to de-ramp']
    """
    from aimops.metadata.lifecycle.queries import label

    name = label(done["urn"])
    model = _model_of(done["urn"])
    if not done["deployments"]:
        where = f" in {environment}" if environment else ""
        return [f"{name} serves no traffic{where}; nothing to de-ramp"]
    lines = []
    for found in done["deployments"]:
        weights = sorted(found["weights"].items(), key=lambda item: (-item[1], item[0]))
        now = ", ".join(f"{model}/{v} {w}%" for v, w in weights) or "nothing serves it now"
        aborted = f"; aborted {found['aborted_ramp']}" if found.get("aborted_ramp") else ""
        lines.append(f"{name}: de-ramped in {found['environment']} (was "
                     f"{found['removed_weight']}%): {now}{aborted}")  # fmt: skip
    return lines


def register(cli: click.Group) -> None:
    """Add ``ramp`` (with ``ramp status``), ``resume``, ``abort`` and ``deramp`` to ``aimops``."""
    for command in (ramp_group, resume_command, abort_command, deramp_command):
        cli.add_command(command)


register(_cli.cli)  # aimops.cli imports this module for it
_cli._register_lifecycle()  # and the command modules after this one
