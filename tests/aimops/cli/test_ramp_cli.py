"""Traffic ramps on the command line: ``ramp`` (start, advance, ``--wait``), ``ramp status``,
``resume``, ``abort`` and ``deramp``, against a real SQLite store, the file router and serving
logs a simulated fleet writes.

Run through ``aimops.cli.main`` in-process, as the lifecycle CLI tests do (click's runner would
hide what ``main`` does with errors: the one line and the exit code), with ``--store`` naming a
SQLite file of the test's own. The fleet (:class:`Fleet`) serves a window of requests split by
the weights in the traffic file, as a serving layer reading that file would; ``--wait`` is
driven by letting the fleet serve while the command waits.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from aimops.cli import main
from aimops.metadata import AimStore
from aimops.metadata.recording import record_model_version

RAMP_2 = "urn:aim:ramp:churn/production/2"
#: What ``--wait`` sleeps at least between two analyses (aimops.cli_ramps.MIN_POLL_SECONDS;
#: aimops.cli_ramps is imported through aimops.cli, which registers it).
MIN_POLL = 1.0
REPORT_KEYS = {"did", "status", "ramp", "deployment", "analysis", "waiting_seconds", "router",
               "mlflow", "alert", "page"}  # fmt: skip
TABLES = ("aim_entities", "aim_aspects", "aim_edges", "aim_points")


class Cli:
    """``aimops ARGS --store URL`` in this process: (exit code, stdout, stderr)."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url, self.capsys = url, capsys

    def __call__(self, *args: str, store: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--store", self.url] if store else list(args))
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, *args: str) -> list[str]:
        """The lines a command that succeeded printed (and that it warned of nothing)."""
        code, out, err = self(*args)
        assert code == 0, (out, err)
        assert err == ""
        return out.splitlines()

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def refused(self, *args: str, code: int = 1) -> str:
        """The one line a refused command prints (and that it printed nothing else)."""
        got, out, err = self(*args)
        assert got == code, (out, err)
        assert out == "" and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        return err.strip()


class Half:
    """A model: P(class 1) is 0.5 for every row."""

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.full((len(rows), 2), 0.5)


class Fleet:
    """A serving fleet: serves a window of requests split by the traffic file's weights, and
    logs them where the ramp's analysis reads them."""

    def __init__(self, logs: Path, traffic: Path) -> None:
        self.logs, self.traffic = logs, traffic
        self.faults: dict[str, dict[str, Any]] = {}
        self.waits: list[float] = []
        self.seed = 0

    def weights(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in json.loads(self.traffic.read_text())["weights"].items()}

    def serve(self, requests: int = 2000) -> None:
        """A window of 50 ms from now, over before this returns (so inside the next analysis'
        window, which runs from the step's start to the moment it is analysed)."""
        from aimops.monitors.serving.windows import simulate_serving_window

        weights = self.weights()
        start = datetime.now(UTC)
        self.seed += 1
        simulate_serving_window(
            {version: Half() for version in weights}, pd.DataFrame({"age": [31.0, 45.0, 52.0]}),
            model="churn", weights=weights, start=start, end=start + timedelta(milliseconds=50),
            requests=requests, seed=self.seed, root=self.logs,
            faults={v: f for v, f in self.faults.items() if weights.get(v)},
        )  # fmt: skip
        time.sleep(0.06)

    def serve_while_waiting(self, seconds: float) -> None:
        """What ``--wait`` sleeps through: the fleet serves meanwhile."""
        self.waits.append(seconds)
        self.serve()


def publish(store: AimStore, number: int) -> None:
    """Record churn/<number> as published (as the lifecycle commands would leave it)."""
    record_model_version(store, "churn", number)
    store.put_aspect(f"urn:aim:modelVersion:churn/{number}", "lifecycle", {
        "state": "published", "transition": "publish", "previous": "publishable",
        "actor": "ana", "at": datetime.now(UTC)})  # fmt: skip


@pytest.fixture(autouse=True)
def _environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No MLflow, no webhooks; the traffic files, serving logs and alert log in the test's own
    folder."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AIMOPS_ROUTER",
                 "AIMOPS_ROUTER_WEBHOOK", "AIMOPS_ALERT_WEBHOOK"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIMOPS_TRAFFIC_DIR", str(tmp_path / "traffic"))
    monkeypatch.setenv("AIMOPS_SERVING_LOGS", str(tmp_path / "serving"))
    monkeypatch.setenv("AIMOPS_ALERT_LOG", str(tmp_path / "alerts.log"))


@pytest.fixture
def traffic(tmp_path: Path) -> Path:
    """churn's traffic file in production, as the file router writes it."""
    return tmp_path / "traffic" / "churn" / "production.json"


@pytest.fixture
def fleet(tmp_path: Path, traffic: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    serving = Fleet(tmp_path / "serving", traffic)
    monkeypatch.setattr("aimops.cli_ramps.pause", serving.serve_while_waiting)
    return serving


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A store with churn/3, churn/4 and churn/5 published and churn/6 registered."""
    store = AimStore.open(sqlite_url, create=True, actor="alice")
    for number in (3, 4, 5):
        publish(store, number)
    record_model_version(store, "churn", 6)
    store.close()
    return Cli(sqlite_url, capsys)


@pytest.fixture
def champion(cli: Cli, fleet: Fleet) -> Cli:
    """churn/3 rolled out first, and promoted: the champion at 100%."""
    cli.ok("ramp", "churn/3", "--bake", "0")
    fleet.serve()
    cli.ok("ramp", "churn/3")
    return cli


def served(traffic: Path) -> tuple[dict[str, int], str | None]:
    """(weights, champion) in the traffic file."""
    state = json.loads(traffic.read_text())
    return state["weights"], state["champion"]


def snapshot(url: str, traffic: Path) -> tuple[dict[str, int], str | None]:
    """What a refused command must leave as it was: the store's rows and the traffic file."""
    store = AimStore.open(url)
    with store.engine.connect() as connection:
        rows = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in TABLES}  # fmt: skip
    store.close()
    return rows, traffic.read_text() if traffic.exists() else None  # type: ignore[return-value]


def test_an_initial_rollout_then_a_ramp_started(cli: Cli, fleet: Fleet, traffic: Path) -> None:
    first, ramp, page = cli.ok("ramp", "churn/3", "--bake", "0")
    assert first == (
        "churn/3 in production: ramping, step 1 of 1 at 100% (an initial rollout: no champion "
        "yet); next analysis in 0 s"
    )
    assert ramp == "ramp: urn:aim:ramp:churn/production/1"
    assert page.startswith("page: ") and Path(page.removeprefix("page: ")).is_file()
    assert served(traffic) == ({"3": 100}, None)
    fleet.serve()
    first, analysis, *gates, page = cli.ok("ramp", "churn/3")
    assert first == "churn/3 in production: complete: churn/3 is the champion at 100%"
    assert analysis == "analysis of step 1 of 1 (100%): pass, promoted; requests: churn/3 2000"
    assert "  pass requests: 2000 requests" in gates
    assert any(re.fullmatch(r"  pass latency_p99: \d+ ms <= 500 ms", gate) for gate in gates)
    assert served(traffic) == ({"3": 100}, "3")

    out = cli.ok("ramp", "churn/4", "--schedule", "1,5,25,50,100", "--bake", "10m",
                 "--actor", "ana", "--reason", "try it")  # fmt: skip
    assert out[:2] == [
        "churn/4 in production: ramping, step 1 of 5 at 1% (champion churn/3 99%); next "
        "analysis in 600 s",
        f"ramp: {RAMP_2}",
    ]
    assert served(traffic) == ({"3": 99, "4": 1}, "3")
    (waiting, page) = cli.ok("ramp", "churn/4")  # again: the bake time is not over
    assert re.fullmatch(
        r"churn/4 in production: ramping, step 1 of 5 at 1% \(champion churn/3 99%\); next "
        r"analysis in (599|600) s", waiting,
    )  # fmt: skip
    assert page.startswith("page: ")


def test_status_for_people_and_machines(champion: Cli) -> None:
    champion.ok("ramp", "churn/4", "--actor", "ana", "--reason", "try it")
    lines = champion.ok("ramp", "status", "churn/4")
    assert re.fullmatch(r"churn/4 in production: ramping, step 1 of 5 at 1% \(champion churn/3 "
                        r"99%\); next analysis in (599|600) s", lines[0])  # fmt: skip
    assert lines[1:] == [
        f"ramp: {RAMP_2} (ramping)",
        "schedule: [1%] 5% 25% 50% 100%",
        "traffic: churn/3 99%, churn/4 1% (champion churn/3)",
        "plan: bake 600 s per step, failure limit 1 (failed so far: 0), progress deadline 2400 s",
        lines[5],
        "no analysis yet",
        "note: started at 1%",
    ]
    assert lines[5].startswith("started: ") and lines[5].endswith(" by ana (cli): try it")
    for target in (RAMP_2, "urn:aim:deployment:churn/production"):
        assert champion.ok("ramp", "status", target)[1] == f"ramp: {RAMP_2} (ramping)"
    status = champion.json("ramp", "status", "churn/4")
    assert set(status) == REPORT_KEYS
    assert (status["did"], status["status"], status["page"]) == ("status", "ramping", None)
    assert status["ramp"]["urn"] == RAMP_2 and status["ramp"]["schedule"] == [1, 5, 25, 50, 100]
    assert status["ramp"]["origin"]["kind"] == "cli"
    assert status["deployment"]["weights"] == {"3": 99, "4": 1}
    assert 599 <= status["waiting_seconds"] <= 600
    line = champion.refused("ramp", "status", "churn/5")
    assert line == "aimops: error: no ramp of churn/5 in production in the AIM store"


def test_the_json_of_a_start(champion: Cli, traffic: Path) -> None:
    done = champion.json("ramp", "churn/4", "--schedule", "20,100", "--bake", "30s")
    assert set(done) == REPORT_KEYS
    assert (done["did"], done["status"], done["waiting_seconds"]) == ("started", "ramping", 30.0)
    assert done["deployment"]["weights"] == {"3": 80, "4": 20}
    assert (done["router"], done["mlflow"], done["alert"]) == ("applied", "not configured", None)
    assert done["ramp"]["bake_seconds"] == 30.0 and Path(done["page"]).is_file()
    assert served(traffic) == ({"3": 80, "4": 20}, "3")


def test_a_second_ramp_is_refused_naming_the_first(
    champion: Cli, sqlite_url: str, traffic: Path
) -> None:
    champion.ok("ramp", "churn/4")
    before = snapshot(sqlite_url, traffic)
    assert champion.refused("ramp", "churn/5") == (
        f"aimops: error: cannot ramp churn/5 in production: the ramp {RAMP_2} of churn/4 is "
        "ramping; one ramp at a time (resume, abort or wait for it)"
    )
    assert snapshot(sqlite_url, traffic) == before


def test_a_version_not_published_or_unknown_is_refused(
    champion: Cli, sqlite_url: str, traffic: Path
) -> None:
    before = snapshot(sqlite_url, traffic)
    assert champion.refused("ramp", "churn/6") == (
        "aimops: error: cannot ramp churn/6 (urn:aim:modelVersion:churn/6), which is "
        "registered: a ramp needs the state published (review, approve and publish it first)"
    )
    assert champion.refused("ramp", "churn/9").startswith(
        "aimops: error: model version churn/9 (urn:aim:modelVersion:churn/9) is not in the AIM "
        "store"
    )
    assert "it is the champion of churn/production already" in champion.refused("ramp", "churn/3")
    assert snapshot(sqlite_url, traffic) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--schedule", "5,1,100"], "a ramp's schedule must increase step by step, not [5, 1,"),
        (["--schedule", "5,50"], "a ramp's schedule runs from above 0 to exactly 100 percent"),
        (["--gate", "p99=3"], "unknown ramp gate(s) ['p99']; known: success_rate_min"),
        (["--gate", "success_rate_min=2"], "gate success_rate_min is a rate in [0, 1]"),
    ],
)
def test_a_bad_plan_is_refused_and_changes_nothing(
    champion: Cli, sqlite_url: str, traffic: Path, options: list[str], message: str
) -> None:
    before = snapshot(sqlite_url, traffic)
    assert message in champion.refused("ramp", "churn/4", *options)
    assert snapshot(sqlite_url, traffic) == before
    assert "no ramp of churn/4" in champion.refused("ramp", "status", "churn/4")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bake", "10x"], "Invalid value for '--bake': '10x' is not a duration"),
        (["--progress-deadline", "-5m"], "'-5m' is not a duration"),
        (["--bake", "8785h"], "'8785h' is too long: a duration is at most 8784h"),
        (["--bake", "9" * 400], "is too long: a duration is at most 8784h"),
        (["--schedule", "1,five,100"], "'1,five,100' is not a list of whole percents"),
        (["--gate", "latency"], "Invalid value for '--gate': 'latency' is not NAME=VALUE"),
        (["--gate", "latency_p99_max_ms=fast"], "'fast' is not a number"),
        (["--failure-limit", "0"], "Invalid value for '--failure-limit'"),
    ],
)
def test_options_that_do_not_parse_are_usage_errors(
    champion: Cli, sqlite_url: str, traffic: Path, options: list[str], message: str
) -> None:
    before = snapshot(sqlite_url, traffic)
    code, out, err = champion("ramp", "churn/4", *options)
    assert (code, out) == (2, "") and message in err and "Traceback" not in err
    assert snapshot(sqlite_url, traffic) == before


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("90", 90.0), ("30s", 30.0), ("10m", 600.0), ("2h", 7200.0), ("1.5m", 90.0), (" 0 ", 0.0)],
)
def test_durations(given: str, seconds: float) -> None:
    from aimops.cli_ramps import MIN_POLL_SECONDS, parse_duration

    assert parse_duration(given) == seconds
    assert MIN_POLL_SECONDS == MIN_POLL


@pytest.mark.parametrize("given", ["", "m", "10d", "ten", "-1", "1e3", "10 minutes"])
def test_what_is_not_a_duration(given: str) -> None:
    from aimops.cli_ramps import parse_duration

    with pytest.raises(ValueError, match="is not a duration: give seconds"):
        parse_duration(given)


def test_a_healthy_ramp_runs_to_completion_with_wait(
    champion: Cli, fleet: Fleet, traffic: Path
) -> None:
    lines = champion.ok("ramp", "churn/4", "--schedule", "10,50,100", "--bake", "0", "--wait",
                        "--gate", "min_requests=50")  # fmt: skip
    heads = [line for line in lines if line.startswith("churn/4 in production: ")]
    assert heads == [
        "churn/4 in production: ramping, step 1 of 3 at 10% (champion churn/3 90%); next "
        "analysis in 0 s",
        "churn/4 in production: ramping, step 2 of 3 at 50% (champion churn/3 50%); next "
        "analysis in 0 s",
        "churn/4 in production: ramping, step 3 of 3 at 100% (churn/3 stays champion until "
        "this step passes); next analysis in 0 s",
        "churn/4 in production: complete: churn/4 is the champion at 100% (was churn/3)",
    ]
    analyses = [line for line in lines if line.startswith("analysis of ")]
    assert [line.split(";")[0] for line in analyses] == [
        "analysis of step 1 of 3 (10%): pass, advanced",
        "analysis of step 2 of 3 (50%): pass, advanced",
        "analysis of step 3 of 3 (100%): pass, promoted",
    ]
    assert lines[1] == f"ramp: {RAMP_2}"
    assert sum(line.startswith("  pass latency_p99: ") for line in lines) == 3
    assert not any(line.startswith("  fail ") for line in lines)
    assert lines[-1].startswith("page: ") and sum(line.startswith("page: ") for line in lines) == 1
    assert fleet.waits == [MIN_POLL] * 3
    assert served(traffic) == ({"4": 100}, "4")
    model = champion.json("models", "show", "churn")
    assert {v["version"]: (v["traffic"], v["champion"]) for v in model["versions"]} == {
        "3": (0, False), "4": (100, True), "5": (0, False), "6": (0, False)
    }  # fmt: skip


def test_a_latency_regression_rolls_back_and_alerts(
    champion: Cli, fleet: Fleet, traffic: Path, tmp_path: Path
) -> None:
    champion.ok("ramp", "churn/4", "--schedule", "20,100", "--bake", "0")
    assert served(traffic) == ({"3": 80, "4": 20}, "3")
    fleet.faults = {"4": {"latency_regression_ms": 900}}
    fleet.serve()
    first, analysis, *gates, alert, page = champion.ok("ramp", "churn/4")
    assert first == (
        "churn/4 in production: rolled back at step 1 of 2 (20%): churn/3 serves 100% again"
    )
    assert analysis.startswith("analysis of step 1 of 2 (20%): fail, rolled back; requests: ")
    assert any(re.fullmatch(r"  fail latency_p99: \d+ ms > 500 ms", gate) for gate in gates)
    assert any(gate.startswith("  fail latency_p99_vs_champion: p99 ") for gate in gates)
    assert alert == f"alert: {tmp_path / 'alerts.log'}" and page.startswith("page: ")
    assert served(traffic) == ({"3": 100}, "3")
    (logged,) = [json.loads(line) for line in (tmp_path / "alerts.log").read_text().splitlines()]
    assert logged["title"] == "ramp of churn/4 rolled back"
    assert "the champion churn/3 serves 100% again" in logged["message"]
    status = champion.ok("ramp", "status", "churn/4")
    assert status[1] == f"ramp: {RAMP_2} (rolled_back)"
    assert status[2] == "schedule: [20%] 100%"
    assert status[3] == "traffic: churn/3 100% (champion churn/3)"
    assert status[-1].startswith("note: step 1 of 2 (20%) failed: latency_p99: ")
    # over: the next `ramp churn/4` starts a new ramp
    assert champion.ok("ramp", "churn/4")[1] == "ramp: urn:aim:ramp:churn/production/3"


def test_a_paused_ramp_resumed_then_aborted(champion: Cli, fleet: Fleet, traffic: Path) -> None:
    champion.ok("ramp", "churn/4", "--bake", "0", "--progress-deadline", "0",
                "--gate", "min_requests=1000000")  # fmt: skip
    fleet.serve()
    first, analysis, *gates, _ = champion.ok("ramp", "churn/4")
    assert first == (
        "churn/4 in production: paused at step 1 of 5 (1%); champion churn/3 99%, until a "
        "person resumes or aborts it"
    )
    assert analysis.startswith("analysis of step 1 of 5 (1%): inconclusive, paused; requests: ")
    assert any(g.startswith("  inconclusive requests: ") for g in gates)
    assert served(traffic) == ({"3": 99, "4": 1}, "3")  # a pause holds the weight
    lines = champion.ok("ramp", "churn/4")  # paused: nothing is due
    assert lines[0] == first
    assert lines[1].startswith("note: step 1 of 5 (1%) inconclusive past the progress deadline")
    assert lines[2] == f"nothing is due while it is paused: aimops resume {RAMP_2} (or abort)"

    lines = champion.ok("resume", RAMP_2, "--actor", "ana", "--reason", "traffic is back")
    assert lines[:2] == [
        "churn/4 in production: ramping, step 1 of 5 at 1% (champion churn/3 99%); next "
        "analysis in 0 s",
        "note: resumed by ana: traffic is back",
    ]
    assert champion.refused("resume", "churn/4") == (
        f"aimops: error: cannot resume {RAMP_2}: it is ramping, and only a paused ramp resumes"
    )
    lines = champion.ok("abort", "churn/4", "--actor", "bob", "--reason", "flaky")
    assert lines[:2] == [
        "churn/4 in production: aborted at step 1 of 5 (1%): churn/3 serves 100% again",
        "note: aborted by bob: flaky",
    ]
    assert served(traffic) == ({"3": 100}, "3")
    assert champion.refused("abort", RAMP_2) == (
        f"aimops: error: cannot abort {RAMP_2}: it is aborted already (only a ramping or paused "
        "ramp can be aborted)"
    )
    done = champion.json("ramp", "status", RAMP_2)
    assert done["ramp"]["status"] == "aborted" and done["ramp"]["weight"] == 0


def test_wait_with_json_prints_a_line_per_step_and_fails_unless_complete(
    champion: Cli, fleet: Fleet
) -> None:
    code, out, err = champion("ramp", "churn/4", "--bake", "0", "--progress-deadline", "0",
                              "--gate", "min_requests=1000000", "--wait", "--json")  # fmt: skip
    assert code == 1 and err == ""
    steps = [json.loads(line) for line in out.splitlines()]
    assert [(s["did"], s["status"]) for s in steps] == [("started", "ramping"),
                                                        ("paused", "paused")]  # fmt: skip
    assert steps[1]["analysis"]["verdict"] == "inconclusive"
    assert fleet.waits == [MIN_POLL]


def test_deramp(champion: Cli, traffic: Path, sqlite_url: str) -> None:
    champion.ok("ramp", "churn/4", "--schedule", "25,100")
    assert served(traffic) == ({"3": 75, "4": 25}, "3")
    line, page = champion.ok("deramp", "churn/4", "--actor", "ana", "--reason", "p99 doubled")
    assert line == (f"churn/4: de-ramped in production (was 25%): churn/3 100%; aborted {RAMP_2}")
    assert page.startswith("page: ")
    assert served(traffic) == ({"3": 100}, "3")
    assert champion.ok("ramp", "status", "churn/4")[1] == f"ramp: {RAMP_2} (aborted)"
    assert champion.ok("deramp", "churn/4") == ["churn/4 serves no traffic; nothing to de-ramp"]
    assert champion.ok("deramp", "churn/4", "--env", "staging") == [
        "churn/4 serves no traffic in staging; nothing to de-ramp"
    ]
    done = champion.json("deramp", "churn/4")
    assert (done["did"], done["deployments"]) == ("deramped", [])

    before = snapshot(sqlite_url, traffic)
    assert champion.refused("deramp", "churn/3") == (
        "aimops: error: cannot de-ramp churn/3 (urn:aim:modelVersion:churn/3): it is the only "
        "version serving churn/production; de-ramping it would leave the deployment serving "
        "nothing (force to do it anyway)"
    )
    assert snapshot(sqlite_url, traffic) == before
    done = champion.json("deramp", "churn/3", "--force", "--reason", "incident")
    (deployment,) = done["deployments"]
    assert (deployment["removed_weight"], deployment["weights"]) == (100, {})
    assert served(traffic) == ({}, None)
    assert "'churn' is not a model version" in champion.refused("deramp", "churn")


def test_an_unwritable_traffic_folder_is_refused_and_changes_nothing(
    cli: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("AIMOPS_TRAFFIC_DIR", str(blocker))
    traffic = blocker / "churn" / "production.json"
    before = snapshot(sqlite_url, traffic)
    line = cli.refused("ramp", "churn/3")
    assert line == f"aimops: error: cannot write the traffic file {traffic}: {blocker} is a file"
    assert snapshot(sqlite_url, traffic) == before
    assert "no ramp of churn/3" in cli.refused("ramp", "status", "churn/3")


def test_start_options_are_ignored_with_a_warning_once_under_way(champion: Cli) -> None:
    champion.ok("ramp", "churn/4")
    code, out, err = champion("ramp", "churn/4", "--schedule", "5,100", "--gate", "p99=1")
    assert code == 0 and out.startswith("churn/4 in production: ramping, step 1 of 5 at 1%")
    assert err.strip() == (
        f"aimops: warning: ignoring --schedule, --gate: they set up a new ramp, and this "
        f"advances {RAMP_2}"
    )


def test_help_shows_the_default_command_and_status(cli: Cli) -> None:
    code, out, _ = cli("ramp", "--help", store=False)
    assert code == 0
    assert out.startswith("Usage: aimops ramp URN [OPTIONS]\n   or: aimops ramp COMMAND URN")
    for option in ("--schedule", "--bake", "--gate NAME=VALUE", "--wait", "--env NAME"):
        assert option in out
    assert "status" in out.split("Commands:")[1]
    code, out, _ = cli("ramp", "--env", "staging", "churn/3", "--help")
    assert code == 0 and "--deprecate-previous" in out


def test_status_shows_the_newest_analyses(champion: Cli) -> None:
    champion.ok("ramp", "churn/4", "--bake", "0", "--gate", "min_requests=1000000")
    for _ in range(7):  # inconclusive, within the progress deadline: held
        lines = champion.ok("ramp", "churn/4")
        assert lines[1].startswith("analysis of step 1 of 5 (1%): inconclusive, held; ")
    lines = champion.ok("ramp", "status", "churn/4")
    shown = [line for line in lines if re.match(r"\d+\. analysis of ", line)]
    assert [line.split(".")[0] for line in shown] == ["3", "4", "5", "6", "7"]
    assert "(2 earlier analyses: --json has them all)" in lines
    assert len(champion.json("ramp", "status", "churn/4")["ramp"]["analyses"]) == 7


def test_mlflow_down_is_a_warning_and_the_ramp_stands(
    cli: Cli, traffic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    code, out, err = cli("ramp", "churn/3")
    assert code == 0 and out.startswith("churn/3 in production: ramping, step 1 of 1 at 100%")
    (warning,) = err.strip().splitlines()
    assert warning.startswith("aimops: warning: MLflow's registry could not be updated (failed: ")
    assert warning.endswith("run 'aimops models sync churn' to bring it in line")
    assert served(traffic) == ({"3": 100}, None)
