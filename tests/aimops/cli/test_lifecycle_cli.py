"""The lifecycle on the command line: ``review``, ``approve``, ``reject``, ``publish``,
``deprecate``, ``models show`` with states and ``models sync`` against a real local MLflow.

Run through ``aimops.cli.main`` in-process (how the entry point prints errors and exit codes),
with ``--store`` naming a SQLite file of the test's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.cli import main
from aimops.metadata import AimStore
from aimops.metadata.recording import record_model_version
from aimops.settings import default_actor

OUTCOME_KEYS = {
    "urn", "transition", "previous", "state", "actor", "reason", "evidence", "origin", "at",
    "aspect_version", "policy", "mlflow", "repeated", "deramped", "page",
}  # fmt: skip
CLOSED_PORT = "http://127.0.0.1:9"


class Cli:
    """``aimops ARGS --store URL`` in this process: (exit code, stdout, stderr)."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url, self.capsys = url, capsys

    def __call__(self, *args: str, store: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--store", self.url] if store else list(args))
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def refused(self, *args: str, code: int = 1) -> str:
        """The one line a refused command prints (and that it printed nothing else)."""
        got, out, err = self(*args)
        assert got == code, (out, err)
        assert out == "" and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        return err.strip()


def predictions(seed: int = 0, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    score = np.clip(0.6 * label + rng.uniform(0, 0.5, rows), 0, 1)
    return pd.DataFrame({"label": label, "score": score})


def give_evidence(store: AimStore, version: Any, *, quality: bool = True) -> None:
    """A passing gated evaluation and (unless ``quality`` is False) a passing data-quality check."""
    from aimops.monitors.checks.jobs import run_data_quality
    from aimops.monitors.evaluation.jobs import evaluate_model

    table = predictions()
    evaluate_model(store, model_version=version, predictions=table, min_metrics={"auroc": 0.8},
                   report_dir=None, dataset_name="test")  # fmt: skip
    if quality:
        run_data_quality(store, table, [{"expect": "not_null", "column": "label"}],
                         model_version=version, report_dir=None)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A store with churn/1 (evidence on record) and churn/2 (nothing on record)."""
    store = AimStore.open(sqlite_url, create=True, actor="alice")
    give_evidence(store, record_model_version(store, "churn", 1))
    record_model_version(store, "churn", 2)
    store.close()
    return Cli(sqlite_url, capsys)


def test_review_approve_publish_for_people(cli: Cli) -> None:
    out = cli.ok("review", "churn/1", "--actor", "ana", "--reason", "beats the baseline")
    first, page, evidence = out.splitlines()
    assert first == "churn/1: registered -> in_review (request_review by ana)"
    assert page.startswith("page: ") and Path(page.removeprefix("page: ")).is_file()
    assert evidence.startswith("evidence: urn:aim:evaluation:churn/1/")
    assert "urn:aim:check:data_quality/" in evidence
    out = cli.ok("--actor", "bob", "approve", "urn:aim:modelVersion:churn/1")
    assert out.splitlines()[0] == "churn/1: in_review -> publishable (approve by bob)"
    out = cli.ok("publish", "churn/1", "--actor", "carol")
    assert out.splitlines()[0] == "churn/1: publishable -> published (publish by carol)"
    assert "evidence" not in out
    html = Path(out.splitlines()[1].removeprefix("page: ")).read_text()
    assert "published" in html and "carol" in html


def test_four_eyes_through_actor(cli: Cli) -> None:
    cli.ok("review", "churn/1", "--actor", "ana")
    line = cli.refused("approve", "churn/1", "--actor", "ana")
    assert line == (
        "aimops: error: cannot approve churn/1 (urn:aim:modelVersion:churn/1), which is "
        "in_review: four eyes: ana requested the review, so another actor must approve it"
    )
    line = cli.refused("--actor", "ana", "approve", "churn/1")  # the group's --actor: the same
    assert "four eyes: ana requested the review" in line
    assert cli.json("approve", "churn/1", "--actor", "bob")["actor"] == "bob"


def test_the_commands_actor_wins_and_the_os_user_is_the_default(cli: Cli) -> None:
    assert cli.json("--actor", "zed", "review", "churn/1", "--actor", "ana")["actor"] == "ana"
    assert cli.json("--actor", "zed", "approve", "churn/1")["actor"] == "zed"
    assert cli.json("deprecate", "churn/2")["actor"] == default_actor()


def test_json_shape_of_a_transition(cli: Cli) -> None:
    done = cli.json("review", "churn/1", "--actor", "ana", "--reason", "ready")
    assert set(done) == OUTCOME_KEYS
    assert done["urn"] == "urn:aim:modelVersion:churn/1"
    assert (done["previous"], done["state"], done["transition"]) == (
        "registered", "in_review", "request_review"
    )  # fmt: skip
    assert done["origin"] == {"kind": "cli", "run": None, "task": None}
    assert done["reason"] == "ready" and done["policy"] == "default"
    assert done["mlflow"] == "not configured" and done["repeated"] is False
    assert done["aspect_version"] == 1 and len(done["evidence"]) == 2
    assert Path(done["page"]).is_file()


def test_review_without_evidence_is_refused_in_one_line(cli: Cli) -> None:
    line = cli.refused("review", "churn/2", "--actor", "ana")
    assert line.startswith(
        "aimops: error: cannot request_review churn/2 (urn:aim:modelVersion:churn/2), which is "
        "registered: the policy 'default' is missing an evaluation of churn/2 with gates that "
        "passed (none is recorded); a passing data-quality check on churn/2 (none is recorded)"
    )
    assert cli.json("models", "show", "churn")["versions"][1]["state"] == "registered"


def test_review_policy_by_name(cli: Cli, sqlite_url: str) -> None:
    store = AimStore.open(sqlite_url)
    give_evidence(store, "churn/2", quality=False)
    store.close()
    assert "missing a passing data-quality check" in cli.refused("review", "churn/2")
    done = cli.json("review", "churn/2", "--policy", "evaluation_only", "--actor", "ana")
    assert (done["state"], done["policy"]) == ("in_review", "evaluation_only")
    line = cli.refused("review", "churn/1", "--policy", "strict")
    assert "no lifecycle policy named 'strict'; known: default, evaluation_only" in line


def test_automated_approval_by_policy(cli: Cli) -> None:
    cli.ok("review", "churn/1", "--actor", "ana")
    done = cli.json("approve", "churn/1", "--policy", "default")
    assert (done["state"], done["actor"], done["policy"]) == (
        "publishable", "policy:default", "default"
    )  # fmt: skip
    assert len(done["evidence"]) == 2


@pytest.mark.parametrize("actor", [["approve", "churn/1", "--actor", "bob"],
                                   ["--actor", "bob", "approve", "churn/1"]])  # fmt: skip
def test_policy_with_actor_is_a_usage_error(cli: Cli, actor: list[str]) -> None:
    cli.ok("review", "churn/1", "--actor", "ana")
    code, out, err = cli(*actor, "--policy", "default")
    assert code == 2 and out == ""
    assert "--policy approves automatically, acting as policy:NAME" in err
    assert cli.json("models", "show", "churn")["versions"][0]["state"] == "in_review"


def test_reject_needs_a_reason(cli: Cli) -> None:
    cli.ok("review", "churn/1", "--actor", "ana")
    line = cli.refused("reject", "churn/1", "--actor", "bob")
    assert line.endswith("which is in_review: a rejection needs a reason")
    assert "a rejection needs a reason" in cli.refused("reject", "churn/1", "--reason", "  ")
    out = cli.ok("reject", "churn/1", "--actor", "bob", "--reason", "leaks the label")
    assert out.splitlines()[0] == "churn/1: in_review -> registered (reject by bob)"


def test_wrong_states_are_refused(cli: Cli) -> None:
    assert cli.refused("publish", "churn/1").endswith(
        "which is registered: publish needs the state publishable"
    )
    assert "approve needs the state in_review" in cli.refused("approve", "churn/1")
    assert "reject needs the state in_review" in cli.refused("reject", "churn/1", "--reason", "x")
    cli.ok("deprecate", "churn/2", "--reason", "never shipped")
    assert cli.refused("deprecate", "churn/2").endswith(
        "which is deprecated: deprecate needs any state but deprecated"
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("churn/9", "model version churn/9 (urn:aim:modelVersion:churn/9) is not in the AIM store"),
        ("urn:aim:model:churn", "is not a model version URN"),
        ("churn", "'churn' is not a model version"),
    ],
)
def test_unknown_versions_are_one_line_errors(cli: Cli, version: str, message: str) -> None:
    assert message in cli.refused("publish", version)


def test_deprecate_from_published_and_history_reads_well(cli: Cli) -> None:
    cli.ok("review", "churn/1", "--actor", "ana", "--reason", "ready")
    cli.ok("approve", "churn/1", "--actor", "bob")
    cli.ok("publish", "churn/1", "--actor", "bob")
    out = cli.ok("deprecate", "churn/1", "--actor", "carol", "--reason", "superseded")
    assert out.splitlines()[0] == "churn/1: published -> deprecated (deprecate by carol)"
    table = cli.ok("history", "urn:aim:modelVersion:churn/1", "--aspect", "lifecycle")
    header, *rows = table.splitlines()
    assert header.split() == ["CREATED_AT", "ASPECT", "VERSION", "ACTOR", "VALUE"]
    assert len(rows) == 4
    assert (
        "registered -> in_review (request_review); evidence: 2; from cli; reason: ready" in rows[0]
    )
    assert " bob " in rows[1] and "in_review -> publishable (approve); evidence: 2" in rows[1]
    assert "published -> deprecated (deprecate); from cli; reason: superseded" in rows[3]
    history = cli.json("history", "urn:aim:modelVersion:churn/1", "--aspect", "lifecycle")
    assert [h["value"]["state"] for h in history] == [
        "in_review", "publishable", "published", "deprecated"
    ]  # fmt: skip


def test_deprecating_the_only_serving_version_needs_force(
    cli: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.metadata.lifecycle import deployments
    from aimops.metadata.lifecycle.routers import FileRouter

    monkeypatch.setenv("AIMOPS_TRAFFIC_DIR", str(tmp_path / "traffic"))
    cli.ok("review", "churn/1", "--actor", "ana")
    cli.ok("approve", "churn/1", "--actor", "bob")
    cli.ok("publish", "churn/1", "--actor", "bob")
    with AimStore.open(sqlite_url) as store:
        read = deployments.read_deployment(store, "churn")
        deployments.change_traffic(store, read, {"1": 100}, champion="1", change="set",
                                   actor="ana", mlflow=False)  # fmt: skip
    error = cli.refused("deprecate", "churn/1", "--actor", "carol")
    assert error.endswith(
        "cannot deprecate churn/1 (urn:aim:modelVersion:churn/1): it is the only version "
        "serving churn/production; de-ramping it would leave the deployment serving nothing "
        "(force to do it anyway)"
    )
    traffic = FileRouter(tmp_path / "traffic").current("churn", "production")
    assert traffic is not None and traffic.weights == {"1": 100}
    out = cli.ok("deprecate", "churn/1", "--actor", "carol", "--force")
    first, deramped = out.splitlines()[:2]
    assert first == "churn/1: published -> deprecated (deprecate by carol)"
    assert deramped == "de-ramped first in production (was 100%); it serves now: nothing"
    traffic = FileRouter(tmp_path / "traffic").current("churn", "production")
    assert traffic is not None and (traffic.weights, traffic.champion) == ({}, None)


def test_models_show_has_state_traffic_champion_ramp(cli: Cli) -> None:
    cli.ok("review", "churn/1", "--actor", "ana")
    model = cli.json("models", "show", "churn")
    assert [(v["version"], v["state"]) for v in model["versions"]] == [
        ("1", "in_review"), ("2", "registered")
    ]  # fmt: skip
    for version in model["versions"]:
        assert (version["traffic"], version["champion"], version["ramp"]) == (0, False, "none")
        assert {"urn", "uri", "framework", "mlflow_run_id", "created_at", "produced_by"} < set(
            version
        )
    header, *rows = cli.ok("models", "show", "churn").splitlines()[1:]
    assert header.split()[:6] == ["VERSION", "STATE", "TRAFFIC", "CHAMPION", "RAMP", "CREATED_AT"]
    assert rows[0].split()[:3] == ["1", "in_review", "0%"]


def test_models_sync_without_mlflow_or_model(cli: Cli) -> None:
    out = cli.ok("models", "sync", "churn")
    assert out.startswith("MLflow is not configured") and out.strip().endswith("for churn")
    synced = cli.json("models", "sync", "churn")
    assert synced["mlflow"] == "not configured" and synced["updated"] == []
    assert cli.refused("models", "sync", "nope") == "aimops: error: no model 'nope' in the store"


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local MLflow (SQLite) holding churn versions 1 and 2 (not 3), set as the tracking URI."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    for _ in (1, 2):
        client.create_model_version("churn", source="file:///tmp/x", run_id=None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def mlflow_tags(uri: str) -> dict[str, str | None]:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.search_model_versions("name = 'churn'")
    return {str(v.version): (v.tags or {}).get("aimops.lifecycle_state") for v in found}


def test_a_transition_while_mlflow_is_down_stands_and_warns(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", CLOSED_PORT)
    code, out, err = cli("review", "churn/1", "--actor", "ana")
    assert code == 0
    assert out.splitlines()[0] == "churn/1: registered -> in_review (request_review by ana)"
    (warning,) = err.strip().splitlines()
    assert warning.startswith("aimops: warning: churn/1 is in_review, but MLflow's registry")
    assert warning.endswith("run 'aimops models sync churn' to bring it in line")
    done = cli.json("approve", "churn/1", "--actor", "bob")
    assert done["state"] == "publishable" and done["mlflow"].startswith("failed: ")
    line = cli.refused("models", "sync", "churn")
    assert line.startswith(f"aimops: error: could not sync churn with MLflow at {CLOSED_PORT}: ")
    assert line.endswith("run it again when MLflow answers")


def test_transitions_mirror_to_mlflow_and_sync_repairs_an_outage(
    cli: Cli, sqlite_url: str, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_model_version(AimStore.open(sqlite_url), "churn", 3)  # not in MLflow
    assert cli.json("review", "churn/1", "--actor", "ana")["mlflow"] == "synced"
    assert mlflow_tags(mlflow_uri) == {"1": "in_review", "2": "registered"}

    monkeypatch.setenv("MLFLOW_TRACKING_URI", CLOSED_PORT)  # MLflow is down
    code, out, err = cli("approve", "churn/1", "--actor", "bob")
    assert code == 0
    assert out.splitlines()[0] == "churn/1: in_review -> publishable (approve by bob)"
    (warning,) = err.strip().splitlines()
    assert warning.startswith("aimops: warning: churn/1 is publishable, but MLflow's registry")
    assert warning.endswith("run 'aimops models sync churn' to bring it in line")
    done = cli.json("publish", "churn/1", "--actor", "bob")
    assert done["state"] == "published" and done["mlflow"].startswith("failed: ")
    line = cli.refused("models", "sync", "churn")
    assert line.startswith(f"aimops: error: could not sync churn with MLflow at {CLOSED_PORT}: ")
    assert line.endswith("run it again when MLflow answers")
    assert mlflow_tags(mlflow_uri) == {"1": "in_review", "2": "registered"}

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # MLflow is back
    out = cli.ok("models", "sync", "churn")
    assert out.splitlines() == [
        f"churn in MLflow's registry at {mlflow_uri}:",
        "updated: 1 -> published",
        "in line: 2 (registered)",
        "not in MLflow: 3",
    ]
    assert mlflow_tags(mlflow_uri) == {"1": "published", "2": "registered"}
    synced = cli.json("models", "sync", "churn")
    assert synced == {
        "model": "churn",
        "mlflow": "synced",
        "registry": mlflow_uri,
        "updated": [],
        "in_line": ["1", "2"],
        "absent": ["3"],
        "error": None,
        "states": {"1": "published", "2": "registered", "3": "registered"},
    }


def test_models_sync_failure_in_json(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", CLOSED_PORT)
    code, out, err = cli("models", "sync", "churn", "--json")
    assert code == 1 and "could not sync churn" in err
    found = json.loads(out)
    assert found["mlflow"].startswith("failed: ") and found["error"]
    assert found["registry"] == CLOSED_PORT


@pytest.mark.postgres
def test_a_transition_on_postgres(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = AimStore.open(postgres_url, create=True)
    record_model_version(store, "pg-churn", 1)
    store.close()
    cli = Cli(postgres_url, capsys)
    done = cli.json("deprecate", "pg-churn/1", "--actor", "ana", "--reason", "unused")
    assert (done["previous"], done["state"], done["actor"]) == ("registered", "deprecated", "ana")
    assert cli.json("models", "show", "pg-churn")["versions"][0]["state"] == "deprecated"
