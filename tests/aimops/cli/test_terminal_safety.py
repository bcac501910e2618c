"""Names are data, not terminal commands: human output shows control characters escaped.

A pipeline, task or model name may carry an escape sequence (clear the screen, retitle the
window, hide text), a carriage return that overwrites the line, a bidirectional override or a
NUL. Tables, one-line summaries and errors show each escaped; ``--json`` keeps the exact value
(JSON's own escapes). A lone surrogate is refused as a name: it is not text.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aimops.cli import cli
from aimops.metadata import AimStore
from aimops.metadata.recording import record_model_version, record_run, record_step

HOSTILE = [
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;owned\x07",  # retitle the window (OSC)
    "ok\rEVIL",  # overwrite the line
    "\u202eevil",  # right-to-left override
    "\x9b31m",  # a C1 control sequence introducer
    "\x00",  # NUL
]


def visible(output: str) -> bool:
    """True when no character of ``output`` is one a terminal would act on (newlines aside)."""
    import unicodedata

    return all(
        char == "\n" or unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co"}
        for char in output
    )


@pytest.mark.parametrize("payload", HOSTILE, ids=repr)
def test_tables_and_summaries_escape_what_a_terminal_would_act_on(payload: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    store = AimStore.open(url)
    run = record_run(store, orchestrator="airflow", pipeline=f"etl{payload}", run_id="r1")
    record_step(store, run, f"fit{payload}", native_state="success")
    record_model_version(store, f"churn{payload}", 1)
    runner = CliRunner()
    for args in (
        ["runs", "list"],
        ["runs", "show", str(run)],
        ["models", "list"],
        ["models", "show", f"churn{payload}"],
        ["history", str(run)],
    ):
        result = runner.invoke(cli, [*args, "--store", url])
        assert result.exit_code == 0, (args, result.output)
        assert visible(result.output), (args, result.output)
        if args[0] != "history":  # history cuts long values: the payload may be cut off
            escaped = payload.encode("unicode_escape", "backslashreplace").decode()
            assert escaped in result.output, (args, result.output)
    exact = runner.invoke(cli, ["runs", "show", str(run), "--store", url, "--json"])
    steps = json.loads(exact.output)["steps"]
    assert steps[0]["task_id"] == f"fit{payload}"  # JSON is exact


def test_an_error_naming_a_hostile_value_stays_one_inert_line(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from aimops.cli import main

    url = f"sqlite:///{tmp_path / 'aim.db'}"
    AimStore.open(url).close()
    code = main(["models", "show", "churn\x1b[2J\nforged line", "--store", url])
    said = capsys.readouterr().err
    assert code == 1
    assert said.count("\n") == 1 and visible(said), said
    assert said.startswith("aimops: error: ") and "\\x1b[2J\\nforged line" in said


def test_a_name_with_a_lone_surrogate_is_refused_with_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aimops.errors import MalformedUrnError

    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    with pytest.raises(MalformedUrnError, match="lone surrogate"):
        record_run(store, orchestrator="airflow", pipeline="etl\ud800", run_id="r1")
    assert store.count("run") == 0
