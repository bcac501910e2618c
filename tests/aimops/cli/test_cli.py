"""The ``aimops`` command through its real entry point, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aimops.metadata import AimStore
from aimops.metadata.recording import (
    record_attempt,
    record_dataset,
    record_io,
    record_model_version,
    record_run,
    record_step,
)

AIMOPS = str(Path(sys.executable).with_name("aimops"))
RUN_ID = "manual__2026-03-01T08:00:00+00:00"


def aimops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIMOPS, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def ok_json(*args: str) -> Any:
    result = aimops(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with one Airflow-style run: a retried training step, data, a model version."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'aim.db'}"
    store = AimStore.open(url, actor="alice")
    started = datetime(2026, 3, 1, 8, tzinfo=UTC)
    with store.transaction() as tx:
        run = record_run(
            tx,
            orchestrator="airflow",
            pipeline="train",
            run_id=RUN_ID,
            native_state="success",
            started_at=started,
            ended_at=started.replace(hour=9),
        )
        step = record_step(tx, run, "fit", operator="PythonOperator")
        record_attempt(tx, step, 1, native_state="up_for_retry", started_at=started, error="boom")
        record_attempt(tx, step, 2, native_state="success", started_at=started, ended_at=started)
        data = record_dataset(tx, "customers")
        record_io(tx, step, consumed=[data])
        record_model_version(tx, "churn", 1, produced_by=step)
    record_run(
        store, orchestrator="prefect", pipeline="score", run_id="f-1", native_state="Crashed"
    )
    store.close()
    return url


def test_runs_list_json_newest_first(recorded: str) -> None:
    runs = ok_json("runs", "list", "--store", recorded)
    assert [(r["pipeline"], r["orchestrator"], r["status"]) for r in runs] == [
        ("score", "prefect", "failed"),
        ("train", "airflow", "success"),
    ]
    assert runs[1]["started_at"] == "2026-03-01T08:00:00Z"
    assert runs[1]["ended_at"] == "2026-03-01T09:00:00Z"
    assert runs[0]["native_state"] == "Crashed"
    assert len(ok_json("runs", "list", "--store", recorded, "--limit", "1", "--offset", "1")) == 1


def test_runs_show_json_has_steps_attempts_inputs_outputs(recorded: str) -> None:
    urn = ok_json("runs", "list", "--store", recorded)[1]["urn"]
    run = ok_json("runs", "show", urn, "--store", recorded)
    assert run["urn"] == urn and run["status"] == "success"
    (step,) = run["steps"]
    assert step["task_id"] == "fit" and step["state"] == "success"
    assert [(a["try_number"], a["state"], a["error"]) for a in step["attempts"]] == [
        (1, "failed", "boom"),
        (2, "success", None),
    ]
    assert step["inputs"] == [{"urn": "urn:aim:dataset:customers", "type": "dataset"}]
    assert step["outputs"] == [{"urn": "urn:aim:modelVersion:churn/1", "type": "modelVersion"}]


def test_runs_show_accepts_the_run_id_as_airflow_prints_it(recorded: str) -> None:
    run = ok_json("runs", "show", f"urn:aim:run:airflow/train/{RUN_ID}", "--store", recorded)
    assert run["steps"][0]["task_id"] == "fit"


def test_lineage_json_from_dataset_to_model_version(recorded: str) -> None:
    graph = ok_json("lineage", "urn:aim:dataset:customers", "--downstream", "--store", recorded)
    assert {n["type"] for n in graph["nodes"]} == {"dataset", "step", "modelVersion"}
    assert {(e["relation"], e["dst"]) for e in graph["edges"]} == {
        ("consumed", "urn:aim:dataset:customers"),
        (
            "producedBy",
            f"urn:aim:step:airflow/train/{RUN_ID.replace(':', '%3A').replace('+', '%2B')}/fit",
        ),
    }
    upstream = ok_json("lineage", "urn:aim:dataset:customers", "--upstream", "--store", recorded)
    assert [n["urn"] for n in upstream["nodes"]] == ["urn:aim:dataset:customers"]


def test_lineage_without_edges(recorded: str) -> None:
    graph = ok_json(
        "lineage", "urn:aim:dataset:customers", "--downstream", "--no-edges", "--store", recorded
    )
    assert graph["edges"] == [] and len(graph["nodes"]) == 3


def test_lineage_depth_is_honoured(recorded: str) -> None:
    graph = ok_json(
        "lineage", "urn:aim:dataset:customers", "--downstream", "--depth", "1", "--store", recorded
    )
    assert {n["type"] for n in graph["nodes"]} == {"dataset", "step"}


def test_history_json_oldest_first_with_actor(recorded: str) -> None:
    urn = f"urn:aim:step:airflow/train/{RUN_ID}/fit"
    history = ok_json("history", urn, "--aspect", "stepAttempts", "--store", recorded)
    assert [h["version"] for h in history] == [1, 2]
    assert {h["actor"] for h in history} == {"alice"}
    assert set(history[0]) == {"aspect", "version", "created_at", "actor", "value"}
    assert len(history[1]["value"]["attempts"]) == 2


def test_models_list_and_show(recorded: str) -> None:
    assert ok_json("models", "list", "--store", recorded) == [
        {
            "name": "churn",
            "urn": "urn:aim:model:churn",
            "versions": 1,
            "created_at": ok_json("models", "list", "--store", recorded)[0]["created_at"],
        }
    ]
    model = ok_json("models", "show", "churn", "--store", recorded)
    assert [v["version"] for v in model["versions"]] == ["1"]


def test_tables_for_people(recorded: str) -> None:
    result = aimops("runs", "list", "--store", recorded)
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["URN", "PIPELINE", "ORCHESTRATOR", "STATUS", "STARTED_AT", "ENDED_AT"]
    assert len(rows) == 2
    shown = aimops("runs", "show", f"urn:aim:run:airflow/train/{RUN_ID}", "--store", recorded)
    assert "fit" in shown.stdout and "urn:aim:dataset:customers" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["runs", "show", "urn:aim:run:airflow/train/nope"],
            "no run urn:aim:run:airflow/train/nope",
        ),
        (["lineage", "urn:aim:dataset:nope"], "no entity urn:aim:dataset:nope"),
        (["history", "not-a-urn"], "is not an AIM URN"),
        (["models", "show", "nope"], "no model 'nope'"),
        (["history", "urn:aim:dataset:customers", "--aspect", "colour"], "unknown aspect"),
    ],
)
def test_unknown_things_are_one_line_errors(recorded: str, args: list[str], message: str) -> None:
    result = aimops(*args, "--store", recorded)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_store_is_a_one_line_error(tmp_path: Path) -> None:
    result = aimops("runs", "list", "--store", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 1
    assert result.stderr.startswith("aimops: error: no AIM store at")
    assert len(result.stderr.strip().splitlines()) == 1


def test_init_then_upgrade_then_empty_listing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'aim.db'}"
    assert ok_json("init", "--store", url)["schema"] == "0001"
    assert ok_json("db", "upgrade", "--store", url)["schema"] == "0001"
    assert ok_json("runs", "list", "--store", url) == []
    assert aimops("runs", "list", "--store", url).stdout.strip() == "no runs recorded"


def test_store_url_from_environment_and_group_option(recorded: str, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "AIMOPS_STORE_URL": recorded}
    result = aimops("runs", "list", "--json", env=env)
    assert len(json.loads(result.stdout)) == 2
    grouped = aimops("--store", recorded, "models", "list", "--json")
    assert json.loads(grouped.stdout)[0]["name"] == "churn"


@pytest.mark.postgres
def test_cli_on_postgres(postgres_url: str) -> None:
    assert ok_json("init", "--store", postgres_url)["store"] == postgres_url
    store = AimStore.open(postgres_url)
    record_run(store, orchestrator="python", pipeline="pg", run_id="1", state="success")
    runs = ok_json("runs", "list", "--store", postgres_url)
    assert any(r["pipeline"] == "pg" for r in runs)


def test_version_and_help() -> None:
    assert aimops("--version").stdout.startswith("aimops, version")
    assert "lineage" in aimops("--help").stdout
