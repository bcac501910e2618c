"""Every CLI command against hostile arguments: a result or a clean error, never a traceback.

Each command is driven in-process (click's runner would hide what ``main`` does with errors, so
``aimops.cli.main`` itself is called) with a corpus of arguments a hostile or careless user
passes: huge and negative numbers, far dates, malformed and foreign URNs, control characters,
emoji, a lone surrogate, empty strings, very long text. It must return 0, 1 (an aimops error,
one line) or 2 (a usage error), print no traceback, and a refused command writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from aimops.metadata import AimStore
from aimops.metadata.recording import record_model_version, record_run

CORPUS = [
    "",
    "-1",
    "0",
    "99999999999999999999",
    "1e308",
    "nan",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "99999999999999d",
    "urn:aim:",
    "urn:aim:run:airflow/nope/r1",
    "urn:aim:nope:x",
    "not a urn",
    "\x1b[2J\x07",
    "line\nbreak",
    "\x00",
    "\ud800",
    "😀 ⚙️",
    "x" * 5000,
]
#: Each command with the place (``{}``) a corpus value goes.
COMMANDS = [
    ["runs", "list", "--limit", "{}"],
    ["runs", "list", "--offset", "{}"],
    ["runs", "show", "{}"],
    ["lineage", "{}"],
    ["lineage", "urn:aim:run:airflow/etl/r1", "--depth", "{}"],
    ["history", "{}"],
    ["history", "urn:aim:run:airflow/etl/r1", "--aspect", "{}"],
    ["models", "list", "--limit", "{}"],
    ["models", "show", "{}"],
    ["metrics", "{}", "eval.auroc"],
    ["metrics", "urn:aim:modelVersion:churn/1", "{}"],
    ["metrics", "urn:aim:modelVersion:churn/1", "eval.auroc", "--since", "{}"],
    ["evaluations", "list", "--model", "{}"],
    ["evaluations", "show", "{}"],
    ["checks", "list", "--model", "{}"],
    ["checks", "list", "--kind", "{}"],
    ["checks", "list", "--limit", "{}"],
    ["compare", "{}", "{}"],
    ["compare", "urn:aim:modelVersion:churn/1", "{}", "--dataset", "{}"],
]
TABLES = ("aim_entities", "aim_aspects", "aim_edges", "aim_points")


def counts(store: AimStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
        }


@pytest.fixture
def seeded(store: AimStore) -> tuple[AimStore, str]:
    record_run(store, orchestrator="airflow", pipeline="etl", run_id="r1", native_state="success")
    record_model_version(store, "churn", 1)
    return store, store.engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_command_answers_every_hostile_argument_cleanly(
    command: list[str], seeded: tuple[AimStore, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from aimops.cli import main

    store, url = seeded
    before = counts(store)
    for value in CORPUS:
        argv = [part.replace("{}", value) for part in command] + ["--store", url]
        try:
            code = main(argv)
        except SystemExit as exc:  # click's own exit for usage errors in standalone parts
            code = exc.code if isinstance(exc.code, int) else 1
        said = capsys.readouterr()
        shown: Any = (command, repr(value)[:60])
        assert code in (0, 1, 2), (shown, code, said.err[-400:])
        assert "Traceback" not in said.err + said.out, (shown, said.err[-800:])
        if code == 1:
            assert len(said.err.strip().splitlines()) == 1, (shown, said.err[-400:])
            assert said.err.startswith("aimops: error: "), (shown, said.err[-400:])
        assert counts(store) == before, (shown, "a read-only command wrote to the store")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["runs", "list", "--limit", "99999999999999999999"], 2, "not in the range"),
        (["metrics", "urn:aim:modelVersion:nope/1", "eval.auroc"], 1, "no entity"),
        (["lineage", "urn:aim:dataset:x", "--upstream", "--downstream"], 2, "choose one of"),
        (["runs", "list", "--store", "postgresql+asyncpg://u@127.0.0.1/x"], 1, "psycopg 3"),
        (["runs", "list", "--store", "postgresql+psycopg2://u@127.0.0.1/x"], 1, "psycopg 3"),
    ],
)
def test_the_real_command_exits_with_one_clear_line(
    args: list[str], code: int, says: str, tmp_path: Any
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    aimops = str(Path(sys.executable).with_name("aimops"))
    env = {"AIMOPS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}").close()  # an empty store
    done = subprocess.run(
        [aimops, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == code, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
